# Every target that runs code sets itself up first, so each works as the first command.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# A second venv with the oldest releases pyproject.toml allows (constraints-oldest.txt).
OLDEST := .venv-oldest
# Pytest arguments for test-oldest and test-newest (default: the whole suite).
TESTS ?=
# What CI runs on the oldest releases, within its time: reading and checking cases, a solve
# and the CLI, a sweep on local Ray, the report of each run kind.
OLDEST_SMOKE := tests/test_dependencies.py tests/test_case_validation.py \
	tests/test_example.py::test_example_is_a_valid_case \
	tests/test_cli.py::test_init_validate_solve_show \
	tests/test_scenarios.py::test_zero_uncertainty_reproduces_the_deterministic_solve \
	tests/test_scenarios.py::test_one_and_two_workers_give_identical_results \
	tests/test_report_page.py

.PHONY: setup run test test-oldest test-oldest-smoke test-newest browser screenshot bench lint clean

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

$(OLDEST)/.installed: pyproject.toml constraints-oldest.txt
	python3 -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install -q --upgrade pip
	$(OLDEST)/bin/python -m pip install -q -c constraints-oldest.txt -e '.[test]'
	touch $@

# The tests on the lowest versions pyproject.toml declares (the test tools themselves newest).
test-oldest: $(OLDEST)/.installed
	$(OLDEST)/bin/python -m pytest -q $(TESTS)

test-oldest-smoke:
	$(MAKE) test-oldest TESTS="$(OLDEST_SMOKE)"

# The tests on the newest versions pyproject.toml allows: upgrades $(VENV) in place.
test-newest: setup
	$(PY) -m pip install -q --upgrade --upgrade-strategy eager -e '.[test]'
	$(PY) -m pytest -q $(TESTS)

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
	rm -rf $(VENV) $(OLDEST) runs .pytest_cache
