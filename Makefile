# Two commands on a fresh machine: `make run` (oldclip run; other commands with ARGS="...") and `make test`.
# Both create .venv and install oldclip into it the first time (and again when pyproject changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?= run

.PHONY: run test demo lint format bench lock clean

# requirements.lock pins every package a deployment runs with (`make lock` refreshes it from
# pyproject.toml); a package that is not in it yet is taken at the newest allowed version.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/oldclip $(ARGS)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

demo: $(STAMP)
	PYTHONPATH=tests $(BIN)/python tests/demo.py

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev,bench]'
	$(BIN)/python bench/accuracy.py
	$(BIN)/python bench/speed.py

lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/pip install --quiet '.[dev,bench]'
	.lock-venv/bin/pip freeze --exclude-editable | grep -v '^oldclip' > requirements.lock
	rm -rf .lock-venv build

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
