"""Account records (accounts.jsonl) and the identities behind them."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hydrawatch.simulate.seeding import short_hash

CONSUMER_DOMAINS: tuple[str, ...] = (
    "gmail.com",
    "gmail.com",
    "gmail.com",
    "outlook.com",
    "hotmail.com",
    "yahoo.com",
    "icloud.com",
    "proton.me",
    "gmx.de",
    "web.de",
    "orange.fr",
    "qq.com",
    "163.com",
    "naver.com",
    "yandex.ru",
    "mail.ru",
)
EDU_DOMAINS: tuple[str, ...] = (
    "stanford.edu",
    "berkeley.edu",
    "umich.edu",
    "utexas.edu",
    "gatech.edu",
    "tsinghua.edu.cn",
    "pku.edu.cn",
    "zju.edu.cn",
    "sjtu.edu.cn",
    "nus.edu.sg",
    "ox.ac.uk",
    "ethz.ch",
    "tum.de",
    "u-tokyo.ac.jp",
    "kaist.ac.kr",
    "iitb.ac.in",
    "usp.br",
    "unimelb.edu.au",
    "mcgill.ca",
)
NAMES: tuple[str, ...] = (
    "alex",
    "sam",
    "li",
    "wei",
    "maria",
    "jose",
    "anna",
    "chen",
    "yuki",
    "omar",
    "ivan",
    "priya",
    "lucas",
    "emma",
    "noah",
    "mia",
    "arjun",
    "sofia",
    "kim",
    "jun",
    "leo",
    "nina",
    "ali",
    "sara",
    "tom",
    "zoe",
)


@dataclass(slots=True)
class Account:
    account_id: str
    created_at: float
    email: str
    payment_fingerprint: str | None
    country: str
    signup_path: str
    verified: bool
    organization: str | None = None

    @property
    def email_domain(self) -> str:
        return self.email.rsplit("@", 1)[-1]

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "account_id": self.account_id,
            "created_at": iso(self.created_at),
            "email": self.email,
            "email_domain": self.email_domain,
            "payment_fingerprint": self.payment_fingerprint,
            "country": self.country,
            "signup_path": self.signup_path,
            "verified": self.verified,
        }
        if self.organization:
            d["organization"] = self.organization
        return d


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def account_id(*parts: object) -> str:
    return "acct_" + short_hash("acct", *parts, n=14)


def email_for(rng: random.Random, domain: str) -> str:
    name = NAMES[int(rng.random() * len(NAMES))]
    style = rng.randrange(4)
    if style == 0:
        local = f"{name}{rng.randrange(10, 9999)}"
    elif style == 1:
        local = f"{name}.{NAMES[int(rng.random() * len(NAMES))]}"
    elif style == 2:
        local = f"{name}_{rng.randrange(1970, 2008)}"
    else:
        local = short_hash("mail", rng.random(), n=10)
    return f"{local}@{domain}"


def payment_fingerprint(*parts: object) -> str:
    return "pm_" + short_hash("pay", *parts, n=16)


def api_key_id(*parts: object) -> str:
    return "key_" + short_hash("key", *parts, n=12)
