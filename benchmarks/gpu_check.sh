#!/usr/bin/env bash
# The prepared GPU check: one call on a lent GPU machine, within 10 minutes.
#
#   benchmarks/gpu_check.sh OUT_DIR [DEVICE]      (DEVICE: cuda by default; cpu to rehearse)
#
# Run from the repository root. A GPU machine has torch but not Optuna, pydantic, skops, cmaes
# and what they need: `make gpu-wheels` downloads them into .whl/ (git-ignored) here, and the
# device tool carries that folder (carry: [".whl"]); this script installs them into /tmp first.
# Each step writes OUT_DIR/<step>.txt and a line "<step> rc=N seconds=S" to OUT_DIR/summary.txt;
# a step that would overrun the budget (BUDGET seconds, 540 by default) is cut by its timeout.
# QUICK=1 shrinks every step (K = 2 4, 4 trials, one test file) to rehearse the script on a CPU.
set -uo pipefail
out=${1:?usage: benchmarks/gpu_check.sh OUT_DIR [DEVICE]}
device=${2:-cuda}
mkdir -p "$out"
: > "$out/summary.txt"
end=$((SECONDS + ${BUDGET:-540}))
py=${PYTHON:-python3}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
if ! $py -c "import optuna, pydantic, skops, cmaes" 2>/dev/null && compgen -G ".whl/*.whl" >/dev/null; then
    $py -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/tuneforge-site .whl/*.whl || exit 1
    export PYTHONPATH="$PYTHONPATH:/tmp/tuneforge-site"
fi

members=(16 64 256) trials=64 tests=(tests/engine/test_cuda.py tests/cohort/test_same_as_alone.py tests/cohort/test_pool.py)
if [ -n "${QUICK:-}" ]; then
    members=(2 4) trials=4 tests=(tests/engine/test_cuda.py tests/cohort/test_members.py)
fi

step() {  # step NAME SECONDS COMMAND...: run with a timeout inside what is left of the budget
    local name=$1 limit=$2 started=$SECONDS
    shift 2
    local left=$((end - SECONDS))
    if ((left < 20)); then
        echo "$name rc=skipped (budget spent)" | tee -a "$out/summary.txt"
        return
    fi
    ((limit > left)) && limit=$left
    timeout "$limit" "$@" >"$out/$name.txt" 2>&1
    echo "$name rc=$? seconds=$((SECONDS - started))" | tee -a "$out/summary.txt"
}

step environment 60 $py -c "import torch, optuna, pydantic, skops, tuneforge
print('torch', torch.__version__, 'cuda', torch.version.cuda, 'optuna', optuna.__version__)
print(torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA device')"
# Cohort members equal their lone runs on the device; deterministic mode, bf16, resume on CUDA.
step tests 150 env TUNEFORGE_TEST_DEVICE="$device" $py -m pytest -q -p no:cacheprovider "${tests[@]}"
# Per-member step cost for K = 16, 64, 256: batched optimizer over whole rows vs CPU-style chunks.
step cohort_step_whole_rows 75 $py benchmarks/cohort_step.py --device "$device" --no-compile \
    --members "${members[@]}" --chunks off
step cohort_step_chunked 75 $py benchmarks/cohort_step.py --device "$device" --no-compile \
    --members "${members[@]}" --chunks on
# The default study (64 trials x 20 epochs) at cohort 16 and 64 against the canonical loop.
step default_study 200 $py benchmarks/tune_throughput.py --device "$device" --threads 8 \
    --trials "$trials" --cohorts 16 64 --cohorts-only --no-sklearn
# torch.compile of the cohort step, last: it may take the rest of the budget.
step cohort_step_compiled 120 $py benchmarks/cohort_step.py --device "$device" \
    --members "${members[@]: -2}"
cat "$out/summary.txt"
