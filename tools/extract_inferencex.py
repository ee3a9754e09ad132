"""Extract measured DeepSeek-R1 serving figures from InferenceX API JSON into measured.csv.

InferenceX (SemiAnalysis) publishes one JSON row per benchmark point (hardware, serving
framework, parallelism, input/output lengths, concurrency, run URL, date, metrics). This
script reads such JSON files (for example the app's API fixtures `benchmarks.json` and
`benchmarks-history.json`) and writes fleetopt's own table of the figures, one row per
distinct measurement, each with its run URL and date. Only figures are taken; nothing of
the app itself is copied or needed at run time.

Per-GPU conventions (InferenceX rows -> fleetopt columns):
- aggregated rows: the GPU count is `decode_tp` (`num_*_gpu` may hold tp x ep); prefill
  and decode share those GPUs;
- disaggregated rows: `output_tput_per_gpu` is per decode GPU and `input_tput_per_gpu`
  per prefill GPU; fleetopt's `output_tps_per_gpu` / `input_tps_per_gpu` count every GPU
  of the deployment (prefill + decode), so they compare with aggregated rows;
- a row with only the total tokens/s per GPU is split by the lengths (output share
  osl / (isl + osl));
- a disaggregated row whose per-GPU figures do not reconcile with its total tokens/s per
  GPU (within 2%) has inconsistent GPU counts and is dropped (the count is printed).

Usage: python tools/extract_inferencex.py OUT.csv FILE.json [FILE.json ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from fleetopt.catalog.measured import MEASURED_COLUMNS, RACK_TYPE_OF_HARDWARE
from fleetopt.io.store import write_csv_atomic

MODEL_IDS = {"dsr1": "deepseek-r1"}
RECONCILE_TOLERANCE = 0.02
KEY = [
    "hardware",
    "framework",
    "model",
    "precision",
    "spec_method",
    "disagg",
    "isl",
    "osl",
    "conc",
    "prefill_tp",
    "prefill_ep",
    "prefill_num_workers",
    "decode_tp",
    "decode_ep",
    "decode_num_workers",
    "decode_dp_attention",
    "num_prefill_gpu",
    "num_decode_gpu",
    "date",
    "run_url",
]


def read_rows(paths: list[Path]) -> pd.DataFrame:
    """All benchmark rows of the JSON files, metrics flattened, exact repeats dropped."""
    frames = [pd.json_normalize(json.loads(p.read_text())) for p in paths]
    rows = pd.concat(frames, ignore_index=True)
    rows.columns = [c.removeprefix("metrics.") for c in rows.columns]
    return rows.drop_duplicates(KEY).reset_index(drop=True)


def to_measured(rows: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """fleetopt's measured table from InferenceX rows, and how many rows were dropped."""
    r = rows[rows["model"].isin(MODEL_IDS)].copy()
    # A few early rows give only the total tokens/s per GPU: split it by the lengths.
    share_out = r["osl"] / (r["isl"] + r["osl"])
    r["output_tput_per_gpu"] = r["output_tput_per_gpu"].fillna(r["tput_per_gpu"] * share_out)
    r["input_tput_per_gpu"] = r["input_tput_per_gpu"].fillna(r["tput_per_gpu"] * (1 - share_out))
    disagg = r["disagg"].astype(bool)
    n_pre = r["num_prefill_gpu"].astype(float)
    n_dec = r["num_decode_gpu"].astype(float)
    total = (r["input_tput_per_gpu"] * n_pre + r["output_tput_per_gpu"] * n_dec) / (n_pre + n_dec)
    consistent = ~disagg | ((total / r["tput_per_gpu"] - 1).abs() <= RECONCILE_TOLERANCE)
    dropped = int((~consistent).sum())
    r = r[consistent].copy()
    disagg = r["disagg"].astype(bool)
    agg_gpus = r["decode_tp"].astype(float)
    n_pre = np.where(disagg, r["num_prefill_gpu"], agg_gpus)
    n_dec = np.where(disagg, r["num_decode_gpu"], agg_gpus)
    gpus = np.where(disagg, n_pre + n_dec, agg_gpus)
    workers = np.where(disagg, r["decode_num_workers"], 1).astype(float)
    out = pd.DataFrame(
        {
            "hardware": r["hardware"],
            "rack_type": r["hardware"].map(RACK_TYPE_OF_HARDWARE),
            "model": r["model"].map(MODEL_IDS),
            "framework": r["framework"],
            "precision": r["precision"],
            "spec_method": r["spec_method"],
            "disagg": disagg,
            "isl": r["isl"].astype(int),
            "osl": r["osl"].astype(int),
            "conc": r["conc"].astype(int),
            "prefill_gpus": n_pre.astype(int),
            "decode_gpus": n_dec.astype(int),
            "gpus": gpus.astype(int),
            "decode_workers": workers.astype(int),
            "decode_instance_gpus": (n_dec / workers).astype(int),
            "dp_attention": r["decode_dp_attention"].astype(bool),
            "prefill_tp": r["prefill_tp"].astype(int),
            "prefill_ep": r["prefill_ep"].astype(int),
            "decode_tp": r["decode_tp"].astype(int),
            "decode_ep": r["decode_ep"].astype(int),
            "user_tps": r["median_intvty"],
            "output_tps_per_gpu": r["output_tput_per_gpu"] * n_dec / gpus,
            "input_tps_per_gpu": r["input_tput_per_gpu"] * n_pre / gpus,
            "decode_tps_per_decode_gpu": np.where(disagg, r["output_tput_per_gpu"], np.nan),
            "prefill_tps_per_prefill_gpu": np.where(disagg, r["input_tput_per_gpu"], np.nan),
            "ttft_ms": r["median_ttft"] * 1e3,
            "avg_power_w": r.get("avg_power_w", pd.Series(np.nan, index=r.index)),
            "date": r["date"],
            "run_url": r["run_url"],
        }
    )
    order = ["hardware", "model", "isl", "osl", "precision", "framework", "spec_method"]
    out = out.sort_values([*order, "disagg", "gpus", "conc", "date", "run_url"], ignore_index=True)
    return out[list(MEASURED_COLUMNS)], dropped


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    out_path, paths = Path(argv[0]), [Path(p) for p in argv[1:]]
    table, dropped = to_measured(read_rows(paths))
    write_csv_atomic(out_path, table, float_format="%.6g")
    print(f"wrote {len(table)} measured points to {out_path} ({dropped} inconsistent rows dropped)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
