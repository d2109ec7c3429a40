#!/usr/bin/env bash
# Set up hydrawatch on a fresh machine and run the main job on the embedded default.
#   bash scripts/bootstrap.sh            # install + demo (simulate a week, hunt it, save the report)
#   bash scripts/bootstrap.sh --no-demo  # install only (used by CI)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
if [ "${1:-}" != "--no-demo" ]; then
  .venv/bin/hydrawatch demo --out demo-out
fi
