#!/usr/bin/env bash
# Fresh machine -> set up, then run the main job on the default environment.
# Extra arguments go to `affordkit quickstart` (e.g. --env ColorPush --seed 1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" .venv/bin/affordkit quickstart "$@"
