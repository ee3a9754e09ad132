"""The bundled example case: traceable to the catalog, valid, and solvable to optimality."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from fleetopt.catalog import example
from fleetopt.catalog.example import EXAMPLE_DIR, write_example
from fleetopt.catalog.perf import load_catalog
from fleetopt.catalog.prices import PRICE_COLUMNS, load_prices, market_price_usd_per_mtok
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
    # Penalties are the market price of each workload's tokens: the sovereign chat, served on
    # an air-cooled hall at about that price, is the only demand left unserved in earnest,
    # within its minimum served share of 90%; elsewhere at most a sliver (0.1%) that a whole
    # extra rack would cost more to serve than buying its tokens.
    assert summary["penalty_cost_usd_per_year"] < 0.01 * summary["fleet_cost_usd_per_year"]
    unmet = pd.read_parquet(out / "workloads.parquet").groupby("workload")["unmet_share"].max()
    assert set(unmet[unmet > 1e-3].index) <= {"chat-eu-sovereign"}
    assert unmet["chat-eu-sovereign"] <= 0.1 + 1e-9
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
    # The report of a real multi-period plan shows its schedule.
    result = CliRunner().invoke(cli.main, ["report", str(out)])
    assert result.exit_code == 0, result.output
    page = (out / "report.html").read_text()
    assert "Order schedule" in page and "Racks in service" in page


def test_example_penalties_are_the_market_price_of_each_workloads_tokens():
    penalty = pd.read_csv(EXAMPLE_DIR / "workloads.csv").set_index("workload")[
        "unmet_penalty_usd_per_mtok"
    ]
    # chat-us, DeepSeek-R1, 80% input tokens: DeepSeek's API $0.55 in / $2.19 out -> 0.878,
    # OpenRouter $0.70 / $2.50 -> 1.060; the median of the two, 0.969 USD per million tokens.
    assert penalty["chat-us"] == pytest.approx(0.969)
    assert penalty["batch-agents"] == pytest.approx(0.969 / 2)  # batch tokens: half price
    # Llama 3.3 70B, 2/3 input: Groq $0.59 / $0.79 -> 0.657, OpenRouter $0.10 / $0.32 -> 0.173.
    assert penalty["chat-eu-sovereign"] == pytest.approx(0.415)
    # gpt-oss-120b, 10/11 input: Groq 0.191, Cerebras 0.386, OpenRouter 0.053 -> median 0.191.
    assert penalty["agentic-coding"] == pytest.approx(0.1909)
    # Llama 3.1 8B, 20/21 input: Groq $0.05 / $0.08 -> 0.0514.
    assert penalty["extract-small"] == pytest.approx(0.0514)


def test_a_planners_penalty_is_kept(monkeypatch):
    workloads = example.WORKLOADS.copy()
    workloads.loc[workloads["workload"] == "chat-us", "unmet_penalty_usd_per_mtok"] = 3.0
    monkeypatch.setattr(example, "WORKLOADS", workloads)
    built = example.build_example()["workloads"].set_index("workload")
    assert built.loc["chat-us", "unmet_penalty_usd_per_mtok"] == 3.0
    assert built.loc["chat-eu-sovereign", "unmet_penalty_usd_per_mtok"] == pytest.approx(0.415)


def test_every_price_names_its_page_and_date():
    prices = load_prices()
    assert list(prices.columns) == list(PRICE_COLUMNS)
    assert prices["url"].str.startswith("https://").all()
    assert prices["date"].astype(str).str.fullmatch(r"20\d\d(-\d\d)?").all()
    assert prices["source"].str.startswith("public:").all()
    assert (prices["input_usd_per_mtok"] <= prices["output_usd_per_mtok"]).all()
    assert set(load_catalog().models["model"]) <= set(prices["model"])


def test_market_price_is_the_median_blend_and_nan_without_prices():
    prices = pd.DataFrame(
        {
            "model": ["m", "m", "m"],
            "input_usd_per_mtok": [1.0, 2.0, 10.0],
            "output_usd_per_mtok": [3.0, 4.0, 20.0],
        }
    )
    got = market_price_usd_per_mtok(prices, pd.Series(["m", "m", "x"]), pd.Series([0.5, 1.0, 0.5]))
    assert got[:2].tolist() == [3.0, 2.0]  # blends 2 / 3 / 15 -> 3; inputs 1 / 2 / 10 -> 2
    assert np.isnan(got[2])
