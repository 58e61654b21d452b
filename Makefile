# mailtwin: `make run` and `make test` work on a fresh machine (they create .venv first).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
SCENARIO ?= scenarios/baseline.yaml
OUT    ?= reports/baseline

.PHONY: help run test lint bench calibrate clean venv

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall when the project's metadata changes; the editable install picks up code changes by itself.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP) ## create .venv and install mailtwin with the dev tools

run: $(STAMP) ## run the baseline scenario into reports/baseline/
	$(BIN)/mailtwin run $(SCENARIO) --out $(OUT)

test: $(STAMP) ## lint (ruff check), the whole test suite, and the failover library (mailtwin check)
	$(BIN)/ruff check twin tests bench
	$(BIN)/python -m pytest -q
	$(BIN)/mailtwin check scenarios/failover --junit reports/failover.xml

lint: $(STAMP) ## ruff check and format check
	$(BIN)/ruff check twin tests bench
	$(BIN)/ruff format --check twin tests bench

bench: $(STAMP) ## benchmarks -> bench/results.json
	$(BIN)/python bench/run.py

calibrate: $(STAMP) ## time Exim, Dovecot LMTP and IMAP, slapd, krb5kdc and SpamAssassin here (root; Debian packages: docs/calibration.md) -> bench/calibration.json
	$(BIN)/python bench/calibrate.py

clean: ## remove the virtual environment and generated reports
	rm -rf $(VENV) reports/baseline
