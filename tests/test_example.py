"""The bundled example case: traceable to the catalog, valid, and solvable to optimality."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from fleetopt.catalog.example import EXAMPLE_DIR, write_example
from fleetopt.io.case import read_case

TABLES = [
    "racks",
    "sites",
    "workloads",
    "throughput",
    "installed",
    "site_periods",
    "workload_periods",
]


def test_committed_example_equals_the_generator(tmp_path: Path):
    fresh = write_example(tmp_path / "example")
    assert (fresh / "case.yaml").read_text() == (EXAMPLE_DIR / "case.yaml").read_text()
    for name in TABLES:
        want = pd.read_csv(fresh / f"{name}.csv")
        got = pd.read_csv(EXAMPLE_DIR / f"{name}.csv")
        pd.testing.assert_frame_equal(got, want, check_dtype=False, obj=name)
    assert sorted(p.name for p in EXAMPLE_DIR.iterdir()) == sorted(p.name for p in fresh.iterdir())


def test_example_is_a_valid_case():
    case = read_case(EXAMPLE_DIR)
    assert case.periods == (2026, 2027, 2028, 2029, 2030)
    assert case.sites["region"].nunique() >= 3
    assert case.sites["liquid_cooling"].any() and not case.sites["liquid_cooling"].all()
    assert "source" not in pd.read_csv(EXAMPLE_DIR / "racks.csv").columns
    workloads = pd.read_csv(EXAMPLE_DIR / "workloads.csv")
    assert (workloads["regions"] == "*").any()
    assert workloads["min_user_tps"].max() >= 1000
    installed = pd.read_csv(EXAMPLE_DIR / "installed.csv")
    assert (installed["rack_type"] == "hgx-h100").all()
    assert installed["retire_year"].max() < 2030  # the Hopper base retires
    # The roadmap: the H2 2026 systems serve from 2027, ordered ahead; prices fall.
    racks = case.racks.set_index("rack_type")
    for rack in ("vr-nvl72", "groq3-lpx", "mi400-helios"):
        assert racks.loc[rack, "available_from"] == 2027
        assert racks.loc[rack, "lead_time_years"] > 0
    assert (racks["capex_change_per_year"] < 0).any()
    assert (case.workloads["growth_per_year"] > 0).all()
    steps = case.site_periods[case.site_periods["site"] == "us-east-campus"]
    assert steps["power_cap_mw"].is_monotonic_increasing and len(steps) >= 2
    # Plans on measured hardware use measured numbers: the installed Hopper racks' DeepSeek-R1
    # rows are InferenceX measurements, each naming its run.
    tp = pd.read_csv(EXAMPLE_DIR / "throughput.csv")
    h100 = tp[(tp["rack_type"] == "hgx-h100") & (tp["model"] == "deepseek-r1")]
    assert len(h100) > 0 and h100["source"].str.startswith("measured: InferenceX").all()


def test_example_solves_optimal_and_sensibly(tmp_path: Path):
    cli = pytest.importorskip("fleetopt.cli.main")
    out = tmp_path / "run"
    result = CliRunner().invoke(cli.main, ["solve", str(EXAMPLE_DIR), "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "optimal"
    assert summary["solve_seconds"] < 30
    assert summary["periods"] == [2026, 2027, 2028, 2029, 2030]
    assert summary["penalty_cost_usd_per_year"] < 1e-6 * summary["fleet_cost_usd_per_year"]
    placement = pd.read_parquet(out / "placement.parquet")
    agentic = placement[
        (placement["workload"] == "agentic-coding") & (placement["phase"] == "decode")
    ]
    by_rack = agentic.groupby("rack_type")["racks"].sum()
    assert by_rack.idxmax() == "groq3-lpx"  # 1,000 tok/s/user decode lands on LPX
    eu = placement[placement["workload"] == "chat-eu-sovereign"]
    assert set(eu["site"]) == {"eu-sovereign"}
    orders = pd.read_parquet(out / "orders.parquet")
    first = orders[orders["period"] == 2026]
    assert 50 <= first["new_racks"].sum() <= 1000  # tens to low hundreds of racks now
    assert not first["rack_type"].isin(["vr-nvl72", "groq3-lpx", "mi400-helios"]).any()
    periods = pd.read_parquet(out / "periods.parquet")
    assert periods["served_tokens_per_s"].is_monotonic_increasing  # demand grows, all served
    racks = pd.read_parquet(out / "racks.parquet")
    hopper = racks[racks["rack_type"] == "hgx-h100"].groupby("period")["count"].sum()
    assert hopper.get(2026) == 320 and hopper.get(2029, 0) == 0  # the Hopper base retires
    sites = pd.read_parquet(out / "sites.parquet")
    assert (sites["power_mw"] <= sites["power_cap_mw"] + 1e-6).all()
