"""Multi-period procurement (docs/model.md section 8): hand-computed optimal schedules, one
per rule, and the inputs' validation.

The base (tests/test_model_optima.py): one site, one workload decoding 10,000 tokens/s,
energy free. Rack A costs 1M USD over 5 years for 1,000 tokens/s: with discount 0 its
annuity is 200k USD per year in service, so serving the workload takes 10 racks, 2M USD a
year. A year of the whole demand unmet is 10,000 x 31,536,000 tokens = 315,360 Mtok.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetopt.core.errors import CaseError
from fleetopt.io.case import read_case
from fleetopt.model.build import first_stage_columns, plan_layout
from fleetopt.model.index import build_index
from fleetopt.pipelines.plan import plan_case
from fleetopt.testing.casekit import write_case
from tests.conftest import solve_case
from tests.test_model_optima import decode, rack, site, workload
from tests.test_model_properties import small_cases

MTOK_PER_YEAR = 10_000 * 31_536_000 / 1e6  # the workload's demand, a whole year


def solve(tmp_path, periods, *, racks, penalty=1000.0, discount=0.0, **tables):
    """Solve a one-site, one-workload case over `periods`; it must prove optimality."""
    return solve_case(
        tmp_path,
        racks=racks,
        sites=tables.pop("sites", [site()]),
        workloads=tables.pop("workloads", [workload()]),
        throughput=[decode(r["rack_type"], 1000) for r in racks],
        config={
            "unmet_penalty_usd_per_mtok": penalty,
            "discount_rate": discount,
            "periods": periods,
        },
        **tables,
    )


def orders(outcome) -> dict[tuple[int, str, str], int]:
    """(period, site, rack type) -> new racks."""
    table = outcome.tables.orders
    return {(r.period, r.site, r.rack_type): r.new_racks for r in table.itertuples()}


def in_service(outcome) -> dict[int, int]:
    """period -> racks in service, all sites and types."""
    return outcome.tables.racks.groupby("period")["count"].sum().to_dict()


def check_costs(outcome, per_period_usd: list[float]) -> None:
    """The periods' costs (fleet + penalty), their NPV and the levelized objective."""
    periods = outcome.tables.periods
    total = periods["fleet_cost_usd_per_year"] + periods["penalty_cost_usd_per_year"]
    assert total.to_numpy() == pytest.approx(per_period_usd, rel=1e-9)
    weight = periods["weight"].to_numpy()
    npv = float(weight @ np.asarray(per_period_usd))
    assert outcome.summary.npv_cost_usd == pytest.approx(npv, rel=1e-9)
    assert outcome.summary.objective == pytest.approx(npv / weight.sum(), rel=1e-9)


def test_waiting_for_a_cheaper_generation_pays(tmp_path):
    # B (2027 on) costs 300k: 60k a year. Serving 2026 with A and keeping it costs 400k per
    # 1,000 tokens/s over both years; waiting costs a year of penalty (315.36k at 10 USD
    # per Mtok) plus a year of B (60k): 375.36k. So leave 2026 unmet and buy B for 2027.
    a, b = rack("A"), rack("B", capex_usd=300_000, available_from=2027)
    outcome = solve(tmp_path, [2026, 2027], racks=[a, b], penalty=10.0)
    assert orders(outcome) == {(2027, "s1", "B"): 10}
    assert outcome.tables.workloads["unmet_share"].tolist() == pytest.approx([1.0, 0.0])
    check_costs(outcome, [MTOK_PER_YEAR * 10.0, 600_000])
    # Without a cheaper generation (B at A's price) waiting costs 515.36k: buy A now.
    same = solve(tmp_path / "same", [2026, 2027], racks=[a, rack("B", available_from=2027)])
    assert orders(same) == {(2026, "s1", "A"): 10}
    check_costs(same, [2_000_000, 2_000_000])


def test_a_lead_time_forces_a_costlier_available_rack_first(tmp_path):
    # Demand doubles in 2027. B is half A's price but takes a year to arrive: 2026 needs
    # A (the only rack that can be there), 2027's growth goes to B, ordered in 2026.
    a, b = rack("A"), rack("B", capex_usd=500_000, lead_time_years=1)
    growth = [{"workload": "w1", "period": 2027, "demand_multiplier": 2}]
    outcome = solve(tmp_path, [2026, 2027], racks=[a, b], workload_periods=growth)
    assert orders(outcome) == {(2026, "s1", "A"): 10, (2027, "s1", "B"): 10}
    assert outcome.tables.orders.set_index("rack_type")["order_by_year"].to_dict() == {
        "A": 2026.0,
        "B": 2026.0,
    }
    check_costs(outcome, [2_000_000, 3_000_000])
    # Without the lead time B serves from the start: 10 B, then 10 more.
    quick = solve(tmp_path / "quick", [2026, 2027], racks=[a, rack("B", capex_usd=500_000)])
    assert orders(quick) == {(2026, "s1", "B"): 10}


def test_a_retirement_forces_a_replacement(tmp_path):
    # 10 installed A serve through 2027 (at the year-0 price, as installed racks always do);
    # in 2028 they are gone and 10 new ones replace them, not one earlier.
    installed = [{"site": "s1", "rack_type": "A", "count": 10, "retire_year": 2027}]
    outcome = solve(tmp_path, [2026, 2027, 2028], racks=[rack("A")], installed=installed)
    assert orders(outcome) == {(2028, "s1", "A"): 10}
    racks = outcome.tables.racks
    assert racks["installed"].tolist() == [10, 10, 0]
    assert in_service(outcome) == {2026: 10, 2027: 10, 2028: 10}
    check_costs(outcome, [2_000_000] * 3)


def test_a_rack_retires_at_the_end_of_its_lifetime(tmp_path):
    # A two-year life: racks entering in 2026 serve 2026 and 2027, not 2028.
    outcome = solve(
        tmp_path, [2026, 2027, 2028], racks=[rack("A", capex_usd=400_000, lifetime_years=2)]
    )
    assert orders(outcome) == {(2026, "s1", "A"): 10, (2028, "s1", "A"): 10}
    assert in_service(outcome) == {2026: 10, 2027: 10, 2028: 10}
    check_costs(outcome, [2_000_000] * 3)


def test_a_power_step_delays_a_purchase(tmp_path):
    # 0.5 MW in 2026 powers 5 racks of 100 kW; the campus gets 1 MW in 2027. A sixth rack
    # in 2026 would stand unpowered for a year: buy 5 now and 5 when the power arrives.
    step = [{"site": "s1", "period": 2026, "power_cap_mw": 0.5}]
    outcome = solve(
        tmp_path,
        [2026, 2027],
        racks=[rack("A")],
        sites=[site(power_cap_mw=1.0)],
        site_periods=step,
        penalty=10.0,
    )
    assert orders(outcome) == {(2026, "s1", "A"): 5, (2027, "s1", "A"): 5}
    sites = outcome.tables.sites
    assert sites["power_cap_mw"].tolist() == [0.5, 1.0]
    assert sites["power_mw"].tolist() == pytest.approx([0.5, 1.0])
    check_costs(outcome, [1_000_000 + MTOK_PER_YEAR / 2 * 10.0, 2_000_000])


@pytest.mark.parametrize(
    ("change", "discount", "bought"),
    [
        # Price +80%/year, no discount: now costs 3 annuities of 1M, 2028 one of 3.24M.
        (0.8, 0.0, 2026),
        # The same with 10% discount: now 1 + 1/1.1 + 1/1.21 = 2.736 annuities of 1M, 2028
        # 3.24 / 1.21 = 2.678: discounting moves the purchase to 2028.
        (0.8, 0.1, 2028),
        # Falling prices: 2028 costs 0.81 annuities, now 3.
        (-0.1, 0.0, 2028),
    ],
)
def test_price_decline_and_discounting_move_a_purchase_later(tmp_path, change, discount, bought):
    # Demand only in 2028; a rack bought earlier serves (idle) from the year it arrives.
    later = [{"workload": "w1", "period": y, "demand_multiplier": 0} for y in (2026, 2027)]
    a = rack("A", capex_change_per_year=change)
    outcome = solve(
        tmp_path, [2026, 2027, 2028], racks=[a], discount=discount, workload_periods=later
    )
    assert orders(outcome) == {(bought, "s1", "A"): 10}
    price = 1_000_000 * (1 + change) ** (bought - 2026)
    assert outcome.tables.orders["capex_usd_each"].tolist() == pytest.approx([price])
    crf = discount / (1 - (1 + discount) ** -5) if discount else 0.2
    serving = [year >= bought for year in (2026, 2027, 2028)]
    check_costs(outcome, [10 * price * crf * s for s in serving])


def test_a_delivery_limit_spreads_the_orders(tmp_path):
    # 20 racks needed in 2027, at most 10 delivered a period: 10 arrive a year early.
    growth = [
        {"workload": "w1", "period": 2026, "demand_multiplier": 0.5},
        {"workload": "w1", "period": 2027, "demand_multiplier": 2},
    ]
    outcome = solve(
        tmp_path,
        [2026, 2027],
        racks=[rack("A", max_new_per_period=10)],
        workload_periods=growth,
    )
    assert orders(outcome) == {(2026, "s1", "A"): 10, (2027, "s1", "A"): 10}
    check_costs(outcome, [2_000_000, 4_000_000])


def test_growth_per_year_compounds_from_year_0(tmp_path):
    outcome = solve(
        tmp_path, [2026, 2027, 2028], racks=[rack("A")], workloads=[workload(growth_per_year=0.5)]
    )
    # 10, 15 and 22.5 racks' worth of demand: 10, then 5, then 8 (22.5 rounds up to 23).
    assert orders(outcome) == {(2026, "s1", "A"): 10, (2027, "s1", "A"): 5, (2028, "s1", "A"): 8}
    served = outcome.tables.periods["served_tokens_per_s"].tolist()
    assert served == pytest.approx([10_000, 15_000, 22_500])


def test_the_first_stage_is_the_racks_ordered_now(tmp_path):
    # Period 0's racks always; A (no lead time) nothing later. B (1 year) enters 2027 at
    # the earliest, ordered in 2026: now. C (1.5 years) enters 2028, ordered mid-2026: now.
    # D (2.5 years) enters 2029, ordered mid-2026 too; its 2030 racks wait until 2027.5.
    leads = {"A": 0, "B": 1, "C": 1.5, "D": 2.5}
    path = write_case(
        tmp_path,
        racks=[rack(name, lead_time_years=lead) for name, lead in leads.items()],
        workloads=[workload()],
        throughput=[decode(name, 1000) for name in leads],
        config={"periods": [2026, 2027, 2028, 2029, 2030]},
    )
    index = build_index(read_case(path))
    layout = plan_layout(index)
    mask = first_stage_columns(index, layout)
    now = {(row.rack_type, row.period) for row in index.sr[mask[layout.n]].itertuples()}
    bought = index.buy[mask[layout.b]].merge(
        index.sr[["rack_type"]], left_on="sr", right_index=True
    )
    now |= {(row.rack_type, row.period) for row in bought.itertuples()}
    assert now == {(r, 2026) for r in leads} | {("B", 2027), ("C", 2028), ("D", 2029)}
    assert not mask[layout.a].any() and not mask[layout.y].any()


def test_multi_period_inputs_are_checked_all_at_once(tmp_path):
    path = write_case(
        tmp_path,
        racks=[rack("A", available_from=2028, available_until=2027), rack("B")],
        workloads=[workload()],
        throughput=[decode("A", 1000), decode("B", 1000)],
        installed=[{"site": "s1", "rack_type": "A", "count": 2, "retire_year": 2025}],
        site_periods=[{"site": "s1", "period": 2031, "power_cap_mw": 5}],
        workload_periods=[{"workload": "nope", "period": 2026, "demand_multiplier": 2}],
        config={"periods": [2026, 2027, 2028]},
    )
    with pytest.raises(CaseError) as err:
        read_case(path)
    assert [str(p) for p in err.value.problems] == [
        "racks.csv row 1 (rack_type=A), available_until: 2027 is before available_from 2028",
        "installed.csv row 1 (site=s1, rack_type=A), retire_year: 2025 is before the first"
        " period 2026: racks retired by then are not installed; leave the row out",
        "site_periods.csv row 1 (site=s1, period=2031), period: 2031 is not one of case.yaml"
        " periods (2026, 2027, 2028)",
        "workload_periods.csv row 1 (workload=nope, period=2026), workload: unknown workload"
        " 'nope': not in workloads.csv",
    ]


@pytest.mark.parametrize(
    ("periods", "message"),
    [
        ([2026, 2028, 2029], "must be equally spaced"),
        ([2027, 2026], "must be strictly increasing"),
        ([2026.5], "must be whole years"),
        (2026, "must be a list of years"),
        ([3000], "years must be in [1900, 2200]"),
    ],
)
def test_periods_must_be_equally_spaced_whole_years(tmp_path, periods, message):
    path = write_case(tmp_path, config={"periods": periods})
    with pytest.raises(CaseError) as err:
        read_case(path)
    (problem,) = err.value.problems
    assert problem.column == "periods" and message in problem.message


def test_a_case_without_periods_refuses_multi_period_inputs(tmp_path):
    path = write_case(
        tmp_path,
        racks=[rack("A", lead_time_years=1, max_new_per_period=4)],
        workloads=[workload(growth_per_year=0.2)],
        throughput=[decode("A", 1000)],
        site_periods=[{"site": "s1", "period": 2027, "power_cap_mw": 5}],
    )
    with pytest.raises(CaseError) as err:
        read_case(path)
    problems = [str(p) for p in err.value.problems]
    assert problems == [
        "racks.csv row 1 (rack_type=A), lead_time_years: 1 needs `periods` in case.yaml (a case"
        " without periods is one steady-state year); leave it blank",
        "racks.csv row 1 (rack_type=A), max_new_per_period: 4 needs `periods` in case.yaml (a"
        " case without periods is one steady-state year); leave it blank",
        "workloads.csv row 1 (workload=w1), growth_per_year: 0.2 needs `periods` in case.yaml"
        " (a case without periods is one steady-state year); leave it blank",
        "site_periods.csv: needs `periods` in case.yaml (a case without periods is one"
        " steady-state year); remove the file or add periods",
    ]


# --- properties on random small cases ----------------------------------------------------

MULTI_SETTINGS = settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def solve_tables(tables: dict, **config):
    with tempfile.TemporaryDirectory() as tmp:
        path = write_case(
            Path(tmp),
            **tables,
            config={"unmet_penalty_usd_per_mtok": 5.0, **config},
        )
        return plan_case(read_case(path))


@MULTI_SETTINGS
@given(small_cases())
def test_one_period_equals_the_steady_state_model(tables):
    steady = solve_tables(tables)
    one = solve_tables(tables, periods=[2026])
    assert one.summary.objective == steady.summary.objective  # the same model, bit for bit
    for name, table in steady.tables.as_dict().items():
        got = one.tables.as_dict()[name]
        assert (got.pop("period") == 2026).all()
        pd.testing.assert_frame_equal(got, table, check_exact=True)
    assert one.summary.npv_cost_usd == pytest.approx(steady.summary.objective, rel=1e-12)


@MULTI_SETTINGS
@given(small_cases())
def test_two_identical_periods_cost_twice_one_and_level_to_it(tables):
    one = solve_tables(tables)
    two = solve_tables(tables, periods=[2026, 2027])
    assert two.summary.status == one.summary.status == "optimal"
    objective = one.summary.objective
    assert two.summary.npv_cost_usd == pytest.approx(2 * objective, rel=2e-6, abs=1e-3)
    assert two.summary.objective == pytest.approx(objective, rel=2e-6, abs=1e-3)
    # Levelized figures are the one period's (the same plan serves both years).
    level, steady = two.summary.figures.as_dict(), one.summary.figures.as_dict()
    for key in ("served_tokens_per_s", "cost_per_mtok_usd", "tokens_per_joule"):
        if steady[key] is not None:
            assert level[key] == pytest.approx(steady[key], rel=2e-6), key
    periods = two.tables.periods
    assert periods["weight"].tolist() == [1.0, 1.0]


@st.composite
def windowed_cases(draw):
    """small_cases over 2026-2029 with random availability windows, lead times, lifetimes,
    retiring installed racks and growth."""
    tables = draw(small_cases())
    for r in tables["racks"]:
        start = draw(st.sampled_from([None, 2026, 2027, 2028]))
        r["available_from"] = start
        r["available_until"] = draw(
            st.sampled_from([None, *[y for y in (2027, 2028, 2029) if start is None or y >= start]])
        )
        r["lead_time_years"] = draw(st.sampled_from([0, 0.5, 1, 2]))
        r["lifetime_years"] = draw(st.sampled_from([1, 2, 3, 5]))
        r["capex_change_per_year"] = draw(st.sampled_from([-0.2, 0.0, 0.3]))
    first = tables["racks"][0]
    fits = [
        s["site"]
        for s in tables["sites"]
        if first["cooling"] == "air" or s["liquid_cooling"] == "true"
    ]
    if fits and draw(st.booleans()):
        tables["installed"] = [
            {
                "site": fits[0],
                "rack_type": first["rack_type"],
                "count": 1,  # within every max_count and floor of small_cases
                "retire_year": draw(st.sampled_from([2026, 2027, 2028, None])),
            }
        ]
    for w in tables["workloads"]:
        w["growth_per_year"] = draw(st.sampled_from([0.0, 0.3, 1.0]))
    return tables


@MULTI_SETTINGS
@given(windowed_cases())
def test_no_rack_serves_outside_its_window(tables):
    years = [2026, 2027, 2028, 2029]
    outcome = solve_tables(tables, periods=years, discount_rate=0.05)
    assert outcome.summary.status == "optimal"
    racks = {r["rack_type"]: r for r in tables["racks"]}
    orders = outcome.tables.orders
    for order in orders.itertuples():
        r = racks[order.rack_type]
        assert r["available_from"] is None or order.period >= r["available_from"]
        assert r["available_until"] is None or order.period <= r["available_until"]
        assert order.period >= 2026 + r["lead_time_years"]
        assert order.order_by_year == order.period - r["lead_time_years"]
    # Racks in service = installed still serving + every order still within its lifetime.
    cohorts = tables.get("installed") or []
    for row in outcome.tables.racks.itertuples():
        r = racks[row.rack_type]
        installed = sum(
            c["count"]
            for c in cohorts
            if (c["site"], c["rack_type"]) == (row.site, row.rack_type)
            and (c["retire_year"] is None or c["retire_year"] >= row.period)
        )
        serving = orders[
            (orders["site"] == row.site)
            & (orders["rack_type"] == row.rack_type)
            & (orders["period"] <= row.period)
            & (row.period < orders["period"] + r["lifetime_years"])
        ]
        assert row.installed == installed
        assert row.count == installed + serving["new_racks"].sum()
    # Placement only on racks in service, powered within each year's cap.
    in_service = outcome.tables.racks.set_index(["period", "site", "rack_type"])["count"]
    for p in outcome.tables.placement.itertuples():
        assert in_service.get((p.period, p.site, p.rack_type), 0) > 0
    sites = outcome.tables.sites
    assert (sites["power_mw"] <= sites["power_cap_mw"] * (1 + 1e-7) + 1e-9).all()
