# Two commands matter: `make demo` and `make test` (see README).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck imports pytest clean bench messages

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

demo: $(VENV)/.installed
	$(BIN)/qm demo

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check qm scoring transcripts reports tests benchmarks scripts
	$(BIN)/ruff format --check qm scoring transcripts reports tests benchmarks scripts

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy qm scoring transcripts reports

imports: $(VENV)/.installed-dev
	$(BIN)/lint-imports

pytest: $(VENV)/.installed-dev
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

test: lint typecheck imports pytest

# Extract every marked string and merge it into both catalogs (then translate the new ones).
messages: $(VENV)/.installed-dev
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext --no-location \
		--omit-header -o qm/locale/messages.pot .
	for locale in zh_CN en; do \
		if [ -f qm/locale/$$locale/LC_MESSAGES/messages.po ]; then \
			$(BIN)/pybabel update --no-fuzzy-matching \
				-i qm/locale/messages.pot -d qm/locale -l $$locale; \
		else \
			$(BIN)/pybabel init -i qm/locale/messages.pot -d qm/locale -l $$locale; \
		fi; \
	done

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) qm.db qm.db-wal qm.db-shm qm.db.demo .pytest_cache .mypy_cache .ruff_cache
