"""Measured inference throughput: the catalog's measured.csv and the curves built from it.

measured.csv holds published measurements (InferenceX, SemiAnalysis) of DeepSeek-R1
serving, one row per benchmark point with its run URL and date (written by
tools/extract_inferencex.py). Conventions, per docs/catalog.md:

- `output_tps_per_gpu` / `input_tps_per_gpu`: output / input tokens per second divided by
  *every* GPU of the deployment (prefill and decode GPUs of a disaggregated one), so
  aggregated and disaggregated rows compare directly;
- `decode_tps_per_decode_gpu` / `prefill_tps_per_prefill_gpu`: the per-phase rates of
  disaggregated rows (blank on aggregated rows, whose GPUs do both phases);
- `user_tps`: median tokens per second one user sees (1 / time per output token).

This module loads and checks the table, turns a rack type's measured points into
throughput.csv rows (per-rack tokens/s, each row's source naming its run), and answers a
planner's query with the best measured point.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fleetopt.catalog.perf import (
    CATALOG_DIR,
    KEY_COLUMNS,
    THROUGHPUT_COLUMNS,
    Catalog,
    estimate_throughput,
    load_catalog,
    merge_measured,
    read_checked,
    write_throughput,
)
from fleetopt.core.errors import CaseError, Problem
from fleetopt.io.schema import SERVING_KEY

MEASURED_COLUMNS: tuple[str, ...] = (
    "hardware",
    "rack_type",
    "model",
    "framework",
    "precision",
    "spec_method",
    "disagg",
    "isl",
    "osl",
    "conc",
    "prefill_gpus",
    "decode_gpus",
    "gpus",
    "decode_workers",
    "decode_instance_gpus",
    "dp_attention",
    "prefill_tp",
    "prefill_ep",
    "decode_tp",
    "decode_ep",
    "user_tps",
    "output_tps_per_gpu",
    "input_tps_per_gpu",
    "decode_tps_per_decode_gpu",
    "prefill_tps_per_prefill_gpu",
    "ttft_ms",
    "avg_power_w",
    "date",
    "run_url",
)
POWER_COLUMNS: tuple[str, ...] = (
    "hardware",
    "model",
    "precision",
    "framework",
    "spec_method",
    "isl",
    "osl",
    "conc",
    "gpus",
    "avg_power_w",
    "p90_power_w",
    "tdp_w",
    "date",
    "run_url",
    "source",
)

# InferenceX hardware key -> the catalog rack type built from the same system (blank:
# the catalog has no rack of it; its points still calibrate the model).
RACK_TYPE_OF_HARDWARE: dict[str, str] = {
    "h100": "hgx-h100",
    "h200": "hgx-h200",
    "gb200": "gb200-nvl72",
    "gb300": "gb300-nvl72",
    "mi355x": "mi355x-rack",
}

# The catalog's models.csv context (8,192 tokens per active user) matches InferenceX's
# 8k-in / 1k-out runs best, so those are the curves the catalog's throughput.csv loads.
CATALOG_ISL_OSL: tuple[int, int] = (8192, 1024)
_POSITIVE = ("conc", "gpus", "user_tps", "output_tps_per_gpu", "input_tps_per_gpu")


def load_measured(path: str | Path | None = None) -> pd.DataFrame:
    """Read measured.csv (default: the catalog's) and check it; CaseError lists every problem."""
    table = read_checked(path, "measured.csv", _check)
    table["rack_type"] = table["rack_type"].fillna("")
    return table


def load_power(path: str | Path | None = None) -> pd.DataFrame:
    """Read measured_power.csv: GPU power draw under inference, each row with its run."""
    file = Path(path) if path is not None else CATALOG_DIR / "measured_power.csv"
    table = pd.read_csv(file)
    missing = [c for c in POWER_COLUMNS if c not in table.columns]
    if missing:
        raise CaseError([Problem(file.name, f"missing column(s): {', '.join(missing)}")])
    return table


def _check(table: pd.DataFrame, name: str) -> list[Problem]:
    """Columns present, figures positive, every row sourced (run URL and date)."""
    missing = [c for c in MEASURED_COLUMNS if c not in table.columns]
    if missing:
        return [Problem(name, f"missing column(s): {', '.join(missing)}")]
    problems = []
    for col in _POSITIVE:
        bad = ~(pd.to_numeric(table[col], errors="coerce") > 0)
        problems += [
            Problem(name, f"expected a number > 0, got {table.at[i, col]!r}", i + 1, column=col)
            for i in map(int, np.flatnonzero(bad))
        ]
    urls = table["run_url"].astype(str)
    for i in map(int, np.flatnonzero(~urls.str.startswith("https://"))):
        problems.append(Problem(name, "expected the run's https URL", i + 1, column="run_url"))
    dates = pd.to_datetime(table["date"], format="%Y-%m-%d", errors="coerce")
    for i in map(int, np.flatnonzero(dates.isna())):
        problems.append(Problem(name, "expected a YYYY-MM-DD date", i + 1, column="date"))
    return problems


def pareto(points: pd.DataFrame, speed: str, value: str) -> pd.DataFrame:
    """Points not beaten by another with at least the speed and more value (a frontier).

    Sorted by speed; value never rises with speed along the result.
    """
    ordered = points.sort_values([speed, value], ascending=[False, False])
    best_so_far = ordered[value].cummax()
    keep = ordered[value] >= best_so_far
    frontier = ordered[keep & ~ordered[speed].duplicated()]
    return frontier.sort_values(speed, ignore_index=True)


def best_measured(
    measured: pd.DataFrame,
    rack_type: str,
    model: str,
    isl: int,
    osl: int,
    user_tps: float | None = None,
    precision: str = "",
) -> pd.Series | None:
    """The measured point with the most output tokens/s per GPU meeting user_tps.

    Only points of this rack type's hardware, model, nominal lengths (and precision when
    given), without speculative decoding (the model does not model it either). None when
    none qualifies.
    """
    m = measured
    rows = m[
        (m["rack_type"] == rack_type)
        & (m["model"] == model)
        & (m["isl"] == isl)
        & (m["osl"] == osl)
        & (m["spec_method"] == "none")
        & ((m["precision"] == precision) | (precision == ""))
    ]
    if user_tps is not None:
        rows = rows[rows["user_tps"] >= user_tps]
    if rows.empty:
        return None
    return rows.loc[rows["output_tps_per_gpu"].idxmax()]


def throughput_rows(
    measured: pd.DataFrame,
    specs: pd.DataFrame,
    lengths: tuple[int, int] = CATALOG_ISL_OSL,
    precision: str = "",
) -> pd.DataFrame:
    """throughput.csv rows from the measured curves of catalog rack types.

    Disaggregated runs at `lengths` (default the catalog's, CATALOG_ISL_OSL), no
    speculative decoding, every framework and precision (or the one given): decode rows =
    tokens/s per decode GPU x
    accelerators per rack at the measured per-user speed, prefill rows = tokens/s per
    prefill GPU x accelerators per rack at the measured median TTFT; only the frontier
    (no other point is both faster and more productive) is kept. Each row's source names
    its run. Measured points are lower bounds of what the hardware can do (a handful of
    concurrencies per configuration), so these curves are too.
    """
    isl, osl = lengths
    m = measured[
        (measured["rack_type"] != "")
        & measured["disagg"].astype(bool)
        & (measured["spec_method"] == "none")
        & (measured["isl"] == isl)
        & (measured["osl"] == osl)
        & ((measured["precision"] == precision) | (precision == ""))
    ].copy()
    per_rack = specs.set_index("rack_type")["accelerators_per_rack"]
    m = m[m["rack_type"].isin(per_rack.index)]
    if m.empty:
        return pd.DataFrame(columns=list(THROUGHPUT_COLUMNS))
    n_acc = m["rack_type"].map(per_rack).astype(float)
    # Rounded as written, so two runs at the same written speed are not two rows.
    m["decode_per_rack"] = (m["decode_tps_per_decode_gpu"] * n_acc).round(1)
    m["prefill_per_rack"] = (m["prefill_tps_per_prefill_gpu"] * n_acc).round(1)
    m["user_tps"] = m["user_tps"].round(2)
    m["ttft_ms"] = m["ttft_ms"].round(1)
    m["neg_ttft_ms"] = -m["ttft_ms"]
    m["run"] = (
        "measured: InferenceX "
        + m["framework"]
        + " "
        + m["precision"]
        + ", disaggregated "
        + m["prefill_gpus"].astype(str)
        + " prefill + "
        + m["decode_gpus"].astype(str)
        + " decode GPUs, concurrency "
        + m["conc"].astype(str)
        + f", {isl}/{osl} tokens, "
        + m["date"]
        + ", "
        + m["run_url"]
        + "; "
    )
    key = ["rack_type", "model"]
    decode = pd.concat(
        [pareto(g, "user_tps", "decode_per_rack") for _, g in m.groupby(key)], ignore_index=True
    )
    prefill = pd.concat(
        [pareto(g, "neg_ttft_ms", "prefill_per_rack") for _, g in m.groupby(key)],
        ignore_index=True,
    )
    n_dec = decode["rack_type"].map(per_rack).astype(int).astype(str)
    n_pre = prefill["rack_type"].map(per_rack).astype(int).astype(str)
    rows = pd.concat(
        [
            pd.DataFrame(
                {
                    "rack_type": prefill["rack_type"],
                    "model": prefill["model"],
                    "phase": "prefill",
                    "tokens_per_s": prefill["prefill_per_rack"],
                    "user_tps": np.nan,
                    "ttft_ms": prefill["ttft_ms"],
                    "source": prefill["run"] + "prefill tokens/s per prefill GPU x " + n_pre,
                }
            ),
            pd.DataFrame(
                {
                    "rack_type": decode["rack_type"],
                    "model": decode["model"],
                    "phase": "decode",
                    "tokens_per_s": decode["decode_per_rack"],
                    "user_tps": decode["user_tps"],
                    "ttft_ms": np.nan,
                    "source": decode["run"] + "decode tokens/s per decode GPU x " + n_dec,
                }
            ),
        ],
        ignore_index=True,
    )
    return rows[list(THROUGHPUT_COLUMNS)]


def curves_at(measured: pd.DataFrame, specs: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
    """Measured curves at serving keys (model, isl, osl, precision; blank = the model's own),
    each row tagged with its key: the curves of the key's model at its lengths (the
    catalog's 8k/1k when blank) and precision (any when blank). One call of throughput_rows
    per distinct key (a workloads file holds a handful)."""
    parts = []
    for key in keys[list(SERVING_KEY)].drop_duplicates().itertuples(index=False):
        lengths = CATALOG_ISL_OSL if pd.isna(key.isl) else (int(key.isl), int(key.osl))
        precision = "" if pd.isna(key.precision) else key.precision
        rows = throughput_rows(measured, specs, lengths, precision)
        rows = rows[rows["model"] == key.model]
        parts.append(rows.assign(isl=key.isl, osl=key.osl, precision=precision))
    columns = [*THROUGHPUT_COLUMNS, *KEY_COLUMNS]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def rows_at(
    catalog: Catalog, measured: pd.DataFrame, keys: pd.DataFrame | None = None
) -> pd.DataFrame:
    """throughput.csv rows of a catalog: measured curves where they exist, the model
    elsewhere (perf.merge_measured); at serving keys (curves_at, perf.estimate_throughput
    with keys) when given, else at the catalog's own lengths (generic rows, no key columns).
    """
    if keys is None:
        estimated = estimate_throughput(catalog.specs, catalog.models)
        return merge_measured(estimated, throughput_rows(measured, catalog.specs))
    estimated = estimate_throughput(catalog.specs, catalog.models, keys=keys)
    return merge_measured(estimated, curves_at(measured, catalog.specs, keys))


def catalog_throughput(catalog_dir: str | Path | None = None) -> pd.DataFrame:
    """The catalog's throughput.csv: measured curves where they exist, the model elsewhere.

    The model (fleetopt.catalog.perf on specs.csv, whose GPU parameters are fitted to measured.csv)
    gives every (rack type, model, phase); each one with a measured curve at the catalog's
    lengths takes that curve instead (perf.merge_measured). `python -m fleetopt.catalog.measured`
    rewrites the bundled file from this; a test checks the committed file equals it.
    """
    folder = Path(catalog_dir) if catalog_dir is not None else CATALOG_DIR
    return rows_at(load_catalog(folder), load_measured(folder / "measured.csv"))


if __name__ == "__main__":
    write_throughput(catalog_throughput(), CATALOG_DIR / "throughput.csv")
