"""What a plan folder records beyond the plan itself: costs per site, demand and penalty per
workload, and the operating points with their sources, checked on hand-computed cases.

The case: rack A (1M USD over 5 years, 10k USD/year opex, 100 kW, no idle draw, 2 floor
slots) decodes 1,000 tokens/s. Site s1 has free energy but a 0.6 MW cap (6 racks at PUE 1.0)
and 20 slots; site s2 pays 40 USD/MWh at PUE 1.25. Workload w1 (10,000 tokens/s) is worth
serving: 6 racks at s1 and 4 at s2. Workload w2 (30,000 tokens/s) has a penalty of 0.001 USD
per million tokens, cheaper than any rack: it goes unmet.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from fleetopt.io.case import read_case
from fleetopt.pipelines.plan import plan_case, write_plan
from fleetopt.solve.result import SolveStatus
from fleetopt.testing.casekit import write_case
from tests.test_model_optima import decode, rack, site, workload

SECONDS_PER_YEAR = 31_536_000
ENERGY_PER_RACK_AT_S2 = 40 * 1.25 * 100 * 8.76  # USD/MWh x PUE x kW x MWh per kW-year


def write_two_site_case(tmp_path, throughput=None):
    return write_case(
        tmp_path,
        racks=[rack("A", opex_usd_per_year=10_000)],
        sites=[
            site("s1", power_cap_mw=0.6, max_slots=20),
            site("s2", power_cap_mw=100, pue=1.25, energy_usd_per_mwh=40),
        ],
        workloads=[
            workload("w1"),
            workload("w2", decode_tokens_per_s=30_000, unmet_penalty_usd_per_mtok=0.001),
        ],
        throughput=throughput or [{**decode("A", 1000), "source": "estimate: test model"}],
        config={"unmet_penalty_usd_per_mtok": 1000.0},
    )


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("plan")
    outcome = plan_case(read_case(write_two_site_case(tmp)))
    assert outcome.summary.status is SolveStatus.OPTIMAL
    write_plan(outcome, tmp / "plan")
    return tmp / "plan"


def test_costs_per_site_are_the_hand_computed_ones_and_add_up(plan_dir):
    sites = pd.read_parquet(plan_dir / "sites.parquet").set_index("site")
    assert sites["capex_cost_usd_per_year"].to_dict() == pytest.approx(
        {"s1": 6 * 200_000, "s2": 4 * 200_000}
    )
    assert sites["opex_cost_usd_per_year"].to_dict() == pytest.approx({"s1": 60_000, "s2": 40_000})
    assert sites["energy_cost_usd_per_year"].to_dict() == pytest.approx(
        {"s1": 0.0, "s2": 4 * ENERGY_PER_RACK_AT_S2}
    )
    summary = json.loads((plan_dir / "summary.json").read_text())
    for part in ("capex", "opex", "energy"):
        column = f"{part}_cost_usd_per_year"
        assert sites[column].sum() == pytest.approx(summary[column], rel=1e-12)
    assert summary["fleet_cost_usd_per_year"] == pytest.approx(
        2_100_000 + 4 * ENERGY_PER_RACK_AT_S2
    )


def test_workloads_carry_their_demand_and_penalty(plan_dir):
    workloads = pd.read_parquet(plan_dir / "workloads.parquet").set_index("workload")
    assert workloads["demand_tokens_per_s"].to_dict() == pytest.approx({"w1": 10_000, "w2": 30_000})
    assert workloads["unmet_share"].to_dict() == pytest.approx({"w1": 0.0, "w2": 1.0})
    w2_penalty = 0.001 * 30_000 * SECONDS_PER_YEAR / 1e6  # 946.08 USD per year
    assert workloads["penalty_cost_usd_per_year"].to_dict() == pytest.approx(
        {"w1": 0.0, "w2": w2_penalty}
    )
    summary = json.loads((plan_dir / "summary.json").read_text())
    assert summary["penalty_cost_usd_per_year"] == pytest.approx(w2_penalty)


def test_the_operating_points_say_which_figures_are_estimates(plan_dir):
    points = pd.read_parquet(plan_dir / "operating_points.parquet")
    assert points.to_dict("records") == [
        {
            "rack_type": "A",
            "workload": "w1",
            "phase": "decode",
            "tokens_per_s": 1000.0,
            "source": "estimate: test model",
            "estimate": True,
        },
        {
            "rack_type": "A",
            "workload": "w2",
            "phase": "decode",
            "tokens_per_s": 1000.0,
            "source": "estimate: test model",
            "estimate": True,
        },
    ]


@pytest.mark.parametrize(
    ("rows", "source", "estimate"),
    [
        # the best qualifying row is an estimate
        ([("measured: bench", 900, 60), ("estimate: model", 1000, 70)], "estimate: model", True),
        # a tie at the best throughput: the measured row backs the figure
        ([("estimate: model", 1000, 60), ("measured: bench", 1000, 80)], "measured: bench", False),
        # a faster row below the SLO (user_tps 40 < 50) does not count
        (
            [("estimate: model", 5000, 40), ("Measured on site", 1000, 60)],
            "Measured on site",
            False,
        ),
    ],
)
def test_the_source_is_the_chosen_rows(tmp_path, rows, source, estimate):
    throughput = [
        {**decode("A", tokens, user_tps=user_tps), "source": src} for src, tokens, user_tps in rows
    ]
    case = read_case(write_two_site_case(tmp_path, throughput))
    outcome = plan_case(case)
    write_plan(outcome, tmp_path / "plan")
    points = pd.read_parquet(tmp_path / "plan" / "operating_points.parquet")
    assert set(points["source"]) == {source}
    assert set(points["estimate"]) == {estimate}
