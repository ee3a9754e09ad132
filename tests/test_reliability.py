"""Reliability targets of the two-stage program (docs/model.md section 9, "Reliability
targets"): the chance constraint and the CVaR bound on a hand-computed case, the run's
in-sample probability of shortfall, the cost-of-reliability curve, and the refusals.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import click
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from fleetopt.cli.options import stochastic_options, stochastic_stage_options
from fleetopt.core.errors import CaseError, InfeasibleError, RunFolderError
from fleetopt.io.case import read_case
from fleetopt.model.build import OBJECTIVE_SCALE
from fleetopt.model.extensive import build_extensive
from fleetopt.model.index import build_index
from fleetopt.model.inputs import Multipliers, model_data
from fleetopt.model.reliability import (
    ReliabilityTarget,
    held_shortfall,
    probability_of_shortfall,
    shortfall_columns,
    with_target,
)
from fleetopt.model.risk import MEAN
from fleetopt.model.stage import build_stage_model, first_stage_bounds
from fleetopt.pipelines.nightly import NightlyParams, run_nightly
from fleetopt.pipelines.options import (
    FarmSettings,
    Method,
    RobustOptions,
    ScenarioOptions,
    StochasticSettings,
)
from fleetopt.pipelines.reliability import curve_point, extensive_form
from fleetopt.pipelines.stochastic import check_replications, stochastic
from fleetopt.report.page import write_report
from fleetopt.results.stochastic import CURVE_COLUMNS
from fleetopt.results.text import format_nightly, format_stochastic
from fleetopt.scenarios.draws import draw
from fleetopt.solve.mathopt import solve_model
from fleetopt.solve.result import SolveStatus
from fleetopt.testing.casekit import write_case
from tests.test_model_optima import decode, rack, site, workload

RACK_USD = 400_000.0  # capex 2M over 5 years, no discounting, no opex, free energy
SHORT_USD = 315_360.0  # a rack's worth (1,000 tokens/s) short for a year: 10 USD/Mtok
DEMANDS = (1.0, 2.0, 3.0, 4.0)  # racks' worth of demand in scenarios 0..3


def one_rack_case(tmp_path: Path, uncertainty: dict | None = None) -> Path:
    """One site, one rack type (1,000 tokens/s, 400k USD/year), one workload of 1,000
    tokens/s, all of it a minimum (min_served_share 1), a shortfall at 10 USD per million
    tokens: 10 x 1,000 x 31,536,000 / 1e6 = 315,360 USD/year per rack's worth short."""
    return write_case(
        tmp_path,
        racks=[rack("A", capex_usd=2_000_000)],
        sites=[site()],
        workloads=[workload("w", decode_tokens_per_s=1_000, min_served_share=1.0)],
        throughput=[decode("A", 1_000)],
        config={
            "unmet_penalty_usd_per_mtok": 1.0,
            "shortfall_penalty_usd_per_mtok": 10.0,
            "uncertainty": uncertainty or {},
        },
    )


def demand(factor: float) -> Multipliers:
    ones = np.ones(1)
    return Multipliers(
        demand=np.array([factor]), energy_price=ones, power_cap=ones, supply=ones, throughput=ones
    )


def solve_with(case, target):
    """The extensive form of the four scenarios of DEMANDS with `target` (None: without):
    its racks, objective (USD/year) and in-sample probability of shortfall."""
    index = build_index(case)
    datas = [model_data(index, demand(d)) for d in DEMANDS]
    first = first_stage_bounds(index, case, datas)
    stages = [build_stage_model(index, case, d, first) for d in datas]
    ef = build_extensive(stages, np.full(4, 0.25))
    short = shortfall_columns(index, ef, stages)
    model = ef if target is None else with_target(ef, short, target)
    options = dataclasses.replace(case.solver, relative_gap=1e-9)
    solution = solve_model(model.model, options)
    assert solution.status is SolveStatus.OPTIMAL, solution
    racks = float(model.scenario_x(solution.x, 0)[stages[0].first_cols].sum())
    shares = short.shares(held_shortfall(model, short, solution.x))
    probability = probability_of_shortfall(shares, ef.probabilities)
    return racks, solution.objective / OBJECTIVE_SCALE, probability, shares


# With n racks, scenario d (racks' worth of demand) is short max(0, d - n) racks' worth:
# cost(n) = 400,000 n + 315,360 x sum_d max(0, d - n) / 4. A rack (400k) saves at most
# 315,360, so without a target none is bought; a target P forces whole scenarios served.
HAND = [
    # P, racks, cost: the scenarios allowed short are the largest ones
    (None, 0, 315_360 * (1 + 2 + 3 + 4) / 4),  # 788,400; short in all four
    (1.0, 0, 315_360 * (1 + 2 + 3 + 4) / 4),  # the target allows all: as without
    (0.75, 1, 400_000 + 315_360 * (0 + 1 + 2 + 3) / 4),  # 873,040
    (0.5, 2, 800_000 + 315_360 * (0 + 0 + 1 + 2) / 4),  # 1,036,520
    (0.25, 3, 1_200_000 + 315_360 * (0 + 0 + 0 + 1) / 4),  # 1,278,840
    (0.0, 4, 1_600_000.0),  # no shortfall anywhere
]


@pytest.mark.parametrize(("p", "racks", "cost"), HAND)
def test_chance_constraint_buys_the_hand_computed_racks(tmp_path, p, racks, cost):
    """docstring of HAND: P of the scenarios may be short, so 4 (1 - P) scenarios must be
    served whole, the smallest ones: n = 4 (1 - P) racks (0 without a target)."""
    case = read_case(one_rack_case(tmp_path))
    target = None if p is None else ReliabilityTarget(p)
    bought, objective, probability, _ = solve_with(case, target)
    assert bought == racks
    assert objective == pytest.approx(cost, rel=1e-9)
    assert probability == (1.0 if racks == 0 else (4 - racks) / 4)
    assert probability <= (1.0 if p is None else p)


def test_cvar_bound_limits_the_mean_of_the_worst_shortfall_shares(tmp_path):
    """CVaR at level 1 - P of the shortfall share (d - n) / d, P = 0.5: the mean of the two
    largest shares (d = 3 and 4). n = 2: (1/3 + 1/2) / 2 = 0.417; n = 3: (0 + 1/4) / 2 =
    0.125. A bound of 0.2 needs 3 racks (1,278,840 USD/year), where the chance constraint at
    P = 0.5 buys 2; a bound of 0.5 allows 2 (1,036,520); 0 forbids every shortfall (4 racks);
    at P = 0 the bound is on the largest share: 0.25 allows n = 3 (d = 4 short 1/4)."""
    case = read_case(one_rack_case(tmp_path))
    for p, tolerance, racks, cost in [
        (0.5, 0.2, 3, 1_278_840.0),
        (0.5, 0.5, 2, 1_036_520.0),
        (0.5, 0.0, 4, 1_600_000.0),
        (0.0, 0.25, 3, 1_278_840.0),
        (0.0, 0.2, 4, 1_600_000.0),
    ]:
        bought, objective, _, shares = solve_with(case, ReliabilityTarget(p, tolerance))
        assert (bought, objective) == (racks, pytest.approx(cost, rel=1e-9)), (p, tolerance)
        worst = np.sort(shares)[::-1][: max(1, int(4 * p))]
        assert worst.mean() <= tolerance + 1e-9


# The same case with its demand drawn: growth median 2.5 racks' worth, sigma 0.4; seed 5's
# first 8 scenarios ask 1.814, 2.964, 5.462, 1.256, 2.202, 2.830, 3.863 and 2.307 racks'
# worth (fleetopt.scenarios.draws), 22.698 in all.
DRAWN = {"seed": 5, "demand": {"growth": {"median": 2.5, "sigma": 0.4}}}
CURVE = (0.0, 0.25, 0.5, 1.0)
FLEETOPT = [sys.executable, "-m", "fleetopt.cli.main"]


def curve_run(case, out: Path, workers: int, target: ReliabilityTarget | None):
    settings = StochasticSettings(
        out_of_sample=4,
        reliability=target,
        shortfall_curve=tuple(ReliabilityTarget(p) for p in CURVE),
    )
    return stochastic(case, out, ScenarioOptions(8, farm=FarmSettings(workers=workers)), settings)


@pytest.mark.usefixtures("local_ray")
def test_a_run_meets_its_target_in_sample_and_its_curve_matches_single_runs(tmp_path):
    """8 drawn scenarios. P = 0: the largest (5.462) needs 6 racks, 2.4M USD/year. P = 1:
    no rack (each costs more than the 315,360 it saves at most), 315,360 x 22.698 / 8 =
    894,820.7. P = 0.25 (two scenarios short): 3 racks serve all but 5.462 and 3.863, at
    1.2M + 315,360 x (2.462 + 0.863) / 8 = 1,331,090.8; P = 0.5 allows four short, but 2
    racks leave six short (2.964, 5.462, 2.202, 2.830, 3.863, 2.307), so 3 racks again.
    The curve's points are the single runs at the same P, on 2 workers as on 1."""
    case = read_case(one_rack_case(tmp_path, DRAWN))
    held = curve_run(case, tmp_path / "held", 2, ReliabilityTarget(0.25))
    assert held.method == Method.EF.value  # auto: a target is solved by the extensive form
    assert held.probability_shortfall == 0.25
    assert held.objective.value == pytest.approx(1_331_090.84, rel=1e-8)
    assert held.reliability is not None and held.reliability.max_shortfall_probability == 0.25
    results = pd.read_parquet(tmp_path / "held" / "results.parquet")
    mine = results[results["plan"] == "stochastic"].sort_values("scenario")
    assert (mine["shortfall_share"].to_numpy() > 1e-9).tolist() == [
        False, False, True, False, False, False, True, False,
    ]  # fmt: skip

    free = curve_run(case, tmp_path / "free", 1, None)
    assert free.reliability is None
    assert free.objective.value == pytest.approx(894_820.73, rel=1e-8)  # no rack
    table = pd.read_parquet(tmp_path / "held" / "shortfall_curve.parquet")
    assert list(table.columns) == list(CURVE_COLUMNS)
    numbers = [c for c in CURVE_COLUMNS if c != "status"]
    assert dict(table[numbers].dtypes.astype(str)) == {c: CURVE_COLUMNS[c] for c in numbers}
    assert table["status"].tolist() == ["optimal"] * 4
    assert table["racks_ordered"].tolist() == [6, 3, 3, 0]
    assert table["objective"].to_numpy() == pytest.approx(
        [2_400_000.0, 1_331_090.84, 1_331_090.84, 894_820.73], rel=1e-8
    )
    assert table["probability_shortfall"].tolist() == [0.0, 0.25, 0.25, 1.0]
    assert (np.diff(table["objective"]) <= 0).all()
    for one, two in zip(free.shortfall_curve, held.shortfall_curve, strict=True):
        assert dataclasses.replace(one, solve_seconds=0) == dataclasses.replace(
            two, solve_seconds=0
        )
    points = {p.max_shortfall_probability: p for p in held.shortfall_curve}
    assert points[0.25].objective == pytest.approx(held.objective.value, rel=1e-9)
    assert points[1.0].objective == pytest.approx(free.objective.value, rel=1e-9)

    # The report shows the curve: a figure, and the table with formatted numbers.
    page = write_report(tmp_path / "held").read_text()
    assert "The cost of reliability" in page
    row = (
        '<tr><td class="num">25.0%</td><td class="txt">optimal</td><td class="num">$1.33M</td>'
        '<td class="num">$1.33M</td><td class="num">0%</td><td class="num">25.0%</td>'
        '<td class="num">3</td>'
    )
    assert row in page
    assert "at most 25.0% of the scenarios short" in page

    shown = format_stochastic(tmp_path / "held", held)
    assert "reliability target: at most 25.0% of the scenarios short" in shown
    assert "the cost of reliability" in shown and "$2.40M" in shown

    # The target is part of the run's identity: another target is not this run.
    with pytest.raises(RunFolderError, match=r"with other parameters.*reliability"):
        curve_run(case, tmp_path / "held", 2, ReliabilityTarget(0.5))


def test_decomposition_methods_with_a_target_are_refused(tmp_path):
    case = read_case(one_rack_case(tmp_path))
    for method in (Method.BENDERS, Method.PH):
        settings = StochasticSettings(method=method, reliability=ReliabilityTarget(0.1))
        with pytest.raises(CaseError, match="--max-shortfall-probability"):
            stochastic(case, tmp_path / "x", ScenarioOptions(4), settings)
        settings = StochasticSettings(method=method, shortfall_curve=(ReliabilityTarget(0.1),))
        with pytest.raises(CaseError, match="--shortfall-curve"):
            stochastic(case, tmp_path / "x", ScenarioOptions(4), settings)
    assert not (tmp_path / "x").exists()


def test_the_command_refuses_bad_targets_with_exit_2(tmp_path):
    case = str(one_rack_case(tmp_path))
    out = tmp_path / "out"
    for options, says in [
        (["--method", "benders", "--max-shortfall-probability", "0.1"], "extensive form"),
        (["--method", "ph", "--shortfall-curve", "0,0.1"], "--shortfall-curve"),
        (["--shortfall-cvar", "0.1"], "--shortfall-cvar needs"),
        (["--shortfall-curve", "0,1.5"], "--shortfall-curve"),
        (["--max-shortfall-probability", "-0.1"], "--max-shortfall-probability"),
    ]:
        done = subprocess.run(
            [*FLEETOPT, "stochastic", case, "--out", str(out), *options],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 2, (options, done.stderr)
        assert says in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not out.exists()


@pytest.mark.usefixtures("local_ray")
def test_a_target_no_plan_meets_is_an_infeasible_point(tmp_path):
    """At most 5 racks (max_count): the largest drawn scenario (5.462) cannot be served
    whole, so P = 0 has no plan (a run with that target fails as infeasible, exit 3);
    P = 0.125 (one scenario short) buys 4 racks (3.863 served whole): 1.6M + 315,360 x
    1.462 / 8 = 1,867,697.9 USD/year."""
    path = one_rack_case(tmp_path, DRAWN)
    case = read_case(path)
    case = case.replace(racks=case.racks.assign(max_count=5.0))
    index = build_index(case)
    datas = [model_data(index, draw(index, case.uncertainty, s)) for s in range(8)]
    form = extensive_form(case, index, first_stage_bounds(index, case, datas), MEAN, 8)
    options = dataclasses.replace(case.solver, relative_gap=1e-9)
    none = curve_point(index, form, ReliabilityTarget(0.0), options)
    assert none.status is SolveStatus.INFEASIBLE
    assert (none.objective, none.racks_ordered, none.probability_shortfall) == (None,) * 3
    one = curve_point(index, form, ReliabilityTarget(0.125), options)
    assert (one.status, one.racks_ordered, one.probability_shortfall) == (
        SolveStatus.OPTIMAL, 4, 0.125,
    )  # fmt: skip
    assert one.objective == pytest.approx(1_600_000 + 315_360 * 1.462 / 8, rel=1e-3)
    with pytest.raises(InfeasibleError, match="--max-shortfall-probability 0%"):
        stochastic(
            case,
            tmp_path / "none",
            ScenarioOptions(8, farm=FarmSettings(workers=1)),
            StochasticSettings(out_of_sample=2, reliability=ReliabilityTarget(0.0)),
        )


def test_the_options_build_the_targets_of_the_settings():
    """The stochastic command's options reach it as StochasticSettings: the run's target and
    the curve's (ascending, without repeats, each of the run's kind)."""
    seen: list[StochasticSettings] = []

    @click.command()
    @stochastic_options()
    def probe(settings: StochasticSettings) -> None:
        seen.append(settings)

    args = ["--max-shortfall-probability", "0.05", "--shortfall-cvar", "0.1"]
    done = CliRunner().invoke(probe, [*args, "--shortfall-curve", "0.1, 0,0.05,0.1"])
    assert done.exit_code == 0, done.output
    (settings,) = seen
    assert settings.reliability == ReliabilityTarget(0.05, 0.1)
    assert settings.shortfall_curve == tuple(ReliabilityTarget(p, 0.1) for p in (0, 0.05, 0.1))
    assert CliRunner().invoke(probe, []).exit_code == 0
    assert seen[-1].reliability is None and seen[-1].shortfall_curve == ()


def test_the_nightly_replications_default_to_3_and_to_0_with_a_target():
    """The nightly runs the multiple-replication procedure by default (R = 3) unless a
    reliability target is set, where it does not apply; an explicit R is kept (and refused
    with a target when the run starts, exit 2)."""
    seen: list[StochasticSettings | None] = []

    @click.command()
    @stochastic_stage_options()
    def probe(stochastic: StochasticSettings | None) -> None:
        seen.append(stochastic)

    for args, batches in (
        ([], 3),
        (["--max-shortfall-probability", "0.1"], 0),
        (["--shortfall-curve", "0,0.1"], 3),  # the curve's plans are beside the answer
        (["--replications", "0"], 0),
        (["--replications", "5"], 5),
        (["--replications", "2", "--max-shortfall-probability", "0.1"], 2),
    ):
        done = CliRunner().invoke(probe, args)
        assert done.exit_code == 0, done.output
        assert seen[-1] is not None and seen[-1].replications == batches, args
    assert NightlyParams("case", "out").stochastic == StochasticSettings(replications=3)
    with pytest.raises(CaseError, match="not with --max-shortfall-probability"):
        check_replications(seen[-1], seed=0)
    assert CliRunner().invoke(probe, ["--stochastic", "none"]).exit_code == 0
    assert seen[-1] is None
    refused = CliRunner().invoke(probe, ["--replications", "1"])
    assert refused.exit_code == 2 and "--replications 1 gives no interval" in refused.output


def test_the_nightly_refuses_replications_with_a_target_before_any_stage(tmp_path):
    """Bad stochastic settings are bad input at the start (exit 2), not after the robust
    stage: the run record says why and lists no stage, and no stage folder is left."""
    held = StochasticSettings(replications=2, reliability=ReliabilityTarget(0.1))
    params = NightlyParams(
        case_dir=str(one_rack_case(tmp_path, DRAWN)),
        out=str(tmp_path / "out"),
        run_id="held",
        run=ScenarioOptions(8),
        stochastic=held,
    )
    with pytest.raises(CaseError, match="not with --max-shortfall-probability"):
        run_nightly(params)
    (folder,) = (tmp_path / "out").glob("*/held")
    record = json.loads((folder / "run.json").read_text())
    assert record["status"] == "failed" and "--replications" in record["reason"]
    assert record["stages"] == {} and sorted(p.name for p in folder.iterdir()) == ["run.json"]


@pytest.mark.usefixtures("local_ray")
def test_the_nightly_answer_holds_the_target_and_says_so(tmp_path):
    """The nightly's hedged answer under --max-shortfall-probability 0.25 is the stochastic
    run's plan on the same 8 futures (3 racks, 1,331,090.84 USD/year, 2 of 8 short), and
    its headline names the target; the robust choice, held to none, is compared paired."""
    case_dir = one_rack_case(tmp_path, DRAWN)
    settings = StochasticSettings(out_of_sample=2, reliability=ReliabilityTarget(0.25))
    params = NightlyParams(
        case_dir=str(case_dir),
        out=str(tmp_path / "out"),
        run_id="held",
        run=ScenarioOptions(8, farm=FarmSettings(chunk=4)),
        robust=RobustOptions(candidates=2, shortfall=True),
        stochastic=settings,
    )
    run = run_nightly(params)
    hedged = run.record.results.stochastic
    assert hedged is not None and hedged.method == "ef"
    assert hedged.objective.value == pytest.approx(1_331_090.84, rel=1e-8)
    assert hedged.probability_shortfall == 0.25 and hedged.racks_ordered_now == 3
    assert hedged.reliability is not None and hedged.reliability.max_shortfall_probability == 0.25
    assert hedged.robust is not None
    assert hedged.robust.difference.value == pytest.approx(
        hedged.robust.objective.value - hedged.objective.value, rel=1e-9
    )
    shown = format_nightly(run.dir)
    assert "over 8 futures, with at most 25.0% of the scenarios short" in shown
    assert hedged.replications is None  # the procedure compares priced programs only
    assert (
        "Whether 8 scenarios suffice was not estimated: the replications' gap needs the"
        " priced program, not a reliability target." in shown
    )
    assert run.record.params["stochastic"]["reliability"]["max_probability"] == 0.25
