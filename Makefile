# Every target that runs code sets itself up first, so each works as the first command.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run test browser screenshot bench lint clean

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

# The report's browser tests drive Debian's Chromium; they are skipped where it is missing.
# As root on Debian this installs it; elsewhere it says how.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
	      || echo "could not install chromium: the report's browser tests will be skipped"; \
	  else \
	    echo "no Chromium: install Debian's chromium package (the report's browser tests skip without it)"; \
	  fi; }

# docs/report-example.png: the report of a nightly run of the bundled example (README).
screenshot: setup browser
	$(PY) jobs/nightly.py --case fleetopt/data/example --out runs/screenshot --scenarios 64 --run-id example
	$(PY) tools/report_screenshot.py runs/screenshot/*/example docs/report-example.png

bench: setup
	$(PY) -m pip install -q -e '.[test,bench]'
	$(PY) benchmarks/run_all.py

lint: setup
	$(VENV)/bin/ruff check fleetopt jobs tests benchmarks tools
	$(VENV)/bin/ruff format --check fleetopt jobs tests benchmarks tools
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) runs .pytest_cache
