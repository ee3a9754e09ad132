"""Infeasible cases explained: hand-made cases where one limit holds a workload back.

The base: rack A serves 20,000 decode tokens/s and draws 100 kW at PUE 1 (0.1 MW); workload
chat-eu decodes 1,000,000 tokens/s, so it needs 50 racks (5 MW) to be served in full, and
min_served_share 0.9 asks for 45 racks (4.5 MW). Each test takes away one resource and
checks the diagnosis by hand: which workload, which site or rack type, how much.
"""

from __future__ import annotations

import numpy as np
import pytest

from fleetopt.io.case import read_case
from fleetopt.io.runfolder import RunKind
from fleetopt.model.build import build_plan_model
from fleetopt.model.index import build_index
from fleetopt.model.inputs import model_data
from fleetopt.pipelines.plan import plan_case
from fleetopt.scenarios.job import ScenarioJob, for_workers
from fleetopt.solve.diagnose import shortfall_model, slack_model, without_limits
from fleetopt.solve.result import SolveStatus
from fleetopt.testing.casekit import write_case
from tests.test_model_optima import decode, rack, site, workload

RACK = rack("A", power_kw=100, slots=1)
CHAT_EU = workload("chat-eu", regions="eu", decode_tokens_per_s=1_000_000, min_served_share=0.9)
THROUGHPUT = [decode("A", 20_000)]


def solved(tmp_path, **tables):
    tables = {"racks": [RACK], "workloads": [CHAT_EU], "throughput": THROUGHPUT} | tables
    return plan_case(read_case(write_case(tmp_path, **tables)))


def diagnosis(tmp_path, **tables) -> str:
    outcome = solved(tmp_path, **tables)
    assert outcome.summary.status is SolveStatus.INFEASIBLE
    assert outcome.summary.to_json()["diagnosis"] == outcome.summary.diagnosis
    return outcome.summary.diagnosis


def test_a_power_cap_names_the_workload_the_region_and_the_megawatts(tmp_path):
    # eu-north (1 MW) and eu-west (1.05 MW) power 10 + 10.5 = 20.5 of the 50 racks: 41%.
    # 90% needs 4.5 MW, 2.45 MW more than the region has; the least slack relative to the
    # cap puts it all on the larger cap. us-east has power to spare but chat-eu may not go.
    sites = [
        site("eu-north", region="eu", power_cap_mw=1.0),
        site("eu-west", region="eu", power_cap_mw=1.05),
        site("us-east", region="us", power_cap_mw=100),
    ]
    assert diagnosis(tmp_path, sites=sites) == (
        "workload chat-eu needs 90% served but the sites in region eu can power at most 41%"
        " of it: site eu-west is short of 2.45 MW (cap 1.05 MW)"
    )


def test_floor_space_is_counted_in_slots(tmp_path):
    # 2 slots per rack on 40 slots: 20 of 50 racks (40%); 45 racks take 90 slots.
    racks = [rack("A", power_kw=100, slots=2)]
    sites = [site("eu-north", region="eu", max_slots=40)]
    assert diagnosis(tmp_path, racks=racks, sites=sites) == (
        "workload chat-eu needs 90% served but the sites in region eu have floor space for at"
        " most 40% of it: site eu-north is short of 50 slots (max_slots 40)"
    )


def test_supply_is_counted_in_racks_and_installed_racks_count(tmp_path):
    # 30 racks can be had, 5 of them already installed: 60%; 45 are needed.
    racks = [rack("A", power_kw=100, slots=1, max_count=30)]
    sites = [site("eu-north", region="eu")]
    installed = [{"site": "eu-north", "rack_type": "A", "count": 5}]
    assert diagnosis(tmp_path, racks=racks, sites=sites, installed=installed) == (
        "workload chat-eu needs 90% served but the sites in region eu can get racks for at most"
        " 60% of it: rack type A is short of 15 racks (max_count 30)"
    )


def test_min_cost_per_token_gets_the_same_diagnosis(tmp_path):
    sites = [site("eu-north", region="eu", power_cap_mw=2.05)]
    one = diagnosis(tmp_path / "cost", sites=sites)
    per_token = diagnosis(
        tmp_path / "ratio", sites=sites, config={"objective": "min_cost_per_token"}
    )
    assert (
        per_token
        == one
        == (
            "workload chat-eu needs 90% served but the sites in region eu can power at most 41%"
            " of it: site eu-north is short of 2.45 MW (cap 2.05 MW)"
        )
    )


def test_two_limits_at_once_are_both_named(tmp_path):
    # 1 MW powers 10 racks and 12 can be had: power binds first (20%); 45 racks need
    # 3.5 MW and 33 racks more.
    racks = [rack("A", power_kw=100, slots=1, max_count=12)]
    sites = [site("eu-north", region="eu", power_cap_mw=1.0)]
    assert diagnosis(tmp_path, racks=racks, sites=sites) == (
        "workload chat-eu needs 90% served but the sites in region eu can serve at most 20% of"
        " it: site eu-north is short of 3.5 MW (cap 1 MW), rack type A is short of 33 racks"
        " (max_count 12)"
    )


def test_an_slo_no_rack_meets_is_named_not_blamed_on_a_limit(tmp_path):
    # Nobody can decode chat-eu at 80 tokens/s per user; the other workload is short of
    # power: 1 MW powers 10 racks, 25% of bulk's 40.
    workloads = [
        workload("chat-eu", regions="eu", min_user_tps=80, min_served_share=0.5),
        workload("bulk", decode_tokens_per_s=800_000, min_served_share=0.5),
    ]
    sites = [site("eu-north", region="eu", power_cap_mw=1.0)]
    assert diagnosis(tmp_path, workloads=workloads, sites=sites) == (
        "the least total shortfall leaves 2 workloads below their min_served_share:"
        " workload chat-eu needs 50% served but no rack at any site it may use can serve its"
        " decode phase within its SLO; workload bulk needs 50% served but the sites can power"
        " 25% of it; short: site eu-north is short of 1 MW (cap 1 MW)"
    )


def test_a_multi_year_overload_names_the_year_and_the_cap_that_binds_then(tmp_path):
    # 6 MW power 60 racks. In 2029, 90% of chat-eu is 45 racks (4.5 MW): fine. In 2030 its
    # demand doubles: 90% is 90 racks (9 MW); 60 of 100 racks is 60%, 3 MW short in 2030.
    # (A diagnosis that counted phases x years against phases blamed the SLO instead.)
    sites = [site("eu-north", region="eu", power_cap_mw=6.0)]
    doubled = [{"workload": "chat-eu", "period": 2030, "demand_multiplier": 2}]
    config = {"periods": [2029, 2030]}
    assert diagnosis(tmp_path, sites=sites, workload_periods=doubled, config=config) == (
        "workload chat-eu needs 90% served in 2030 but the sites in region eu can power at most"
        " 60% of it: site eu-north is short of 3 MW in 2030 (cap 6 MW)"
    )
    # The same overload in one steady-state year reads the same, without a year.
    single = workload("chat-eu", regions="eu", decode_tokens_per_s=2_000_000, min_served_share=0.9)
    assert diagnosis(tmp_path / "single", sites=sites, workloads=[single]) == (
        "workload chat-eu needs 90% served but the sites in region eu can power at most 60% of"
        " it: site eu-north is short of 3 MW (cap 6 MW)"
    )


def test_a_workload_unservable_in_one_year_only_is_named_with_that_year(tmp_path):
    # chat-eu has demand only in 2030, with a prefill phase no rack can serve.
    chat = workload(
        "chat-eu",
        regions="eu",
        prefill_tokens_per_s=1000,
        decode_tokens_per_s=100_000,
        min_served_share=0.9,
    )
    case = write_case(
        tmp_path,
        racks=[RACK],
        workloads=[chat],
        throughput=THROUGHPUT,
        sites=[site("eu-north", region="eu")],
        workload_periods=[{"workload": "chat-eu", "period": 2029, "demand_multiplier": 0}],
        config={"periods": [2029, 2030]},
    )
    outcome = plan_case(read_case(case))
    assert outcome.summary.status is SolveStatus.INFEASIBLE
    assert outcome.summary.diagnosis == (
        "workload chat-eu needs 90% served in 2030 but no rack at any site it may use can serve"
        " its prefill phase within its SLO"
    )


def test_a_feasible_case_has_no_diagnosis(tmp_path):
    outcome = solved(tmp_path, sites=[site("eu-north", region="eu")])
    assert outcome.summary.status is SolveStatus.OPTIMAL
    assert outcome.summary.to_json()["diagnosis"] is None


def test_the_elastic_models_keep_the_model_and_add_what_they_relax(tmp_path):
    case = read_case(
        write_case(
            tmp_path,
            racks=[RACK],
            workloads=[CHAT_EU],
            throughput=THROUGHPUT,
            sites=[site("eu-north", region="eu", power_cap_mw=1.0, max_slots=100)],
        )
    )
    index = build_index(case)
    model = build_plan_model(index, case, model_data(index))
    short = shortfall_model(model)
    m = model.layout.m
    assert short.n_variables == model.n_variables + 1  # one shortfall column per workload
    assert short.ub[m].tolist() == [1.0]
    assert short.row_ub[short.families["minimum"]].tolist() == pytest.approx([0.1])
    assert (short.objective[: model.n_variables] == 0).all()
    free_index, free_data = without_limits(index, model_data(index))
    free = build_plan_model(free_index, case, free_data)
    assert free.ub[model.layout.a].tolist() == [50.0]  # no longer 1 MW / 0.1 MW: the demand bound
    slack = slack_model(index, model, free, ("power", "space", "supply"), (), np.zeros(1, bool))
    # One slack column per site for power and for space; no supply rows (unlimited racks).
    assert [b.name for b in slack.layout][-2:] == ["slack_power", "slack_space"]
    assert slack.ub[model.layout.a].tolist() == [50.0]
    assert slack.n_constraints == model.n_constraints
    assert slack.objective[-2:].tolist() == pytest.approx([1 / 1.0, 1 / 100])


# --- scenario rows ----------------------------------------------------------------------


def scenario_case(tmp_path, uncertainty: dict, **tables):
    tables = {
        "racks": [RACK],
        "workloads": [CHAT_EU],
        "throughput": THROUGHPUT,
        "sites": [site("eu-north", region="eu", power_cap_mw=10)],
    } | tables
    return read_case(write_case(tmp_path, config={"uncertainty": uncertainty}, **tables))


def test_a_sweep_scenario_with_a_derated_cap_says_why_in_its_row(tmp_path):
    # Every scenario derates the 10 MW cap by 80%: 2 MW powers 20 of 50 racks.
    case = scenario_case(tmp_path, {"power_cap": {"probability": 1.0, "derate": 0.8}})
    job = ScenarioJob(case=case, mode=RunKind.SWEEP, options=for_workers(case.solver))
    row = job.prepare().solve_scenario(0).results.iloc[0]
    assert row["status"] == "infeasible"
    assert row["message"] == (
        "workload chat-eu needs 90% served but the sites in region eu can power at most 40% of"
        " it: site eu-north is short of 2.5 MW (cap 2 MW)"
    )


def test_a_fixed_plan_short_of_delivered_racks_says_so(tmp_path):
    # The plan owns 50 racks; a 50% supply cut delivers 25 (50%), a 70% power derate leaves
    # 3 MW for 30. Meeting 90% needs 45 racks delivered and 4.5 MW.
    case = scenario_case(
        tmp_path,
        {
            "supply": {"probability": 1.0, "cut": 0.5},
            "power_cap": {"probability": 1.0, "derate": 0.7},
        },
    )
    index = build_index(case)
    plan = plan_case(case, index=index)
    counts = plan.x[plan.result.model.layout.n]
    assert counts.tolist() == [50.0]
    job = ScenarioJob(
        case=case, mode=RunKind.EVALUATE, options=for_workers(case.solver), plans={"p": counts}
    )
    row = job.prepare().solve_scenario(0).results.iloc[0]
    assert row["status"] == "infeasible"
    assert row["message"] == (
        "workload chat-eu needs 90% served but the plan's sites in region eu can serve at most"
        " 50% of it: rack type A at site eu-north is short of 20 racks (25 delivered),"
        " site eu-north is short of 1.5 MW (cap 3 MW)"
    )


def test_a_plan_too_small_for_a_scenario_says_no_limit_would_help(tmp_path):
    # Demand grows 1.5x: 75 racks for all of it, 67.5 for 90%; the plan has 50 (67%).
    case = scenario_case(tmp_path, {"demand": {"growth": {"median": 1.5, "sigma": 0}}})
    index = build_index(case)
    plan = plan_case(case, index=index)
    job = ScenarioJob(
        case=case,
        mode=RunKind.EVALUATE,
        options=for_workers(case.solver),
        plans={"p": plan.x[plan.result.model.layout.n]},
    )
    row = job.prepare().solve_scenario(0).results.iloc[0]
    assert row["message"] == (
        "workload chat-eu needs 90% served but the plan's sites in region eu can serve at most"
        " 67% of it: the plan has too few racks even with every rack delivered and powered"
    )


def test_installed_racks_beyond_a_scenario_supply_cut_are_named(tmp_path):
    # 40 installed of max_count 50; a 50% cut leaves 25 to be had in the sweep.
    case = scenario_case(
        tmp_path,
        {"supply": {"probability": 1.0, "cut": 0.5}},
        racks=[rack("A", power_kw=100, slots=1, max_count=50)],
        installed=[{"site": "eu-north", "rack_type": "A", "count": 40}],
    )
    job = ScenarioJob(case=case, mode=RunKind.SWEEP, options=for_workers(case.solver))
    row = job.prepare().solve_scenario(0).results.iloc[0]
    assert row["status"] == "infeasible"
    assert row["message"] == (
        "even serving nothing, the racks already installed break a limit:"
        " rack type A is short of 15 racks (max_count 25)"
    )
