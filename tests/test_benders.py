"""Benders decomposition (the L-shaped method, docs/model.md section 9): its cuts, its
certified bounds against the extensive form and progressive hedging on single- and
multi-period cases, with and without recourse and CVaR, and its transport on real Ray
actors (a killed actor, 1 or 2 workers, a resumed run).

Small cases solve the algorithm with a plain loop as transport; the run-level tests go
through `fleetopt stochastic` on a real local Ray.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import ray

from fleetopt.io.case import read_case
from fleetopt.model.build import LinearModel
from fleetopt.model.extensive import build_extensive
from fleetopt.model.index import build_index
from fleetopt.model.inputs import model_data
from fleetopt.model.master import MasterStructure, master_structure
from fleetopt.model.risk import MEAN, Risk
from fleetopt.model.stage import build_stage_model, first_stage_bounds
from fleetopt.parallel.actors import StagePool
from fleetopt.pipelines.options import FarmSettings, Method, ScenarioOptions, StochasticSettings
from fleetopt.pipelines.stochastic import (
    load_benders,
    save_benders,
    stochastic,
    subproblem_options,
)
from fleetopt.report.page import write_report
from fleetopt.results.stochastic import StochasticSummary
from fleetopt.scenarios.draws import draw
from fleetopt.scenarios.stage import StageJob
from fleetopt.solve.benders import Cuts, CutTask, RecourseError, decompose
from fleetopt.solve.hedging import HedgingSettings, hedge, make_bundles
from fleetopt.solve.mathopt import solve_model
from fleetopt.solve.result import SolveStatus
from fleetopt.testing.casekit import write_case
from tests.test_model_optima import RACK_A, THROUGHPUT_AB, rack, site, workload
from tests.test_scenarios import UNCERTAIN, two_site_case
from tests.test_stochastic import TIMING, CrashingJob, crashing

FLEETOPT = [sys.executable, "-m", "fleetopt.cli.main"]


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.cloudpickle.register_pickle_by_value(sys.modules["tests.test_stochastic"])
    yield
    ray.shutdown()


def single_period_case(tmp_path: Path) -> Path:
    """tests/test_scenarios.py's two-site case at ten times its size: tens of racks a site,
    so that whole racks in the recourse cost little (a few racks' worth of demand, the
    relaxed recourse's optimum is percents below the real one: see the integrality test)."""
    return two_site_case(
        tmp_path,
        UNCERTAIN,
        sites=[
            site("us1", power_cap_mw=10.0, energy_usd_per_mwh=40),
            site("eu1", region="eu", power_cap_mw=6.0, energy_usd_per_mwh=90, max_slots=120),
        ],
        workloads=[
            workload("chat", decode_tokens_per_s=60_000),
            workload("agent", regions="eu", decode_tokens_per_s=30_000, load_factor=0.5),
        ],
    )


def multi_period_case(tmp_path: Path, scale: float = 100.0) -> Path:
    """Three years, two sites: A at once, B (cheaper to run, 1 year's lead time) ordered now
    for 2027; demand grows 30% a year and half the EU workload must be served."""
    return write_case(
        tmp_path,
        racks=[RACK_A, rack("B", capex_usd=1_500_000, power_kw=50, slots=1, lead_time_years=1)],
        sites=[
            site("us1", power_cap_mw=0.2 * scale, energy_usd_per_mwh=40),
            site(
                "eu1",
                region="eu",
                power_cap_mw=0.1 * scale,
                energy_usd_per_mwh=90,
                max_slots=2 * scale,
            ),
        ],
        workloads=[
            workload("chat", decode_tokens_per_s=600 * scale, growth_per_year=0.3),
            workload(
                "agent",
                regions="eu",
                decode_tokens_per_s=300 * scale,
                growth_per_year=0.3,
                min_served_share=0.5,
            ),
        ],
        throughput=THROUGHPUT_AB,
        config={
            "unmet_penalty_usd_per_mtok": 50.0,
            "periods": [2026, 2027, 2028],
            "uncertainty": UNCERTAIN,
        },
    )


CASES = {"single": single_period_case, "multi": multi_period_case}


@dataclasses.dataclass
class Small:
    """A small two-stage problem: its stage models, the master's rows, a local transport."""

    case: object
    stages: list
    structure: MasterStructure
    p: np.ndarray
    job: StageJob
    solve: object

    @property
    def stage0(self):
        return self.stages[0]

    def ef(self, *, relaxed: bool = False, gap: float = 1e-9):
        """The extensive form (integer recourse relaxed if `relaxed`), solved to `gap`."""
        stages = self.stages
        if relaxed:
            stages = [
                dataclasses.replace(
                    s, model=dataclasses.replace(s.model, integer=s.model.integer & s.first_stage)
                )
                for s in stages
            ]
        ef = build_extensive(stages, self.p)
        solution = solve_model(ef.model, dataclasses.replace(self.case.solver, relative_gap=gap))
        assert solution.x is not None and solution.gap <= gap, solution
        return solution

    def benders(self, gap: float = 1e-3, cuts: Cuts = Cuts.MULTI):
        return decompose(
            self.stage0,
            self.structure,
            self.p,
            self.solve,
            HedgingSettings(gap=gap),
            self.case.solver,
            cuts=cuts,
        )


def small(path: Path, n: int = 6, risk: Risk = MEAN, premium: float | None = None) -> Small:
    case = read_case(path)
    if premium is not None:
        case = case.replace(recourse_capex_premium=premium)
    index = build_index(case)
    datas = [model_data(index, draw(index, case.uncertainty, k)) for k in range(n)]
    first = first_stage_bounds(index, case, datas)
    stages = [build_stage_model(index, case, d, first, risk) for d in datas]
    seed = case.uncertainty.seed
    job = StageJob(case, subproblem_options(case, 1e-3), first, risk, (seed, seed + 1))
    prepared = job.prepare()
    return Small(
        case,
        stages,
        master_structure(stages[0]),
        np.full(n, 1 / n),
        job,
        lambda tasks: [prepared.solve(t) for t in tasks],
    )


def test_a_cut_is_below_the_relaxed_cost_everywhere(tmp_path):
    """cost(x) >= v + g (x - plan) for every pair of plans (weak duality), and v is the
    relaxed recourse's optimum, recomputed from scratch."""
    problem = small(multi_period_case(tmp_path), n=2)
    k = problem.structure.n_first
    lo = problem.structure.model.lb[:k]
    rng = np.random.default_rng(3)
    plans = [np.where(problem.structure.model.integer[:k], lo + rng.integers(0, 4, k), 0.0)]
    plans += [plans[0] + rng.integers(0, 3, k) * problem.structure.model.integer[:k] for _ in "ab"]
    for scenario, stage in enumerate(problem.stages):
        cuts = [r.solution for r in problem.solve([CutTask(scenario, plan) for plan in plans])]
        for cut, plan in zip(cuts, plans, strict=True):
            assert cut.status is SolveStatus.OPTIMAL
            relaxed = dataclasses.replace(
                stage.with_first_stage(plan), integer=np.zeros(stage.model.n_variables, bool)
            )
            assert cut.value == pytest.approx(solve_model(relaxed, problem.case.solver).objective)
        for a, b in ((0, 1), (1, 2), (2, 0), (0, 2)):
            below = cuts[a].value + cuts[a].subgradient @ (plans[b] - plans[a])
            assert below <= cuts[b].value + 1e-7 * abs(cuts[b].value)


@pytest.mark.parametrize("shape", ["single", "multi"])
@pytest.mark.parametrize("premium", [None, 0.5])
@pytest.mark.parametrize("risk", [MEAN, Risk(weight=0.5, alpha=0.75)], ids=["mean", "cvar"])
def test_benders_ef_and_hedging_bracket_each_others_optimum(tmp_path, shape, premium, risk):
    """Every method's certified interval [lower bound, value of its plan] meets every other's,
    so each brackets the others' optimum within its gap; Benders' bound is at most the
    optimum with the recourse relaxed, and its gap is honest for the integer recourse."""
    problem = small(CASES[shape](tmp_path), n=4 if shape == "multi" else 6, risk=risk)
    if premium is not None:
        problem = small(CASES[shape](tmp_path), n=len(problem.p), risk=risk, premium=premium)
    ef = problem.ef(gap=1e-4)
    relaxed = problem.ef(relaxed=True, gap=1e-6)
    benders = problem.benders(gap=1e-3)
    intervals = {
        "ef": (ef.bound, ef.objective),
        "benders": (benders.lower_bound, benders.upper_bound),
    }
    if not risk.has_tail:  # PH's Lagrangian with W on a free eta can be unbounded
        bundles = make_bundles(len(problem.p), problem.stage0.model.n_variables)
        settings = HedgingSettings(gap=1e-3, max_iterations=2)  # its bounds hold at any step
        hedging = hedge(problem.stage0, bundles, problem.p, problem.solve, settings)
        intervals["ph"] = (hedging.lower_bound, hedging.upper_bound)
    for a, (low, _) in intervals.items():
        for b, (_, high) in intervals.items():
            assert low <= high * (1 + 1e-9), (a, b, intervals)
    assert benders.lower_bound <= relaxed.objective * (1 + 1e-9)
    assert benders.gap <= 1e-2, benders.stopped  # whole racks cost little at this size
    assert benders.gap <= 1e-3 or "integrality gap" in benders.stopped
    # The plan costs what the upper bound says: evaluated again, scenario by scenario.
    costs = [
        solve_model(s.with_first_stage(benders.plan), problem.case.solver).objective
        for s in problem.stages
    ]
    assert risk.value(np.array(costs), problem.p) <= benders.upper_bound * (1 + 1e-6)


def test_the_relaxed_recourse_bound_stays_below_an_integrality_gap(tmp_path):
    """With a few racks a site, deliveries cut to half arrive in whole racks (3 of 7, not
    3.5): relaxing that lowers the optimum by percents. The L-shaped bound stays below the
    relaxed optimum, the plan is valued with whole racks, and the run says that what is
    left of its gap is the recourse's integrality gap."""
    problem = small(two_site_case(tmp_path, UNCERTAIN))
    optimum = problem.ef().objective
    relaxed = problem.ef(relaxed=True).objective
    assert relaxed < optimum * (1 - 1e-2)  # a real integrality gap
    benders = problem.benders(gap=1e-6)
    assert benders.lower_bound <= relaxed * (1 + 1e-9)
    assert benders.upper_bound >= optimum * (1 - 1e-9)
    assert benders.gap >= (optimum - relaxed) / optimum * (1 - 1e-6)
    assert "integrality gap of the recourse" in benders.stopped


def test_aggregated_cuts_reach_the_same_gap(tmp_path):
    problem = small(CASES["single"](tmp_path))
    optimum = problem.ef().objective
    single = problem.benders(gap=1e-3, cuts=Cuts.SINGLE)
    assert single.gap <= 1e-3
    assert single.lower_bound <= optimum * (1 + 1e-7) <= single.upper_bound * (1 + 2e-7)
    assert set(single.cut_scenario) == {-1}
    with pytest.raises(ValueError, match="mean"):
        small(CASES["single"](tmp_path), risk=Risk(0.5, 0.75)).benders(cuts=Cuts.SINGLE)


def test_a_master_outside_the_recourse_domain_stops_the_run(tmp_path):
    """Relatively complete recourse rests on the master's rows. A master that replaces them
    by `at least 13 racks at eu1` (which has 12 slots, a rack taking 1 or 2) proposes plans
    no scenario can hold: the run stops, naming the scenario. A start plan outside the
    domain is merely left out."""
    problem = small(two_site_case(tmp_path, UNCERTAIN), n=2)
    model = problem.structure.model
    index = build_index(problem.case)
    eu = np.flatnonzero(index.sr["site"].to_numpy() == "eu1")  # n columns: the first stage
    forcing = dataclasses.replace(
        model,
        row=np.zeros(len(eu), dtype=np.int64),
        col=eu.astype(np.int64),
        val=np.ones(len(eu)),
        row_lb=np.array([13.0]),
        row_ub=np.array([np.inf]),
    )
    outside = np.where(np.isin(np.arange(problem.structure.n_first), eu), 20.0, 0.0)
    fine = decompose(
        problem.stage0,
        problem.structure,
        problem.p,
        problem.solve,
        HedgingSettings(max_iterations=1),
        problem.case.solver,
        starts=[outside],
    )
    assert len(fine.points) == 2  # the smallest plan and one round's; not `outside`
    problem.structure = MasterStructure(forcing, problem.structure.n_first)
    with pytest.raises(RecourseError, match="scenario 0's relaxed second stage is infeasible"):
        problem.benders()


def test_a_killed_actor_is_restarted_and_benders_finishes(tmp_path):
    problem = small(CASES["multi"](tmp_path))
    expected = problem.benders(gap=1e-4)
    case, stage0 = problem.case, problem.stage0
    marker = tmp_path / "crash"
    fields = {f.name: getattr(problem.job, f.name) for f in dataclasses.fields(problem.job)}
    job = CrashingJob(**fields, crash_marker=str(marker))
    pool = StagePool(job, workers=2, chunk=2)
    solve = crashing(pool, marker)
    try:
        state = decompose(
            stage0,
            problem.structure,
            problem.p,
            solve,
            HedgingSettings(gap=1e-4),
            case.solver,
        )
    finally:
        pool.close()
    assert not marker.exists()  # the crash happened
    assert np.array_equal(state.plan, expected.plan)
    assert state.lower_bound == expected.lower_bound
    assert state.upper_bound == expected.upper_bound
    assert state.round == expected.round


def test_benders_resumed_from_a_checkpoint_ends_where_an_unbroken_run_does(tmp_path):
    problem = small(CASES["multi"](tmp_path), risk=Risk(0.5, 0.75))
    saved = []

    def checkpoint(state):
        if state.round == 3 and not saved:
            save_benders(tmp_path / "benders.npz", state)
            saved.append(True)

    settings = HedgingSettings(gap=1e-4)
    args = (problem.stage0, problem.structure, problem.p, problem.solve, settings)
    unbroken = decompose(*args, problem.case.solver, checkpoint=checkpoint)
    resumed = decompose(*args, problem.case.solver, state=load_benders(tmp_path / "benders.npz"))
    assert resumed.round == unbroken.round
    assert np.array_equal(resumed.plan, unbroken.plan)
    assert resumed.lower_bound == unbroken.lower_bound
    assert resumed.upper_bound == unbroken.upper_bound
    assert np.array_equal(resumed.cut_slope, unbroken.cut_slope)
    assert [r.gap for r in resumed.history] == [r.gap for r in unbroken.history]


def run_benders(path: Path, out: Path, workers: int) -> StochasticSummary:
    settings = StochasticSettings(Method.BENDERS, stop=HedgingSettings(gap=1e-3), out_of_sample=4)
    run = ScenarioOptions(6, farm=FarmSettings(workers=workers, chunk=2))
    return stochastic(read_case(path), out, run, settings)


def test_one_and_two_workers_give_the_same_run(tmp_path):
    path = multi_period_case(tmp_path)
    one = run_benders(path, tmp_path / "one", 1)
    two = run_benders(path, tmp_path / "two", 2)
    assert one.method == "benders" and one.gap is not None and one.gap <= 1e-2
    for key in ("objective", "lower_bound", "gap", "wait_and_see", "ev_objective", "iterations"):
        assert getattr(one, key) == getattr(two, key), key
    for table in ("results", "convergence", "racks", "orders", "recourse", "out_of_sample"):
        a = pd.read_parquet(tmp_path / "one" / f"{table}.parquet")
        b = pd.read_parquet(tmp_path / "two" / f"{table}.parquet")
        drop = [c for c in [*TIMING, "elapsed_seconds", "master_seconds"] if c in a]
        pd.testing.assert_frame_equal(a.drop(columns=drop), b.drop(columns=drop))
    # The convergence table in USD, a row per round, ending at the summary's bound; the
    # report draws it and lists every round.
    history = pd.read_parquet(tmp_path / "one" / "convergence.parquet")
    assert list(history["iteration"]) == list(range(one.iterations + 1))
    assert {"start", "lp", "integer"} <= set(history["phase"])
    assert history["lower_bound"].iloc[-1] == pytest.approx(one.lower_bound, rel=1e-12)
    assert history["lower_bound"].is_monotonic_increasing
    assert history["upper_bound"].is_monotonic_decreasing
    write_report(tmp_path / "one")
    page = (tmp_path / "one" / "report.html").read_text()
    section = page.split('<section id="convergence">')[1].split("</section>")[0]
    assert "Convergence of Benders decomposition" in section
    assert section.count('<div class="plot figure">') == 1
    assert section.count("<tr>") == len(history) + 1  # the header, and a row per round


@pytest.mark.slow
def test_a_run_killed_mid_benders_resumes_to_the_same_plan(tmp_path):
    """`fleetopt stochastic --method benders` killed (SIGKILL) after some rounds, then run
    again: it resumes from the last round written and ends with the unbroken run's plan."""
    path = multi_period_case(tmp_path)
    common = [*FLEETOPT, "stochastic", str(path), "-n", "40", "--method", "benders"]
    common += ["--gap", "1e-5", "--workers", "2", "--out-of-sample", "2"]
    unbroken = subprocess.run([*common, "--out", str(tmp_path / "a")], capture_output=True)
    assert unbroken.returncode == 0, unbroken.stderr.decode()
    out = tmp_path / "b"
    run = subprocess.Popen([*common, "--out", str(out)], start_new_session=True)
    state = out / "state" / "benders.npz"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and run.poll() is None:
        if state.exists() and load_benders(state).round >= 2:
            break
        time.sleep(0.02)
    assert run.poll() is None
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    killed_at = load_benders(state).round
    assert not (out / "_SUCCESS").exists()
    resumed = subprocess.run([*common, "--out", str(out)], capture_output=True)
    assert resumed.returncode == 0, resumed.stderr.decode()
    a = json.loads((tmp_path / "a" / "summary.json").read_text())
    b = json.loads((out / "summary.json").read_text())
    assert 2 <= killed_at < a["iterations"]
    for key in ("objective", "lower_bound", "gap", "iterations"):
        assert a[key] == b[key], key
    for table in ("racks", "orders"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / "a" / f"{table}.parquet"),
            pd.read_parquet(out / f"{table}.parquet"),
        )


def test_a_huge_scenario_count_is_refused_at_once(tmp_path):
    """-n 10,000,000: refused (exit 2) with the estimate, in seconds, nothing written."""
    out = tmp_path / "run"
    case = str(two_site_case(tmp_path, UNCERTAIN))
    command = [*FLEETOPT, "stochastic", case, "-n", "10000000", "--workers", "1"]
    started = time.monotonic()
    done = subprocess.run(
        [*command, "--out", str(out)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 2, done.stderr
    assert "10,000,000 scenarios" in done.stderr and "GiB" in done.stderr
    assert "use fewer scenarios" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()
    assert time.monotonic() - started < 120


def test_master_structure_keeps_the_rows_every_scenario_shares(tmp_path):
    problem = small(CASES["multi"](tmp_path), n=1, premium=0.5)
    model: LinearModel = problem.structure.model
    stage = problem.stage0
    families = {"space", "supply", "stock", "deliveries"}
    rows = sum(s.stop - s.start for f, s in stage.model.families.items() if f in families)
    assert model.n_constraints == rows > 0
    assert problem.structure.n_first == len(stage.first_cols)
    assert not model.integer[problem.structure.n_first :].any()
    assert (np.diff(model.row) >= 0).all()
    val = stage.model.val.copy()
    val[np.isin(stage.model.col, stage.model.layout.cols("e"))] = -1.0  # recourse that binds
    bad = dataclasses.replace(stage, model=dataclasses.replace(stage.model, val=val))
    with pytest.raises(ValueError, match="relatively complete recourse"):
        master_structure(bad)
