# One-command set-up on a fresh machine (Python >= 3.10 with venv; nothing else preinstalled).
#   make demo   installs infertel into .venv and runs `infertel demo` on the embedded default
#   make test   installs everything the tests need (peers included) and runs the whole suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
# Neither exporter depends on infertel, so they install in any order; `pip install infertel` alone
# pulls both from an index. The demo's terminal UI is the `demo` extra (plain text without it); the
# `dashboard` extra serves `infertel dashboard`, which the demo's closing note points to.
EXPORTER_DISTS := -e exporters/infertel-exporter-sqlite -e exporters/infertel-exporter-durable
RUNTIME_DISTS := -e '.[demo,dashboard]' $(EXPORTER_DISTS)
# The tests exercise every extra (gRPC, GPU with canned NVML, Prometheus, the demo UI).
ALL_DISTS := -e '.[all]' $(EXPORTER_DISTS) $(foreach d,$(filter-out exporters/infertel-exporter-sqlite/ exporters/infertel-exporter-durable/,$(sort $(dir $(wildcard exporters/*/pyproject.toml instrumentation/*/pyproject.toml)))),-e $(d))

.PHONY: demo test test-matrix install install-dev peers lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

install: $(BIN)/python
	$(PIP) install -q $(RUNTIME_DISTS)

demo: install
	$(BIN)/infertel demo

install-dev: $(BIN)/python
	$(PIP) install -q $(ALL_DISTS) -r requirements-dev.txt

peers:
	bash scripts/install-peers.sh

test: install-dev peers
	$(BIN)/python -m pytest

# The unit suite on the oldest and newest supported OpenTelemetry releases (Python 3.10 / 3.13 venvs in .cache/).
test-matrix:
	bash .ci/matrix.sh

lint: install-dev
	$(BIN)/ruff check .
	# One namespace (infertel_exporters, infertel_instrumentation) spread over several src/ folders.
	MYPYPATH=$$(ls -d src exporters/*/src instrumentation/*/src | paste -sd:) $(BIN)/mypy src exporters/*/src instrumentation/*/src

bench: install-dev
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .cache
