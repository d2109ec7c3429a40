"""Today's threshold rules, as written in the playbooks (DuckDB SQL over the ``events`` table).

- daily-volume: per account per UTC day, output tokens > 100,000 or requests > 5,000;
- heavy-mean: per account over the log, requests > 1,000 and mean output tokens > 500;
- ip-burst: per IP, > 100 requests in any UTC minute; every account seen on that IP is flagged.

``first_flagged_ts`` is when the rule would have fired online: the end of the first day / minute that
trips it (ip-burst: or the account's first request on the IP, if later); heavy-mean: the first request
at which the running count and running mean both exceed their limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from hydrawatch.baselines.verdicts import Flag

DAY = 86400.0
MINUTE = 60.0


def _day(day_index: float) -> str:
    return datetime.fromtimestamp(day_index * DAY, UTC).strftime("%Y-%m-%d")


def _minute(minute_index: float) -> str:
    return datetime.fromtimestamp(minute_index * MINUTE, UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True, slots=True)
class DailyVolume:
    max_output_tokens: int = 100_000
    max_requests: int = 5_000

    def run(self, con: duckdb.DuckDBPyConnection) -> dict[str, Flag]:
        rows = con.execute(
            """
            WITH d AS (
              SELECT account_id, floor(ts / 86400) AS day,
                     coalesce(sum(output_tokens), 0) AS tokens, count(*) AS requests
              FROM events WHERE ts IS NOT NULL GROUP BY 1, 2
            ), r AS (
              SELECT *, greatest(tokens / $tok, requests / $req) AS ratio,
                     (tokens > $tok OR requests > $req) AS hit FROM d
            )
            SELECT account_id, max(ratio) AS peak,
                   count(*) FILTER (WHERE hit) AS hit_days,
                   min(day) FILTER (WHERE hit) AS first_day,
                   arg_min(tokens, day) FILTER (WHERE hit) AS first_tokens,
                   arg_min(requests, day) FILTER (WHERE hit) AS first_requests
            FROM r GROUP BY account_id
            """,
            {"tok": self.max_output_tokens, "req": self.max_requests},
        ).fetchall()
        out: dict[str, Flag] = {}
        for aid, peak, hit_days, first_day, tokens, requests in rows:
            if not hit_days:
                out[aid] = Flag(aid, float(peak or 0.0), False)
                continue
            day = _day(first_day)
            reasons: list[str] = []
            if tokens > self.max_output_tokens:
                reasons.append(f"{int(tokens):,} output tokens on {day} > {self.max_output_tokens:,}")
            if requests > self.max_requests:
                reasons.append(f"{int(requests):,} requests on {day} > {self.max_requests:,}")
            if hit_days > 1:
                reasons.append(f"over the daily limit on {int(hit_days)} days")
            out[aid] = Flag(aid, 1.0, True, reasons, (float(first_day) + 1) * DAY)
        return out


@dataclass(frozen=True, slots=True)
class HeavyMean:
    min_requests: int = 1_000
    min_mean_output_tokens: float = 500.0

    def run(self, con: duckdb.DuckDBPyConnection) -> dict[str, Flag]:
        params = {"req": self.min_requests, "mean": self.min_mean_output_tokens}
        totals = con.execute(
            """SELECT account_id, count(*) AS n, avg(output_tokens) AS mean_tok FROM events
               WHERE ts IS NOT NULL GROUP BY account_id""",
        ).fetchall()
        out: dict[str, Flag] = {}
        hits: list[str] = []
        for aid, n, mean_tok in totals:
            m = float(mean_tok or 0.0)
            if n > self.min_requests and m > self.min_mean_output_tokens:
                hits.append(aid)
                reasons = [
                    f"{int(n):,} requests > {self.min_requests:,}",
                    f"mean {m:,.0f} output tokens per request > {self.min_mean_output_tokens:,.0f}",
                ]
                out[aid] = Flag(aid, 1.0, True, reasons)
            else:
                out[aid] = Flag(aid, min(n / self.min_requests, m / self.min_mean_output_tokens), False)
        if hits:
            con.execute("CREATE OR REPLACE TEMP TABLE _hw_hits (account_id VARCHAR)")
            con.executemany("INSERT INTO _hw_hits VALUES (?)", [(a,) for a in hits])
            rows = con.execute(
                """
                WITH r AS (
                  SELECT account_id, ts,
                         count(*) OVER w AS n, sum(output_tokens) OVER w AS tok,
                         count(output_tokens) OVER w AS k
                  FROM events SEMI JOIN _hw_hits USING (account_id)
                  WHERE ts IS NOT NULL
                  WINDOW w AS (PARTITION BY account_id ORDER BY ts, line, source
                               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
                )
                SELECT account_id, min(ts) FROM r
                WHERE n > $req AND k > 0 AND tok / k > $mean GROUP BY account_id
                """,
                params,
            ).fetchall()
            con.execute("DROP TABLE _hw_hits")
            for aid, ts in rows:
                out[aid].first_flagged_ts = float(ts)
        return out


@dataclass(frozen=True, slots=True)
class IpBurst:
    max_requests_per_minute: int = 100

    def run(self, con: duckdb.DuckDBPyConnection) -> dict[str, Flag]:
        limit = self.max_requests_per_minute
        rows = con.execute(
            """
            WITH m AS (
              SELECT ip, floor(ts / 60) AS minute, count(*) AS n
              FROM events WHERE ip IS NOT NULL AND ts IS NOT NULL GROUP BY 1, 2
            ), ipstat AS (
              SELECT ip, max(n) AS peak,
                     min(minute) FILTER (WHERE n > $lim) AS first_minute,
                     arg_min(n, minute) FILTER (WHERE n > $lim) AS first_n,
                     count(*) FILTER (WHERE n > $lim) AS burst_minutes
              FROM m GROUP BY ip
            ), use AS (
              SELECT account_id, ip, min(ts) AS first_use, count(*) AS n
              FROM events WHERE ip IS NOT NULL AND ts IS NOT NULL GROUP BY 1, 2
            )
            SELECT u.account_id, u.ip, u.n, s.peak, s.first_minute, s.first_n, s.burst_minutes,
                   CASE WHEN s.first_minute IS NULL THEN NULL
                        ELSE greatest((s.first_minute + 1) * 60, u.first_use) END AS fft
            FROM use u JOIN ipstat s USING (ip)
            """,
            {"lim": limit},
        ).fetchall()
        best: dict[str, tuple[float, str, int, int, float, int, int]] = {}
        peak_ratio: dict[str, float] = {}
        burst_ips: dict[str, int] = {}
        for aid, ip, n, peak, first_minute, first_n, burst_minutes, fft in rows:
            peak_ratio[aid] = max(peak_ratio.get(aid, 0.0), float(peak) / limit)
            if fft is None:
                continue
            burst_ips[aid] = burst_ips.get(aid, 0) + 1
            cand = (
                float(fft),
                str(ip),
                int(n),
                int(first_n),
                float(first_minute),
                int(burst_minutes),
                int(peak),
            )
            if aid not in best or cand[:2] < best[aid][:2]:
                best[aid] = cand
        out: dict[str, Flag] = {}
        for aid, ratio in peak_ratio.items():
            b = best.get(aid)
            if b is None:
                out[aid] = Flag(aid, ratio, False)
                continue
            fft, ip, n, first_n, first_minute, burst_minutes, peak = b
            reasons = [
                f"IP {ip}: {first_n:,} requests in the minute {_minute(first_minute)} > {limit:,}",
                f"this account sent {n:,} requests from IP {ip}",
            ]
            if burst_minutes > 1:
                reasons.append(f"IP {ip} exceeded the limit in {burst_minutes:,} minutes (peak {peak:,})")
            if burst_ips[aid] > 1:
                reasons.append(f"the account used {burst_ips[aid]} IPs over the limit")
            out[aid] = Flag(aid, 1.0, True, reasons, fft, f"ip:{ip}")
        return out
