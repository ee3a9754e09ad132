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
from fleetopt.catalog.perf import (
    instance_options,
    max_batch_within,
    roofline,
    served_variants,
    step_time_s,
)

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


def model_estimates(
    specs: pd.DataFrame,
    models: pd.DataFrame,
    queries: pd.DataFrame,
    length_factor: float = 1.0,
) -> pd.DataFrame:
    """The model's answer to each query (rack_type, model, isl, osl, user_tps [, precision]).

    user_tps NaN asks for the most tokens (the batch memory allows). Returns the queries
    with output_tps_per_gpu, input_tps_per_gpu, user_tps (the speed reached, >= asked),
    gpus (instance size), gpus_per_rack (the GPUs of a rack its instances use: a rack's
    figures are per-GPU x gpus_per_rack), batch, decode_tps_per_gpu, prefill_tps_per_gpu;
    NaN where the model fits no instance or no instance reaches the speed.
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
    x["gpus_per_rack"] = x["instances_per_rack"] * x["g"]
    best = x.loc[x.groupby("query")["output_tps_per_gpu"].idxmax()].set_index("query")
    cols = [
        "output_tps_per_gpu",
        "input_tps_per_gpu",
        "user_tps",
        "gpus",
        "gpus_per_rack",
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
    precision: str = "",
) -> dict | None:
    """One JSON-ready answer: the best matching measurement, else the model's estimate.

    A measurement matches when it is of this rack type's hardware, model and nominal
    lengths (and precision, when given), without speculative decoding, and reaches
    user_tps. Per GPU and per rack: a measured point's per-GPU rates on every accelerator
    of the rack, the model's on the accelerators its instances use. None when neither the
    measurements nor the model reach user_tps (or the model fits no instance).
    """
    head = {"rack_type": rack_type, "model": model, "isl": int(isl), "osl": int(osl)}
    per_rack = float(specs.set_index("rack_type").at[rack_type, "accelerators_per_rack"])
    row = best_measured(measured, rack_type, model, isl, osl, user_tps, precision)
    if row is not None:
        return {
            **head,
            "source": "measured",
            "output_tps_per_gpu": float(row["output_tps_per_gpu"]),
            "input_tps_per_gpu": float(row["input_tps_per_gpu"]),
            "output_tps_per_rack": float(row["output_tps_per_gpu"]) * per_rack,
            "input_tps_per_rack": float(row["input_tps_per_gpu"]) * per_rack,
            "gpus_per_rack": int(per_rack),
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
    key = {**head, "precision": precision}
    est = model_estimates(specs, models, pd.DataFrame([{**key, "user_tps": asked}])).iloc[0]
    if not math.isfinite(est["output_tps_per_gpu"]):
        return None
    variant = served_variants(models, pd.DataFrame([key]))
    bound = roofline(
        specs[specs["rack_type"] == rack_type],
        variant.drop(columns="model").rename(columns={"variant": "model"}),
    ).iloc[0]
    ratio = isl / osl
    roof = 1.0 / (1.0 / bound["decode_tokens_per_s"] + ratio / bound["prefill_tokens_per_s"])
    gpus_per_rack = float(est["gpus_per_rack"])
    return {
        **head,
        "source": "model",
        "precision": variant["precision"].iloc[0] or variant["compute_precision"].iloc[0],
        "output_tps_per_gpu": float(est["output_tps_per_gpu"]),
        "input_tps_per_gpu": float(est["input_tps_per_gpu"]),
        "output_tps_per_rack": float(est["output_tps_per_gpu"]) * gpus_per_rack,
        "input_tps_per_rack": float(est["input_tps_per_gpu"]) * gpus_per_rack,
        "gpus_per_rack": round(gpus_per_rack),
        "roofline_output_tps_per_rack": float(roof),
        "user_tps": float(est["user_tps"]),
        "gpus": int(est["gpus"]),
        "batch": int(est["batch"]),
        "decode_tps_per_gpu": float(est["decode_tps_per_gpu"]),
        "prefill_tps_per_gpu": float(est["prefill_tps_per_gpu"]),
        "note": "gpus = accelerators of one model instance, gpus_per_rack = those a rack's "
        "instances use; roofline = the hardware's bound at these lengths (peak bandwidth and "
        "FLOP/s, no fixed cost); estimate of fleetopt.catalog.perf (calibrated where "
        "measured data exists, see `fleetopt perf --calibration`)",
    }
