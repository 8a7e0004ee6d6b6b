# Quick start: `make demo` runs the demo study end to end; `make test` runs the test suite.
# Both create the virtual environment (.venv) and install prefstudy into it first, once.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint clean

PLUGIN := plugins/prefstudy-example-backbone

$(STAMP): pyproject.toml $(PLUGIN)/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' -e $(PLUGIN)
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/prefstudy demo --dir prefstudy-demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m pytest benchmarks -q --benchmark-only

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) prefstudy-demo .pytest_cache .benchmarks
