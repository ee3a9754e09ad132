"""The seeds' headline claims against fleetopt's catalog figures."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from fleetopt.catalog import claims, perf
from fleetopt.cli.catalog import claims_command

CLAIM_IDS = ["tokens_per_mw", "cost_per_token", "disaggregated_per_mw", "max_user_tps"]


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return claims.claims_table()


def test_four_claims_with_finite_figures(table: pd.DataFrame):
    assert table["claim_id"].tolist() == CLAIM_IDS
    for col in ("claim_value", "fleetopt_value", "ratio"):
        assert np.isfinite(table[col]).all(), col
        assert (table[col] > 0).all(), col
    assert (table["basis"].str.len() > 40).all()


def test_ratio_is_fleetopt_over_claim(table: pd.DataFrame):
    assert np.allclose(table["ratio"], table["fleetopt_value"] / table["claim_value"])
    claimed = table.set_index("claim_id")["claim_value"]
    assert claimed["tokens_per_mw"] == pytest.approx(700 / 22)
    assert claimed["cost_per_token"] == 10
    assert claimed["disaggregated_per_mw"] == 35
    assert claimed["max_user_tps"] == 1500


def test_verdict_says_where_fleetopt_disagrees(table: pd.DataFrame):
    for ratio, verdict in zip(table["ratio"], table["verdict"], strict=True):
        off = ratio < 0.5 or ratio > 2
        assert verdict.startswith("DISAGREES") == off, (ratio, verdict)
    assert claims._verdict(0.1).startswith("DISAGREES: fleetopt's figure is 10.0x lower")
    assert claims._verdict(3.0).startswith("DISAGREES: fleetopt's figure is 3.0x higher")


def test_groq_speed_is_the_fastest_decode_row(table: pd.DataFrame):
    tp = perf.load_catalog().throughput
    rows = tp[(tp["rack_type"] == "groq3-lpx") & (tp["model"] == "deepseek-r1")]
    got = table.set_index("claim_id").loc["max_user_tps", "fleetopt_value"]
    assert got == rows["user_tps"].max()


def test_claims_follow_the_catalog_not_constants():
    # Doubling Vera Rubin's power halves its tokens per MW, so the VR/Hopper ratio halves;
    # its cost per token rises, so the GB200/VR cost ratio falls.
    cat = perf.load_catalog()
    racks = cat.racks.copy()
    racks.loc[racks["rack_type"] == "vr-nvl72", "power_kw"] *= 2
    hot = replace(cat, racks=racks)
    base = claims.claims_table(cat).set_index("claim_id")["fleetopt_value"]
    moved = claims.claims_table(hot).set_index("claim_id")["fleetopt_value"]
    assert moved["tokens_per_mw"] == pytest.approx(base["tokens_per_mw"] / 2)
    assert moved["cost_per_token"] < base["cost_per_token"]
    assert moved["max_user_tps"] == base["max_user_tps"]


def test_cost_per_mtok_hand_worked():
    # A $5M rack over 5 years ($1M/yr) + $0 opex + 100 kW x PUE 1 x 8,760 h x $50/MWh
    # ($43,800/yr) = $1,043,800/yr; at 1M tokens/s that is 31.536e6 Mtok/yr
    # -> $0.0330987 per Mtok.
    rack = pd.Series(
        {"capex_usd": 5e6, "lifetime_years": 5.0, "opex_usd_per_year": 0.0, "power_kw": 100.0}
    )
    cond = claims.ClaimConditions(energy_usd_per_mwh=50.0, pue=1.0)
    assert claims._cost_per_mtok(1e6, rack, cond) == pytest.approx(1_043_800 / 31.536e6)
    assert claims.capital_recovery_factor(0.0, 5) == pytest.approx(0.2)
    assert claims.capital_recovery_factor(0.1, 1) == pytest.approx(1.1)


def test_disaggregation_falls_back_to_a_common_slo_and_says_so(table: pd.DataFrame):
    row = table.set_index("claim_id").loc["disaggregated_per_mw"]
    speeds = claims.max_user_tps_by_rack(perf.load_catalog().throughput, "deepseek-r1")
    if speeds["vr-nvl72"] < 1000:
        assert "GPU-only throughput there is 0" in row["basis"]
    assert math.isfinite(row["fleetopt_value"])


def test_claims_command_prints_every_claim():
    result = CliRunner().invoke(claims_command, ["--model", "gpt-oss-120b"])
    assert result.exit_code == 0, result.output
    for claim_id in CLAIM_IDS:
        assert f"[{claim_id}]" in result.output
    assert "gpt-oss-120b" in result.output
    bad = CliRunner().invoke(claims_command, ["--model", "nope"])
    assert bad.exit_code != 0


def test_claims_use_the_calibrated_model_and_explain_each_verdict(table: pd.DataFrame):
    # Every rack type on one footing: the calibrated model, not the catalog's measured
    # curves (lower bounds for five rack types only).
    cat = perf.load_catalog()
    est = perf.estimate_throughput(cat.specs, cat.models)
    dec = claims.decode_at(est, "deepseek-r1", 50.0)
    mw = cat.racks.set_index("rack_type")["power_kw"] * 1.2 / 1000
    expected = (dec["vr-nvl72"] / mw["vr-nvl72"]) / (dec["hgx-h100"] / mw["hgx-h100"])
    got = table.set_index("claim_id")
    assert got.loc["tokens_per_mw", "fleetopt_value"] == pytest.approx(expected)
    assert (table["why"].str.len() > 100).all()
    assert "Measured (InferenceX" in got.loc["tokens_per_mw", "why"]
    assert "MTP" in got.loc["max_user_tps", "why"]
    output = CliRunner().invoke(claims_command, []).output
    assert output.count("  why: ") == len(CLAIM_IDS)


def test_mtp_speedup_from_measured_runs():
    # Two configurations with both kinds of runs: top speeds 100 -> 150 and 50 -> 60.
    runs = pd.DataFrame(
        {
            "hardware": ["a", "a", "b", "b", "c"],
            "framework": ["x"] * 5,
            "precision": ["fp8"] * 5,
            "isl": [1024] * 5,
            "osl": [1024] * 5,
            "spec_method": ["none", "mtp", "none", "mtp", "none"],
            "user_tps": [100.0, 150.0, 50.0, 60.0, 70.0],
        }
    )
    assert claims._mtp_speedup(runs) == pytest.approx((1.5 + 1.2) / 2)
