# Quick start: `make demo` runs the demo study end to end; `make test` runs the test suite.
# Both create the virtual environment (.venv) and install prefstudy into it first, once.

PYTHON ?= python3
# Some environments set PYTHONDONTWRITEBYTECODE=1; caching bytecode (and pytest's rewritten test modules)
# saves every later test run several seconds of compiling.
unexport PYTHONDONTWRITEBYTECODE
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast bench lint docs clean

# The plugins prefstudy's repository ships, installed like any third party's: an example backbone, and the
# two pretrained feature extractors (dlib's face descriptor; ImageNet EfficientNet-Lite0, a backbone too).
PLUGINS := plugins/prefstudy-example-backbone plugins/prefstudy-face plugins/prefstudy-imagenet-lite0

$(STAMP): pyproject.toml $(addsuffix /pyproject.toml,$(PLUGINS))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' $(addprefix -e ,$(PLUGINS))
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/prefstudy demo --dir prefstudy-demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The fast lane: everything but the tests marked slow (training for long, torchrun, Chromium, many subprocesses).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)
	$(BIN)/python -m pytest benchmarks -q --benchmark-only

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports

# The command reference is generated from the command tree; tests/cli/test_reference.py fails when it is stale.
docs: $(STAMP)
	$(BIN)/python -m prefstudy.cli.reference docs/cli.md

clean:
	rm -rf $(VENV) prefstudy-demo .pytest_cache .benchmarks
