#!/usr/bin/env bash
# The speed benchmarks on a CUDA GPU, in one command of a few minutes, for a machine whose python3
# holds torch but cannot reach a package index: the rest comes as wheels in .whl/ (made here by
# scripts/gpu_wheels.sh and carried along). Results go to $OUT when set (the device tool's folder
# that comes back), else to benchmarks/results/.
#
#   bash scripts/gpu_speed.sh           # on the GPU machine, from the repository root
set -uo pipefail
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/affordkit-site .whl/*.whl || exit 1
    export PYTHONPATH="/tmp/affordkit-site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD/src:$PWD:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
out=${OUT:-benchmarks/results}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
# TD3 and AWAC updates/s beside SB3 and d3rlpy on the GPU, and 5 seeds stacked against one after another
timeout 300 python3 benchmarks/update_speed.py --device cuda --rounds 3 --seconds 0.5 --pixel-seeds 5 \
    --results-dir "$out" 2>&1 | tee "$out/update_speed_cuda.log"
# RIG's training loop on the GPU: 5 seeds together against one after another, and the update share
timeout 150 python3 benchmarks/end_to_end.py --device cuda --seeds 5 --rounds 2 --batches 1 \
    --results-dir "$out" 2>&1 | tee "$out/end_to_end_cuda.log"
timeout 90 python3 benchmarks/end_to_end.py --device cuda --breakdown --rounds 2 --batches 1 \
    --results-dir "$out" 2>&1 | tee "$out/end_to_end_breakdown_cuda.log"
ls -la "$out"
