# Every target that runs code sets itself up first, so each works as the first command.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run test bench lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

run: setup
	$(PY) jobs/nightly.py --case fleetopt/data/example --out runs --scenarios 64

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) -m pip install -q -e '.[test,bench]'
	$(PY) benchmarks/run_all.py

lint: setup
	$(VENV)/bin/ruff check fleetopt jobs tests benchmarks
	$(VENV)/bin/ruff format --check fleetopt jobs tests benchmarks
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) runs .pytest_cache
