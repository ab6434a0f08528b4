#!/usr/bin/env bash
# The CUDA path, checked on a machine with an NVIDIA GPU (the project never needs one):
#
#     bash bench/bench_cuda.sh [LOG_DIR]
#
# 1. the engine's CUDA tests (every backend there against fp32 on the CPU);
# 2. a small fine-tune on the GPU: `textflix train` (500 labels, mixed precision), timed;
# 3. `textflix predict` with backend "auto": the engine measures fp16, bf16 and fp32 on the GPU
#    and keeps its choice beside the model;
# 4. bench/bench_engine.py on the GPU: the transformers pipeline there beside the engine in
#    each backend and at several token budgets, agreement with fp32 (on the GPU and on the
#    CPU), latency.
#
# TRAIN_LABELS, EVAL_REVIEWS and BENCH_REVIEWS make it smaller (500, 1,000 and 2,000 by default).
# Uses the project's settings as usual (TEXTFLIX_DATA_DIR, TEXTFLIX_BASE_MODEL...); models and
# caches go to a temporary folder unless TEXTFLIX_MODELS_DIR / TEXTFLIX_CACHE_DIR say otherwise.
# Each step's output goes to LOG_DIR (default: a temporary folder) and to the terminal; a step
# that fails is reported and the next one still runs. Prints figures; asserts nothing itself.
set -u
cd "$(dirname "$0")/.."
# The project's environment (`bash .ci/setup`) when there is one, else the machine's python3.
default_python=python3
[ -x .venv/bin/python ] && default_python=.venv/bin/python
python=${PYTHON:-$default_python}
logs=${1:-$(mktemp -d)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$logs"
export TEXTFLIX_DEVICE=${TEXTFLIX_DEVICE:-cuda}  # cpu: try the script out where there is no GPU
export TEXTFLIX_MODELS_DIR=${TEXTFLIX_MODELS_DIR:-$work/models}
export TEXTFLIX_CACHE_DIR=${TEXTFLIX_CACHE_DIR:-$work/cache}
export TEXTFLIX_DATABASE_URL=${TEXTFLIX_DATABASE_URL:-sqlite:///$work/textflix.db}
export PYTHONUNBUFFERED=1
failed=0

step() {  # step NAME COMMAND...: run, log, time; go on after a failure
    local name=$1 started=$SECONDS
    shift
    echo "== $name: $*"
    "$@" 2>&1 | tee "$logs/$name.log"
    local status=${PIPESTATUS[0]}
    echo "== $name: exit $status after $((SECONDS - started)) s"
    [ "$status" = 0 ] || failed=1
}

nvidia-smi -L || true
"$python" -c 'import torch, transformers; print("torch", torch.__version__, "CUDA", torch.version.cuda, "transformers", transformers.__version__, "GPU", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")'

step tests "$python" -m pytest -q -p no:cacheprovider tests/sentiment/test_engine.py -k cuda
step train "$python" -m app.cli train --labels "${TRAIN_LABELS:-500}" --eval "${EVAL_REVIEWS:-1000}" --name cuda-quick
step predict sh -c "printf '%s\n' 'A warm, funny film. The ending drags, though.' 'Dull and far too long.' | $python -m app.cli predict - && cat '$TEXTFLIX_MODELS_DIR'/cuda-quick/engine/*.json"
step bench "$python" bench/bench_engine.py "$TEXTFLIX_MODELS_DIR/cuda-quick" --device "$TEXTFLIX_DEVICE" --n "${BENCH_REVIEWS:-2000}" \
    --token-budgets 2048,8192,32768 --engine-batch-size 512 --latency-runs 50
exit $failed
