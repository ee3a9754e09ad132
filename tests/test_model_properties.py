"""Properties that hold on any small case: caps hold, more power never costs more, parts add up."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import solve_case

RACK_TYPES = ["g1", "g2", "l1"]


@st.composite
def small_cases(draw):
    """Two sites, up to three rack types, up to three workloads, random figures."""
    racks = [
        {
            "rack_type": name,
            "kind": "lpu" if name == "l1" else "gpu",
            "capex_usd": draw(st.integers(500_000, 5_000_000)),
            "lifetime_years": draw(st.integers(3, 6)),
            "power_kw": draw(st.integers(20, 200)),
            "idle_power_frac": draw(st.sampled_from([0.0, 0.2, 0.4])),
            "opex_usd_per_year": draw(st.integers(0, 100_000)),
            "slots": draw(st.integers(1, 3)),
            "cooling": draw(st.sampled_from(["air", "liquid"])),
            "max_count": draw(st.one_of(st.none(), st.integers(2, 30))),
        }
        for name in RACK_TYPES[: draw(st.integers(1, 3))]
    ]
    sites = [
        {
            "site": f"s{i}",
            "region": region,
            "power_cap_mw": draw(st.floats(0.2, 3.0)),
            "pue": draw(st.floats(1.0, 1.5)),
            "energy_usd_per_mwh": draw(st.integers(20, 150)),
            "max_slots": draw(st.one_of(st.none(), st.integers(5, 40))),
            "liquid_cooling": draw(st.sampled_from(["true", "false"])),
        }
        for i, region in enumerate(["us", "eu"])
    ]
    throughput = []
    for r in racks:
        throughput.append(
            {
                "rack_type": r["rack_type"],
                "model": "m",
                "phase": "prefill",
                "tokens_per_s": draw(st.integers(2_000, 20_000)),
                "ttft_ms": 200,
            }
        )
        fast = draw(st.integers(200, 2_000))
        throughput += [
            {
                "rack_type": r["rack_type"],
                "model": "m",
                "phase": "decode",
                "tokens_per_s": fast * 3,
                "user_tps": 30,
            },
            {
                "rack_type": r["rack_type"],
                "model": "m",
                "phase": "decode",
                "tokens_per_s": fast,
                "user_tps": 300,
            },
        ]
    workloads = [
        {
            "workload": f"w{i}",
            "model": "m",
            "regions": draw(st.sampled_from(["*", "us", "eu"])),
            "prefill_tokens_per_s": draw(st.integers(0, 40_000)),
            "decode_tokens_per_s": draw(st.integers(1, 8_000)),
            "min_user_tps": draw(st.sampled_from([10, 100])),
            "load_factor": draw(st.floats(0.3, 1.0)),
        }
        for i in range(draw(st.integers(1, 3)))
    ]
    return {"racks": racks, "sites": sites, "workloads": workloads, "throughput": throughput}


def solve(tables: dict, **config):
    """Solved in a folder of its own (hypothesis runs many examples in one test)."""
    with tempfile.TemporaryDirectory() as tmp:
        config = {"unmet_penalty_usd_per_mtok": 5.0, **config}
        return solve_case(Path(tmp), optimal=False, **tables, config=config)


PROPERTY_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(small_cases())
def test_every_cap_holds_and_parts_add_up(tables):
    outcome = solve(tables)
    assert outcome.summary.status == "optimal"
    sites = outcome.tables.sites
    assert (sites["power_mw"] <= sites["power_cap_mw"] * (1 + 1e-7) + 1e-9).all()
    assert (sites["slots"] <= sites["max_slots"] + 1e-9).all()
    racks = outcome.tables.racks
    limits = {r["rack_type"]: r["max_count"] for r in tables["racks"]}
    for rack_type, total in racks.groupby("rack_type")["count"].sum().items():
        if limits[rack_type] is not None:
            assert total <= limits[rack_type]
    # Liquid racks only where there is liquid cooling; placements only in allowed regions.
    liquid_sites = {s["site"] for s in tables["sites"] if s["liquid_cooling"] == "true"}
    liquid_racks = {r["rack_type"] for r in tables["racks"] if r["cooling"] == "liquid"}
    bought = racks[racks["count"] > 0]
    assert all(
        row.site in liquid_sites for row in bought.itertuples() if row.rack_type in liquid_racks
    )
    region = {s["site"]: s["region"] for s in tables["sites"]}
    allowed = {w["workload"]: w["regions"] for w in tables["workloads"]}
    for row in outcome.tables.placement.itertuples():
        assert allowed[row.workload] in ("*", region[row.site])
    s = outcome.summary.to_json()
    assert s["fleet_cost_usd_per_year"] == pytest.approx(
        s["capex_cost_usd_per_year"] + s["opex_cost_usd_per_year"] + s["energy_cost_usd_per_year"]
    )
    assert s["objective"] == pytest.approx(
        s["fleet_cost_usd_per_year"] + s["penalty_cost_usd_per_year"], rel=1e-6, abs=1e-3
    )
    served = outcome.tables.workloads["served_share"].to_numpy()
    assert np.all((served >= -1e-9) & (served <= 1 + 1e-9))


@PROPERTY_SETTINGS
@given(small_cases(), st.floats(1.1, 3.0))
def test_raising_a_power_cap_never_raises_the_optimal_cost(tables, factor):
    before = solve(tables).summary.objective
    raised = [dict(s, power_cap_mw=s["power_cap_mw"] * factor) for s in tables["sites"]]
    after = solve({**tables, "sites": raised}).summary.objective
    assert after <= before * (1 + 1e-6) + 1e-3
