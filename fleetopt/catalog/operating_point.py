"""Throughput per GPU of a rack type on a model at a workload's input and output lengths.

A planner asks: with I input and O output tokens per request, at U tokens/s per user,
how many tokens per second does one GPU of rack type R deliver on model M? The same GPUs
prefill and decode, blended by the ratio r = I / O: a GPU spends 1/decode_rate seconds
per output token and r/prefill_rate on its prompt tokens, so

    output_tps_per_gpu = 1 / (1 / decode_tps_per_gpu(U) + r / prefill_tps_per_gpu)
    input_tps_per_gpu  = r x output_tps_per_gpu

Decode uses the performance model (fleetopt.catalog.perf) with the context a request holds on
average while decoding (I + O/2 tokens); prefill attends over a prompt of I tokens. The
best instance size and batch meeting U win (the most tokens when U is not given).
A measured point (measured.csv) answers instead when one matches: see `answer`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from fleetopt.catalog.measured import best_measured
from fleetopt.catalog.perf import instance_options, max_batch_within, step_time_s

ANSWER_FIELDS: tuple[str, ...] = (
    "rack_type",
    "model",
    "isl",
    "osl",
    "source",
    "output_tps_per_gpu",
    "input_tps_per_gpu",
    "user_tps",
    "gpus",
)


def served_variants(
    models: pd.DataFrame, keys: pd.DataFrame, length_factor: float = 1.0
) -> pd.DataFrame:
    """Model rows as served at given lengths (and precisions, when `keys` has them).

    keys: model, isl, osl [, precision]. Each variant gets `variant` = an id unique per key,
    decode context length_factor x (isl + osl/2), prompt length_factor x isl. A variant
    served in FP8 stores at least 1 byte per weight.
    """
    k = keys.drop_duplicates().reset_index(drop=True)
    v = k.merge(models.drop(columns=["source"]), on="model", how="inner")
    if "precision" in k.columns:
        v["compute_precision"] = v["precision"]
        fp8 = v["precision"] != "fp4"
        v.loc[fp8, "weight_bytes_per_param"] = np.maximum(v.loc[fp8, "weight_bytes_per_param"], 1.0)
    else:
        v["precision"] = v["compute_precision"]
    v["avg_context_tokens"] = length_factor * (v["isl"] + v["osl"] / 2)
    v["prompt_tokens"] = length_factor * v["isl"]
    v["variant"] = (
        v["model"] + "|" + v["precision"] + "|" + v["isl"].astype(str) + "|" + v["osl"].astype(str)
    )
    return v


def model_estimates(
    specs: pd.DataFrame,
    models: pd.DataFrame,
    queries: pd.DataFrame,
    length_factor: float = 1.0,
) -> pd.DataFrame:
    """The model's answer to each query (rack_type, model, isl, osl, user_tps [, precision]).

    user_tps NaN asks for the most tokens (the batch memory allows). Returns the queries
    with output_tps_per_gpu, input_tps_per_gpu, user_tps (the speed reached, >= asked),
    gpus (instance size), batch, decode_tps_per_gpu, prefill_tps_per_gpu; NaN where the
    model fits no instance or no instance reaches the speed.
    """
    q = queries.reset_index(drop=True).rename(columns={"user_tps": "asked_user_tps"})
    q["query"] = np.arange(len(q))
    keys = [c for c in ("model", "isl", "osl", "precision") if c in q.columns]
    variants = served_variants(models, q[keys], length_factor)
    q = q.merge(variants[[*keys, "variant"]], on=keys, how="left")
    opts = instance_options(
        specs[specs["rack_type"].isin(q["rack_type"])],
        variants.drop(columns=["model"]).rename(columns={"variant": "model"}),
    )
    x = q.merge(
        opts.rename(columns={"model": "variant"}).drop(columns=keys, errors="ignore"),
        on=["rack_type", "variant"],
    )
    asked = x["asked_user_tps"].to_numpy(dtype=float)
    x["batch"] = max_batch_within(x, np.where(np.isnan(asked), np.inf, 1.0 / asked))
    x = x[x["batch"] >= 1].copy()
    step = step_time_s(x, x["batch"].to_numpy())
    g = x["g"].to_numpy(dtype=float)
    x["user_tps"] = 1.0 / step
    x["decode_tps_per_gpu"] = x["batch"] / (g * step)
    x["prefill_tps_per_gpu"] = x["prefill_flops_per_s"] / g / x["prefill_flops_per_token"]
    ratio = x["isl"] / x["osl"]
    x["output_tps_per_gpu"] = 1.0 / (
        1.0 / x["decode_tps_per_gpu"] + ratio / x["prefill_tps_per_gpu"]
    )
    x["input_tps_per_gpu"] = ratio * x["output_tps_per_gpu"]
    x["gpus"] = x["g"].astype(int)
    best = x.loc[x.groupby("query")["output_tps_per_gpu"].idxmax()].set_index("query")
    cols = [
        "output_tps_per_gpu",
        "input_tps_per_gpu",
        "user_tps",
        "gpus",
        "batch",
        "decode_tps_per_gpu",
        "prefill_tps_per_gpu",
    ]
    found = best[cols].reindex(q["query"]).reset_index(drop=True)
    return q.drop(columns=["variant", "query"]).join(found)


def answer(
    specs: pd.DataFrame,
    models: pd.DataFrame,
    measured: pd.DataFrame,
    rack_type: str,
    model: str,
    isl: int,
    osl: int,
    user_tps: float | None = None,
) -> dict | None:
    """One JSON-ready answer: the best matching measurement, else the model's estimate.

    A measurement matches when it is of this rack type's hardware, model and nominal
    lengths, without speculative decoding, and reaches user_tps. None when neither the
    measurements nor the model reach user_tps (or the model fits no instance).
    """
    head = {"rack_type": rack_type, "model": model, "isl": int(isl), "osl": int(osl)}
    row = best_measured(measured, rack_type, model, isl, osl, user_tps)
    if row is not None:
        return {
            **head,
            "source": "measured",
            "output_tps_per_gpu": float(row["output_tps_per_gpu"]),
            "input_tps_per_gpu": float(row["input_tps_per_gpu"]),
            "user_tps": float(row["user_tps"]),
            "gpus": int(row["gpus"]),
            "hardware": row["hardware"],
            "framework": row["framework"],
            "precision": row["precision"],
            "disagg": bool(row["disagg"]),
            "prefill_gpus": int(row["prefill_gpus"]),
            "decode_gpus": int(row["decode_gpus"]),
            "conc": int(row["conc"]),
            "date": row["date"],
            "run_url": row["run_url"],
        }
    asked = np.nan if user_tps is None else float(user_tps)
    query = pd.DataFrame([{**head, "user_tps": asked}])
    est = model_estimates(specs, models, query).iloc[0]
    if not math.isfinite(est["output_tps_per_gpu"]):
        return None
    return {
        **head,
        "source": "model",
        "output_tps_per_gpu": float(est["output_tps_per_gpu"]),
        "input_tps_per_gpu": float(est["input_tps_per_gpu"]),
        "user_tps": float(est["user_tps"]),
        "gpus": int(est["gpus"]),
        "batch": int(est["batch"]),
        "decode_tps_per_gpu": float(est["decode_tps_per_gpu"]),
        "prefill_tps_per_gpu": float(est["prefill_tps_per_gpu"]),
        "note": "gpus = accelerators of one model instance; estimate of fleetopt.catalog.perf "
        "(calibrated where measured data exists, see `fleetopt perf --calibration`)",
    }
