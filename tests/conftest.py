"""What many test modules share, defined once: a case written and solved (`solve_case`), a
real local Ray for a module (`local_ray`), and headless Chromium for the report's pages
(`browser`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray

from fleetopt.io.case import read_case
from fleetopt.pipelines.plan import PlanOutcome, plan_case
from fleetopt.testing.browser import chromium, chromium_path
from fleetopt.testing.casekit import write_case


def solve_case(folder: Path, *, optimal: bool = True, **tables: Any) -> PlanOutcome:
    """Write a case from rows (fleetopt.testing.casekit.write_case: tables and `config`)
    into `folder`, solve it; with `optimal`, it must prove optimality."""
    outcome = plan_case(read_case(write_case(folder, **tables)))
    if optimal:
        assert outcome.summary.status == "optimal", outcome.summary
    return outcome


@pytest.fixture(scope="module")
def local_ray(request: pytest.FixtureRequest) -> Iterator[None]:
    """A real local Ray of 2 CPUs for the module; test-only classes defined in the module
    (job subclasses) are shipped to workers by value."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.cloudpickle.register_pickle_by_value(request.module)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A launched headless Chromium for the module (skipped where there is none)."""
    if chromium_path() is None:
        pytest.skip(
            "no Chromium installed (Debian: apt-get install chromium): browser checks skipped"
        )
    with chromium() as launched:
        yield launched
