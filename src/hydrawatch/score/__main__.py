"""``python -m hydrawatch.score``: how ``hydrawatch serve`` starts its scorer process."""

from hydrawatch.score.cli import score

if __name__ == "__main__":
    score(prog_name="hydrawatch score")
