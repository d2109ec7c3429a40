"""Ground-truth traffic simulator: legitimate populations (with the hard cases that get real
users wrongly banned) and distillation campaigns with the disclosed tactics.

Public API::

    from hydrawatch.simulate import SCENARIOS, simulate
    summary = simulate("mixed", Path("out"), seed=7, scale=0.1)

writes ``out/events.jsonl`` (exchange-log contract), ``out/accounts.jsonl`` and
``out/labels.csv`` (``account_id,campaign_id,population``).
"""

from __future__ import annotations

from hydrawatch.simulate.scenarios import SCENARIOS, Scenario, get_scenario
from hydrawatch.simulate.spec import CampaignSpec, PopulationSpec
from hydrawatch.simulate.writer import Summary, simulate

__all__ = ["SCENARIOS", "CampaignSpec", "PopulationSpec", "Scenario", "Summary", "get_scenario", "simulate"]
