# The two commands of the README: `make up` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: up test lint bench clean test-image

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP) $@

up: $(STAMP)
	cd templates/quickstart && ../../$(BIN)/samrun up

# The suite mostly waits (servers starting, timeouts running out): two workers, one test file
# each at a time (module-scoped servers stay in one worker). TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2

test: $(TEST_STAMP)
	$(BIN)/ruff check samrun tests bench
	$(BIN)/mypy samrun
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check samrun tests bench
	$(BIN)/ruff format --check samrun tests bench
	$(BIN)/mypy samrun

bench: $(TEST_STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .samrun .pytest_cache .ruff_cache

# The docker tests' Lambda image (samrun-test/python:3.11): a debootstrap'd Debian rootfs with the
# official images' contract, imported once; needs root, debootstrap and a running Docker engine.
test-image: | $(BIN)/python
	PYTHON=$(BIN)/python tests/docker/image/build.sh
