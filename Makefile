# Entry points for a fresh machine: `make demo` (the main job), `make test`, `make lint`,
# `make docs`. Each creates .venv itself. torch is pinned to the CPU wheel our machines carry.
# `make demo` installs tuneforge with its runtime dependencies only; `make test` adds the test
# tools and the optional extras the tests exercise (the `dev` extra).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TORCH  ?= torch==2.13.0
# The oldest versions pyproject admits, tested for real in their own venv (`make test-oldest`).
# Only the CPU wheel of torch 2.13 is cheap to install here, so that floor is 2.13; what differs
# between torch releases for us (a private kernel) is tested by simulation (tests/tune/test_compat.py).
OLDEST     := .venv-oldest
OLDEST_PIN ?= "optuna==4.9.0" "scikit-learn==1.6.0"

.PHONY: setup setup-dev demo test test-fast test-oldest fuzz lint docs bench gpu-wheels gpu-check-cpu clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e .
	touch $@

setup-dev: $(VENV)/.installed-dev

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

demo: setup
	$(BIN)/tuneforge tune

test: setup-dev
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q

test-fast: setup-dev
	$(BIN)/python -m pytest -q -m "not slow"

# The fuzzer's long profile (nightly): random examples, 300 per property (FUZZ_EXAMPLES=N).
# `make test` runs the same properties with the bounded, derandomized `ci` profile.
fuzz: setup-dev
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-nightly} $(BIN)/python -m pytest -q tests/fuzz


# The fast suite on the oldest torch / Optuna / scikit-learn we admit.
test-oldest:
	$(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install --quiet --upgrade pip
	$(OLDEST)/bin/python -m pip install --quiet "$(TORCH)"
	$(OLDEST)/bin/python -m pip install --quiet -e ".[dev]" $(OLDEST_PIN)
	$(OLDEST)/bin/python -m pip list 2>/dev/null | grep -iE "^(torch|optuna|scikit-learn) "
	$(OLDEST)/bin/python -m pytest -q -m "not slow" -p no:cacheprovider

lint: setup-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports --no-cache

# Regenerate the key reference in docs/recipes.md from the schema's Field descriptions.
docs: setup
	$(BIN)/python -m tuneforge.config.reference

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
	rm -rf $(VENV) $(OLDEST) runs .pytest_cache
