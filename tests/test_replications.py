"""How many scenarios are enough: the multiple-replication procedure of `fleetopt stochastic
--replications R` (docs/model.md section 9), on a real local Ray with real solvers.

Small cases (6 scenarios, 3 batches); every figure is checked against what it is defined as:
the batches' optima against the extensive form solved here, the interval against the
formula (Student's t itself: tests/test_stats.py).
"""

from __future__ import annotations

import dataclasses
import html
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from fleetopt.cli.main import main
from fleetopt.core.errors import CaseError
from fleetopt.io.case import read_case
from fleetopt.io.ownership import own_entries
from fleetopt.model.build import OBJECTIVE_SCALE
from fleetopt.model.index import build_index
from fleetopt.model.reliability import ReliabilityTarget
from fleetopt.model.risk import Risk
from fleetopt.pipelines import stochastic as pipeline
from fleetopt.pipelines.options import FarmSettings, Method, ScenarioOptions, StochasticSettings
from fleetopt.pipelines.stochastic import MRP_TAG, replication_seeds, stochastic
from fleetopt.report.page import write_report
from fleetopt.results.schema import read_summary
from fleetopt.results.stochastic import StochasticSummary
from fleetopt.results.text import format_stochastic
from fleetopt.scenarios.draws import draw
from fleetopt.solve.hedging import HedgingSettings
from fleetopt.solve.mathopt import solve_model
from tests.test_planner_outputs import raw_floats
from tests.test_scenarios import UNCERTAIN, two_site_case
from tests.test_stochastic import solve_ef

pytestmark = pytest.mark.usefixtures("local_ray")

N, R, GAP = 6, 3, 1e-4


def settings(replications: int = R, **kw) -> StochasticSettings:
    return StochasticSettings(
        Method.EF,
        stop=HedgingSettings(gap=GAP),
        out_of_sample=4,
        replications=replications,
        **kw,
    )


def run(case, out: Path, workers: int = 2, **kw) -> StochasticSummary:
    scenarios = ScenarioOptions(N, farm=FarmSettings(workers, 2))
    return stochastic(case, out, scenarios, settings(**kw))


def test_batch_seeds_come_from_the_seed_sequence():
    seeds = replication_seeds(7, 3)
    expected = [
        int(np.random.SeedSequence([7, MRP_TAG, g]).generate_state(1, np.uint32)[0])
        for g in (1, 2, 3)
    ]
    assert seeds == expected and len(set(seeds)) == 3
    assert replication_seeds(7, 2) == seeds[:2]  # batch g does not depend on R
    assert all(0 <= s <= 2**32 - 1 for s in seeds)


def test_without_uncertainty_every_batch_gap_is_zero_and_n_suffices(tmp_path):
    """Every scenario of every seed is the forecast: each batch is the run's own problem,
    its optimum the run's, and the plan costs exactly that on it."""
    case = read_case(two_site_case(tmp_path, {"seed": 5}))
    summary = run(case, tmp_path / "run")
    gap = summary.replications
    assert gap is not None and gap.replications == R and gap.scenarios == N
    optimum = summary.objective.value
    assert summary.ev_objective.value == pytest.approx(optimum, rel=1e-9)
    for batch in gap.batches:
        assert batch.plan_cost == pytest.approx(optimum, rel=1e-9)
        assert batch.lower_bound == pytest.approx(optimum, rel=GAP)
        assert 0 <= batch.gap <= GAP * optimum
    assert gap.mean <= GAP * optimum and gap.relative <= GAP and gap.suffices
    assert gap.tolerance == GAP
    assert f"{N} scenarios suffice" in format_stochastic(tmp_path / "run", summary)


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory) -> tuple[Path, StochasticSummary]:
    """The uncertain case with R batches on one worker, unbroken."""
    tmp = tmp_path_factory.mktemp("one")
    case = read_case(two_site_case(tmp, UNCERTAIN))
    return tmp, run(case, tmp / "run", workers=1)


def test_the_interval_is_the_formula_over_the_batches(one_worker):
    tmp, summary = one_worker
    gap = summary.replications
    assert gap is not None
    table = pd.read_parquet(tmp / "run" / "replications.parquet")
    assert list(table["batch"]) == [1, 2, 3]
    seeds = list(table["seed"])
    assert seeds == replication_seeds(UNCERTAIN["seed"], R)
    assert len(set(seeds)) == R and not {summary.seed, summary.out_of_sample_seed} & set(seeds)
    # G_g = the plan's cost minus the batch's certified optimum, never below it.
    assert np.allclose(table["gap"], table["plan_cost"] - table["lower_bound"], rtol=0, atol=0)
    assert (table["gap"] >= 0).all()
    assert (table["lower_bound"] <= table["batch_objective"]).all()
    g = table["gap"].to_numpy()
    se = g.std(ddof=1) / math.sqrt(R)
    high = g.mean() + 2.919985580355 * se  # t_{2, 0.95}
    assert gap.mean == pytest.approx(g.mean(), rel=1e-12)
    assert gap.se == pytest.approx(se, rel=1e-12)
    assert gap.ci_high == pytest.approx(high, rel=1e-10)
    plan_cost = table["plan_cost"].mean()
    solve_gap = (table["batch_objective"] - table["lower_bound"]).mean()
    assert gap.solve_gap == pytest.approx(solve_gap, rel=1e-12) and solve_gap >= 0
    assert gap.relative == pytest.approx(high / plan_cost, rel=1e-10)
    assert not gap.suffices and high / plan_cost > GAP  # 6 scenarios are far too few here
    text = format_stochastic(tmp / "run", summary)
    assert f"{N} scenarios are not enough" in text and "one-sided 95.0% upper bound" in text
    assert summary == read_summary(tmp / "run", StochasticSummary)


def test_the_report_shows_the_gap_beside_the_out_of_sample_check(one_worker):
    tmp, summary = one_worker
    assert summary.replications is not None
    folder = tmp / "run"
    page = write_report(folder).read_text()
    assert own_entries(folder, "stochastic") == sorted(folder.iterdir())
    section = page[page.index('id="out-of-sample"') :]
    section = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section)))
    section = section[: section.index("Each scenario's cost, shortfall and recourse")]
    assert "The plans on fresh futures" in section  # the out-of-sample check, then the gap
    assert section.index("The plans on fresh futures") < section.index("How many scenarios")
    assert summary.replications.verdict() in section
    for batch in summary.replications.batches:
        assert f" {batch.batch} {batch.seed} " in section
    assert raw_floats(section) == []


def test_a_batch_is_its_seeds_extensive_form_and_the_plan_evaluated_there(one_worker):
    """Batch 1 by hand: the extensive form over its seed's scenarios, and the run's plan
    fixed in each of its scenarios."""
    tmp, summary = one_worker
    assert summary.replications is not None
    batch = summary.replications.batches[0]
    case = read_case(tmp / "case")
    uncertainty = dataclasses.replace(case.uncertainty, seed=batch.seed)
    index = build_index(case)
    scenarios = [draw(index, uncertainty, s) for s in range(N)]
    _, stages, _, solution = solve_ef(case, scenarios)
    optimum = solution.objective / OBJECTIVE_SCALE
    assert optimum * (1 - GAP) <= batch.lower_bound <= optimum * (1 + 1e-9)
    assert batch.batch_objective == pytest.approx(optimum, rel=GAP)
    orders = pd.read_parquet(tmp / "run" / "racks.parquet")
    plan = orders.set_index(["site", "rack_type"])["count"]
    keys = index.sr[["site", "rack_type"]].itertuples(index=False)
    counts = np.array([plan.get((s, r), 0) for s, r in keys], dtype=float)
    first = stages[0].first_cols
    assert len(first) == len(counts)  # one period, mean: the first stage is n
    costs = [solve_model(s.with_first_stage(counts), case.solver).objective for s in stages]
    assert batch.plan_cost == pytest.approx(np.mean(costs) / OBJECTIVE_SCALE, rel=1e-6)


def test_with_cvar_the_plan_is_evaluated_at_its_own_var_level(tmp_path):
    """(1 - L) mean + L CVaR at alpha 0.8 on 4 scenarios: the VaR level eta is the largest
    cost (unique). On a batch, the plan's objective keeps its own eta, fixed like its racks:
    mean of (1 - L) c + L (eta + (c - eta)+ / (1 - alpha)), at least the batch's optimum."""
    risk = Risk(weight=0.5, alpha=0.8)
    case = read_case(two_site_case(tmp_path, UNCERTAIN))
    scenarios = ScenarioOptions(4, farm=FarmSettings(2, 2))
    summary = stochastic(case, tmp_path / "run", scenarios, settings(2, risk=risk))
    gap = summary.replications
    assert gap is not None and summary.risk.measure == "cvar"
    index = build_index(case)
    own = [draw(index, case.uncertainty, s) for s in range(4)]
    _, stages, ef, solution = solve_ef(case, own, risk=risk)
    plan = ef.scenario_x(solution.x, 0)[stages[0].first_cols]  # racks, then eta
    racks = pd.read_parquet(tmp_path / "run" / "racks.parquet")
    assert racks["count"].sum() == round(plan[:-1].sum())  # the run found this plan too
    for batch in gap.batches:
        uncertainty = dataclasses.replace(case.uncertainty, seed=batch.seed)
        fresh = [draw(index, uncertainty, s) for s in range(4)]
        _, batch_stages, _, optimum = solve_ef(case, fresh, risk=risk)
        costs = np.array(
            [solve_model(s.with_first_stage(plan), case.solver).objective for s in batch_stages]
        )
        eta = plan[-1]
        tail = eta + np.maximum(costs - eta, 0.0) / 0.2
        expected = np.mean(0.5 * costs + 0.5 * tail) / OBJECTIVE_SCALE
        assert batch.plan_cost == pytest.approx(expected, rel=1e-6)
        assert batch.plan_cost >= risk.value(costs, np.full(4, 0.25)) / OBJECTIVE_SCALE * (1 - 1e-9)
        best = optimum.objective / OBJECTIVE_SCALE
        assert best * (1 - GAP) <= batch.lower_bound <= best * (1 + 1e-9) <= batch.plan_cost


def test_two_workers_and_a_resumed_run_give_the_same_batches(one_worker, tmp_path, monkeypatch):
    """On 2 workers, a run stopped after its first batch resumes at the second (the first
    is not solved again) and ends with one worker's numbers exactly."""
    tmp, unbroken = one_worker
    case = read_case(tmp / "case")
    replicate = pipeline.StochasticRun.replicate
    solved: list[int] = []

    def failing(self, g, plan, ev_plan):
        if g == 2:
            raise RuntimeError("stopped at batch 2")
        solved.append(g)
        return replicate(self, g, plan, ev_plan)

    monkeypatch.setattr(pipeline.StochasticRun, "replicate", failing)
    with pytest.raises(RuntimeError, match="stopped at batch 2"):
        run(case, tmp_path / "run")
    assert (tmp_path / "run" / "state" / "replications" / "batch-1" / "batch.json").exists()

    def counting(self, g, plan, ev_plan):
        solved.append(g)
        return replicate(self, g, plan, ev_plan)

    monkeypatch.setattr(pipeline.StochasticRun, "replicate", counting)
    resumed = run(case, tmp_path / "run")
    assert solved == [1, 2, 3]
    assert resumed.replications == unbroken.replications
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "run" / "replications.parquet"),
        pd.read_parquet(tmp / "run" / "replications.parquet"),
    )
    assert not (tmp_path / "run" / "state").exists()
    # R is part of the run's parameters.
    with pytest.raises(Exception, match="other parameters"):
        run(case, tmp_path / "run", replications=2)


def test_one_batch_is_refused(tmp_path):
    """One batch has no standard error, so no interval: refused, exit 2."""
    path = two_site_case(tmp_path, UNCERTAIN)
    with pytest.raises(CaseError, match="no interval"):
        run(read_case(path), tmp_path / "run", replications=1)
    assert not (tmp_path / "run").exists()
    args = ["stochastic", str(path), "-n", "4", "--out", str(tmp_path / "cli")]
    refused = CliRunner().invoke(main, [*args, "--replications", "1"])
    assert refused.exit_code == 2 and "--replications 1 gives no interval" in refused.output
    held = StochasticSettings(replications=2, reliability=ReliabilityTarget(0.1))
    with pytest.raises(CaseError, match="not with --max-shortfall-probability"):
        stochastic(read_case(path), tmp_path / "held", ScenarioOptions(4), held)
    assert not (tmp_path / "held").exists()


def test_recourse_racks_are_said_as_the_case_allows_them(one_worker):
    # This case allows no recourse: the summary says so rather than a bare "0 racks bought
    # once the future is known" (later years' ordinary orders are no recourse racks).
    tmp, summary = one_worker
    assert summary.recourse_capex_premium is None and summary.expected_recourse_racks == 0
    assert summary.recourse_racks()[0] == "not allowed"
    text = format_stochastic(tmp / "run", summary)
    assert "recourse racks: not allowed (case.yaml has no recourse" in text
    page = write_report(tmp / "run").read_text()
    assert "<dt>recourse racks</dt><dd>not allowed<small>" in page
    allowed = dataclasses.replace(summary, recourse_capex_premium=0.25, expected_recourse_racks=3.5)
    assert allowed.recourse_racks() == (
        "3.50",
        "per scenario, mean: bought once the future is known, at a capex premium of 25.0%",
    )
