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
log=${GPU_LOG:-/tmp/gpu_speed.log}  # not in $out: the device tool brings back 8 files, the 8 results
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
# the tests that run only where CUDA is
timeout 120 python3 -m pytest -q -p no:cacheprovider -k cuda tests/algos/test_td3.py \
    tests/generative/test_fit.py tests/algos/test_common.py 2>&1 | tee -a "$log"
# TD3 and AWAC updates/s beside SB3 and d3rlpy on the GPU, and 5 seeds stacked against one after another
timeout 300 python3 benchmarks/update_speed.py --device cuda --rounds 3 --pixel-seeds 5 \
    --results-dir "$out" 2>&1 | tee -a "$log"
# RIG's training loop on the GPU: TD3 fast against reference, 5 seeds together against one after another, and the update share
timeout 120 python3 benchmarks/end_to_end.py --device cuda --rounds 3 \
    --results-dir "$out" 2>&1 | tee -a "$log"
timeout 150 python3 benchmarks/end_to_end.py --device cuda --seeds 5 --rounds 2 --batches 1 \
    --results-dir "$out" 2>&1 | tee -a "$log"
timeout 90 python3 benchmarks/end_to_end.py --device cuda --breakdown --rounds 2 --batches 1 \
    --results-dir "$out" 2>&1 | tee -a "$log"
ls -la "$out"
