"""The report contract every detector writes (docs/report.md)."""

from hydrawatch.report.model import AccountVerdict, Campaign, Report, ReportError

__all__ = ["AccountVerdict", "Campaign", "Report", "ReportError"]
