"""The bundled example case: traceable to the catalog, valid, and solvable to optimality."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from fleetopt.catalog.example import EXAMPLE_DIR, write_example
from fleetopt.io.case import read_case

TABLES = ["racks", "sites", "workloads", "throughput", "installed"]


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
    assert case.sites["region"].nunique() >= 3
    assert case.sites["liquid_cooling"].any() and not case.sites["liquid_cooling"].all()
    assert "source" not in pd.read_csv(EXAMPLE_DIR / "racks.csv").columns
    workloads = pd.read_csv(EXAMPLE_DIR / "workloads.csv")
    assert (workloads["regions"] == "*").any()
    assert workloads["min_user_tps"].max() >= 1000
    assert (pd.read_csv(EXAMPLE_DIR / "installed.csv")["rack_type"] == "hgx-h100").all()
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
    placement = pd.read_parquet(out / "placement.parquet")
    agentic = placement[
        (placement["workload"] == "agentic-coding") & (placement["phase"] == "decode")
    ]
    by_rack = agentic.groupby("rack_type")["racks"].sum()
    assert by_rack.idxmax() == "groq3-lpx"  # 1,000 tok/s/user decode lands on LPX
    eu = placement[placement["workload"] == "chat-eu-sovereign"]
    assert set(eu["site"]) == {"eu-sovereign"}
    racks = pd.read_parquet(out / "racks.parquet")
    assert 50 <= racks["count"].sum() <= 1000  # tens to low hundreds of new racks
