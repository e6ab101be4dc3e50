# The two commands of the front door: `make demo` and `make test`.
# Each bootstraps .venv on a fresh machine (only Python 3.11+ and make needed).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install lint typecheck unit bench soak browser clean

$(STAMP): pyproject.toml emulator/pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,bench]' -e ./emulator
	@touch $@

install: $(STAMP)

## Start the embedded stack (Temporal dev server + UI, emulator, bridge, worker), run the demo, stop.
demo: $(STAMP)
	$(BIN)/durable-runs demo

## Everything CI runs: lint, types, the whole suite, the small benchmark and the small soak.
test: $(STAMP) browser lint typecheck unit bench soak

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m bench.run --size 10 --out bench/out/ci

soak: $(STAMP)
	$(BIN)/python -m bench.soak --runs 20

## Headless Chromium for the Temporal UI test (Debian's package; no browser download).
browser:
	@scripts/ensure-chromium.sh

clean:
	rm -rf $(VENV) .durable-runs bench/out .pytest_cache .mypy_cache .ruff_cache
