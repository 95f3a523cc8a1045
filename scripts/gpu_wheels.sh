#!/usr/bin/env bash
# Wheels of affordkit's pure-Python dependencies (and of the peer libraries of benchmarks/) for a GPU
# machine whose Python 3.12 already holds torch, numpy, matplotlib, tqdm, tensorboard and imageio but
# cannot reach a package index: they go to .whl/ (ignored by git), which scripts/gpu_speed.sh installs
# there. Versions are the ones this checkout's .venv resolved, so both machines run the same code.
#
#   bash scripts/gpu_wheels.sh          # here, with network access to PyPI
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
mkdir -p .whl
py=.venv/bin/python
version() { "$py" -m pip show "$1" 2>/dev/null | sed -n 's/^Version: //p'; }
names=(gymnasium farama-notifications tyro docstring-parser typeguard stable-baselines3 d3rlpy
       dataclasses-json marshmallow structlog gym-notices)
pins=()
for n in "${names[@]}"; do
    v=$(version "$n")
    [ -n "$v" ] || { echo "$n is not installed in .venv: run bash scripts/setup.sh dev,bench first" >&2; exit 2; }
    pins+=("$n==$v")
done
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64; do platforms+=(--platform "$p"); done
"$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" -d .whl "${pins[@]}"
# gym (imported by d3rlpy) is published as a source archive only: build its pure-Python wheel here
gym_version=$(version gym)
ls .whl/gym-"$gym_version"-*.whl >/dev/null 2>&1 ||
    "$py" -m pip wheel -q --no-deps --no-build-isolation -w .whl "gym==$gym_version"
du -sh .whl
ls .whl
