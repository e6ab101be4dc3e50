# The two commands of the front door: `make demo` and `make test`.
# Each bootstraps .venv on a fresh machine (only Python 3.11+ and make needed).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-approvals demo-chat demo-agents bench-agents test install lint typecheck unit check mutants bench soak browser compose-tool clean

$(STAMP): pyproject.toml emulator/pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,bench,agents]' -e ./emulator
	@touch $@

install: $(STAMP)

## Start the embedded stack (Temporal dev server + UI, emulator, bridge, worker), run the demo, stop.
demo: $(STAMP)
	$(BIN)/durable-runs demo

## The approvals demo: a run stops at a tool that needs approval; approve it, see it finish.
demo-approvals: $(STAMP)
	$(BIN)/durable-runs demo --approvals

## The same stack, holding a three-turn chat session (turn 3 answers from turn 1), then stopped.
demo-chat: $(STAMP)
	$(BIN)/durable-runs demo --chat

## OpenAI Agents SDK agents on Temporal's integration, each model call a background response.
demo-agents: $(STAMP)
	$(BIN)/durable-runs demo --agents

## Everything CI runs: lint, types, the whole suite (its tests/bench runs the soak at a small
## size), the mutation check and the small benchmark's table.
test: $(STAMP) browser compose-tool lint typecheck unit mutants bench

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

## The fast tier: pure unit tests, seconds, nothing running (no Temporal, no emulator).
check: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider --noconftest tests/unit

## Plant known bugs one at a time; the fast tier must catch each.
mutants: $(STAMP)
	$(BIN)/python scripts/mutation_check.py

bench: $(STAMP)
	$(BIN)/python -m bench.run --size 5 --out bench/out/ci
	$(BIN)/python -m bench.agents --agents 3 --duration-ms 1000

## The plain Agents integration against DurableRunsAgentsPlugin (polling, webhooks): one table.
bench-agents: $(STAMP)
	$(BIN)/python -m bench.agents --agents 20 --duration-ms 5000

soak: $(STAMP)
	$(BIN)/python -m bench.soak --runs 20

## Headless Chromium for the Temporal UI test (Debian's package; no browser download).
browser:
	@scripts/ensure-debian-package.sh chromium chromium "the UI tests drive it headless"

## A Compose implementation whose `config` validates the compose files (Debian's package).
compose-tool:
	@scripts/ensure-debian-package.sh docker-compose docker-compose "tests/test_compose.py validates the compose files with it"

clean:
	rm -rf $(VENV) .durable-runs bench/out .pytest_cache .mypy_cache .ruff_cache
