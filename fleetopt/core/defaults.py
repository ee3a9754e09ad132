"""Defaults of run settings, in one place for the library, the CLI and the Ray jobs."""

WORKERS = 2  # scenario chunks solved at once
CHUNK = 8  # scenarios per task
ALPHA = 0.95  # CVaR level
CANDIDATES = 16  # most frequent sweep plans robust selection compares
SCENARIOS = 100  # scenarios a CLI run solves
NIGHTLY_SCENARIOS = 200  # scenarios a nightly run solves
