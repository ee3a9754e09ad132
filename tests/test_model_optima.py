"""Hand-computed optima on tiny cases: each test makes one constraint family bind.

The base case: one site, one workload decoding 10,000 tokens/s, energy free, straight-line
depreciation. Rack A costs 1M USD over 5 years (200k USD/year) for 1,000 tokens/s; rack B
costs 2M USD (400k USD/year) for the same throughput but draws half the power and takes
one floor slot instead of two. Without limits the optimum is 10 A = 2.0M USD/year.
"""

from __future__ import annotations

import math

import pytest

from tests.conftest import solve_case

SECONDS_PER_YEAR = 31_536_000


def rack(rack_type: str, **overrides) -> dict:
    row = {
        "rack_type": rack_type,
        "kind": "gpu",
        "capex_usd": 1_000_000,
        "lifetime_years": 5,
        "power_kw": 100,
        "idle_power_frac": 0.0,
        "opex_usd_per_year": 0,
        "slots": 2,
        "cooling": "air",
        "max_count": None,
    }
    row.update(overrides)
    return row


RACK_A = rack("A")
RACK_B = rack("B", capex_usd=2_000_000, power_kw=50, slots=1)


def site(name: str = "s1", **overrides) -> dict:
    row = {
        "site": name,
        "region": "us",
        "power_cap_mw": 100,
        "pue": 1.0,
        "energy_usd_per_mwh": 0,
        "max_slots": None,
        "liquid_cooling": "false",
    }
    row.update(overrides)
    return row


def workload(name: str = "w1", **overrides) -> dict:
    row = {
        "workload": name,
        "model": "m",
        "regions": "*",
        "prefill_tokens_per_s": 0,
        "decode_tokens_per_s": 10_000,
        "min_user_tps": 50,
        "max_ttft_ms": None,
        "load_factor": 1.0,
        "unmet_penalty_usd_per_mtok": None,
        "min_served_share": 0,
    }
    row.update(overrides)
    return row


def decode(rack_type: str, tokens_per_s: float, user_tps: float = 50) -> dict:
    return {
        "rack_type": rack_type,
        "model": "m",
        "phase": "decode",
        "tokens_per_s": tokens_per_s,
        "user_tps": user_tps,
        "ttft_ms": None,
        "source": "test",
    }


def prefill(rack_type: str, tokens_per_s: float, ttft_ms: float) -> dict:
    return {
        "rack_type": rack_type,
        "model": "m",
        "phase": "prefill",
        "tokens_per_s": tokens_per_s,
        "user_tps": None,
        "ttft_ms": ttft_ms,
        "source": "test",
    }


THROUGHPUT_AB = [decode("A", 1000), decode("B", 1000)]


def solve(tmp_path, *, racks=None, sites=None, workloads=None, throughput=None, **kw):
    racks = racks or [RACK_A, RACK_B]
    names = {r["rack_type"] for r in racks}
    return solve_case(
        tmp_path,
        racks=racks,
        sites=sites or [site()],
        workloads=workloads or [workload()],
        throughput=throughput or [t for t in THROUGHPUT_AB if t["rack_type"] in names],
        installed=kw.pop("installed", None),
        config={"unmet_penalty_usd_per_mtok": 1000.0, **kw.pop("config", {})},
    )


def counts(outcome) -> dict[tuple[str, str], int]:
    racks = outcome.tables.racks
    return {
        (row.site, row.rack_type): int(row.count) for row in racks.itertuples() if row.count > 0
    }


def test_unconstrained_buys_the_cheapest_throughput(tmp_path):
    outcome = solve(tmp_path)
    assert counts(outcome) == {("s1", "A"): 10}
    assert outcome.summary.figures.fleet_cost_usd_per_year == pytest.approx(2_000_000)
    assert outcome.summary.objective == pytest.approx(2_000_000)


def test_power_cap_binds(tmp_path):
    # a + b = 10, 100 a + 50 b <= 750 kW  =>  a <= 5; cost 200k a + 400k b is least at a = 5.
    outcome = solve(tmp_path, sites=[site(power_cap_mw=0.75)])
    assert counts(outcome) == {("s1", "A"): 5, ("s1", "B"): 5}
    assert outcome.summary.objective == pytest.approx(3_000_000)
    assert outcome.tables.sites["power_mw"].iloc[0] == pytest.approx(0.75)


def test_floor_slots_bind(tmp_path):
    # 2 a + b <= 15 slots, a + b = 10  =>  a <= 5.
    outcome = solve(tmp_path, sites=[site(max_slots=15)])
    assert counts(outcome) == {("s1", "A"): 5, ("s1", "B"): 5}
    assert outcome.summary.objective == pytest.approx(3_000_000)


def test_supply_limit_binds(tmp_path):
    outcome = solve(tmp_path, racks=[rack("A", max_count=4), RACK_B])
    assert counts(outcome) == {("s1", "A"): 4, ("s1", "B"): 6}
    assert outcome.summary.objective == pytest.approx(800_000 + 2_400_000)


def test_liquid_rack_needs_liquid_cooling(tmp_path):
    outcome = solve(tmp_path, racks=[rack("A", cooling="liquid"), RACK_B])
    assert counts(outcome) == {("s1", "B"): 10}
    assert outcome.summary.objective == pytest.approx(4_000_000)


def test_region_restriction_binds(tmp_path):
    # The cheap liquid rack fits only the US site; the workload must stay in the EU.
    outcome = solve(
        tmp_path,
        racks=[rack("A", cooling="liquid"), RACK_B],
        sites=[site("us1", liquid_cooling="true"), site("eu1", region="eu")],
        workloads=[workload(regions="eu")],
    )
    assert counts(outcome) == {("eu1", "B"): 10}
    assert outcome.summary.objective == pytest.approx(4_000_000)


def test_decode_slo_picks_the_qualifying_point_of_the_curve(tmp_path):
    # Rack A: 1,000 tokens/s at 50 tokens/s per user, 400 tokens/s at 200 per user.
    curve = [decode("A", 1000, user_tps=50), decode("A", 400, user_tps=200)]
    fast = solve(
        tmp_path / "fast", racks=[RACK_A], throughput=curve, workloads=[workload(min_user_tps=100)]
    )
    assert counts(fast) == {("s1", "A"): 25}  # 10,000 / 400
    slow = solve(
        tmp_path / "slow", racks=[RACK_A], throughput=curve, workloads=[workload(min_user_tps=50)]
    )
    assert counts(slow) == {("s1", "A"): 10}


def test_ttft_limit_picks_the_qualifying_prefill_point(tmp_path):
    points = [prefill("A", 5000, ttft_ms=500), prefill("A", 2000, ttft_ms=100)]
    demand = {"prefill_tokens_per_s": 10_000, "decode_tokens_per_s": 0}
    strict = solve(
        tmp_path / "strict",
        racks=[RACK_A],
        throughput=points,
        workloads=[workload(max_ttft_ms=200, **demand)],
    )
    assert counts(strict) == {("s1", "A"): 5}
    loose = solve(
        tmp_path / "loose", racks=[RACK_A], throughput=points, workloads=[workload(**demand)]
    )
    assert counts(loose) == {("s1", "A"): 2}


def test_installed_racks_stay_and_are_used(tmp_path):
    # 3 owned B racks serve 3,000 tokens/s; 7 new A racks serve the rest.
    outcome = solve(tmp_path, installed=[{"site": "s1", "rack_type": "B", "count": 3}])
    assert counts(outcome) == {("s1", "A"): 7, ("s1", "B"): 3}
    # Owned racks count their capex (docs/model.md section 4): 3 x 400k + 7 x 200k.
    assert outcome.summary.objective == pytest.approx(1_200_000 + 1_400_000)
    racks = outcome.tables.racks.set_index("rack_type")
    assert racks.loc["B", "installed"] == 3


def test_discount_rate_uses_the_capital_recovery_factor(tmp_path):
    crf = 0.1 / (1 - 1.1**-5)
    outcome = solve(tmp_path, racks=[RACK_A], config={"discount_rate": 0.1})
    assert outcome.summary.figures.capex_cost_usd_per_year == pytest.approx(10 * 1_000_000 * crf)


def test_unmet_demand_when_cheaper_than_one_more_rack(tmp_path):
    # 10,500 tokens/s needs 10.5 racks. The last 500 tokens/s cost
    # 500 x 31,536,000 / 1e6 x 10 USD = 157,680 USD/year unmet, less than a 200k rack.
    outcome = solve(
        tmp_path,
        racks=[RACK_A],
        workloads=[workload(decode_tokens_per_s=10_500, unmet_penalty_usd_per_mtok=10)],
    )
    assert counts(outcome) == {("s1", "A"): 10}
    penalty = 500 * SECONDS_PER_YEAR / 1e6 * 10
    assert outcome.summary.figures.penalty_cost_usd_per_year == pytest.approx(penalty)
    assert outcome.summary.objective == pytest.approx(2_000_000 + penalty)
    unmet = outcome.tables.workloads["unmet_share"].iloc[0]
    assert unmet == pytest.approx(500 / 10_500)


def test_energy_is_paid_at_average_draw(tmp_path):
    # Per rack: idle 30 kW + busy 70 kW x load 0.5 = 65 kW; 10 racks at PUE 1.2 and
    # 50 USD/MWh: 50 x 1.2 x 650 x 8.76 = 341,640 USD/year.
    outcome = solve(
        tmp_path,
        racks=[rack("A", idle_power_frac=0.3)],
        sites=[site(pue=1.2, energy_usd_per_mwh=50)],
        workloads=[workload(load_factor=0.5)],
    )
    assert counts(outcome) == {("s1", "A"): 10}
    assert outcome.summary.figures.energy_cost_usd_per_year == pytest.approx(341_640)
    served = 10_000 * 0.5
    assert outcome.summary.figures.served_tokens_per_s == pytest.approx(served)
    assert outcome.summary.figures.tokens_per_joule == pytest.approx(served / (1.2 * 650 * 1000))


def test_min_cost_per_token_matches_brute_force(tmp_path):
    # A: 200k USD/year, 1,000 tokens/s, 100 kW.  B: 300k USD/year, 1,800 tokens/s, 250 kW.
    # 1 MW cap; at least half of 10,000 tokens/s must be served; energy is free.
    racks = [rack("A"), rack("B", capex_usd=1_500_000, power_kw=250)]
    throughput = [decode("A", 1000), decode("B", 1800)]
    outcome = solve(
        tmp_path,
        racks=racks,
        throughput=throughput,
        sites=[site(power_cap_mw=1.0)],
        workloads=[workload(min_served_share=0.5)],
        config={"objective": "min_cost_per_token"},
    )
    best = math.inf
    for a in range(0, 11):
        for b in range(0, 5):
            # Power the racks with the most tokens per kW first (A: 10, B: 7.2).
            powered_a = min(a, 1000 / 100)
            powered_b = min(b, (1000 - 100 * powered_a) / 250)
            served = min(10_000, 1000 * powered_a + 1800 * powered_b)
            if served < 5_000:
                continue
            best = min(best, (200_000 * a + 300_000 * b) / (served * SECONDS_PER_YEAR / 1e6))
    assert outcome.summary.objective == pytest.approx(best, rel=1e-6)
    assert outcome.summary.figures.cost_per_mtok_usd == pytest.approx(best, rel=1e-6)


def test_cost_parts_add_up(tmp_path):
    outcome = solve(
        tmp_path,
        racks=[rack("A", idle_power_frac=0.2, opex_usd_per_year=10_000), RACK_B],
        sites=[site(power_cap_mw=0.8, energy_usd_per_mwh=70, pue=1.3)],
    )
    s = outcome.summary.to_json()
    assert s["fleet_cost_usd_per_year"] == pytest.approx(
        s["capex_cost_usd_per_year"] + s["opex_cost_usd_per_year"] + s["energy_cost_usd_per_year"]
    )
    assert s["objective"] == pytest.approx(
        s["fleet_cost_usd_per_year"] + s["penalty_cost_usd_per_year"], rel=1e-6
    )
