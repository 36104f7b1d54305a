# Two entry points for a fresh machine: `make demo` (the main job) and `make test`.
# Both create .venv themselves. torch is pinned to the CPU wheel our machines carry.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TORCH  ?= torch==2.13.0

.PHONY: setup demo test test-fast lint bench gpu-wheels gpu-check-cpu clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

demo: setup
	$(BIN)/tuneforge tune

test: setup
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

lint: setup
	$(BIN)/ruff check src tests benchmarks

bench: setup
	$(BIN)/python benchmarks/trainer_overhead.py
	cd benchmarks && ../$(BIN)/python tune_throughput.py

# Wheels a lent GPU machine lacks (Optuna, pydantic, skops, cmaes...), for benchmarks/gpu_check.sh.
gpu-wheels: setup
	$(BIN)/python benchmarks/gpu_wheels.py .whl

# The GPU check rehearsed on this machine's CPU (its tables land in runs/gpu-check-cpu/).
gpu-check-cpu: setup
	QUICK=1 PYTHON=$(abspath $(BIN)/python) benchmarks/gpu_check.sh runs/gpu-check-cpu cpu

clean:
	rm -rf $(VENV) runs .pytest_cache
