import duckdb
import pytest

from hydrawatch.baselines.loading import events_table_from_rows
from hydrawatch.baselines.thresholds import DailyVolume, HeavyMean, IpBurst
from hydrawatch.baselines.verdicts import Flag, build_report
from hydrawatch.ingest.inventory import all_accounts

DAY0 = 1772409600.0  # 2026-03-02T00:00:00Z


def ev(account: str, ts: float, tokens: int | None = 10, ip: str | None = "10.0.0.1", line: int = 0) -> dict:
    return {"account_id": account, "ts": ts, "output_tokens": tokens, "ip": ip, "line": line, "source": "t"}


def con_with(rows: list[dict]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    events_table_from_rows(con, rows)
    return con


def test_daily_volume_tokens_and_requests():
    rows = [ev("big", DAY0 + 60 * i, 40_000) for i in range(3)]  # 120k tokens on day 0
    rows += [ev("many", DAY0 + 86400 + i, 1) for i in range(5001)]  # 5,001 requests on day 1
    rows += [ev("edge", DAY0 + i, 20) for i in range(5000)]  # exactly 5,000 requests and 100,000 tokens
    rows += [ev("small", DAY0, 5)]
    flags = DailyVolume().run(con_with(rows))
    assert flags["big"].flagged and flags["big"].first_flagged_ts == DAY0 + 86400
    assert flags["big"].reasons == ["120,000 output tokens on 2026-03-02 > 100,000"]
    assert flags["many"].flagged and flags["many"].first_flagged_ts == DAY0 + 2 * 86400
    assert flags["many"].reasons == ["5,001 requests on 2026-03-03 > 5,000"]
    assert not flags["edge"].flagged and flags["edge"].risk == pytest.approx(1.0)
    assert not flags["small"].flagged and flags["small"].risk < 0.01


def test_daily_volume_counts_days_separately_and_reports_repeat_days():
    # 60k tokens on each of three days: never over the limit in one day
    rows = [ev("spread", DAY0 + d * 86400, 60_000) for d in range(3)]
    rows += [ev("twice", DAY0 + d * 86400 + s, 60_000) for d in (0, 2) for s in (0, 1)]
    flags = DailyVolume().run(con_with(rows))
    assert not flags["spread"].flagged
    assert flags["twice"].flagged and flags["twice"].first_flagged_ts == DAY0 + 86400
    assert "over the daily limit on 2 days" in flags["twice"].reasons


def test_heavy_mean_hand_computed_first_flag():
    # 1,001 requests of 400 tokens, then 1,000 of 1,000 tokens: the running mean passes 500 after 201 more
    rows = [ev("late", DAY0 + i, 400) for i in range(1001)]
    rows += [ev("late", DAY0 + 1001 + k, 1000) for k in range(1000)]
    rows += [ev("early", DAY0 + i, 600) for i in range(1001)]
    rows += [ev("light", DAY0 + i, 100) for i in range(2000)]
    rows += [ev("few", DAY0 + i, 5000) for i in range(1000)]  # exactly 1,000 requests: not > 1,000
    flags = HeavyMean().run(con_with(rows))
    assert flags["late"].flagged
    assert flags["late"].first_flagged_ts == DAY0 + 1001 + 200  # the 201st 1,000-token request
    assert flags["late"].reasons[0] == "2,001 requests > 1,000"
    assert flags["late"].reasons[1] == "mean 700 output tokens per request > 500"
    assert flags["early"].flagged and flags["early"].first_flagged_ts == DAY0 + 1000
    assert not flags["light"].flagged and not flags["few"].flagged


def test_heavy_mean_ignores_missing_token_counts_in_the_mean():
    rows = [ev("a", DAY0 + i, 600 if i % 2 else None) for i in range(2002)]
    flags = HeavyMean().run(con_with(rows))
    assert flags["a"].flagged  # mean over known counts is 600


def test_ip_burst_flags_every_account_on_the_ip():
    minute = DAY0 + 600  # 00:10 UTC
    rows = [ev("a", minute + i * 0.5, ip="1.2.3.4") for i in range(60)]
    rows += [ev("b", minute + i * 0.5, ip="1.2.3.4") for i in range(41)]  # 101 in that minute
    rows += [ev("a", DAY0, ip="9.9.9.9")]
    rows += [ev("c", DAY0 + 7200, ip="1.2.3.4")]  # arrives on the IP after the burst
    rows += [ev("c", DAY0 + 10, ip="5.5.5.5")]
    rows += [ev("d", minute + i * 0.5, ip="7.7.7.7") for i in range(100)]  # exactly 100: not > 100
    rows += [ev("e", minute, ip=None)]
    flags = IpBurst().run(con_with(rows))
    for acc in "abc":
        assert flags[acc].flagged and flags[acc].campaign_id == "ip:1.2.3.4"
    assert flags["a"].first_flagged_ts == minute + 60
    assert flags["c"].first_flagged_ts == DAY0 + 7200
    assert flags["a"].reasons[0] == "IP 1.2.3.4: 101 requests in the minute 2026-03-02 00:10 UTC > 100"
    assert not flags["d"].flagged and flags["d"].risk == pytest.approx(1.0)
    assert "e" not in flags


def test_build_report_lists_every_account_and_groups_ip_campaigns():
    minute = DAY0 + 600
    rows = [ev("a", minute + i * 0.1, 7, ip="1.2.3.4") for i in range(101)]
    rows += [ev("b", minute, 3, ip="1.2.3.4"), ev("quiet", DAY0, ip=None)]
    con = con_with(rows)
    con.execute("CREATE TABLE accounts AS SELECT 'no-traffic' AS account_id")
    assert all_accounts(con) == ["a", "b", "no-traffic", "quiet"]
    report = build_report(con, IpBurst().run(con), {"detector": "ip-burst"})
    by_id = {a.account_id: a for a in report.accounts}
    assert set(by_id) == {"a", "b", "no-traffic", "quiet"}
    assert by_id["quiet"].flagged is False and by_id["quiet"].risk == 0.0
    (camp,) = report.campaigns
    assert camp.campaign_id == "ip:1.2.3.4" and camp.accounts == ["a", "b"]
    assert camp.exchanges == 102 and camp.output_tokens == 101 * 7 + 3
    assert camp.first_seen == "2026-03-02T00:10:00Z"


def test_build_report_keeps_reasons_only_for_flagged_accounts():
    con = con_with([ev("x", DAY0), ev("y", DAY0)])
    flags = {"x": Flag("x", 0.4, False, ["near"], 5.0, "c"), "y": Flag("y", 2.0, True, ["why"], 7.0)}
    report = build_report(con, flags)
    x, y = report.accounts
    assert (x.flagged, x.reasons, x.campaign_id, x.first_flagged_ts, x.risk) == (False, [], None, None, 0.4)
    assert (y.flagged, y.reasons, y.first_flagged_ts, y.risk) == (True, ["why"], 7.0, 1.0)
    assert report.campaigns == []
