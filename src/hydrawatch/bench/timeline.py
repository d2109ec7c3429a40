"""Per-account traffic in time order, to count what a campaign got before it was stopped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq


@dataclass(slots=True)
class Timeline:
    """Each account's exchanges sorted by time, stored as one CSR block.

    ``ts[offsets[i]:offsets[i+1]]`` are the sorted timestamps of ``accounts[i]`` and
    ``cum_tokens`` the running sum of their output tokens (missing counts as 0).
    """

    accounts: list[str]
    offsets: npt.NDArray[np.int64]
    ts: npt.NDArray[np.float64]
    cum_tokens: npt.NDArray[np.int64]
    index: dict[str, int]

    @classmethod
    def from_arrays(
        cls,
        account_ids: Sequence[str] | npt.NDArray[np.object_],
        ts: Sequence[float] | npt.NDArray[np.float64],
        output_tokens: Sequence[int | None] | npt.NDArray[np.int64],
    ) -> Timeline:
        acc = np.asarray(account_ids, dtype=object)
        t = np.asarray(ts, dtype=np.float64)
        if isinstance(output_tokens, np.ndarray) and output_tokens.dtype.kind in "iu":
            tok = output_tokens.astype(np.int64)
        else:
            tok = np.asarray([0 if x is None else x for x in output_tokens], dtype=np.int64)
        if not (len(acc) == len(t) == len(tok)):
            raise ValueError("account_ids, ts and output_tokens must have the same length")
        if len(acc) == 0:
            return cls([], np.zeros(1, np.int64), t, tok, {})
        names, codes = np.unique(acc.astype(str), return_inverse=True)
        order = np.lexsort((t, codes))
        codes, t, tok = codes[order], t[order], tok[order]
        counts = np.bincount(codes, minlength=len(names))
        offsets = np.zeros(len(names) + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        cum = np.cumsum(tok)
        accounts = [str(x) for x in names]
        return cls(accounts, offsets, t, cum, {a: i for i, a in enumerate(accounts)})

    @property
    def n_events(self) -> int:
        return len(self.ts)

    def _span(self, account_id: str) -> tuple[int, int] | None:
        i = self.index.get(account_id)
        if i is None:
            return None
        return int(self.offsets[i]), int(self.offsets[i + 1])

    def _tokens_before(self, pos: int) -> int:
        return 0 if pos <= 0 else int(self.cum_tokens[pos - 1])

    def totals(self, account_id: str) -> tuple[int, int]:
        """(exchanges, output tokens) of the account over the whole log."""
        return self.up_to(account_id, float("inf"))

    def up_to(self, account_id: str, t: float) -> tuple[int, int]:
        """(exchanges, output tokens) of the account with ``ts <= t`` (served before the stop)."""
        span = self._span(account_id)
        if span is None:
            return 0, 0
        lo, hi = span
        pos = lo + int(np.searchsorted(self.ts[lo:hi], t, side="right"))
        return pos - lo, self._tokens_before(pos) - self._tokens_before(lo)

    def write(self, path: str | Path) -> None:
        """Store as Parquet (account_id, ts, output_tokens), for a bench cache."""
        counts = np.diff(self.offsets)
        acc: list[str] = [a for a, c in zip(self.accounts, counts.tolist(), strict=True) for _ in range(c)]
        tok = np.diff(np.concatenate([[0], self.cum_tokens])) if len(self.cum_tokens) else self.cum_tokens
        table = pa.table({"account_id": pa.array(acc, pa.string()), "ts": self.ts, "output_tokens": tok})
        pq.write_table(table, str(path))

    @classmethod
    def read(cls, path: str | Path) -> Timeline:
        t = pq.read_table(str(path))
        return cls.from_arrays(
            np.asarray(t.column("account_id").to_pylist(), dtype=object),
            t.column("ts").to_numpy(),
            t.column("output_tokens").to_numpy(),
        )
