"""A case without `periods` gives bit-identical results to the single-period model (v1).

tests/data/single_period_reference.json was written by this module's `reference()` on the
single-period code (fleetopt at commit 332fe3b, before multi-period procurement): for the
v1 bundled example (frozen in tests/data/single-period-example) and two synthetic cases, the
sha256 of every array of the built models (plan, a Dinkelbach step, evaluate), the solved
summary's numbers and the plan tables, and one sweep and one evaluate scenario's rows. The
multi-period builder must reproduce every one of them exactly: same bits, not approximately.

    python -m tests.test_single_period_identity   # rewrite the reference (only on purpose)
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fleetopt.io.case import Case, read_case
from fleetopt.io.runfolder import RunKind
from fleetopt.model.build import build_dinkelbach_step, build_evaluate_model, build_plan_model
from fleetopt.model.index import build_index
from fleetopt.model.inputs import model_data
from fleetopt.pipelines.plan import plan_case
from fleetopt.scenarios.job import PreparedJob, ScenarioJob, for_workers
from fleetopt.testing.synthetic import SyntheticParams, synthetic_case

DATA = Path(__file__).resolve().parent / "data"
REFERENCE = DATA / "single_period_reference.json"
ARRAYS = ("lb", "ub", "integer", "objective", "row", "col", "val", "row_lb", "row_ub")
TIMING = {"solve_seconds", "build_seconds", "fleetopt_version"}
PRICE_USD_PER_TOKEN = 2e-8  # a Dinkelbach step away from lambda = 0


def cases() -> dict[str, Case]:
    return {
        "example-v1": read_case(DATA / "single-period-example"),
        "synthetic-5x4x6": synthetic_case(5, 4, 6, seed=0),
        "synthetic-3x3x4-per-token": synthetic_case(
            3, 3, 4, seed=1, params=SyntheticParams(objective="min_cost_per_token")
        ),
    }


def array_digests(model) -> dict[str, str]:
    """sha256 of each array of a built model (values as float64, whatever their dtype)."""
    out = {
        name: hashlib.sha256(
            np.ascontiguousarray(getattr(model, name), dtype=np.float64).tobytes()
        ).hexdigest()
        for name in ARRAYS
    }
    out["objective_offset"] = repr(float(model.objective_offset))
    return out


def exact(value):
    """A value as JSON keeps it exactly: floats by repr (nan and inf as text)."""
    if isinstance(value, float | np.floating):
        return repr(float(value))
    if isinstance(value, dict):
        return {k: exact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [exact(v) for v in value]
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    return value


def table(frame: pd.DataFrame) -> dict:
    return {"columns": list(frame.columns), "rows": exact(frame.to_numpy().tolist())}


def fingerprint(case: Case) -> dict:
    """Everything the single-period model produces for `case`, exactly."""
    index = build_index(case)
    data = model_data(index)
    outcome = plan_case(case)
    counts = outcome.x[outcome.result.model.layout.n]
    summary = {k: v for k, v in outcome.summary.to_json().items() if k not in TIMING}
    job = ScenarioJob(
        case=case, mode=RunKind.SWEEP, options=for_workers(case.solver), hint=outcome.x
    )
    sweep = job.prepare().solve_scenario(3)
    evaluate = ScenarioJob(
        case=case, mode=RunKind.EVALUATE, options=for_workers(case.solver), plans={"ev": counts}
    )
    evaluated = PreparedJob(evaluate).solve_scenario(3)
    return {
        "plan_model": array_digests(build_plan_model(index, case, data)),
        "dinkelbach_step": array_digests(
            build_dinkelbach_step(index, case, data, PRICE_USD_PER_TOKEN)
        ),
        "evaluate_model": array_digests(build_evaluate_model(index, case, data, counts)),
        "summary": exact(summary),
        "tables": {name: table(frame) for name, frame in outcome.tables.as_dict().items()},
        "sweep_scenario": _scenario_rows(sweep),
        "evaluate_scenario": _scenario_rows(evaluated),
    }


def _scenario_rows(result) -> dict:
    results = result.results.drop(columns=["solve_seconds", "build_seconds"])
    return {
        "results": table(results),
        "mix": table(result.mix),
        "sites": table(result.sites),
    }


# Outputs added after the reference, each by an issue that defined it (docs/model.md): they
# extend v1's outputs and must leave every v1 key, column and value as it was.
ADDED = {
    "diagnosis",  # summary.json: why a case is infeasible (None when it is not)
    "capex_cost_usd_per_year",  # sites: per-site costs, for the report
    "opex_cost_usd_per_year",
    "energy_cost_usd_per_year",
    "demand_tokens_per_s",  # workloads: demand and penalty, for the report
    "penalty_cost_usd_per_year",
    "shortfall_share",  # scenario rows: section 9's shortfall (0 without it)
}


def v1_part(got, want):
    """`got` restricted to what the reference has: a summary's keys, a table's columns (and
    so on, nested). Anything else it holds must be one of ADDED."""
    if isinstance(want, dict) and set(want) == {"columns", "rows"}:
        extra = set(got["columns"]) - set(want["columns"])
        assert extra <= ADDED, extra
        keep = [got["columns"].index(c) for c in want["columns"] if c in got["columns"]]
        return {
            "columns": [got["columns"][i] for i in keep],
            "rows": [[row[i] for i in keep] for row in got["rows"]],
        }
    if isinstance(want, dict):
        assert set(got) - set(want) <= ADDED, set(got) - set(want)
        return {k: v1_part(got[k], want[k]) if k in got else None for k in want}
    return got


def reference() -> dict:
    return {name: fingerprint(case) for name, case in cases().items()}


@pytest.fixture(scope="module")
def saved() -> dict:
    return json.loads(REFERENCE.read_text())


@pytest.mark.parametrize("name", ["example-v1", "synthetic-5x4x6", "synthetic-3x3x4-per-token"])
def test_a_case_without_periods_reproduces_the_single_period_model_bit_for_bit(saved, name):
    got = fingerprint(cases()[name])
    want = saved[name]
    for part in ("plan_model", "dinkelbach_step", "evaluate_model"):
        assert got[part] == want[part], part
    assert v1_part(got["summary"], want["summary"]) == want["summary"]
    for part in ("tables", "sweep_scenario", "evaluate_scenario"):
        assert v1_part(got[part], want[part]) == want[part], part
    assert not math.isnan(float(want["summary"]["objective"]))


if __name__ == "__main__":
    REFERENCE.write_text(json.dumps(reference(), indent=1) + "\n")
