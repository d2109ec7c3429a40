"""Today's detectors, implemented faithfully so hydrawatch is always shown beside them.

Threshold rules (DuckDB SQL) and PRADA; each reads the ``events`` table and writes the report contract.
"""

from hydrawatch.baselines.registry import DESCRIPTIONS, NAMES, runner
from hydrawatch.baselines.verdicts import Flag, build_report

__all__ = ["DESCRIPTIONS", "NAMES", "Flag", "build_report", "runner"]
