"""Defaults of run settings, in one place for the library, the CLI and the Ray jobs."""

WORKERS = 2  # scenario chunks solved at once
AUTO = "auto"
CHUNK = AUTO  # scenarios per task: AUTO sizes chunks to the run (parallel.farm.auto_chunk)
ALPHA = 0.95  # CVaR level
CANDIDATES = 16  # most frequent sweep plans robust selection compares
SCENARIOS = 100  # scenarios a CLI run solves
NIGHTLY_SCENARIOS = 200  # scenarios a nightly run solves
NIGHTLY_REPLICATIONS = 3  # batches telling a nightly run whether its scenarios suffice
