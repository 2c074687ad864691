# spikeport: `make demo` runs the main job, `make test` runs the tests.
# Both set up everything they need first (scripts/bootstrap.sh is idempotent).
VENV   := .venv
PY     := $(VENV)/bin/python
JOBS   ?= 2

.PHONY: setup test demo lint bench clean

setup:
	@scripts/bootstrap.sh

test: setup
	@$(PY) -m pytest -q -n $(JOBS) --dist loadgroup -ra --durations=15

demo: setup
	@$(PY) examples/demo.py --out build/demo

lint: setup
	@$(PY) -m ruff check toolchain hdl tests examples benchmarks

bench: setup
	@$(PY) -m benchmarks

clean:
	rm -rf build .pytest_cache
