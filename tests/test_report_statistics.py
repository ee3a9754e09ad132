"""The numbers behind the report's figures, checked by hand: from a solved plan folder (the
hand-computed case of test_plan_tables), and from small run folders written here, for the
scenario, nightly, multi-period and stochastic statistics.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fleetopt.core.errors import RunFolderError
from fleetopt.io.case import read_case
from fleetopt.io.runfolder import RunRecord
from fleetopt.pipelines.plan import plan_case, write_plan
from fleetopt.report import statistics as stats
from fleetopt.results import yearly
from fleetopt.results.nightly import (
    NightlyRecord,
    PlanStageResult,
    RobustStageResult,
    StochasticStageResult,
)
from fleetopt.results.runs import Distribution, Estimate, EstimateKind, ScenarioSummary
from fleetopt.results.schema import to_json, write_summary
from fleetopt.results.stochastic import (
    EXPECTED_VALUE_PLAN,
    ROBUST_CHOICE,
    PlanComparison,
    shortfall_depth,
)
from fleetopt.results.text import hedging_saves
from fleetopt.scenarios.stats import plan_summaries
from fleetopt.solve.result import SolveStatus
from tests.test_plan_tables import ENERGY_PER_RACK_AT_S2, SECONDS_PER_YEAR, write_two_site_case


def write_run(folder: Path, kind: str, tables: dict[str, pd.DataFrame], summary=None, **record):
    """A complete run folder: run.json, summary.json (of a typed summary), tables, _SUCCESS."""
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"kind": kind, "status": "succeeded", **record}))
    if summary is not None:
        write_summary(folder, summary)
    for name, table in tables.items():
        table.to_parquet(folder / f"{name}.parquet", index=False)
    (folder / "_SUCCESS").write_text("")
    return folder


# --- a plan ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("plan")
    write_plan(plan_case(read_case(write_two_site_case(tmp))), tmp / "plan")
    return stats.open_run(tmp / "plan")


def test_plan_headline(plan):
    head = plan.summary.figures  # the typed summary, as written
    fleet = 2_000_000 + 100_000 + 4 * ENERGY_PER_RACK_AT_S2
    assert plan.summary.status == "optimal"
    assert head.fleet_cost_usd_per_year == pytest.approx(fleet)
    assert head.served_tokens_per_s == pytest.approx(10_000)
    assert head.cost_per_mtok_usd == pytest.approx(fleet / (10_000 * SECONDS_PER_YEAR / 1e6))
    unmet = yearly.unmet_share(plan.table("workloads"))
    assert unmet == pytest.approx(30_000 / 40_000)  # w2 unmet, by tokens


def test_cost_parts_and_cost_by_site(plan):
    parts = stats.cost_parts(plan.summary.figures).set_index("part")["usd_per_year"]
    assert parts.to_dict() == pytest.approx(
        {
            "capex": 2_000_000,
            "opex": 100_000,
            "energy": 4 * ENERGY_PER_RACK_AT_S2,
            "penalty": 0.001 * 30_000 * SECONDS_PER_YEAR / 1e6,
        }
    )
    by_site = stats.cost_by_site(plan.table("sites"))
    assert by_site.set_index(["site", "part"])["usd_per_year"].to_dict() == pytest.approx(
        {
            ("s1", "capex"): 1_200_000,
            ("s2", "capex"): 800_000,
            ("s1", "opex"): 60_000,
            ("s2", "opex"): 40_000,
            ("s1", "energy"): 0.0,
            ("s2", "energy"): 4 * ENERGY_PER_RACK_AT_S2,
        }
    )
    old = plan.table("sites").drop(columns=["energy_cost_usd_per_year"])
    assert stats.cost_by_site(old) is None  # a run written before the columns existed


def test_power_and_floor_use(plan):
    use = stats.power_use(plan.table("sites")).set_index("site")
    assert use.loc["s1", "power_mw"] == pytest.approx(0.6)
    assert use.loc["s1", "power_share"] == pytest.approx(1.0)  # at its cap
    assert use.loc["s2", "power_mw"] == pytest.approx(1.25 * 0.4)  # PUE x 4 racks x 100 kW
    assert use.loc["s2", "power_share"] == pytest.approx(0.5 / 100)
    assert use.loc["s1", "floor_share"] == pytest.approx(12 / 20)  # 6 racks x 2 slots
    assert math.isnan(use.loc["s2", "floor_share"])  # no floor limit


def test_rack_mix_placement_and_estimates(plan):
    mix = stats.rack_mix(plan.table("racks"))
    assert mix[["site", "rack_type", "count", "installed", "new"]].values.tolist() == [
        ["s1", "A", 6, 0, 6],
        ["s2", "A", 4, 0, 4],
    ]
    points = plan.table("operating_points")
    used = stats.placement_by_rack(plan.table("placement"), points)
    assert used.to_dict("records") == [
        {
            "workload": "w1",
            "phase": "decode",
            "rack_type": "A",
            "racks": pytest.approx(10.0),
            "tokens_per_s": pytest.approx(10_000.0),
            "estimate": True,
        }
    ]
    flags = stats.estimate_flags(points, placement=plan.table("placement"))
    assert flags.to_dict("records") == [
        {"rack_type": "A", "operating_points": 1, "estimated": 1}  # w2's point is unused
    ]
    assert stats.estimate_flags(None, placement=plan.table("placement")) is None


def test_estimate_flags_by_rack_type():
    points = pd.DataFrame(
        {
            "rack_type": ["A", "A", "B", "B", "C"],
            "workload": ["w1", "w2", "w1", "w2", "w1"],
            "phase": ["decode"] * 5,
            "estimate": [True, False, False, False, True],
        }
    )
    racks = pd.DataFrame(
        {"site": ["s", "s", "s"], "rack_type": ["A", "B", "C"], "count": [3, 1, 0]}
    )
    flags = stats.estimate_flags(points, racks=racks)  # C is not owned
    assert flags.to_dict("records") == [
        {"rack_type": "A", "operating_points": 2, "estimated": 1},
        {"rack_type": "B", "operating_points": 2, "estimated": 0},
    ]


# --- scenario runs -------------------------------------------------------------------------

RESULTS = pd.DataFrame(
    {
        "scenario": [0, 1, 2, 3, 0, 1, 2, 3],
        "plan": ["a"] * 4 + ["b"] * 4,
        "status": ["optimal", "optimal", "infeasible", "optimal", *["optimal"] * 4],
        "cost_per_mtok_usd": [2.0, 1.0, np.nan, 3.0, 1.5, 1.5, 2.5, 0.5],
        "total_cost_usd_per_year": [200.0, 100.0, np.nan, 300.0, 150.0, 150.0, 250.0, 50.0],
        "unmet_share": [0.0, 0.02, np.nan, 0.0, 0.0, 0.0, 0.5, 0.0],
    }
)
MIX = pd.DataFrame(
    {
        "scenario": [0, 0, 1, 2, 3, 3],
        "plan": ["wait-and-see"] * 6,
        "site": ["s1"] * 6,
        "rack_type": ["X", "Y", "X", "X", "X", "Y"],
        "count": [2, 1, 4, 9, 3, 2],
    }
)


@pytest.fixture(scope="module")
def scenario_run(tmp_path_factory):
    """An evaluate run of plans a and b over four scenarios; a is unsolved in scenario 2."""
    sites = pd.DataFrame(
        {
            "scenario": [0, 1, 3, 0, 1, 2, 3],
            "plan": ["a", "a", "a", "b", "b", "b", "b"],
            "site": ["s1"] * 7,
            "power_mw": [5.0, 8.0, 6.0, 1.0, 1.0, 1.0, 1.0],
            "power_cap_mw": [10.0] * 7,
        }
    )
    plans = plan_summaries(RESULTS, 0.95)
    summary = ScenarioSummary("case", 4, 0, 0.95, kind="evaluate", errors=0, plans=plans, sites={})
    folder = tmp_path_factory.mktemp("evaluate") / "run"
    return stats.open_run(
        write_run(folder, "evaluate", {"results": RESULTS, "sites": sites}, summary)
    )


def test_ecdf_of_each_plan(scenario_run):
    points = stats.ecdf(scenario_run.table("results"), "cost_per_mtok_usd")
    a = points[points["plan"] == "a"]
    assert a["value"].tolist() == [1.0, 2.0, 3.0]  # the unsolved scenario is left out
    assert a["share"].tolist() == pytest.approx([1 / 3, 2 / 3, 1.0])
    b = points[points["plan"] == "b"]
    assert b["value"].tolist() == [0.5, 1.5, 1.5, 2.5]
    assert b["share"].tolist() == pytest.approx([0.25, 0.5, 0.75, 1.0])


def test_ecdf_keeps_a_bounded_number_of_points():
    results = pd.DataFrame(
        {
            "scenario": range(10),
            "plan": "a",
            "status": "optimal",
            "cost_per_mtok_usd": [10.0 - s for s in range(10)],
        }
    )
    points = stats.ecdf(results, "cost_per_mtok_usd", max_points=4)  # every 3rd, and the last
    assert points["value"].tolist() == [1.0, 4.0, 7.0, 10.0]
    assert points["share"].tolist() == pytest.approx([0.1, 0.4, 0.7, 1.0])


def test_plans_side_by_side(scenario_run):
    comparison = stats.plan_comparison(
        scenario_run.summary.plans, scenario_run.table("results"), {"a": 7.0, "b": 8.0}
    ).set_index("plan")
    a = comparison.loc["a"]
    assert a["cost_per_mtok_usd_mean"] == pytest.approx(2.0)
    assert a["cost_per_mtok_usd_se"] == pytest.approx(1.0 / math.sqrt(3))  # std 1, n 3
    assert a["total_cost_usd_per_year_p95"] == pytest.approx(290.0)  # 200 + 0.9 x 100
    assert a["total_cost_usd_per_year_cvar"] == pytest.approx(300.0)  # the worst 1 of 3
    assert a["unsolved_share"] == pytest.approx(0.25)
    assert a["p_unmet_above_1pct"] == pytest.approx(1 / 3)
    assert a["unmet_share_mean"] == pytest.approx(0.02 / 3)
    assert a["score"] == 7.0
    b = comparison.loc["b"]
    assert b["total_cost_usd_per_year_cvar"] == pytest.approx(250.0)
    assert b["p_unmet_above_1pct"] == pytest.approx(0.25)


def test_scenario_headline(scenario_run):
    head = stats.scenario_headline(
        scenario_run.summary.plans["a"], scenario_run.table("results"), "a"
    )
    assert head.stats.status_counts == {"optimal": 3, "infeasible": 1}
    assert head.stats.cost_per_mtok_usd.mean == pytest.approx(2.0)
    assert head.unmet_share_mean == pytest.approx(0.02 / 3)


def test_rack_type_frequency_over_solved_scenarios():
    results = RESULTS[RESULTS["plan"] == "a"].assign(plan="wait-and-see")
    frequency = stats.rack_type_frequency(MIX, results).set_index("rack_type")
    # scenario 2 is unsolved: its mix (X 9) is left out; X counts 2, 4, 3; Y 1, 0, 2
    assert frequency.loc["X", "share_of_scenarios"] == pytest.approx(1.0)
    assert frequency.loc["X", ["p5", "p50", "p95"]].tolist() == pytest.approx([2.1, 3.0, 3.9])
    assert frequency.loc["Y", "share_of_scenarios"] == pytest.approx(2 / 3)
    assert frequency.loc["Y", "p50"] == pytest.approx(1.0)
    assert list(frequency.index) == ["X", "Y"]  # most often chosen first


def test_site_utilisation_of_one_plan(scenario_run):
    use = stats.site_utilisation(scenario_run.table("sites"), "a").set_index("site")
    assert use.loc["s1", ["p5", "p50", "p95"]].tolist() == pytest.approx([0.51, 0.6, 0.78])


def test_value_of_information_intervals():
    vss = Estimate(100.0, 10.0, EstimateKind.LOWER_BOUND)
    evpi = Estimate.mean_of([5.0], EstimateKind.UPPER_BOUND)  # one scenario: no standard error
    value = stats.value_of_information(vss, evpi).set_index("measure")
    assert value.loc["VSS", ["low", "mean", "high"]].tolist() == pytest.approx(
        [100 - 19.5996398454, 100.0, 100 + 19.5996398454]
    )
    assert value.loc["VSS", "kind"] == "lower_bound"
    assert value.loc["EVPI", "mean"] == 5.0 and math.isnan(value.loc["EVPI", "low"])


# --- multi-period plans and stochastic runs (the formats of docs/model.md sections 8, 9) --


def test_multi_period_statistics():
    orders = pd.DataFrame(
        {
            "site": ["s1", "s2", "s1", "s2"],
            "rack_type": ["A", "A", "B", "A"],
            "period": [2026, 2026, 2027, 2027],
            "new_racks": [3, 2, 4, 0],
            "order_by_year": [2026.0, 2026.0, 2026.5, 2027.0],
            "capex_usd_each": [1e6, 1e6, 2e6, 1e6],
        }
    )
    racks = pd.DataFrame(
        {
            "period": [2026, 2026, 2027, 2027, 2027],
            "site": ["s1", "s2", "s1", "s1", "s2"],
            "rack_type": ["A", "A", "A", "B", "A"],
            "count": [3, 2, 3, 4, 2],
        }
    )
    sites = pd.DataFrame(
        {
            "period": [2026, 2027, 2026, 2027],
            "site": ["s1", "s1", "s2", "s2"],
            "power_mw": [1.0, 2.5, 0.5, 0.5],
            "power_cap_mw": [2.0, 3.0, 1.0, 1.0],
            "avg_facility_mw": [0.8, 2.0, 0.4, 0.4],
        }
    )
    periods = pd.DataFrame(
        {
            "period": [2026, 2027],
            "opex_cost_usd_per_year": [10.0, 20.0],
            "energy_cost_usd_per_year": [1.0, 2.0],
            "fleet_cost_usd_per_year": [100.0, 200.0],
            "penalty_cost_usd_per_year": [0.0, 5.0],
            "cost_per_mtok_usd": [0.5, 0.4],
            "served_tokens_per_s": [1e3, 2e3],
        }
    )
    assert stats.orders_by_type(orders).values.tolist() == [[2026, "A", 5], [2027, "B", 4]]
    assert stats.racks_in_service(racks).values.tolist() == [
        [2026, "A", 5],
        [2027, "A", 5],
        [2027, "B", 4],
    ]
    # The schedule in the order orders are placed, each with its capex; the empty one left out.
    schedule = yearly.order_schedule(orders)
    assert schedule[["order_by_year", "site", "rack_type", "capex_usd"]].values.tolist() == [
        [2026.0, "s1", "A", 3e6],
        [2026.0, "s2", "A", 2e6],
        [2026.5, "s1", "B", 8e6],
    ]
    # Cash out: capex in the year the racks enter service, plus that year's opex and energy.
    cash = yearly.cash_out(orders, periods).set_index("period")
    assert cash["capex_usd"].tolist() == [5e6, 8e6]
    assert cash["cash_usd"].tolist() == [5e6 + 11, 8e6 + 22]
    assert cash["new_racks"].tolist() == [5, 4]
    assert cash["fleet_cost_usd_per_year"].tolist() == [100.0, 200.0]  # the annualised one
    parts = stats.cash_parts(cash.reset_index())
    assert parts.groupby("year")["usd"].sum().tolist() == cash["cash_usd"].tolist()
    # Power per year and site: never summed over the years.
    use = yearly.power_use(sites)
    assert use[["period", "site", "power_share", "headroom_mw"]].values.tolist() == [
        [2026, "s1", 0.5, 1.0],
        [2027, "s1", 2.5 / 3, 0.5],
        [2026, "s2", 0.5, 0.5],
        [2027, "s2", 0.5, 0.5],
    ]
    years = {year: rows["power_mw"].tolist() for year, rows in yearly.by_year(sites)}
    assert years == {2026: [1.0, 0.5], 2027: [2.5, 0.5]}
    assert yearly.years(racks) == [2026, 2027] and yearly.years(racks.drop(columns="period")) == []
    ((year, whole),) = yearly.by_year(racks.drop(columns="period"))
    assert year is None and len(whole) == len(racks)


def test_convergence_rows_and_the_bounds_drawn():
    table = pd.DataFrame(
        {
            "iteration": [2, 0, 1],
            "lower_bound": [95.0, -50.0, 80.0],
            "upper_bound": [100.0, float("inf"), 120.0],
            "gap": [0.05, 0.75, 1 / 3],
            "cuts": [None, None, None],
        }
    )
    rows = stats.convergence(table)
    assert rows["iteration"].tolist() == [0, 1, 2]
    assert "cuts" not in rows  # a column the method left empty
    # A negative lower bound and an infinite upper bound say nothing: not drawn.
    lines = stats.bound_lines(rows)
    assert lines.values.tolist() == [
        [1, "lower bound", 80.0],
        [2, "lower bound", 95.0],
        [1, "upper bound", 120.0],
        [2, "upper bound", 100.0],
    ]
    with pytest.raises(RunFolderError, match=r"convergence\.parquet: missing column"):
        stats.convergence(table.drop(columns="upper_bound"))


# --- nightly runs --------------------------------------------------------------------------


def manifest(run_id, finished, cost, *, case="c", status="succeeded", unmet=0.1, version=2):
    """A nightly run record as the pipeline writes it (typed stage results)."""
    robust = RobustStageResult(
        chosen_plan="expected-value",
        cost_per_mtok_usd=Distribution(mean=cost + 1, p95=cost + 2),
        total_cost_usd_per_year=Distribution(cvar=1000 * cost),
        probability_unmet_above_1pct=unmet,
        vss=Estimate(1.0, kind=EstimateKind.LOWER_BOUND),
        evpi=Estimate(2.0, kind=EstimateKind.UPPER_BOUND),
    )
    plan = PlanStageResult(SolveStatus.OPTIMAL, cost, cost, 0.0)
    return NightlyRecord.from_json(
        {
            "kind": "nightly",
            "schema_version": version,
            "run_id": run_id,
            "case": case,
            "status": status,
            "started_at": finished,
            "finished_at": finished,
            "stages": {
                "plan": {"status": "succeeded", "result": to_json(plan)},
                "robust": {"status": "succeeded", "result": to_json(robust)},
            },
        }
    )


def test_nightly_history_keeps_successful_runs_of_the_same_case_in_time_order():
    current = replace(manifest("n4", None, 4.0), started_at="2026-01-04T00:00:00+00:00")
    runs = [
        manifest("n2", "2026-01-02T00:00:00+00:00", 2.0),
        manifest("n1", "2026-01-01T00:00:00+00:00", 1.0),
        manifest("n3", "2026-01-03T00:00:00+00:00", 3.0, status="failed"),
        manifest("x1", "2026-01-03T00:00:00+00:00", 9.0, case="other"),
        manifest("old", "2026-01-03T00:00:00+00:00", 9.0, version=1),  # another schema
        current,  # the run itself, as OUT lists it: counted once, last
    ]
    history = stats.nightly_history(current, runs)
    assert history["run_id"].tolist() == ["n1", "n2", "n4"]
    assert history["current"].tolist() == [False, False, True]
    assert history["expected_value_cost_per_mtok_usd"].tolist() == [1.0, 2.0, 4.0]
    assert history["robust_p95_cost_per_mtok_usd"].tolist() == [3.0, 4.0, 6.0]
    assert history["robust_cvar_total_cost_usd_per_year"].tolist() == [1000.0, 2000.0, 4000.0]


def test_sibling_manifests_and_run_status(tmp_path):
    for date, run_id in (("2026-01-01", "a"), ("2026-01-02", "b")):
        folder = tmp_path / date / run_id
        folder.mkdir(parents=True)
        (folder / "run.json").write_text(
            json.dumps({"kind": "nightly", "run_id": run_id, "status": "succeeded"})
        )
    (tmp_path / "2026-01-02" / "stray").mkdir()
    found = stats.sibling_manifests(tmp_path / "2026-01-02" / "b")
    assert [m.run_id for m in found] == ["a", "b"]

    stages = {"plan": {"status": "succeeded"}, "report": {"status": "running"}}
    record = {"kind": "nightly", "run_id": "r", "status": "running", "stages": stages}
    writing = stats.Run(
        tmp_path, RunRecord("nightly", "running", {}), nightly=NightlyRecord.from_json(record)
    )
    assert stats.run_status(writing) == "succeeded"  # its last stage is writing this report
    assert stats.nightly_stages(writing.nightly)["stage"].tolist() == ["plan"]
    stages["plan"]["status"] = "failed"
    failed = replace(writing, nightly=NightlyRecord.from_json(record))
    assert stats.run_status(failed) == "running"


def test_rack_changes_since_the_previous_run():
    racks = pd.DataFrame(
        {
            "site": ["s2", "s1", "s1"],
            "rack_type": ["A", "B", "A"],
            "count": [3, 0, 5],
            "count_previous": [3, 2, 4],
            "change": [0, -2, 1],
        }
    )
    assert stats.rack_changes(racks).values.tolist() == [
        ["s1", "A", 4, 5, 1],
        ["s1", "B", 2, 0, -2],
    ]


# --- run folders ---------------------------------------------------------------------------


def test_open_run_refuses_what_is_not_a_complete_run(tmp_path):
    with pytest.raises(RunFolderError, match="does not exist"):
        stats.open_run(tmp_path / "missing")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(RunFolderError, match="is a file, not a folder"):
        stats.open_run(tmp_path / "file.txt")
    with pytest.raises(RunFolderError, match=r"not a fleetopt run folder \(no readable run.json\)"):
        stats.open_run(tmp_path)
    running = tmp_path / "running"
    running.mkdir()
    (running / "run.json").write_text(json.dumps({"kind": "sweep", "status": "running"}))
    with pytest.raises(
        RunFolderError, match=r"incomplete sweep run \(status running; no _SUCCESS\)"
    ):
        stats.open_run(running)
    assert stats.open_run(running, complete=False).kind == "sweep"
    alien = write_run(tmp_path / "alien", "calibration", {})
    with pytest.raises(RunFolderError, match="calibration run, which this version cannot"):
        stats.open_run(alien)


def test_optional_tables_and_columns(scenario_run):
    assert scenario_run.table("mix") is None
    sites = scenario_run.table("sites", ["site", "power_mw", "no_such_column"])
    assert list(sites.columns) == ["site", "power_mw"]
    assert scenario_run.part("choice") is None
    assert stats.rack_types(scenario_run) == []


def test_shortfall_depth_counts_only_the_solved_futures_that_fall_short():
    # Plan a: short in 2 of its 3 solved futures (1e-10 is solver noise), by 0.02% and
    # 0.04% of demand; its failed future does not count. Plan b never falls short.
    results = pd.DataFrame(
        {
            "scenario": [0, 1, 2, 3, 0, 1],
            "plan": ["a", "a", "a", "a", "b", "b"],
            "status": ["optimal", "optimal", "feasible", "error", "optimal", "optimal"],
            "shortfall_share": [2e-4, 1e-10, 4e-4, 0.5, 0.0, 0.0],
        }
    )
    depth = shortfall_depth(results, "a")
    assert depth is not None and depth.futures == 2
    assert (depth.mean_share, depth.max_share) == pytest.approx((3e-4, 4e-4))
    assert depth.text() == "when short, by 0.03% of demanded tokens on average, at most 0.04%"
    assert shortfall_depth(results, "b") is None
    assert shortfall_depth(results.drop(columns="shortfall_share"), "a") is None
    assert shortfall_depth(None, "a") is None


def test_a_robust_choice_that_is_the_expected_value_plan_is_said_once():
    # The hedged plan saves $5M +- $1M a year over the expected-value plan; when that plan
    # is also the robust choice the summary says so on one line, not a second equal saving.
    saved = Estimate(5e6, 1e6)
    hedged = StochasticStageResult(
        status=SolveStatus.OPTIMAL,
        method="ef",
        objective=Estimate(1e9, 1e7),
        lower_bound=None,
        gap=0.0,
        vss=saved,
        evpi=Estimate(2e7, 2e6),
        robust=PlanComparison(
            objective=Estimate(1.005e9, 1e7), difference=saved, probability_shortfall=0.5
        ),
    )
    results = pd.DataFrame(
        {
            "scenario": [0, 1],
            "plan": [ROBUST_CHOICE, ROBUST_CHOICE],
            "status": ["optimal", "optimal"],
            "shortfall_share": [4e-4, 0.0],
        }
    )
    same = hedging_saves(hedged, EXPECTED_VALUE_PLAN, results)
    assert same == [
        "saves $5.00M ± $1.00M/year over the expected-value plan (value of the stochastic"
        " solution)",
        "the expected-value plan is also the robust choice (its orders now, P(shortfall) 50.0%;"
        " when short, by 0.04% of demanded tokens on average, at most 0.04%)",
        "(same futures, same shortfall rule, paired future by future)",
    ]
    other = hedging_saves(hedged, "scenario-3", results)
    assert other[1] == (
        "saves $5.00M ± $1.00M/year over the robust choice scenario-3 (its orders now,"
        " P(shortfall) 50.0%; when short, by 0.04% of demanded tokens on average, at most 0.04%)"
    )
