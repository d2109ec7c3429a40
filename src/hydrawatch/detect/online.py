"""Online scoring for the gateway: incremental per-account state, periodic linkage.

``observe`` updates one account's state per exchange (river-style ``learn_one``);
``score`` answers from that state and the last linkage pass; ``link`` rebuilds the
same aggregates the batch hunt computes, builds the same linkage keys over the
recent window and runs the same detector (``hydrawatch.detect.detector.detect``).
"""

from __future__ import annotations

import math
import operator
import threading
from collections import Counter, deque
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa

from hydrawatch.detect.account_score import AccountEvidence, account_evidence, account_reasons
from hydrawatch.detect.aggregates import AccountAggregates
from hydrawatch.detect.campaign import DetectConfig
from hydrawatch.detect.detector import Detection, automation_seen, detect_keys
from hydrawatch.detect.evidence import shows_intent
from hydrawatch.detect.linkage import KEY_TYPES
from hydrawatch.events.schema import Exchange
from hydrawatch.features.cues import CUE_NAMES
from hydrawatch.features.hashing import stable_hash
from hydrawatch.features.intent import CLASSES
from hydrawatch.features.request import RequestFeatures
from hydrawatch.netintel import lookup_asns, network_kind, parse_ipv4

PIVOT_WINDOW_S = 48 * 3600.0
LOCKSTEP_BUCKET_S = 300.0
MAX_TRACKED = 256  # distinct values tracked per account per counter
MAX_KEYS = 4096  # linkage keys kept per account (most recent)
# A payment fingerprint passes its campaign on to an account that joins later when at least this
# share of its other holders with traffic are members (a company card shared by many legitimate
# accounts and one flagged account passes nothing on).
INHERIT_MIN_SHARE = 0.5
INHERIT_MAX_RISK = 0.9  # inherited risk is capped below block: degrade at most, until its own pass
# An account outside any campaign whose traffic shows no automation (clock-flat or rotating
# addresses) is scored on its content alone; the batch detector does not flag such an account at
# all, so online its risk stays in the default policy's throttle band (< 0.7) until a linkage pass
# puts it in a campaign: slowed down, never refused, on a few requests that look like harvesting.
UNCORROBORATED_MAX_RISK = 0.69
# A content campaign (linked by wording alone) passes itself on between linkage passes to an
# account whose distillation requests are worded in the campaign's own wordings: at least
# WORDING_MIN_FAMILIES of them, most of the account's wordings, each used by at least
# WORDING_MIN_MEMBERS members. Wording is weaker evidence than a shared card, so the inherited
# risk stays in the throttle band until the account's own linkage pass says more.
WORDING_MIN_FAMILIES = 2
WORDING_MIN_MEMBERS = 3
WORDING_MIN_SHARE = 0.5


@dataclass(frozen=True)
class EarlyThrottle:
    """An account outside any campaign whose requests show a distillation intent early and often
    (at least ``min_intents`` requests, ``min_share`` of all it sent) is raised to ``risk`` at once,
    before its own risk has the volume to say more: a stealth hydra's account paces itself like a
    person and shares nothing, so waiting for its linkage pass costs ~20 exchanges per account.
    ``risk`` is the bottom of the policy's throttle band (the gateway passes its own policy's):
    throttling (quotas cut, nothing refused) is the cheap, reversible action, and it goes no
    further on this alone."""

    min_intents: int = 2
    min_share: float = 0.2
    risk: float = 0.5  # the bottom of the default policy's throttle band


_KIND_FIELD = {"residential": "residential_n", "hosting": "hosting_n", "vpn": "vpn_n", "tor": "tor_n"}
_STEP_CUE = "asks to reason step by step"
_STEP_CUE_BIT = 1 << CUE_NAMES.index(_STEP_CUE)
_NET24_DAY = KEY_TYPES.index("net24_day")
_LOCKSTEP = KEY_TYPES.index("lockstep")


@dataclass(slots=True)
class Verdict:
    risk: float
    campaign_id: str | None
    reasons: list[str]


def _net24(ip: str | None) -> str | None:
    if not ip:
        return None
    parts = ip.split(".")
    if len(parts) == 4:
        return ".".join(parts[:3]) + ".0/24"
    return ip.rsplit(":", 4)[0] if ":" in ip else None


def _bump(c: Counter[int] | Counter[str], key: int | str) -> None:
    c[key] += 1  # type: ignore[index]
    if len(c) > 2 * MAX_TRACKED:  # keep the heavy hitters
        for k, _ in c.most_common()[MAX_TRACKED:]:
            del c[k]  # type: ignore[arg-type]


@dataclass
class AccountState:
    n: int = 0
    first_ts: float = math.inf
    last_ts: float = -math.inf
    in_tok: int = 0
    out_tok: int = 0
    intents: Counter[int] = field(default_factory=Counter)
    intent_fams: set[int] = field(default_factory=set)  # template families of its intent requests
    step_cue_n: int = 0
    skels: Counter[int] = field(default_factory=Counter)
    fams: Counter[int] = field(default_factory=Counter)
    topic_sum: list[float] = field(default_factory=list)
    topic_n: int = 0
    systems: Counter[int] = field(default_factory=Counter)
    clients: Counter[str] = field(default_factory=Counter)
    multi_turn_n: int = 0
    gap_n: int = 0
    gap_mean: float = 0.0
    gap_m2: float = 0.0
    hours: list[int] = field(default_factory=lambda: [0] * 24)
    ips: set[str] = field(default_factory=set)
    nets: set[str] = field(default_factory=set)
    asns: set[int] = field(default_factory=set)
    kinds: Counter[str] = field(default_factory=Counter)
    models: Counter[str] = field(default_factory=Counter)
    # per released model: [requests in its first 48 h, of which on it, first use ts]
    pivot: dict[str, list[float]] = field(default_factory=dict)
    keys: deque[tuple[int, int, float]] = field(default_factory=lambda: deque(maxlen=MAX_KEYS))
    payment_fp: str | None = None

    def learn_one(self, ex: Exchange, f: RequestFeatures, kind: str, releases: dict[str, float]) -> None:
        ts = ex.ts
        if self.n and ts >= self.last_ts:
            g = ts - self.last_ts
            self.gap_n += 1
            d = g - self.gap_mean
            self.gap_mean += d / self.gap_n
            self.gap_m2 += d * (g - self.gap_mean)
        self.n += 1
        self.first_ts = min(self.first_ts, ts)
        self.last_ts = max(self.last_ts, ts)
        self.in_tok += ex.input_tokens or 0
        self.out_tok += ex.output_tokens or 0
        intent_idx = CLASSES.index(f.intent)
        if shows_intent(intent_idx, f.intent_score, f.text.cue_mask):  # the hunt's rule (detect.evidence)
            self.intents[intent_idx] += 1
            if f.prompt_chars >= 40 and len(self.intent_fams) < 4 * MAX_TRACKED:
                self.intent_fams.add(f.text.family)
        if f.text.cue_mask & _STEP_CUE_BIT:
            self.step_cue_n += 1
        _bump(self.skels, f.skeleton_hash)
        if f.prompt_chars >= 40:
            _bump(self.fams, f.text.family)
            if f.text.topic:
                if not self.topic_sum:
                    self.topic_sum = [0.0] * len(f.text.topic)
                self.topic_sum = list(map(operator.add, self.topic_sum, f.text.topic))
                self.topic_n += 1
        if f.system_fp is not None:
            _bump(self.systems, f.system_fp)
        if ex.client_fingerprint or ex.user_agent:
            _bump(self.clients, f"{ex.client_fingerprint or ''}|{ex.user_agent or ''}")
        if ex.user_turns > 1:
            self.multi_turn_n += 1
        self.hours[int(ts // 3600) % 24] += 1
        model = ex.model or "?"
        self.models[model] += 1
        net = _net24(ex.ip)
        if ex.ip and len(self.ips) < 4 * MAX_TRACKED and ex.ip not in self.ips:
            self.ips.add(ex.ip)
            asn = int(lookup_asns(parse_ipv4([ex.ip]))[0])
            if asn:
                self.asns.add(asn)
        if net and len(self.nets) < 4 * MAX_TRACKED:
            self.nets.add(net)
        self.kinds[kind] += 1
        for m, rel in releases.items():
            if rel <= ts < rel + PIVOT_WINDOW_S:
                p = self.pivot.setdefault(m, [0.0, 0.0, math.inf])
                p[0] += 1
                if model == m:
                    p[1] += 1
                    p[2] = min(p[2], ts)
        day = int(ts // 86400)
        if net and kind != "private":
            self.keys.append((_NET24_DAY, stable_hash(f"{net}|{day}"), ts))
        if f.prompt_chars >= 40:
            bucket = int(ts // LOCKSTEP_BUCKET_S)
            self.keys.append((_LOCKSTEP, stable_hash(f"{f.skeleton_hash}|{model}|{bucket}"), ts))


class OnlineScorer:
    """Per-account state updated per exchange; campaigns from periodic ``link`` passes.

    Thread-safe. ``window_s`` bounds the linkage keys a ``link`` pass considers.
    """

    def __init__(
        self,
        cfg: DetectConfig | None = None,
        window_s: float = 7 * 86400.0,
        early: EarlyThrottle | None = EarlyThrottle(),  # frozen: safe to share
    ) -> None:
        self.cfg = cfg or DetectConfig()
        self.early = early  # None: no early throttle
        self.window_s = window_s
        self.state: dict[str, AccountState] = {}
        self.model_first: dict[str, float] = {}
        self.t0 = math.inf
        self._lock = threading.Lock()
        self._campaign: dict[str, tuple[str, float, list[str]]] = {}
        self._by_payment: dict[str, tuple[str, float, int]] = {}  # fp -> (campaign, risk, members)
        self._by_wording: dict[int, tuple[str, float, int]] = {}  # family -> (campaign, risk, members)
        self._last: Detection | None = None
        self._released: tuple[float, int, dict[str, float]] = (math.inf, 0, {})  # (t0, models, releases)

    def set_payment(self, account_id: str, payment_fp: str | None) -> None:
        with self._lock:
            self.state.setdefault(account_id, AccountState()).payment_fp = payment_fp

    def _releases(self) -> dict[str, float]:
        """Models first seen more than a day after the first event. Kept until ``t0`` or the set
        of models changes (a model's first-seen time never does): asked once per exchange."""
        t0, n, rel = self._released
        if t0 != self.t0 or n != len(self.model_first):
            rel = {m: t for m, t in self.model_first.items() if t > self.t0 + 86400}
            self._released = (self.t0, len(self.model_first), rel)
        return rel

    def observe(self, ex: Exchange, feats: RequestFeatures) -> None:
        kind = network_kind(ex.ip) if ex.ip else "unknown"
        with self._lock:
            self.t0 = min(self.t0, ex.ts)
            model = ex.model or "?"
            if model not in self.model_first:
                self.model_first[model] = ex.ts
            st = self.state.get(ex.account_id)
            if st is None:  # not setdefault: building an AccountState per call cost ~8% of scoring
                st = self.state[ex.account_id] = AccountState()
            st.learn_one(ex, feats, kind, self._releases())

    def aggregates(self, ids: list[str] | None = None) -> AccountAggregates:
        """The same ``AccountAggregates`` the batch hunt computes with SQL."""
        with self._lock:
            ids = sorted(self.state) if ids is None else ids
            releases = self._releases()
            cols: dict[str, list[object]] = {
                k: []
                for k in (
                    "account_id",
                    "n",
                    "first_ts",
                    "last_ts",
                    "in_tok",
                    "out_tok",
                    "intent_n",
                    "intent_fams",
                    "top_intent",
                    "top_intent_n",
                    "step_cue_n",
                    "n_skel",
                    "top_skel",
                    "top_skel_n",
                    "top3_skel_n",
                    "top_fam_n",
                    "topic_conc",
                    "topic_n",
                    "topic_mean",
                    "top_sys_n",
                    "multi_turn_n",
                    "gap_cv",
                    "hour_entropy",
                    "active_hours",
                    "n_ips",
                    "n_net24",
                    "n_asn",
                    "residential_n",
                    "hosting_n",
                    "vpn_n",
                    "tor_n",
                    "n_models",
                    "top_model_share",
                    "pivot_model",
                    "pivot_share",
                    "pivot_delay_h",
                    "payment_fp",
                )
            }
            for a in ids:
                s = self.state[a]
                top3 = s.skels.most_common(3)
                top_intent = s.intents.most_common(1)
                hours = np.asarray(s.hours, dtype=np.float64)
                p = hours[hours > 0] / max(hours.sum(), 1)
                best: tuple[str | None, float, float] = (None, 0.0, math.nan)
                for m, (tot, on, first) in s.pivot.items():
                    if m in releases and tot >= 3 and on / tot > best[1]:
                        best = (m, on / tot, (first - releases[m]) / 3600.0)
                std = math.sqrt(s.gap_m2 / s.gap_n) if s.gap_n else math.nan
                topic_mean = [x / s.topic_n for x in s.topic_sum] if s.topic_n else None
                row: dict[str, object] = {
                    "account_id": a,
                    "n": s.n,
                    "first_ts": s.first_ts,
                    "last_ts": s.last_ts,
                    "in_tok": s.in_tok,
                    "out_tok": s.out_tok,
                    "intent_n": sum(s.intents.values()),
                    "intent_fams": len(s.intent_fams),
                    "top_intent": top_intent[0][0] if top_intent else 0,
                    "top_intent_n": top_intent[0][1] if top_intent else 0,
                    "step_cue_n": s.step_cue_n,
                    "n_skel": len(s.skels),
                    "top_skel": top3[0][0] if top3 else 0,
                    "top_skel_n": top3[0][1] if top3 else 0,
                    "top3_skel_n": sum(c for _, c in top3),
                    "top_fam_n": s.fams.most_common(1)[0][1] if s.fams else 0,
                    "topic_conc": math.sqrt(sum(x * x for x in topic_mean)) if topic_mean else 0.0,
                    "topic_n": s.topic_n,
                    "topic_mean": topic_mean,
                    "top_sys_n": s.systems.most_common(1)[0][1] if s.systems else 0,
                    "multi_turn_n": s.multi_turn_n,
                    "gap_cv": std / s.gap_mean if s.gap_n >= 2 and s.gap_mean > 0 else math.nan,
                    "hour_entropy": float(-(p * np.log2(p)).sum()) if len(p) else 0.0,
                    "active_hours": int((hours > 0).sum()),
                    "n_ips": len(s.ips),
                    "n_net24": len(s.nets),
                    "n_asn": len(s.asns),
                    "n_models": len(s.models),
                    "top_model_share": s.models.most_common(1)[0][1] / s.n if s.n else 0.0,
                    "pivot_model": best[0],
                    "pivot_share": best[1],
                    "pivot_delay_h": best[2],
                    "payment_fp": s.payment_fp,
                }
                for k, fld in _KIND_FIELD.items():
                    row[fld] = s.kinds.get(k, 0)
                for k, v in row.items():
                    cols[k].append(v)
            return AccountAggregates.from_columns(cols)

    def _keys(self, agg: AccountAggregates, since: float) -> pa.Table:
        t: list[int] = []
        k: list[int] = []
        acc: list[int] = []
        with self._lock:
            for i, a in enumerate(agg.account_id):
                s = self.state[a]
                for kt, key, ts in s.keys:
                    if ts >= since:
                        t.append(kt)
                        k.append(key)
                        acc.append(i)
                for skel, c in s.skels.most_common(8):
                    if c >= 3 and c >= 0.05 * s.n:
                        t.append(KEY_TYPES.index("template"))
                        k.append(skel)
                        acc.append(i)
                for fam, c in s.fams.most_common(8):
                    if c >= 3 and c >= 0.05 * s.n:
                        t.append(KEY_TYPES.index("family"))
                        k.append(fam)
                        acc.append(i)
                for fam in s.intent_fams:  # the content pass's keys (the hunt's KEYS_SQL type 8)
                    t.append(KEY_TYPES.index("intent_family"))
                    k.append(fam)
                    acc.append(i)
                for fp, c in s.systems.most_common(4):
                    if c >= 3:
                        t.append(KEY_TYPES.index("system"))
                        k.append(fp)
                        acc.append(i)
                for cl, c in s.clients.most_common(4):
                    if c >= 3:
                        t.append(KEY_TYPES.index("client"))
                        k.append(stable_hash(f"client:{cl}"))
                        acc.append(i)
                if s.payment_fp:
                    t.append(KEY_TYPES.index("payment"))
                    k.append(stable_hash(f"pay:{s.payment_fp}"))
                    acc.append(i)
                pm = agg.pivot_model[i]
                if pm and agg.pivot_share[i] >= 0.3 and agg.pivot_delay_h[i] <= 24:
                    t.append(KEY_TYPES.index("pivot"))
                    k.append(stable_hash(f"pivot:{pm}:{int(agg.pivot_delay_h[i] // 3)}"))
                    acc.append(i)
        return pa.table(
            {
                "ktype": pa.array(t, pa.int8()),
                "key": pa.array(k, pa.int64()),
                "acc": pa.array(acc, pa.int32()),
            }
        )

    def link(self, now: float) -> Detection:
        """The periodic linkage pass: promote linked accounts into campaigns."""
        agg = self.aggregates()
        con = duckdb.connect()
        try:
            con.register("_keys", self._keys(agg, now - self.window_s))
            con.execute("CREATE TEMP TABLE link_keys AS SELECT * FROM _keys")
            det = detect_keys(con, agg, self.cfg)
        finally:
            con.close()
        campaign: dict[str, tuple[str, float, list[str]]] = {}
        for i in np.nonzero(det.flagged)[0].tolist():
            c = int(det.campaign_of[i])
            cid = f"C{c + 1:03d}" if c >= 0 else ""
            campaign[agg.account_id[i]] = (cid, float(det.risk[i]), det.reasons(i))
        by_payment = self._payment_campaigns(campaign)
        by_wording = self._wording_campaigns(det)
        with self._lock:
            self._campaign = campaign
            self._by_payment = by_payment
            self._by_wording = by_wording
            self._last = det
        return det

    def _payment_campaigns(
        self, campaign: dict[str, tuple[str, float, list[str]]]
    ) -> dict[str, tuple[str, float, int]]:
        """Payment fingerprints that pass a campaign on: held by members of one campaign and
        mostly by them (``INHERIT_MIN_SHARE`` of the holders with traffic)."""
        holders: dict[str, list[str]] = {}
        with self._lock:
            for a, s in self.state.items():
                if s.payment_fp and s.n:
                    holders.setdefault(s.payment_fp, []).append(a)
        out: dict[str, tuple[str, float, int]] = {}
        for fp, accs in holders.items():
            members = [campaign[a] for a in accs if a in campaign and campaign[a][0]]
            if not members or len(members) < INHERIT_MIN_SHARE * len(accs):
                continue
            cids = Counter(m[0] for m in members)
            cid, k = cids.most_common(1)[0]
            risk = min(m[1] for m in members if m[0] == cid)
            out[fp] = (cid, risk, k)
        return out

    def _wording_campaigns(self, det: Detection) -> dict[int, tuple[str, float, int]]:
        """The intent wordings (template families) of each content campaign that at least
        ``WORDING_MIN_MEMBERS`` of its flagged members use."""
        users: dict[int, Counter[int]] = {}
        with self._lock:
            for i in np.nonzero(det.flagged)[0].tolist():
                c = int(det.campaign_of[i])
                if c < 0 or det.campaigns[c].kind != "content":
                    continue
                for fam in self.state[det.agg.account_id[i]].intent_fams:
                    users.setdefault(fam, Counter())[c] += 1
        out: dict[int, tuple[str, float, int]] = {}
        for fam, by_c in users.items():
            c, k = by_c.most_common(1)[0]
            if k >= WORDING_MIN_MEMBERS:
                out[fam] = (f"C{c + 1:03d}", det.campaigns[c].risk, k)
        return out

    def _wording_match(self, st: AccountState) -> tuple[str, float, int, int] | None:
        """(campaign, its risk, the account's wordings that are the campaign's, of how many)
        when the account's distillation wordings are mostly one content campaign's."""
        if not self._by_wording or len(st.intent_fams) < WORDING_MIN_FAMILIES:
            return None
        hits = Counter(self._by_wording[f][0] for f in st.intent_fams if f in self._by_wording)
        if not hits:
            return None
        cid, k = hits.most_common(1)[0]
        if k < WORDING_MIN_FAMILIES or k < WORDING_MIN_SHARE * len(st.intent_fams):
            return None
        risk = next(m[1] for f in st.intent_fams if (m := self._by_wording.get(f)) and m[0] == cid)
        return cid, risk, k, len(st.intent_fams)

    def campaign_members(self) -> set[str]:
        """The accounts the last ``link`` pass put in a campaign."""
        with self._lock:
            return set(self._campaign)

    def score(self, account_id: str) -> Verdict:
        """Risk, campaign and reasons of one account, from its state and the last ``link``."""
        return self.score_many([account_id])[0]

    def score_many(self, account_ids: list[str]) -> list[Verdict]:
        """``score`` of each account, their aggregates and evidence computed as one batch."""
        known = [a for a in account_ids if a in self.state]
        if not known:
            return [Verdict(0.0, None, []) for _ in account_ids]
        agg = self.aggregates(known)
        ev = account_evidence(agg)
        auto = automation_seen(agg, ev, self.cfg)
        by_id = {a: self._verdict(a, agg, ev, i, bool(auto[i])) for i, a in enumerate(known)}
        return [by_id.get(a) or Verdict(0.0, None, []) for a in account_ids]

    def _verdict(
        self, account_id: str, agg: AccountAggregates, ev: AccountEvidence, i: int, automated: bool
    ) -> Verdict:
        own = float(ev.risk[i])
        reasons = account_reasons(agg, ev, i)
        linked = self._campaign.get(account_id)
        if linked is not None:
            cid, risk, why = linked
            head = [r for r in why if r.startswith("member of campaign")]
            return Verdict(max(own, risk), cid or None, head + reasons)
        fp = self.state[account_id].payment_fp
        inherited = self._by_payment.get(fp) if fp else None
        if inherited is not None:  # e.g. a new account on a campaign's card, before its own evidence
            icid, irisk, k = inherited
            note = (
                f"shares its payment method with {k:,} member(s) of campaign {icid} "
                f"(campaign risk {irisk:.2f}), who are most of that payment method's accounts"
            )
            return Verdict(max(own, min(irisk, INHERIT_MAX_RISK)), icid, [note, *reasons])
        worded = self._wording_match(self.state[account_id])
        if worded is not None:  # e.g. a stealth hydra's account that started after the last pass
            wcid, wrisk, k, m = worded
            note = (
                f"{k:,} of its {m:,} distillation wordings are wordings of campaign {wcid} "
                f"(campaign risk {wrisk:.2f}), each used by {WORDING_MIN_MEMBERS}+ of its members"
            )
            base = own if automated else min(own, UNCORROBORATED_MAX_RISK)
            return Verdict(max(base, min(wrisk, UNCORROBORATED_MAX_RISK)), wcid, [note, *reasons])
        if not automated and own > UNCORROBORATED_MAX_RISK:
            own = UNCORROBORATED_MAX_RISK
            reasons = [*reasons, "no automation seen and no campaign: held at throttle until corroborated"]
        k, n = int(agg.intent_n[i]), int(agg.n[i])
        early = self.early
        if early is not None and own < early.risk and k >= early.min_intents and k >= early.min_share * n:
            own = early.risk
            reasons = [
                *reasons,
                f"throttled early: {k:,} of its {n:,} requests so far show a distillation intent "
                f"(at least {early.min_intents} and {early.min_share:.0%}); held at throttle until "
                "its own traffic or a linkage pass says more",
            ]
        return Verdict(own, None, reasons)
