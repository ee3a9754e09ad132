"""The measured table (measured.csv, measured_power.csv) and the curves built from it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fleetopt.catalog import measured, perf
from fleetopt.core.errors import CaseError

RUN_URL_PREFIX = "https://github.com/SemiAnalysisAI/InferenceX/actions/runs/"


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return measured.load_measured()


def test_measured_table_loads_and_every_point_keeps_its_source(table: pd.DataFrame):
    assert list(table.columns) == list(measured.MEASURED_COLUMNS)
    assert len(table) == 1659
    assert table["run_url"].str.startswith(RUN_URL_PREFIX).all()
    dates = pd.to_datetime(table["date"], format="%Y-%m-%d")
    assert dates.min() == pd.Timestamp("2025-10-06") and dates.max() == pd.Timestamp("2026-06-11")
    assert set(table["hardware"]) == {
        "h100",
        "h200",
        "b200",
        "b300",
        "gb200",
        "gb300",
        "mi300x",
        "mi325x",
        "mi355x",
    }
    mapped = table.drop_duplicates("hardware").set_index("hardware")["rack_type"]
    assert mapped.to_dict() == {
        "h100": "hgx-h100",
        "h200": "hgx-h200",
        "gb200": "gb200-nvl72",
        "gb300": "gb300-nvl72",
        "mi355x": "mi355x-rack",
        "b200": "",
        "b300": "",
        "mi300x": "",
        "mi325x": "",
    }
    catalog_racks = set(perf.load_catalog().racks["rack_type"])
    assert set(mapped[mapped != ""]) <= catalog_racks


def test_per_gpu_conventions(table: pd.DataFrame):
    # Disaggregated: per-phase rates times their GPUs are the deployment's tokens.
    d = table[table["disagg"]]
    assert np.allclose(
        d["output_tps_per_gpu"] * d["gpus"],
        d["decode_tps_per_decode_gpu"] * d["decode_gpus"],
        rtol=1e-4,
    )
    assert np.allclose(
        d["input_tps_per_gpu"] * d["gpus"],
        d["prefill_tps_per_prefill_gpu"] * d["prefill_gpus"],
        rtol=1e-4,
    )
    assert (d["gpus"] == d["prefill_gpus"] + d["decode_gpus"]).all()
    # Aggregated: the same GPUs do both phases; the GPU count is decode_tp (not tp x ep).
    a = table[~table["disagg"]]
    assert (a["gpus"] == a["decode_tp"]).all()
    assert (a["prefill_gpus"] == a["gpus"]).all() and (a["decode_gpus"] == a["gpus"]).all()
    assert a["decode_tps_per_decode_gpu"].isna().all()


def test_known_points_match_the_published_figures(table: pd.DataFrame):
    # CALIBRATION.md quotes these from the InferenceX app: 48 GB200 Dynamo-SGLang FP4 1k/1k
    # at 45 tok/s/user -> 3,356 output tok/s per GPU; 20 MI355X MoRI-SGLang FP4 -> 576 at 52.
    gb = table[
        (table["hardware"] == "gb200")
        & (table["framework"] == "dynamo-sglang")
        & (table["precision"] == "fp4")
        & (table["isl"] == 1024)
        & (table["osl"] == 1024)
        & (table["gpus"] == 48)
        & (table["conc"] == 4096)
    ].iloc[0]
    assert gb["user_tps"] == pytest.approx(45.2075)
    assert gb["output_tps_per_gpu"] == pytest.approx(3354.59)
    assert gb["decode_tps_per_decode_gpu"] == pytest.approx(3354.59 * 48 / 32, rel=1e-5)
    mi = table[
        (table["hardware"] == "mi355x")
        & (table["framework"] == "mori-sglang")
        & (table["gpus"] == 20)
        & (table["isl"] == 1024)
        & (table["osl"] == 1024)
        & (table["conc"] == 256)
    ].iloc[0]
    assert mi["user_tps"] == pytest.approx(51.7058)
    assert mi["output_tps_per_gpu"] == pytest.approx(576.675)
    assert mi["date"] == "2026-03-03"


def test_bad_rows_are_all_reported(tmp_path: Path, table: pd.DataFrame):
    bad = table.head(3).copy()
    bad.loc[bad.index[0], "user_tps"] = -1.0
    bad.loc[bad.index[1], "run_url"] = "somewhere"
    bad.loc[bad.index[2], "date"] = "June 2026"
    path = tmp_path / "measured.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(CaseError) as err:
        measured.load_measured(path)
    text = str(err.value)
    assert "row 1, user_tps: expected a number > 0" in text
    assert "row 2, run_url: expected the run's https URL" in text
    assert "row 3, date: expected a YYYY-MM-DD date" in text


def test_pareto_keeps_the_frontier():
    points = pd.DataFrame({"u": [10.0, 20.0, 20.0, 30.0, 40.0], "v": [5.0, 9.0, 7.0, 3.0, 4.0]})
    front = measured.pareto(points, "u", "v")
    # (10, 5) is beaten by (20, 9); (20, 7) by (20, 9); (30, 3) by (40, 4).
    assert front[["u", "v"]].values.tolist() == [[20.0, 9.0], [40.0, 4.0]]


def test_measured_curves_become_per_rack_rows(table: pd.DataFrame):
    specs = perf.load_catalog().specs
    rows = measured.throughput_rows(table, specs)
    assert list(rows.columns) == list(perf.THROUGHPUT_COLUMNS)
    assert set(rows["rack_type"]) == {
        "gb200-nvl72",
        "gb300-nvl72",
        "hgx-h100",
        "hgx-h200",
        "mi355x-rack",
    }
    assert (rows["model"] == "deepseek-r1").all()
    assert rows["source"].str.startswith("measured: InferenceX").all()
    assert rows["source"].str.contains(RUN_URL_PREFIX, regex=False).all()
    # The fastest measured GB200 decode point: its tokens per decode GPU x 72 GPUs per rack.
    gb = rows[(rows["rack_type"] == "gb200-nvl72") & (rows["phase"] == "decode")]
    top = gb.loc[gb["user_tps"].idxmax()]
    src = table[
        (table["hardware"] == "gb200")
        & table["disagg"]
        & (table["spec_method"] == "none")
        & (table["isl"] == 8192)
        & (table["osl"] == 1024)
    ]
    fastest = src.loc[src["user_tps"].idxmax()]
    assert top["user_tps"] == pytest.approx(round(fastest["user_tps"], 2))
    assert top["tokens_per_s"] == pytest.approx(fastest["decode_tps_per_decode_gpu"] * 72, abs=0.1)
    assert fastest["run_url"] in top["source"]
    # Faster per-user decode never gives more tokens; shorter TTFT never more prefill.
    for (_, phase), curve in rows.groupby(["rack_type", "phase"]):
        by = "user_tps" if phase == "decode" else "ttft_ms"
        ordered = curve.sort_values(by)["tokens_per_s"]
        assert (np.diff(ordered.to_numpy()) * (1 if phase == "prefill" else -1) >= 0).all()


def test_catalog_loads_measured_curves_where_they_exist():
    tp = perf.load_catalog().throughput
    dsr1 = tp[tp["model"] == "deepseek-r1"]
    measured_racks = {"gb200-nvl72", "gb300-nvl72", "hgx-h100", "hgx-h200", "mi355x-rack"}
    is_measured = dsr1["source"].str.startswith("measured:")
    assert set(dsr1.loc[is_measured, "rack_type"]) == measured_racks
    # A measured (rack, model, phase) curve is measured throughout; all else is the model.
    assert not is_measured[~dsr1["rack_type"].isin(measured_racks)].any()
    assert is_measured[dsr1["rack_type"].isin(measured_racks)].all()
    others = tp[tp["model"] != "deepseek-r1"]
    assert others["source"].str.startswith("estimate:").all()


def test_power_table_and_the_rack_power_it_justifies():
    power = measured.load_power()
    assert power["run_url"].str.startswith(RUN_URL_PREFIX).all()
    assert power["source"].str.contains("row_id").all()
    assert (power["avg_power_w"] < power["tdp_w"]).all()  # GPUs draw below TDP
    # mi355x-rack power = 128 GPUs at the highest MI355X draw measured under inference
    # (986 W, a DeepSeek-R1 run in measured.csv) + 16 hosts at ~2.3 kW.
    t = measured.load_measured()
    mi355x = [
        t.loc[t["hardware"] == "mi355x", "avg_power_w"],
        power.loc[power["hardware"] == "mi355x", "avg_power_w"],
    ]
    draws = pd.concat(mi355x).dropna()
    assert draws.max() == pytest.approx(986.013)
    racks = perf.load_catalog().racks.set_index("rack_type")
    assert racks.loc["mi355x-rack", "power_kw"] == pytest.approx(128 * 0.986 + 16 * 2.3, abs=0.5)
