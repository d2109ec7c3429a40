"""Incremental Server-Sent Events framing.

The proxy forwards a stream event by event: an event is passed on as soon as its
terminating blank line has arrived, unchanged byte for byte unless the gateway has
to rewrite it (degrade, or the usage chunk it added itself).
"""

from __future__ import annotations

from dataclasses import dataclass

_TERMINATORS = (b"\n\n", b"\r\n\r\n", b"\r\r")


@dataclass(slots=True)
class SSEEvent:
    raw: bytes
    event: str | None
    data: str | None


def parse_event(raw: bytes) -> SSEEvent:
    """Field lines of one raw event; unparseable bytes give an event with no data."""
    event: str | None = None
    data_lines: list[str] = []
    text = raw.decode("utf-8", errors="replace")
    for line in text.splitlines():
        if not line or line.startswith(":"):
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            event = value
        elif name == "data":
            data_lines.append(value)
    return SSEEvent(raw=raw, event=event, data="\n".join(data_lines) if data_lines else None)


def encode_event(data: bytes, event: str | None = None) -> bytes:
    head = b"event: " + event.encode() + b"\n" if event else b""
    return head + b"data: " + data + b"\n\n"


class SSESplitter:
    """Cuts a byte stream into complete raw events (terminator included).

    An event longer than ``max_event_bytes`` is passed on raw, unparsed, so one
    endless line cannot grow memory without bound.
    """

    def __init__(self, max_event_bytes: int = 16 << 20) -> None:
        self._buf = b""
        self._max = max_event_bytes

    def feed(self, chunk: bytes) -> list[bytes]:
        buf = self._buf + chunk if self._buf else chunk
        out: list[bytes] = []
        start = 0
        while True:
            best = -1
            best_len = 0
            for term in _TERMINATORS:
                i = buf.find(term, start)
                if i != -1 and (best == -1 or i < best):
                    best, best_len = i, len(term)
            if best == -1:
                break
            end = best + best_len
            out.append(buf[start:end])
            start = end
        rest = buf[start:]
        if len(rest) > self._max:
            out.append(rest)
            rest = b""
        self._buf = rest
        return out

    def rest(self) -> bytes:
        """Bytes left after the last complete event (a stream cut mid-event)."""
        rest, self._buf = self._buf, b""
        return rest
