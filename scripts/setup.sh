#!/usr/bin/env bash
# Set up affordkit in ./.venv: torch first (so pip never resolves another build), then the package.
#   bash scripts/setup.sh            core
#   bash scripts/setup.sh dev        + test tools (pytest, hypothesis, ruff, mypy)
#   bash scripts/setup.sh dev,sim    + the 3-D arm simulators (Meta-World, Gymnasium-Robotics, MuJoCo)
#                                      and the Debian GL libraries for headless rendering
#   bash scripts/setup.sh dev,bench  + peer libraries and MuJoCo for benchmarks (and its GL libraries)
# Environment: PYTHON (default python3), TORCH_SPEC (default torch==2.13.0; on a CUDA machine set
# it to the build you want).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-python3}"
torch_spec="${TORCH_SPEC:-torch==2.13.0}"

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)

if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  echo "installing $torch_spec"
  "${pip[@]}" "$torch_spec"
fi

if [[ ",$extras," == *",bench,"* || ",$extras," == *",sim,"* ]]; then
  # Headless MuJoCo rendering needs EGL or OSMesa from the system.
  if ! ldconfig -p 2>/dev/null | grep -q -e libEGL.so.1 -e libOSMesa.so; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "installing EGL/OSMesa libraries for headless MuJoCo rendering"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libegl1 libgl1-mesa-dri libosmesa6 >/dev/null
    else
      echo "warning: install libegl1 libgl1-mesa-dri libosmesa6 (Debian names) for headless MuJoCo rendering" >&2
    fi
  fi
fi

spec="."
[ -n "$extras" ] && spec=".[$extras]"
echo "installing affordkit ($spec)"
"${pip[@]}" -e "$spec"
