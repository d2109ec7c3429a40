import pytest

from hydrawatch.report import AccountVerdict, Campaign, Report, ReportError


def test_round_trip(tmp_path):
    r = Report(
        accounts=[AccountVerdict("a1", 0.9, True, "c1", ["because"]), AccountVerdict("a2", 0.0, False)],
        campaigns=[
            Campaign("c1", ["a1"], 10, 500, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", 0.9, ["e"])
        ],
    )
    p = tmp_path / "r.json"
    r.write(p)
    back = Report.read(p)
    assert [a.account_id for a in back.accounts] == ["a1", "a2"]
    assert back.accounts[0].campaign_id == "c1"
    assert back.campaigns[0].output_tokens == 500


@pytest.mark.parametrize(
    "data, msg",
    [
        ([], "accounts"),
        ({"accounts": [{"account_id": "", "risk": 0, "flagged": False}]}, "account_id"),
        ({"accounts": [{"account_id": "a", "risk": 2, "flagged": False}]}, "risk"),
        ({"accounts": [{"account_id": "a", "risk": 0.1, "flagged": "yes"}]}, "flagged"),
        ({"accounts": [{"account_id": "a", "risk": 0.1, "flagged": True}] * 2}, "duplicate"),
        ({"accounts": [], "campaigns": [{"campaign_id": 3}]}, "campaign_id"),
    ],
)
def test_rejects_bad_reports(data, msg):
    with pytest.raises(ReportError, match=msg):
        Report.from_json(data)
