#!/usr/bin/env bash
# Fresh machine -> set up, then run the main job: RIG (`affordkit rig --preset quick`) on the
# default environment, Push. Extra arguments go to `affordkit rig` (e.g. --seed 1, --env PointReach).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" .venv/bin/affordkit rig --env Push --preset quick "$@"
