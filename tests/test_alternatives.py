"""Near-optimal alternatives (docs/model.md section 12) on a real local Ray.

The case: one workload of 10,000 tokens/s that racks of three vendors serve alike (1,000
tokens/s, 100 kW each): A (vendor x) at 1.00M USD, B (vendor y) at 1.03M, C (vendor z) at
1.04M, over 5 years; site s1 pays 50 USD/MWh, s2 80. The optimum is 10 A at s1 (2.438M USD
a year); all B (2.498M) or all C (2.518M) at s1 are within 5% of it, any rack at s2 costs
26,280 USD a year more, so a plan within 5% may move at most a few racks there.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from fleetopt.io.case import read_case
from fleetopt.io.ownership import ALTERNATIVES_TABLES
from fleetopt.io.runfolder import RunKind
from fleetopt.io.store import ScenarioStore
from fleetopt.model.index import build_index
from fleetopt.model.mga import directions, group_shares
from fleetopt.pipelines.alternatives import (
    ROWS,
    AlternativesJob,
    _finish,
    alternatives,
    plan_parts,
    reference_of,
)
from fleetopt.pipelines.options import AlternativesAsk, FarmRun, FarmSettings
from fleetopt.pipelines.plan import plan_case, require_plan
from fleetopt.pipelines.runs import plan_counts
from fleetopt.report.page import write_report
from fleetopt.results.alternatives import DIRECTION, OPTIMUM, AlternativesSummary
from fleetopt.results.compare import compare_runs
from fleetopt.results.tables import clean_solution
from fleetopt.results.text import format_run
from fleetopt.scenarios.job import ScenarioJob, for_workers
from fleetopt.testing.casekit import decode, rack, site, workload, write_case
from tests.test_cli import run as fleetopt

SLACK = 0.05


def vendor_case(tmp_path, **config):
    racks = [
        rack(rack_type=name, capex_usd=capex, power_kw=100, idle_power_frac=0, vendor=vendor)
        for name, capex, vendor in (
            ("A", 1_000_000, "x"),
            ("B", 1_030_000, "y"),
            ("C", 1_040_000, "z"),
        )
    ]
    sites = [
        site(site="s1", power_cap_mw=100, pue=1, energy_usd_per_mwh=50),
        site(site="s2", power_cap_mw=100, pue=1, energy_usd_per_mwh=80),
    ]
    workloads = [
        workload(
            workload="w",
            model="m",
            prefill_tokens_per_s=0,
            decode_tokens_per_s=10_000,
            min_served_share=0.5,
        )
    ]
    throughput = [decode(rack_type=r, model="m", tokens_per_s=1000) for r in "ABC"]
    folder = write_case(tmp_path, racks, sites, workloads, throughput, config=config)
    return read_case(folder)


def farm(workers: int = 2) -> FarmRun:
    return FarmRun(FarmSettings(workers=workers, chunk=1))


def evaluated_on_the_forecast(case, racks: pd.DataFrame) -> dict:
    """A plan's racks evaluated (fleetopt evaluate's LP) on the forecast: the case has no
    uncertainty, so its scenario 0 is the forecast itself."""
    index = build_index(case)
    counts = plan_counts(index, racks.drop(columns="plan"), "racks.parquet")
    job = ScenarioJob(case, RunKind.EVALUATE, for_workers(case.solver), plans={"p": counts})
    (row,) = job.prepare().solve_scenario(0).results.to_dict("records")
    return row


def test_k_distinct_plans_within_the_slack_each_a_real_plan(local_ray, tmp_path):
    case = vendor_case(tmp_path)
    out = tmp_path / "run"
    summary = alternatives(case, out, farm(), AlternativesAsk(slack=SLACK, k=3, seed=7))
    assert isinstance(summary, AlternativesSummary)
    table = pd.read_parquet(out / "alternatives.parquet")
    assert list(table["plan"]) == ["optimum", "alt-1", "alt-2", "alt-3"]
    assert list(table["direction"][:3]) == ["optimum", "min vendor x", "max vendor z"]
    # max vendor y gave all B at s1, as min vendor x had: dropped, a random one instead.
    assert summary.directions_repeating >= 1 and summary.directions_solved >= 4
    optimum = table.iloc[0]
    assert optimum["objective"] == pytest.approx(2_438_000, rel=1e-9)
    assert optimum["cost_ratio"] == pytest.approx(1.0) and optimum["distance"] == 0
    assert (table["cost_ratio"] <= 1 + SLACK + 1e-9).all()

    racks = pd.read_parquet(out / "racks.parquet")
    fleets = {
        plan: tuple(sorted(zip(r["site"], r["rack_type"], r["count"], strict=True)))
        for plan, r in racks.groupby("plan")
    }
    assert len(set(fleets.values())) == 4  # the optimum and 3 alternatives all differ
    assert fleets["optimum"] == (("s1", "A", 10),)
    assert fleets["alt-1"] == (("s1", "B", 10),)  # min x: the next cheapest vendor
    assert fleets["alt-2"] == (("s1", "C", 10),)  # max z: all of it, 3.3% dearer

    for plan, plan_racks in racks.groupby("plan"):
        row = evaluated_on_the_forecast(case, plan_racks)
        assert row["status"] == "optimal", plan
        assert row["total_cost_usd_per_year"] <= (1 + SLACK) * optimum["objective"] * (1 + 1e-9)
        objective = table.set_index("plan").loc[plan, "objective"]
        assert row["total_cost_usd_per_year"] == pytest.approx(objective, rel=1e-9)

    shares = pd.read_parquet(out / "shares.parquet").set_index(["plan", "group"])["share"]
    assert shares["optimum", "vendor x"] == pytest.approx(1.0)
    assert shares["alt-1", "vendor x"] < shares["optimum", "vendor x"]  # min x lowers x
    assert shares["alt-2", "vendor z"] == pytest.approx(1.0)

    shown = format_run(out)
    assert "alternatives of case test: 3 plan(s) within 5.00% of the optimum" in shown
    assert "vendor x" in shown and "min vendor x" in shown
    page = write_report(out).read_text()
    assert '<section id="alternatives">' in page and "Shares side by side" in page
    assert not compare_runs(out, out).changed

    again = alternatives(case, out, farm(), AlternativesAsk(slack=SLACK, k=3, seed=7))
    assert again == summary  # the same run: done already


def test_the_same_plans_with_one_worker_or_two(local_ray, tmp_path):
    case = vendor_case(tmp_path)
    ask = AlternativesAsk(slack=SLACK, k=4, seed=3)
    for workers in (1, 2):
        alternatives(case, tmp_path / f"w{workers}", farm(workers), ask)
    for name in ("alternatives", "racks", "placement", "shares"):
        one, two = (pd.read_parquet(tmp_path / f"w{w}" / f"{name}.parquet") for w in (1, 2))
        pd.testing.assert_frame_equal(one, two)


def test_schedules_and_cost_per_token_keep_their_budgets(local_ray, tmp_path):
    schedule = vendor_case(tmp_path / "a", periods=[2026, 2027], discount_rate=0.1)
    summary = alternatives(schedule, tmp_path / "multi", farm(), AlternativesAsk(SLACK, 2, 1))
    assert [p.plan for p in summary.plans] == ["optimum", "alt-1", "alt-2"]
    assert all(p.cost_ratio <= 1 + SLACK + 1e-9 for p in summary.plans)
    for name in ("orders", "periods", "racks"):
        table = pd.read_parquet(tmp_path / "multi" / f"{name}.parquet")
        assert table.columns[0] == "plan" and "period" in table.columns

    per_token = vendor_case(tmp_path / "b", objective="min_cost_per_token")
    summary = alternatives(per_token, tmp_path / "token", farm(), AlternativesAsk(SLACK, 2, 1))
    table = pd.read_parquet(tmp_path / "token" / "alternatives.parquet")
    assert (table["cost_ratio"] <= 1 + SLACK + 1e-9).all()
    ratio = table["cost_per_mtok_usd"] / table["cost_per_mtok_usd"].iloc[0]
    assert list(ratio) == pytest.approx(list(table["cost_ratio"]))
    assert len(summary.plans) == 3


@pytest.mark.slow
def test_the_command_end_to_end_and_its_options_checked(tmp_path):
    vendor_case(tmp_path)
    case_dir, out = tmp_path / "case", tmp_path / "out"
    for bad in (["--slack", "0"], ["-k", "0"], ["--workers", "0"]):
        refused = fleetopt("alternatives", str(case_dir), "--out", str(out), *bad)
        assert refused.returncode == 2, refused.stderr
        assert "Traceback" not in refused.stderr and not out.exists()
    done = fleetopt("alternatives", str(case_dir), "-k", "1", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "alternatives of case test: 1 plan(s) within 5.00% of the optimum" in done.stdout
    assert "alt-1" in done.stdout and "min vendor x" in done.stdout


def test_directions_that_found_no_plan_are_counted_and_said(tmp_path):
    """A direction without a plan (a solver stop, a worker lost) is neither an alternative
    nor a repeat: the summary counts it apart and its message says why."""
    case = vendor_case(tmp_path)
    optimum = require_plan(plan_case(case, for_workers(case.solver)))
    ref = reference_of(optimum, SLACK)
    job = AlternativesJob(case, for_workers(case.solver), ref, (), seed=1)
    shares = group_shares(optimum.index, optimum.data, optimum.result.model, optimum.solution)
    job = replace(job, directions=tuple(directions(shares, 2)))
    params = {"test": "failed directions"}
    store = ScenarioStore(
        tmp_path / "run", RunKind.ALTERNATIVES, params, tables=ALTERNATIVES_TABLES, key=DIRECTION
    )
    fleet = clean_solution(optimum.result.model, optimum.solution)
    same = [
        plan_parts(optimum.index, case, optimum.data, job.options, label, fleet, ref, 0.0)
        for label in (OPTIMUM, job.label(1))
    ]
    for i, parts in enumerate([*same, job.failed(2, "time limit, no plan")]):
        store.write_chunk(f"{i:09d}", parts.written(ROWS))
    store.merge()
    summary = _finish(store, case, SLACK, 1, 1, kept=[], tried=2)
    store.close()
    assert summary.directions_solved == 2 and summary.directions_repeating == 1
    assert [p.plan for p in summary.plans] == ["optimum"]
    assert summary.message == (
        "0 distinct alternative(s) of 1 in 2 directions; "
        "1 direction(s) found no plan: time limit, no plan"
    )
