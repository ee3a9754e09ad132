"""Time limits hold on the wall clock: a plan is written by the limit, with its best
solution and a gap HiGHS proved, even when HiGHS itself runs past its limit."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pandas as pd
import pytest

from fleetopt.model.build import build_plan_model
from fleetopt.model.index import build_index
from fleetopt.model.inputs import model_data
from fleetopt.pipelines.plan import plan_case, write_plan
from fleetopt.solve.deadline import STOP_GRACE_S, HighsProgress, last_incumbent, solve_held
from fleetopt.solve.mathopt import Engine, model_parameters, solve_parameters, to_proto
from fleetopt.testing.synthetic import SyntheticParams, synthetic_case

# The deadline keeps 0.25 s + 1% of the limit for the work after the solver (tables and
# writing take about 50 ms on these cases); 5% + 0.5 s more absorbs a loaded 2-core CI
# machine (a late wake-up, a slow write) without letting a real overshoot through: before
# the deadline was held, the first case below took 10.2 s for a 5 s limit, and 15 s for
# 6 s on a loaded machine (HiGHS's analytic-centre step, which never checks the time), and
# the second 7.0 s for 3 s (each Dinkelbach step got the whole limit).
SLACK = 1.05
SLACK_S = 0.5


def test_a_plan_is_written_within_the_time_limit_with_its_gap(tmp_path):
    # HiGHS finds a plan here in 0.5 s and proves a 0.5% gap by 2.2 s (unloaded; the limit
    # leaves room for a machine twice as slow), but needs minutes to prove 1e-6.
    case = synthetic_case(40, 12, 150, seed=0)
    limit_s = 6.0
    options = case.solver.with_overrides(time_limit_s=limit_s, threads=1)
    started = time.monotonic()
    outcome = plan_case(case, options)
    write_plan(outcome, tmp_path / "plan")
    elapsed = time.monotonic() - started
    assert elapsed <= limit_s * SLACK + SLACK_S
    summary = json.loads((tmp_path / "plan" / "summary.json").read_text())
    assert summary["status"] == "feasible", summary["message"]
    assert 0 < summary["mip_gap"] < 0.05
    sites = pd.read_parquet(tmp_path / "plan" / "sites.parquet")
    assert (sites["power_mw"] <= sites["power_cap_mw"] * (1 + 1e-6)).all()
    workloads = pd.read_parquet(tmp_path / "plan" / "workloads.parquet")
    minimum = case.workloads.set_index("workload")["min_served_share"]
    served = workloads.set_index("workload")["served_share"]
    assert (served >= minimum.reindex(served.index) - 1e-6).all()


def test_min_cost_per_token_steps_share_one_time_limit():
    # Five Dinkelbach steps of about a second each converge here without a limit.
    params = SyntheticParams(objective="min_cost_per_token")
    case = synthetic_case(10, 6, 30, seed=0, params=params)
    limit_s = 3.0
    options = case.solver.with_overrides(time_limit_s=limit_s, threads=1)
    started = time.monotonic()
    outcome = plan_case(case, options)
    elapsed = time.monotonic() - started
    assert elapsed <= limit_s * SLACK + SLACK_S
    summary = outcome.summary
    assert summary.has_plan, summary.message
    assert math.isfinite(summary.objective) and math.isfinite(summary.mip_gap)


def test_a_stopped_solve_keeps_its_last_solution_and_a_bound_highs_proved():
    # HiGHS is given a minute but stopped after 3 s, as it is when it overruns its limit.
    case = synthetic_case(30, 10, 100, seed=0)
    index = build_index(case)
    model = build_plan_model(index, case, model_data(index))
    options = case.solver.with_overrides(time_limit_s=60, threads=1)
    params = solve_parameters(Engine.HIGHS, options, is_mip=True)
    started = time.monotonic()
    held = solve_held(to_proto(model), params, model_parameters(model, None), started + 3.0)
    assert time.monotonic() - started <= 3.0 + STOP_GRACE_S
    assert held.result is None and held.incumbent is not None
    x = held.incumbent
    assert (x >= model.lb - 1e-9).all() and (x <= model.ub + 1e-9).all()
    assert np.allclose(x[model.integer], np.round(x[model.integer]), atol=1e-6)
    rows = np.bincount(model.row, model.val * x[model.col], model.n_constraints)
    assert (rows >= model.row_lb - 1e-6).all() and (rows <= model.row_ub + 1e-6).all()
    objective = model.objective @ x + model.objective_offset
    assert math.isfinite(held.bound) and held.bound <= objective
    assert (objective - held.bound) / abs(objective) < 0.05


PROGRESS = [
    " J       0       0         0   0.00%   -inf            -47.34647448       Large"
    "        0      0      0         0     0.1s",
    " R       0       0         0   0.00%   -2895.45062     -2892.312089       0.11%"
    "        0      0      0      2381     0.2s",
]


def test_the_bound_is_the_last_progress_line_rounded_down():
    progress = HighsProgress()
    progress.read(["Presolving model", "1821 rows, 8151 cols, 17079 nonzeros  0s"])
    assert progress.bound == -math.inf
    progress.read(PROGRESS)
    assert progress.bound == pytest.approx(-2895.450625, abs=1e-9)


def test_the_bound_of_a_mip_completing_a_partial_hint_is_not_the_models():
    progress = HighsProgress()
    hint = "Attempting to find feasible solution by solving MIP for user-supplied values of"
    progress.read([f"{hint} 19 / 135 discrete variables", *PROGRESS])
    assert progress.bound == -math.inf
    progress.read(["Solving report", "  Model             fleetopt", *PROGRESS[1:]])
    assert progress.bound == pytest.approx(-2895.450625, abs=1e-9)


def test_the_last_complete_solution_is_read_and_a_cut_one_skipped(tmp_path):
    path = tmp_path / "incumbents.sol"
    first = "Objective 12\n# Columns -2\n 3 0\n 1.5 2\n"
    path.write_text(first + "Objective 10\n# Columns -2\n 2 1\n")
    assert last_incumbent(path, 4).tolist() == [3.0, 0.0, 1.5, 0.0]
    path.write_text(first + "Objective 10\n# Columns -2\n 2 1\n 0.2")
    assert last_incumbent(path, 4).tolist() == [3.0, 0.0, 1.5, 0.0]
    path.write_text(first + "Objective 10\n# Columns -2\n 2 1\n 0.25 3\n")
    assert last_incumbent(path, 4).tolist() == [0.0, 2.0, 0.0, 0.25]
    assert last_incumbent(tmp_path / "none.sol", 4) is None
