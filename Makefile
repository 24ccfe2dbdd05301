# Two commands for a new user (see README): `make demo` and `make test`.
# Each creates .venv if absent, installs the project into it, then runs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.nststudy-installed

.PHONY: setup demo test test-all bench bench-realtime clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/nststudy demo

PYTEST_ARGS ?= -m "not slow"

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Side-by-side benchmark against the TensorFlow tutorial's loop, then the feed-forward network's fps (section
# "realtime", about 3-4 min of it): about 65-85 min on 2 idle cores; writes benchmarks/results.json, then
# benchmarks/report.py writes RESULTS.md and the README's two generated blocks from it.
# Uses ImageNet weights when found ($$NSTSTUDY_WEIGHTS_DIR, Keras cache), else random (realtime: always random).
# `make bench BENCH_ARGS=--quick`: a smoke run of a few minutes into $$TMPDIR/nststudy-bench-quick (README untouched).
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

# Real time (issue 20) alone: fps of the transform network at 256² and 512², widths 1, 1/2, 1/4, float32 and
# bfloat16, and where the time goes (about 3-4 min on 2 cores; random weights, speed only). Prints only (add
# BENCH_ARGS=--json=FILE to keep the numbers); `make bench` records the same section in results.json.
bench-realtime: $(STAMP)
	$(BIN)/python benchmarks/realtime.py $(BENCH_ARGS)

test-all: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf runs .pytest_cache
