"""The command line as a user meets it: real processes, real files, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from ortools.math_opt import result_pb2, solution_pb2

from fleetopt.solve.mathopt import parse_result
from fleetopt.solve.result import SolveStatus
from fleetopt.testing.casekit import write_case

FLEETOPT = [sys.executable, "-m", "fleetopt.cli.main"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*FLEETOPT, *args], capture_output=True, text=True, timeout=300)


def test_init_validate_solve_show(tmp_path):
    case = tmp_path / "case"
    assert run("init", str(case)).returncode == 0
    checked = run("validate", str(case))
    assert checked.returncode == 0 and "valid" in checked.stdout
    solved = run("solve", str(case), "--out", str(tmp_path / "run"))
    assert solved.returncode == 0, solved.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    for key in (
        "status",
        "objective",
        "fleet_cost_usd_per_year",
        "penalty_cost_usd_per_year",
        "capex_cost_usd_per_year",
        "opex_cost_usd_per_year",
        "energy_cost_usd_per_year",
        "served_tokens_per_s",
        "cost_per_mtok_usd",
        "tokens_per_joule",
        "mip_gap",
        "solver",
        "solve_seconds",
        "build_seconds",
        "warnings",
    ):
        assert key in summary
    assert summary["status"] == "optimal"
    assert summary["periods"] == [2026, 2027, 2028, 2029, 2030] and summary["npv_cost_usd"] > 0
    racks = pd.read_parquet(tmp_path / "run" / "racks.parquet")
    assert list(racks.columns) == ["period", "site", "rack_type", "count", "installed"]
    orders = pd.read_parquet(tmp_path / "run" / "orders.parquet")
    assert list(orders.columns) == [
        "site",
        "rack_type",
        "period",
        "new_racks",
        "order_by_year",
        "capex_usd_each",
    ]
    placement = pd.read_parquet(tmp_path / "run" / "placement.parquet")
    assert list(placement.columns) == [
        "period",
        "site",
        "rack_type",
        "workload",
        "phase",
        "racks",
        "tokens_per_s",
    ]
    shown = run("show", str(tmp_path / "run"))
    assert "cost per million tokens" in shown.stdout and "site " in shown.stdout
    # Cash out year by year, the order schedule, the power used against each year's cap,
    # then each year's fleet on its own.
    assert "order schedule" in shown.stdout and "power used / cap per year" in shown.stdout
    assert "cost per million tokens, levelized" in shown.stdout
    for year in range(2026, 2031):
        assert f"\n== {year} ==" in shown.stdout
    one = run("show", str(tmp_path / "run"), "--year", "2028")
    assert "\n== 2028 ==" in one.stdout and "\n== 2027 ==" not in one.stdout
    # Nothing temporary is left beside the run folder.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case", "run"]


def test_bad_input_exits_2_with_every_problem_and_no_traceback(tmp_path):
    case = write_case(
        tmp_path,
        racks=[
            {
                "rack_type": "vr",
                "kind": "gpu",
                "capex_usd": 1e6,
                "lifetime_years": 5,
                "power_kw": -210,
            }
        ],
        sites=[{"site": "s1", "region": "us", "power_cap_mw": 0, "energy_usd_per_mwh": 50}],
        throughput=[{"rack_type": "vr", "model": "m1", "phase": "decode", "tokens_per_s": 100}],
    )
    for command in (["validate", str(case)], ["solve", str(case), "--out", str(tmp_path / "o")]):
        proc = run(*command)
        assert proc.returncode == 2
        assert "Traceback" not in proc.stderr
        assert (
            "racks.csv row 1 (rack_type=vr), power_kw: must be in (0, 10000], got -210"
            in proc.stderr
        )
        assert "sites.csv row 1 (site=s1), power_cap_mw" in proc.stderr
        assert "user_tps" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_cp_sat_is_refused_clearly(tmp_path):
    case = write_case(tmp_path)
    proc = run("solve", str(case), "--out", str(tmp_path / "o"), "--solver", "cp_sat")
    assert proc.returncode == 2
    assert "CP-SAT" in proc.stderr and "Traceback" not in proc.stderr


def test_scip_reaches_the_same_optimum_as_highs(tmp_path):
    case = tmp_path / "case"
    run("init", str(case))
    objectives = {}
    for solver in ("highs", "scip"):
        proc = run("solve", str(case), "--out", str(tmp_path / solver), "--solver", solver)
        assert proc.returncode == 0, proc.stderr
        summary = json.loads((tmp_path / solver / "summary.json").read_text())
        assert summary["status"] == "optimal" and summary["solver"] == solver
        objectives[solver] = summary["objective"]
    assert objectives["scip"] == pytest.approx(objectives["highs"], rel=1e-6)


def test_an_infeasible_case_exits_3_and_says_why(tmp_path):
    case = write_case(
        tmp_path,
        workloads=[
            {
                "workload": "w1",
                "model": "m1",
                "prefill_tokens_per_s": 1000,
                "decode_tokens_per_s": 500,
                "min_served_share": 1.0,
            }
        ],
        sites=[{"site": "s1", "region": "eu", "power_cap_mw": 0.001, "energy_usd_per_mwh": 80}],
    )
    proc = run("solve", str(case), "--out", str(tmp_path / "o"))
    assert proc.returncode == 3, proc.stderr
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["status"] == "infeasible"
    assert summary["fleet_cost_usd_per_year"] is None
    # 0.001 MW powers 0.001 / (1.2 x 0.12 MW) = 0.00694 racks; the demand needs 1000 / 100,000
    # prefill + 500 / 20,000 decode = 0.035 racks (0.00504 MW): 19.8% of it, 0.00404 MW short.
    why = (
        "workload w1 needs 100% served but the sites can power at most 20% of it:"
        " site s1 is short of 0.00404 MW (cap 0.001 MW)"
    )
    assert summary["diagnosis"] == why
    assert "infeasible" in proc.stdout and why in proc.stdout
    shown = run("show", str(tmp_path / "o"))
    assert shown.returncode == 0 and why in shown.stdout


def test_validate_refuses_installed_racks_that_do_not_fit_the_floor(tmp_path):
    case = write_case(
        tmp_path,
        sites=[
            {
                "site": "s1",
                "region": "eu",
                "power_cap_mw": 10,
                "energy_usd_per_mwh": 80,
                "max_slots": 3,
            }
        ],
        installed=[{"site": "s1", "rack_type": "r1", "count": 4}],
    )
    proc = run("validate", str(case))
    assert proc.returncode == 2
    assert (
        "sites.csv row 1 (site=s1), max_slots: 3 slots, but the racks installed here take 4"
        " (installed.csv row 1)"
    ) in proc.stderr


def _result(
    reason: int, primal: float, dual: float, detail: str = "", limit: int = 0
) -> result_pb2.SolveResultProto:
    result = result_pb2.SolveResultProto()
    result.termination.reason = reason
    result.termination.detail = detail
    result.termination.limit = limit
    result.termination.objective_bounds.primal_bound = primal
    result.termination.objective_bounds.dual_bound = dual
    solution = result.solutions.add().primal_solution
    solution.feasibility_status = solution_pb2.SOLUTION_STATUS_FEASIBLE
    solution.objective_value = primal
    solution.variable_values.ids.append(0)
    solution.variable_values.values.append(1.0)
    return result


def test_a_solve_stopped_by_a_limit_is_feasible_with_its_gap():
    stopped = parse_result(_result(result_pb2.TERMINATION_REASON_FEASIBLE, 100.0, 90.0), 1, 1.0, 0)
    assert stopped.status is SolveStatus.FEASIBLE
    assert stopped.gap == pytest.approx(0.1)
    # A solver that calls a 1% gap "optimal" (it met a loose relative_gap) is still feasible.
    loose = parse_result(_result(result_pb2.TERMINATION_REASON_OPTIMAL, 100.0, 99.0), 1, 1.0, 0)
    assert loose.status is SolveStatus.FEASIBLE
    proven = parse_result(_result(result_pb2.TERMINATION_REASON_OPTIMAL, 100.0, 100.0), 1, 1.0, 0)
    assert proven.status is SolveStatus.OPTIMAL


def test_solver_messages_are_in_fleetopt_words_not_status_codes():
    optimal, feasible = (
        result_pb2.TERMINATION_REASON_OPTIMAL,
        result_pb2.TERMINATION_REASON_FEASIBLE,
    )
    said = "HighsModelStatus is kOptimal"
    proven = parse_result(_result(optimal, 100.0, 100.0, said), 1, 1.0, 0)
    assert proven.status is SolveStatus.OPTIMAL and proven.message == ""
    loose = parse_result(_result(optimal, 100.0, 99.0, said), 1, 1.0, 0)
    assert loose.message == (
        "the solver stopped at its relative gap limit; the plan is its best by then"
    )
    timed = parse_result(
        _result(feasible, 100.0, 90.0, "HighsModelStatus is kTimeLimit", result_pb2.LIMIT_TIME),
        1,
        1.0,
        0,
    )
    assert timed.message == "the solver stopped at its time limit; the plan is its best by then"
    plain = parse_result(_result(optimal, 100.0, 100.0, "presolve reduced the model"), 1, 1.0, 0)
    assert plain.message == "presolve reduced the model"  # the solver's words, where they say more


def test_nothing_prints_after_the_supervised_childs_last_line(tmp_path):
    """Ray's exit handlers printed retry lines after fleetopt's last line on SIGTERM; an
    exit handler here stands in for them."""
    script = (
        "import atexit, sys\n"
        "from fleetopt.cli.main import report_error\n"
        "from fleetopt.core.interrupts import Interrupted\n"
        "atexit.register(lambda: print('(raylet) retrying', file=sys.stderr, flush=True))\n"
        "sys.exit(report_error(Interrupted(15)))\n"
    )
    for supervised, last in (("1", "fleetopt: interrupted by SIGTERM"), ("0", "(raylet) retrying")):
        env = {**os.environ, "FLEETOPT_SUPERVISED": supervised}
        proc = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
        )
        assert proc.returncode == 143, proc.stderr
        assert proc.stderr.strip().splitlines()[-1].startswith(last), proc.stderr


def test_progress_shows_by_default_detail_and_ray_with_v_nothing_with_q(tmp_path):
    case = write_case(tmp_path, config={"uncertainty": {"seed": 3, "energy_price": {"sigma": 0.2}}})
    plain = run("sweep", str(case), "-n", "3", "--out", str(tmp_path / "plain"))
    assert plain.returncode == 0, plain.stderr
    # By default (stderr no terminal here): progress lines, no other detail, no Ray chatter.
    assert "INFO fleetopt.parallel.progress: sweep: 3/3 scenarios in" in plain.stderr
    assert "INFO fleetopt.pipelines" not in plain.stderr and "DEBUG" not in plain.stderr
    assert "Started a local Ray instance" not in plain.stderr
    assert "authentication" not in plain.stderr.lower()
    quiet = run("-q", "sweep", str(case), "-n", "3", "--out", str(tmp_path / "quiet"))
    assert quiet.returncode == 0, quiet.stderr
    assert "fleetopt.parallel.progress" not in quiet.stderr
    loud = run("-v", "sweep", str(case), "-n", "3", "--out", str(tmp_path / "loud"))
    assert loud.returncode == 0, loud.stderr
    lines = loud.stderr.splitlines()
    assert any(
        "INFO fleetopt.pipelines.runs: sweep: 3 scenarios to solve, in 3 chunks of 1 on 2 workers"
        in line
        for line in lines
    )
    assert any("INFO fleetopt.parallel.progress: sweep: 3/3 scenarios in" in line for line in lines)
    assert "Started a local Ray instance" in loud.stderr  # Ray's own messages, with -v
    assert not any(" DEBUG " in line for line in lines)  # -vv's detail stays out
    # Every run wrote the same results: what is shown changes nothing else.
    results = [
        pd.read_parquet(tmp_path / name / "results.parquet").drop(
            columns=["solve_seconds", "build_seconds"]
        )
        for name in ("plain", "quiet", "loud")
    ]
    for other in results[1:]:
        pd.testing.assert_frame_equal(results[0], other)


def test_stochastic_options_are_checked_before_anything_runs(tmp_path):
    for option in (["--gap", "0"], ["--method", "bfgs"], ["--risk-weight", "1.5"]):
        done = run("stochastic", "fleetopt/data/example", "--out", str(tmp_path / "x"), *option)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr and not (tmp_path / "x").exists()
