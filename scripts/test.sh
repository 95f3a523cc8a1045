#!/usr/bin/env bash
# Fresh machine -> set up with the test tools and the 3-D arm simulators (sim extra), then lint,
# type-check and run the test suite.
# Extra arguments go to pytest (e.g. -k vector -x).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev,sim
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
.venv/bin/ruff check src tests benchmarks
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
