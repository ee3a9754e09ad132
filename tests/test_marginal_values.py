"""Marginal values and binding limits (docs/model.md section 10), on a hand case.

Site `a` holds 3 installed racks of 1 MW (1,000 tokens/s each) and no room for more (3 floor
slots), but its power cap is 2.5 MW: 2.5 racks run and half of workload `chat`'s 5,000
tokens/s goes unmet at 100 USD per million tokens. One more MW there powers one more
rack-equivalent: 31,536 million tokens a year served (3,153,600 USD of penalty saved) for
8,760 MWh at 50 USD (438,000 USD): 2,715,600 USD per year. Site `b` serves `batch` on
installed racks whose energy (1,000 USD/MWh: 8.76M USD per rack-year) costs far more than
leaving tokens unmet (1 USD per million: 31,536 USD per rack-year), so it serves exactly its
minimum of 50%: one share point less saves 1% of 2 rack-equivalents, 0.02 x (8,760,000 -
31,536) = 174,569.28 USD per year. Its power cap (100 MW) does not bind.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from fleetopt.io.case import read_case
from fleetopt.model.index import build_index
from fleetopt.model.inputs import model_data
from fleetopt.pipelines.plan import plan_case, write_plan
from fleetopt.results.text import format_plan
from fleetopt.solve.objectives import solve_plan
from fleetopt.testing.casekit import decode, rack, site, workload, write_case

POWER_VALUE = 31_536 * 100 - 8_760 * 50  # USD per year per MW at site a
SHARE_POINT_VALUE = 0.02 * (8_760_000 - 31_536)  # USD per year per point of batch's minimum


def hand_case(tmp_path, **config):
    racks = [
        rack(rack_type="A", capex_usd=1_000_000, power_kw=1000, idle_power_frac=0),
        rack(rack_type="B", capex_usd=1_000_000, power_kw=1000, idle_power_frac=0),
    ]
    sites = [
        site(site="a", region="ra", power_cap_mw=2.5, pue=1, energy_usd_per_mwh=50, max_slots=3),
        site(site="b", region="rb", power_cap_mw=100, pue=1, energy_usd_per_mwh=1000),
    ]
    workloads = [
        workload(
            workload="chat",
            model="m1",
            regions="ra",
            prefill_tokens_per_s=0,
            decode_tokens_per_s=5000,
            unmet_penalty_usd_per_mtok=100,
        ),
        workload(
            workload="batch",
            model="m2",
            regions="rb",
            prefill_tokens_per_s=0,
            decode_tokens_per_s=2000,
            unmet_penalty_usd_per_mtok=1,
            min_served_share=0.5,
        ),
    ]
    throughput = [
        decode(rack_type="A", model="m1", tokens_per_s=1000),
        decode(rack_type="B", model="m2", tokens_per_s=1000),
    ]
    installed = [
        {"site": "a", "rack_type": "A", "count": 3},
        {"site": "b", "rack_type": "B", "count": 10},
    ]
    return read_case(
        write_case(tmp_path, racks, sites, workloads, throughput, installed, config=config)
    )


def row(table: pd.DataFrame, family: str, **ids) -> pd.Series:
    match = table["family"] == family
    for column, value in ids.items():
        match &= table[column] == value
    assert match.sum() == 1, (family, ids)
    return table[match].iloc[0]


def fixed_lp_objective(case, x, power_cap_mw=None):
    """The LP with the plan's fleet fixed, at other power caps (per `sk` row)."""
    index = build_index(case)
    data = model_data(index)
    if power_cap_mw is not None:
        data = dataclasses.replace(data, power_cap_mw=np.asarray(power_cap_mw, dtype=float))
    result = solve_plan(index, case, data, fixed=x)
    assert result.status == "optimal"
    return result.objective


def test_a_site_at_its_cap_is_worth_what_one_more_mw_saves(tmp_path):
    case = hand_case(tmp_path)
    outcome = plan_case(case)
    assert outcome.summary.status == "optimal"
    table = outcome.tables.marginal_values
    assert "period" not in table.columns
    power_a = row(table, "power", site="a")
    assert power_a["binding"] and power_a["slack"] == pytest.approx(0, abs=1e-9)
    assert power_a["limit"] == 2.5 and power_a["unit"] == "per MW facility"
    assert power_a["marginal_usd_per_year"] == pytest.approx(POWER_VALUE, rel=1e-9)

    # The finite difference of the LP with the fleet fixed, a 0.01 MW step up.
    step = 0.01
    base = fixed_lp_objective(case, outcome.x)
    more = fixed_lp_objective(case, outcome.x, [2.5 + step, 100])
    assert (base - more) / step == pytest.approx(power_a["marginal_usd_per_year"], rel=1e-6)

    power_b = row(table, "power", site="b")
    assert not power_b["binding"] and power_b["marginal_usd_per_year"] == 0
    # 1 MW runs batch; the other 9 racks may stand powered or not (idle draw 0): a slack of
    # 90 to 99 MW, as the LP chooses.
    assert 90 - 1e-9 <= power_b["slack"] <= 99 + 1e-9

    minimum = row(table, "min_served_share", workload="batch")
    assert minimum["binding"] and minimum["limit"] == pytest.approx(50)
    assert minimum["unit"] == "per share point" and minimum["site"] == ""
    assert minimum["marginal_usd_per_year"] == pytest.approx(SHARE_POINT_VALUE, rel=1e-9)

    space = row(table, "space", site="a")  # full, but a purchase limit: 0 for operations
    assert space["binding"] and space["marginal_usd_per_year"] == 0

    # Every row that does not bind is worth nothing; every value is >= 0.
    assert (table.loc[~table["binding"], "marginal_usd_per_year"] == 0).all()
    assert (table["marginal_usd_per_year"] >= 0).all()

    write_plan(outcome, tmp_path / "run")
    shown = format_plan(tmp_path / "run")
    lines = shown[shown.index("binding limits") :].splitlines()
    assert "power             a: $2.72M/year per MW facility (limit 2.50)" in lines[1]
    assert "min_served_share  batch" in lines[3]  # after the capacity of site a, $2.72M too


def test_each_period_has_its_values_in_that_period_s_dollars(tmp_path):
    """With periods and a discount rate, a row of 2027 is worth the same USD per year of
    2027 as the single-period row, and the levelized LP moves by its level times that."""
    case = hand_case(tmp_path, periods=[2026, 2027], discount_rate=0.1)
    outcome = plan_case(case)
    table = outcome.tables.marginal_values
    later = row(table, "power", site="a", period=2027)
    assert later["marginal_usd_per_year"] == pytest.approx(POWER_VALUE, rel=1e-9)
    weights = np.array([1.0, 1.0 / 1.1])
    level = weights[1] / weights.sum()
    step = 0.01
    base = fixed_lp_objective(case, outcome.x)
    more = fixed_lp_objective(case, outcome.x, [2.5, 100, 2.5 + step, 100])
    assert (base - more) / step == pytest.approx(level * POWER_VALUE, rel=1e-6)


def test_cost_per_token_values_are_dinkelbach_s_last_step(tmp_path):
    """min_cost_per_token: the value prices served tokens at the plan's cost per token."""
    case = hand_case(tmp_path)
    case = case.replace(objective=case.objective.MIN_COST_PER_TOKEN)
    outcome = plan_case(case)
    assert outcome.summary.status == "optimal"
    table = outcome.tables.marginal_values
    price = outcome.summary.figures.cost_per_mtok_usd / 1e6  # USD per token
    power_a = row(table, "power", site="a")
    # One more MW: 31,536 M tokens a year more, valued at the plan's price, less its energy.
    assert power_a["marginal_usd_per_year"] == pytest.approx(
        31_536e6 * price - 8_760 * 50, rel=1e-6
    )
