"""Published throughput figures of other sources (published.csv), each with its page."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fleetopt.catalog import calibration, perf, published
from fleetopt.core.errors import CaseError


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return published.load_published()


def test_every_figure_names_its_source_page_and_regime(table: pd.DataFrame):
    assert list(table.columns) == list(published.PUBLISHED_COLUMNS)
    assert table.groupby(["source", "regime"]).size().to_dict() == {
        ("tensorrt-llm", "offline"): 153,
        ("nvidia-nim", "online"): 9,
        ("oci-blog", "offline"): 2,
        ("oci-blog", "online"): 9,
        ("amd-rocm", "offline"): 8,
    }
    assert table["url"].str.startswith("https://").all()
    assert table["note"].str.len().gt(30).all()
    # Every model and hardware is one the calibration knows.
    assert set(table["model"]) <= set(perf.load_catalog().models["model"])
    assert set(table["hardware"]) <= set(calibration.load_accelerators()["hardware"])
    online = table[table["regime"] == "online"]
    assert (online["conc"] > 0).all() and (online["user_tps"] > 0).all()
    assert table.loc[table["regime"] == "offline", "user_tps"].isna().all()


def test_known_figures_match_the_pages(table: pd.DataFrame):
    def one(**match) -> pd.Series:
        rows = table
        for col, val in match.items():
            rows = rows[rows[col] == val]
        assert len(rows) == 1, match
        return rows.iloc[0]

    # TensorRT-LLM perf overview (per-GPU page): gpt-oss-120b on H100 DEP4 at 1000/1000.
    row = one(source="tensorrt-llm", model="gpt-oss-120b", hardware="h100", isl=1000, osl=1000)
    assert row["output_tps_per_gpu"] == 4685 and row["instance_gpus"] == 4 and row["dp_attention"]
    # The 1.0 page gives output tokens/s over the TP group: Llama 3.1 405B, H100 TP8, 128/128.
    row = one(source="tensorrt-llm", model="llama-3.1-405b", hardware="h100", isl=128, osl=128)
    assert row["output_tps_per_gpu"] == pytest.approx(3627 / 8)
    # NIM 1.8.0: Llama 3.3 70B on 2 x H100 TP2, 5000/500 at concurrency 50: ITL 59.73 ms.
    row = one(source="nvidia-nim", conc=50)
    assert row["user_tps"] == pytest.approx(1000 / 59.73, rel=1e-5)
    assert row["output_tps_per_gpu"] == pytest.approx(814.37 / 2)
    assert row["ttft_ms"] == pytest.approx(834.51)
    # OCI: batch 256 of 128/128 requests took 17.75 s at 1,846 output tokens/s on 8 GPUs.
    row = one(source="oci-blog", regime="online", conc=256)
    assert row["user_tps"] == pytest.approx(128 / 17.75, rel=1e-5)
    assert row["output_tps_per_gpu"] == pytest.approx(1846 / 8)
    # AMD (container of 2025-11-03): Llama 3.1 405B TP8 at 2048/2048, max num seqs 500:
    # 2,196.4 tokens/s over 8 GPUs.
    row = one(source="amd-rocm", model="llama-3.1-405b", isl=2048, osl=2048)
    assert row["output_tps_per_gpu"] == pytest.approx(2196.4 / 8) and row["conc"] == 500


def test_bad_rows_are_all_reported(tmp_path: Path, table: pd.DataFrame):
    bad = table.head(5).copy()
    bad.loc[bad.index[0], "output_tps_per_gpu"] = 0
    bad.loc[bad.index[1], "url"] = "a page"
    bad.loc[bad.index[2], "date"] = "last spring"
    bad.loc[bad.index[3], "regime"] = "online"  # an online row needs conc and user_tps
    bad.loc[bad.index[4], "conc"] = -5  # an offline row's cap on requests in flight
    path = tmp_path / "published.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(CaseError) as err:
        published.load_published(path)
    text = str(err.value)
    assert "row 1, output_tps_per_gpu: expected > 0" in text
    assert "row 2, url: expected the page's https URL" in text
    assert "row 3, date: expected YYYY[-MM[-DD]]" in text
    assert "row 4, conc: expected > 0 on an online row" in text
    assert "row 4, user_tps: expected > 0 on an online row" in text
    assert "row 5, conc: expected > 0 where given" in text
