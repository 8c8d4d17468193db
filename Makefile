# Two commands on a fresh machine: `make demo` and `make test`. Both set themselves up.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench conformance clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

# `warm` compiles every kernel into numba's on-disk cache first (a minute of CPU, once), so that no later run compiles
demo: $(STAMP)
	$(BIN)/liqcascade warm
	$(BIN)/liqcascade demo --out liqcascade-results

test: $(STAMP)
	NUMBA_NUM_THREADS=2 $(BIN)/python -m pytest -q -p no:cacheprovider --benchmark-disable
	# the engine tests again on the plain-Python twins of the numba kernels
	LIQCASCADE_DISABLE_JIT=1 $(BIN)/python -m pytest -q -p no:cacheprovider --benchmark-disable tests/engine

# fails when a stated target (docs/benchmarks.md) is missed on an idle machine; a miss on a
# loaded one is a skip that says "NOT JUDGED: machine loaded (...)"
bench: $(STAMP)
	NUMBA_NUM_THREADS=2 $(BIN)/python -m pytest -q benchmarks --benchmark-only --benchmark-columns=min,median,mean,rounds --benchmark-sort=name -rsf

conformance: $(STAMP)
	$(BIN)/liqcascade conformance

clean:
	rm -rf $(VENV) liqcascade-results .pytest_cache .benchmarks build src/*.egg-info
