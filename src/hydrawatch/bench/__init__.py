"""The scoreboard: simulate scenarios with ground truth, run detectors as child processes, score reports.

``score_report(labels, report, timeline)`` is the pure scoring function; ``run_bench`` the loop.
"""

from hydrawatch.bench.labels import Labels, LabelsError, read_labels
from hydrawatch.bench.score import RunScore, ScoreError, score_report
from hydrawatch.bench.timeline import Timeline

__all__ = ["Labels", "LabelsError", "RunScore", "ScoreError", "Timeline", "read_labels", "score_report"]
