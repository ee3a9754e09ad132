"""Synthetic cases: valid, fleet-shaped, deterministic per seed, and solvable."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from fleetopt.io.case import Case, read_case
from fleetopt.io.schema import PERIOD_COLUMNS
from fleetopt.model.index import build_index
from fleetopt.pipelines.plan import plan_case
from fleetopt.testing.synthetic import SyntheticParams, synthetic_case, synthetic_tables

TABLES = ("racks", "sites", "workloads", "throughput", "installed")


@pytest.mark.parametrize(("size", "seed"), [((3, 2, 4), 0), ((5, 4, 6), 1), ((20, 8, 24), 2)])
def test_ids_unique_and_references_resolve(size: tuple[int, int, int], seed: int) -> None:
    case = synthetic_case(*size, seed=seed)
    assert (len(case.sites), len(case.racks), len(case.workloads)) == size
    for table, key in (("racks", "rack_type"), ("sites", "site"), ("workloads", "workload")):
        assert getattr(case, table)[key].is_unique
    racks, sites = set(case.racks["rack_type"]), set(case.sites["site"])
    assert set(case.throughput["rack_type"]) <= racks
    assert set(case.workloads["model"]) <= set(case.throughput["model"])
    assert set(case.installed["site"]) <= sites
    assert set(case.installed["rack_type"]) <= racks
    regions = set(case.sites["region"])
    assert all(set(listed) <= regions for listed in case.workloads["region_list"])
    # Installed liquid racks stand at liquid sites, and their floor space fits.
    installed = case.installed.merge(case.racks, on="rack_type").merge(case.sites, on="site")
    assert ((installed["cooling"] == "air") | installed["liquid_cooling"]).all()
    slots = (installed["count"] * installed["slots"]).groupby(installed["site"]).sum()
    assert (slots <= installed.groupby("site")["max_slots"].first()).all()
    # Supply limits leave room for what is already installed.
    owned = case.installed.groupby("rack_type")["count"].sum()
    limits = case.racks.set_index("rack_type")["max_count"]
    assert (owned <= limits.reindex(owned.index)).all()


def test_fleet_shaped() -> None:
    case = synthetic_case(20, 8, 24, seed=3)
    assert case.sites["region"].nunique() >= 3
    assert set(case.racks["cooling"]) == {"air", "liquid"}
    assert case.sites["liquid_cooling"].any() and not case.sites["liquid_cooling"].all()
    points = case.throughput.groupby(["rack_type", "model", "phase"]).size().unstack()
    assert points["decode"].between(3, 4).all()
    assert points["prefill"].between(1, 2).all()
    assert len(case.installed) > 0
    assert np.isfinite(case.racks["max_count"]).any()
    assert np.isfinite(case.sites["max_slots"]).any()
    assert (case.workloads["regions"] != "*").any()
    assert (case.workloads["min_user_tps"] > 0).any()
    # Every workload's decode SLO is met by some rack type, so no phase is unservable.
    assert build_index(case).warnings == ()


def test_dtypes_match_read_case(tmp_path) -> None:
    case = synthetic_case(4, 3, 5, seed=0)
    again = read_case(synthetic_tables(4, 3, 5, seed=0).write(tmp_path / "case"))
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(case, name), getattr(again, name))
        assert getattr(case, name).index.equals(pd.RangeIndex(len(getattr(case, name))))


def test_deterministic_per_seed() -> None:
    first, second = synthetic_case(6, 5, 8, seed=11), synthetic_case(6, 5, 8, seed=11)
    other = synthetic_case(6, 5, 8, seed=12)
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name))
    assert not first.workloads.equals(other.workloads)
    assert first.name == second.name != other.name


def test_small_case_solves_to_optimality_and_costs_add_up() -> None:
    case: Case = synthetic_case(5, 4, 6, seed=0)
    outcome = plan_case(case)
    s = outcome.summary.to_json()
    assert s["status"] == "optimal"
    parts = s["capex_cost_usd_per_year"] + s["opex_cost_usd_per_year"]
    parts += s["energy_cost_usd_per_year"]
    assert math.isclose(parts, s["fleet_cost_usd_per_year"], rel_tol=1e-12)
    total = s["fleet_cost_usd_per_year"] + s["penalty_cost_usd_per_year"]
    assert math.isclose(s["objective"], total, rel_tol=1e-6)
    racks = outcome.tables.racks
    assert (racks["count"] >= racks["installed"]).all()
    per_site = racks.groupby("site")["count"].sum()
    assert per_site.max() >= 10  # fleet-sized: tens of racks at the busiest sites


def test_multi_period_option_extends_the_steady_state_case() -> None:
    steady = synthetic_case(6, 5, 8, seed=4)
    multi = synthetic_case(6, 5, 8, seed=4, params=SyntheticParams(periods=4))
    assert multi.periods == (2026, 2027, 2028, 2029) and not steady.multi_period
    # Its first year is the steady-state case: the same tables, plus the roadmap columns.
    for name in TABLES:
        base = getattr(steady, name).drop(columns=list(PERIOD_COLUMNS.get(name, ())))
        pd.testing.assert_frame_equal(getattr(multi, name)[base.columns], base, obj=name)
    assert (multi.workloads["growth_per_year"] > 0).all()
    limited = np.isfinite(multi.racks["max_count"])
    assert (np.isfinite(multi.racks["max_new_per_period"]) == limited).all()
    unlimited = multi.racks[~limited]  # what keeps every minimum served share feasible
    assert (unlimited["lead_time_years"] == 0).all() and np.isinf(unlimited["available_from"]).all()
    caps = multi.site_periods.pivot(index="site", columns="period", values="power_cap_mw")
    assert list(caps.columns) == [2028.0]  # steps every two years
    base_caps = steady.sites.set_index("site")["power_cap_mw"]
    assert (caps[2028.0] > base_caps.reindex(caps.index)).all()
    outcome = plan_case(multi.replace(solver=multi.solver.with_overrides(relative_gap=1e-3)))
    assert outcome.summary.status == "feasible" and outcome.summary.mip_gap <= 1e-3
