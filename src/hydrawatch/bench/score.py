"""Score one detector report against ground truth. Pure: labels + report (+ timeline) -> metrics.

Definitions (docs/bench.md):
- positives are ground-truth campaign accounts; an account counts as detected when ``flagged`` is true;
- precision = TP / flagged, recall = TP / campaign accounts, legit FPR = FP / legitimate accounts
  (each ``None`` when its denominator is 0);
- per population: the share of its accounts flagged (an FPR for legitimate populations, a recall
  for campaign populations);
- attribution: adjusted Rand index over ground-truth campaign accounts of true campaign_id vs predicted
  campaign_id, where an unflagged account, or a flagged one without a campaign_id, is its own singleton;
- time-to-detect (only when the report carries ``first_flagged_ts`` and a timeline is given): per campaign,
  the exchanges and output tokens it got up to the earliest ``first_flagged_ts`` among its flagged accounts,
  and "harvest before stop": the sum over its accounts of exchanges up to each account's own
  ``first_flagged_ts`` (unflagged accounts, or flagged ones without a timestamp, count fully); "n/a" when
  the report flags campaign accounts but carries no ``first_flagged_ts`` at all.
Accounts of the report that are not in the labels are ignored and counted; a labelled account missing
from the report is an error.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from sklearn.metrics import adjusted_rand_score

from hydrawatch.bench.labels import Labels
from hydrawatch.bench.timeline import Timeline
from hydrawatch.report.model import AccountVerdict, Report


class ScoreError(ValueError):
    """A report that cannot be scored against the labels."""


def ratio(num: int, den: int) -> float | None:
    return None if den == 0 else num / den


@dataclass(slots=True)
class PopulationScore:
    population: str
    campaign: bool  # True when the population is made of campaign accounts
    accounts: int
    flagged: int

    @property
    def rate(self) -> float | None:
        return ratio(self.flagged, self.accounts)


@dataclass(slots=True)
class CampaignHarvest:
    campaign_id: str
    accounts: int
    exchanges: int
    output_tokens: int
    first_flagged_ts: float | None  # earliest among its accounts; None if never flagged
    exchanges_before_flag: int
    output_tokens_before_flag: int
    exchanges_before_stop: int  # sum over accounts of exchanges up to their own first flag

    @property
    def harvest_share(self) -> float | None:
        return ratio(self.exchanges_before_stop, self.exchanges)


@dataclass(slots=True)
class RunScore:
    accounts: int
    campaign_accounts: int
    legit_accounts: int
    flagged: int
    true_positives: int
    false_positives: int
    extra_report_accounts: int
    ari: float | None
    populations: dict[str, PopulationScore] = field(default_factory=dict)
    harvest: list[CampaignHarvest] | None = None  # None: the detector does not time its flags

    @property
    def precision(self) -> float | None:
        return ratio(self.true_positives, self.flagged)

    @property
    def recall(self) -> float | None:
        return ratio(self.true_positives, self.campaign_accounts)

    @property
    def legit_fpr(self) -> float | None:
        return ratio(self.false_positives, self.legit_accounts)

    @property
    def worst_legit_population(self) -> tuple[str, float] | None:
        """The legitimate population with the highest FPR (ties: by name)."""
        best: tuple[str, float] | None = None
        for name in sorted(self.populations):
            p = self.populations[name]
            r = p.rate
            if p.campaign or r is None:
                continue
            if best is None or r > best[1]:
                best = (name, r)
        return best

    @property
    def harvest_share(self) -> float | None:
        """Pooled over campaigns: exchanges served before each account's stop / all campaign exchanges."""
        if self.harvest is None:
            return None
        return ratio(
            sum(h.exchanges_before_stop for h in self.harvest), sum(h.exchanges for h in self.harvest)
        )

    def to_json(self) -> dict[str, Any]:
        worst = self.worst_legit_population
        return {
            "accounts": self.accounts,
            "campaign_accounts": self.campaign_accounts,
            "legit_accounts": self.legit_accounts,
            "flagged": self.flagged,
            "true_positives": self.true_positives,
            "false_positives": self.false_positives,
            "extra_report_accounts": self.extra_report_accounts,
            "precision": self.precision,
            "recall": self.recall,
            "legit_fpr": self.legit_fpr,
            "worst_legit_population": None if worst is None else {"population": worst[0], "fpr": worst[1]},
            "ari": self.ari,
            "harvest_share": self.harvest_share,
            "populations": {k: {**asdict(v), "rate": v.rate} for k, v in sorted(self.populations.items())},
            "campaigns": None
            if self.harvest is None
            else [{**asdict(h), "harvest_share": h.harvest_share} for h in self.harvest],
        }


def run_score_from_json(d: dict[str, Any]) -> RunScore:
    """Rebuild a ``RunScore`` from ``RunScore.to_json()`` (to render stored results again)."""
    pops = {
        k: PopulationScore(v["population"], bool(v["campaign"]), int(v["accounts"]), int(v["flagged"]))
        for k, v in (d.get("populations") or {}).items()
    }
    harvest = None
    if d.get("campaigns") is not None:
        fields = [f for f in CampaignHarvest.__dataclass_fields__ if f != "harvest_share"]
        harvest = [CampaignHarvest(**{f: c[f] for f in fields}) for c in d["campaigns"]]
    return RunScore(
        accounts=int(d["accounts"]),
        campaign_accounts=int(d["campaign_accounts"]),
        legit_accounts=int(d["legit_accounts"]),
        flagged=int(d["flagged"]),
        true_positives=int(d["true_positives"]),
        false_positives=int(d["false_positives"]),
        extra_report_accounts=int(d.get("extra_report_accounts", 0)),
        ari=d.get("ari") if int(d["campaign_accounts"]) >= 2 else None,
        populations=pops,
        harvest=harvest,
    )


def _verdicts(labels: Labels, report: Report) -> tuple[dict[str, AccountVerdict], int]:
    by_id = {a.account_id: a for a in report.accounts}
    missing = [a for a in labels.by_account if a not in by_id]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise ScoreError(f"account {missing[0]} missing from the report{more}")
    extra = sum(1 for a in by_id if a not in labels.by_account)
    return by_id, extra


def attribution_ari(labels: Labels, verdicts: dict[str, AccountVerdict]) -> float | None:
    """ARI of true vs predicted campaign over ground-truth campaign accounts (None with fewer than 2)."""
    accounts = sorted(labels.campaign_accounts)
    if len(accounts) < 2:  # one account is trivially "perfectly" clustered: not a measurement
        return None
    true = [str(labels.by_account[a].campaign_id) for a in accounts]
    pred: list[str] = []
    for a in accounts:
        v = verdicts[a]
        pred.append(f"c:{v.campaign_id}" if v.flagged and v.campaign_id is not None else f"single:{a}")
    return float(adjusted_rand_score(true, pred))


def _stop_ts(v: AccountVerdict) -> float:
    """When the detector stopped this account (inf: never)."""
    if v.flagged and v.first_flagged_ts is not None:
        return float(v.first_flagged_ts)
    return math.inf


def campaign_harvest(
    labels: Labels, verdicts: dict[str, AccountVerdict], timeline: Timeline
) -> list[CampaignHarvest]:
    members: dict[str, list[str]] = {}
    for a in labels.campaign_accounts:
        members.setdefault(str(labels.by_account[a].campaign_id), []).append(a)
    out: list[CampaignHarvest] = []
    for cid in sorted(members):
        accs = sorted(members[cid])
        stops = {a: _stop_ts(verdicts[a]) for a in accs}
        first = min(stops.values())
        ex = tok = ex_flag = tok_flag = ex_stop = 0
        for a in accs:
            n, t = timeline.totals(a)
            ex, tok = ex + n, tok + t
            nf, tf = timeline.up_to(a, first)
            ex_flag, tok_flag = ex_flag + nf, tok_flag + tf
            ex_stop += timeline.up_to(a, stops[a])[0]
        out.append(
            CampaignHarvest(
                cid, len(accs), ex, tok, None if math.isinf(first) else first, ex_flag, tok_flag, ex_stop
            )
        )
    return out


def score_report(labels: Labels, report: Report, timeline: Timeline | None = None) -> RunScore:
    """Metrics of one report against the ground truth (see the module docstring)."""
    verdicts, extra = _verdicts(labels, report)
    pops: dict[str, PopulationScore] = {}
    tp = fp = flagged = 0
    for a, lab in labels.by_account.items():
        is_campaign = lab.campaign_id is not None
        hit = verdicts[a].flagged
        p = pops.get(lab.population)
        if p is None:
            p = pops[lab.population] = PopulationScore(lab.population, is_campaign, 0, 0)
        p.campaign = p.campaign or is_campaign
        p.accounts += 1
        if hit:
            p.flagged += 1
            flagged += 1
            if is_campaign:
                tp += 1
            else:
                fp += 1
    # Harvest is known when flags carry times, and also when no campaign account was flagged at all
    # (then every campaign got everything, whatever the detector's timing abilities).
    timed = any(v.first_flagged_ts is not None for v in report.accounts if v.flagged) or not any(
        verdicts[a].flagged for a in labels.campaign_accounts
    )
    harvest = campaign_harvest(labels, verdicts, timeline) if timed and timeline is not None else None
    n_campaign = len(labels.campaign_accounts)
    return RunScore(
        accounts=len(labels.by_account),
        campaign_accounts=n_campaign,
        legit_accounts=len(labels.by_account) - n_campaign,
        flagged=flagged,
        true_positives=tp,
        false_positives=fp,
        extra_report_accounts=extra,
        ari=attribution_ari(labels, verdicts),
        populations=pops,
        harvest=harvest,
    )
