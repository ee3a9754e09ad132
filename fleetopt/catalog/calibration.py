"""Fit the performance model to measured serving of every source, and report its error.

Every measured point is a deployment the model can replay:

- InferenceX (measured.csv, DeepSeek-R1, no speculative decoding): online points at a
  measured concurrency. The decode instance size g, how many users were decoding at once,
  whether attention was data-parallel, aggregated or disaggregated serving, input and
  output lengths; the model predicts the time per output token, and the error is model /
  measured per-user speed at the same concurrency, which equals model / measured tokens
  per second at that load. Disaggregated runs also give prefill tokens/s per prefill GPU;
  the best one per curve is fitted (at lower loads prefill GPUs wait for work).
- Published figures of other sources (published.csv: TensorRT-LLM's performance
  overview, NVIDIA NIM, an OCI blog, AMD's Instinct performance results): `online` rows
  the same way (a fixed concurrency and a measured per-user speed); `offline` rows at the
  model's maximum throughput on the measured instance, the batch the memory holds at those
  lengths (at most the engine's stated cap on requests in flight), prefill and decode on
  the same GPUs; the error is model / measured output tokens per second per GPU.

The fit minimizes the squared log error, each source weighing the same (a point of a
source with n points in the fitted set weighs 1/n), over the memory-bandwidth efficiency,
the MoE compute efficiencies (decode and prefill), one dense compute efficiency (a dense
model's decode step and prompt pass run the same GEMMs: TIED), the MoE per-layer step
cost (base, and growth per doubling of g), and the dense per-layer and collective
latencies. First one parameter set for all GPU families together (pooled), then, from
it, each architecture family (hopper, blackwell, cdna3, cdna4) on its own points: a
parameter its points do not inform keeps the pooled value, and a family without points
keeps every pooled value. One compute/memory overlap for all families is picked from its
grid by the total error. Held out of every fit: InferenceX's 1k-in/8k-out runs (an
output/input ratio the fit never sees). Leave one source out: each source's points
estimated by the fit made on the other sources only.

`python -m fleetopt.catalog.calibration` writes calibration.csv, the fitted values into
the specs.csv rows whose `perf_arch` names the family, and calibration_sources.csv (the
error by source, fitted and left out).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fleetopt.catalog.measured import CATALOG_ISL_OSL, RACK_TYPE_OF_HARDWARE, load_measured
from fleetopt.catalog.operating_point import model_estimates
from fleetopt.catalog.perf import (
    CATALOG_DIR,
    apply_efficiencies,
    derive_instances,
    load_catalog,
    served_variants,
    step_time_s,
)
from fleetopt.catalog.published import load_published
from fleetopt.io.store import write_csv_atomic

INFERENCEX = "inferencex"  # the source id of measured.csv's points
HELD_OUT_ISL_OSL: tuple[int, int] = (1024, 8192)
LENGTH_FACTOR = 0.9  # InferenceX draws lengths from 80-100% of nominal: 90% on average
WITHIN = 0.25  # the accuracy goal on fitted points: model within +-25% of measured
TRANSFER_FACTOR = 1.5  # the goal by source: model within 1.5x of measured
ALL = "all"  # the summary row over every hardware
POOLED = "pooled"  # the parameters of all GPU families fitted together
ARCH_ORDER: tuple[str, ...] = ("hopper", "blackwell", "cdna3", "cdna4")
FITTED_COLUMNS: tuple[str, ...] = (
    "mem_bw_efficiency",
    "moe_decode_compute_efficiency",
    "moe_prefill_compute_efficiency",
    "moe_layer_latency_us",
    "moe_layer_latency_per_doubling_us",
    "decode_compute_efficiency",
    "prefill_compute_efficiency",
    "layer_latency_us",
    "collective_latency_us",
)
# The fixed costs of a step: fitted on online points only (fit_params).
LATENCY_COLUMNS: tuple[str, ...] = (
    "moe_layer_latency_us",
    "moe_layer_latency_per_doubling_us",
    "layer_latency_us",
    "collective_latency_us",
)
_DENSE_COMPUTE_GRID = (0.05, 0.08, 0.1, 0.12, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7,
                       0.8, 0.9)  # fmt: skip
# Efficiencies stay in (0, 1] and latencies >= 0: no parameter set puts an estimate above
# the hardware's roofline (docs/performance.md, "Physical bounds").
GRIDS: dict[str, tuple[float, ...]] = {
    "moe_layer_latency_us": (0, 10, 20, 30, 40, 50, 60, 70, 80, 100, 120, 150, 200, 250),
    "moe_layer_latency_per_doubling_us": (0, 5, 10, 15, 20, 25, 30, 40, 50, 60, 80),
    "mem_bw_efficiency": (0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9),
    "moe_decode_compute_efficiency": (
        0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2, 0.25, 0.3, 0.4,
    ),
    "moe_prefill_compute_efficiency": (
        0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.1, 0.12, 0.14, 0.16, 0.18, 0.2, 0.25, 0.3,
    ),
    "decode_compute_efficiency": _DENSE_COMPUTE_GRID,
    "prefill_compute_efficiency": _DENSE_COMPUTE_GRID,
    "layer_latency_us": (0, 5, 10, 15, 20, 25, 30, 40, 50, 60, 80),
    "collective_latency_us": (0, 2, 4, 6, 8, 10, 15, 20, 30),
}  # fmt: skip
OVERLAP_GRID: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
# Where the pooled search starts: the priors of docs/performance.md.
START: dict[str, float] = {
    "mem_bw_efficiency": 0.75,
    "moe_decode_compute_efficiency": 0.1,
    "moe_prefill_compute_efficiency": 0.15,
    "moe_layer_latency_us": 50.0,
    "moe_layer_latency_per_doubling_us": 10.0,
    "decode_compute_efficiency": 0.5,
    "prefill_compute_efficiency": 0.5,
    "layer_latency_us": 10.0,
    "collective_latency_us": 8.0,
}
SWEEPS = 3
# Parameters searched jointly: the two parts of a fixed step cost, which trade off.
COUPLED: tuple[tuple[str, str], ...] = (
    ("moe_layer_latency_us", "moe_layer_latency_per_doubling_us"),
    ("layer_latency_us", "collective_latency_us"),
)
# Parameters that are one value: a dense model's decode step and its prompt pass run the
# same GEMMs (weights x tokens), so compute-bound they reach the same share of peak; fitted
# apart they trade off on the online points and fail to transfer (docs/performance.md).
TIED: tuple[tuple[str, ...], ...] = (("decode_compute_efficiency", "prefill_compute_efficiency"),)
# Columns a replayed point keeps for the report and the tables built from it.
_POINT_KEYS: tuple[str, ...] = (
    "source",
    "regime",
    "hardware",
    "catalog_rack_type",
    "arch",
    "model",
    "framework",
    "precision",
    "parallelism",
    "disagg",
    "dp_attention",
    "isl",
    "osl",
    "conc",
    "gpus",
    "batch",
    "ttft_ms",
    "user_tps",
    "output_tps_per_gpu",
    "date",
    "url",
    "split",
)


@dataclass(frozen=True)
class Replay:
    """The measured points ready to be estimated under any parameter set."""

    decode: pd.DataFrame  # one row per point of every source (online and offline)
    prefill: pd.DataFrame  # InferenceX: best prefill point of each disaggregated 8k/1k curve


@dataclass(frozen=True)
class Calibration:
    """A fit: parameters per architecture family and every point's model estimate."""

    params: pd.DataFrame  # one row per arch: FITTED_COLUMNS, overlap, points, RMS log error
    decode: pd.DataFrame  # one row per measured point: measured vs model, split, source
    prefill: pd.DataFrame  # best prefill point of each disaggregated curve: measured vs model


def load_accelerators(path: str | Path | None = None) -> pd.DataFrame:
    """accelerators.csv: per-GPU figures of every measured hardware and its arch family."""
    return pd.read_csv(Path(path) if path is not None else CATALOG_DIR / "accelerators.csv")


# --- replaying the measured deployments -------------------------------------------------


def _hardware_specs(accelerators: pd.DataFrame) -> pd.DataFrame:
    """specs.csv-style rows per measured hardware (a 'rack' = one scale-up domain).

    The efficiencies and latencies are the START priors; every fit evaluation overwrites
    them with the parameters it tries (apply_params).
    """
    a = accelerators
    n = a["scaleup_accelerators"].astype(float)
    specs = pd.DataFrame(
        {
            "hardware": a["hardware"],
            "rack_type": a["hardware"],
            "arch": a["arch"],
            "perf_arch": a["arch"],
            "mem_kind": "hbm",
            "max_instance_accelerators": a["max_instance_accelerators"],
            "accelerators_per_rack": n,
            "fp8_pflops_per_rack": a["fp8_pflops"] * n,
            "fp4_pflops_per_rack": a["fp4_pflops"] * n,
            "mem_gb_per_rack": a["mem_gb"] * n,
            "mem_tb_per_s_per_rack": a["mem_tb_per_s"] * n,
            "scaleup_accelerators": n,
            "min_weight_bytes_per_param": a["min_weight_bytes_per_param"],
            "mem_usable_frac": 0.9,
            "overlap": 0.0,
        }
    )
    return specs.assign(**START)


def _kv_replication(x: pd.DataFrame) -> np.ndarray:
    """How many copies of a user's KV an instance holds: tensor-parallel attention over g
    GPUs splits the KV heads, so g > kv_heads stores each user's KV on g / kv_heads GPUs
    (MLA's latent KV is one head: on all g); data-parallel attention keeps one copy."""
    g = x["g"].to_numpy(dtype=float)
    heads = x["kv_heads"].to_numpy(dtype=float)
    return np.where(x["dp_attention"].to_numpy(dtype=bool), 1.0, g / np.minimum(g, heads))


def _decoding_users(conc, osl, user_tps, ttft_ms) -> np.ndarray:
    """Users decoding at once out of `conc` in flight: each waits TTFT, then decodes osl
    tokens at user_tps, so the decoding share is (osl / u) / (TTFT + osl / u)."""
    decode_s = osl / user_tps
    return conc * decode_s / (np.nan_to_num(ttft_ms) / 1e3 + decode_s)


def replay_frame(
    measured: pd.DataFrame, accelerators: pd.DataFrame, models: pd.DataFrame
) -> pd.DataFrame:
    """One row per InferenceX point without speculative decoding, with its instance figures.

    perf.derive_instances for the measured deployment: g accelerators per decode instance;
    `batch` = users decoding at once per instance (_decoding_users over the decode
    workers); KV copies per _kv_replication.
    """
    m = measured[(measured["spec_method"] == "none") & measured["model"].isin(models["model"])]
    x = m.rename(columns={"rack_type": "catalog_rack_type", "run_url": "url"})
    x = x.merge(_hardware_specs(accelerators).drop(columns="rack_type"), on="hardware")
    keys = ["model", "precision", "isl", "osl"]
    x = x.merge(served_variants(models, m[keys], LENGTH_FACTOR), on=keys)
    x["g"] = x["decode_instance_gpus"].astype(float)
    x = derive_instances(x)
    users = _decoding_users(x["conc"], x["osl"] * LENGTH_FACTOR, x["user_tps"], x["ttft_ms"])
    x["batch"] = users / x["decode_workers"]
    x["kv_bytes_per_user"] *= _kv_replication(x)
    held = (x["isl"] == HELD_OUT_ISL_OSL[0]) & (x["osl"] == HELD_OUT_ISL_OSL[1])
    x["split"] = np.where(held, "held-out", "fitted")
    x["source"] = INFERENCEX
    x["regime"] = "online"
    x["parallelism"] = (
        np.where(
            x["disagg"],
            "disagg " + x["prefill_gpus"].astype(str) + "+" + x["decode_gpus"].astype(str),
            "agg",
        )
        + " tp"
        + x["decode_tp"].astype(str)
        + np.where(x["dp_attention"], " dp-attn", "")
    )
    return x


def published_frame(
    published: pd.DataFrame, accelerators: pd.DataFrame, models: pd.DataFrame
) -> pd.DataFrame:
    """One row per published figure (published.csv), with its instance figures.

    Aggregated serving on instances of `instance_gpus`; online rows decode
    _decoding_users(conc, ...) users at once, offline rows the most users the memory holds
    at their lengths (KV copies per _kv_replication), at most `conc` where the page gives
    the engine's cap on concurrent requests (vLLM's --max-num-seqs). Lengths are as
    published (fixed).
    """
    keys = ["model", "precision", "isl", "osl"]
    x = published.rename(columns={"instance_gpus": "g"}).copy()
    x = x.merge(_hardware_specs(accelerators).drop(columns="rack_type"), on="hardware")
    x = x.merge(served_variants(models, published[keys]), on=keys)
    x["g"] = x["g"].astype(float)
    x = derive_instances(x)
    x["kv_bytes_per_user"] *= _kv_replication(x)
    x["max_batch"] = np.floor((x["mem_bytes"] - x["weight_bytes"]) / x["kv_bytes_per_user"])
    online = x["regime"] == "online"
    users = _decoding_users(x["conc"], x["osl"], x["user_tps"], x["ttft_ms"])
    cap = pd.to_numeric(x["conc"], errors="coerce").fillna(np.inf).to_numpy()
    x["batch"] = np.where(online, users, np.minimum(x["max_batch"], cap))
    x["gpus"] = x["g"].astype(int)
    x["disagg"] = False
    x["catalog_rack_type"] = x["hardware"].map(RACK_TYPE_OF_HARDWARE).fillna("")
    x["split"] = "fitted"
    return x


def load_replay(
    measured: pd.DataFrame | None = None,
    published: pd.DataFrame | None = None,
    accelerators: pd.DataFrame | None = None,
    models: pd.DataFrame | None = None,
) -> Replay:
    """Every source's points replayed (the catalog's tables where not given)."""
    measured = load_measured() if measured is None else measured
    published = load_published() if published is None else published
    accelerators = load_accelerators() if accelerators is None else accelerators
    models = load_catalog().models if models is None else models
    inferencex = replay_frame(measured, accelerators, models)
    parts = [inferencex]
    if not published.empty:
        parts.append(published_frame(published, accelerators, models))
    decode = pd.concat(parts, ignore_index=True)
    return Replay(decode=decode, prefill=prefill_points(inferencex))


def apply_params(x: pd.DataFrame, params: pd.DataFrame, overlap: float) -> None:
    """Set the parameters of replay rows from `params` (indexed by arch) and re-derive
    their rates and step floor (perf.apply_efficiencies)."""
    p = params.reindex(x["arch"])
    for col in FITTED_COLUMNS:
        x[col] = p[col].to_numpy()
    x["overlap"] = overlap
    apply_efficiencies(x)


def model_user_tps(x: pd.DataFrame) -> np.ndarray:
    """Per-user speed the model gives each replayed point (1 / time per output token).

    Disaggregated: one decode step. Aggregated: the step plus the prompt work the same
    instance does per step (batch x isl/osl prompt tokens at its prefill FLOP/s).
    """
    step = step_time_s(x, x["batch"].to_numpy())
    prompt_per_step = x["batch"].to_numpy() * (x["isl"] / x["osl"]).to_numpy()
    prefill_s = (
        prompt_per_step
        * x["prefill_flops_per_token"].to_numpy()
        / x["prefill_flops_per_s"].to_numpy()
    )
    return 1.0 / np.where(x["disagg"].to_numpy(dtype=bool), step, step + prefill_s)


def model_ratio(x: pd.DataFrame) -> np.ndarray:
    """model / measured of each replayed point.

    Online: model / measured per-user speed at the measured concurrency (= the ratio of
    tokens/s at that load). Offline: the model's output tokens/s per GPU at the batch the
    memory holds (batch x per-user speed / g, prefill included) / the measured one.
    """
    speed = model_user_tps(x)
    offline = (x["regime"] == "offline").to_numpy()
    measured_speed = x["user_tps"].to_numpy(dtype=float)
    offline_out = x["batch"].to_numpy() * speed / x["g"].to_numpy(dtype=float)
    return np.where(
        offline, offline_out / x["output_tps_per_gpu"].to_numpy(), speed / measured_speed
    )


def model_prefill_tps_per_gpu(x: pd.DataFrame) -> np.ndarray:
    """Prefill tokens/s per GPU the model gives (prefill FLOP/s per GPU / FLOPs per token)."""
    return (x["prefill_flops_per_s"] / x["g"] / x["prefill_flops_per_token"]).to_numpy()


def prefill_points(x: pd.DataFrame) -> pd.DataFrame:
    """The best prefill tokens/s per prefill GPU of each disaggregated 8k/1k curve.

    Only the prefill-bound runs (8,192 input tokens per 1,024 output): at 1k/1k and 1k/8k
    the prefill GPUs of a disaggregated deployment mostly wait for work, so their rate is
    a loose lower bound, not a capacity.
    """
    isl, osl = CATALOG_ISL_OSL
    d = x[x["disagg"].astype(bool) & (x["isl"] == isl) & (x["osl"] == osl)]
    best = d.groupby(["hardware", "precision", "isl", "osl"])["prefill_tps_per_prefill_gpu"]
    return d.loc[best.idxmax()].reset_index(drop=True)


# --- the fit ---------------------------------------------------------------------------


def _log_errors(x: pd.DataFrame, pre: pd.DataFrame) -> np.ndarray:
    """Log errors (model / measured) of the decode points and the prefill points."""
    pref = np.log(model_prefill_tps_per_gpu(pre) / pre["prefill_tps_per_prefill_gpu"].to_numpy())
    return np.concatenate([np.log(model_ratio(x)), pref])


def source_weights(x: pd.DataFrame, pre: pd.DataFrame) -> np.ndarray:
    """Each point's weight in the loss: 1 / (points of its source in x and pre), so that
    every source weighs the same whatever its number of points."""
    sources = pd.concat([x["source"], pre["source"]], ignore_index=True)
    return 1.0 / sources.map(sources.value_counts()).to_numpy(dtype=float)


def _search(
    x: pd.DataFrame, pre: pd.DataFrame, start: dict[str, float], columns, overlap: float
) -> tuple[dict[str, float], float]:
    """Coordinate search over GRIDS of `columns` from `start` (COUPLED pairs over their
    joint grid), one parameter set for all rows of x and pre; returns (parameters, weighted
    sum of squared log errors). A parameter moves only when it lowers the error, so one the
    rows do not inform keeps its start."""
    x, pre = x.assign(arch=POOLED), pre.assign(arch=POOLED)
    weights = source_weights(x, pre)
    best = dict(start)

    def loss(values: dict[str, float]) -> float:
        p = pd.DataFrame([values], index=[POOLED])
        apply_params(x, p, overlap)
        apply_params(pre, p, overlap)
        return float(np.sum(weights * _log_errors(x, pre) ** 2))

    score = loss(best)
    for _ in range(SWEEPS):
        before = score
        for group, grid in _coordinates(columns):
            for values in grid:
                trial = {**best, **dict(zip(group, map(float, values), strict=True))}
                s = loss(trial)
                if s < score - 1e-12:
                    best, score = trial, s
        if score == before:  # a sweep that moved nothing: the next would not either
            break
    return best, score


def _coordinates(columns) -> list[tuple[tuple[str, ...], list[tuple[float, ...]]]]:
    """The search's coordinates, each (its columns, the values it tries): a column alone
    over its grid; TIED columns as one value over their common grid; the two parts of one
    fixed cost (a base and its growth, COUPLED) over their joint grid, since they trade off
    against each other."""
    tied = [group for group in TIED if set(group) <= set(columns)]
    coupled = [pair for pair in COUPLED if set(pair) <= set(columns)]
    grouped = {col for group in (*tied, *coupled) for col in group}
    coords: list[tuple[tuple[str, ...], list[tuple[float, ...]]]] = [
        ((col,), [(v,) for v in GRIDS[col]]) for col in columns if col not in grouped
    ]
    coords += [(group, [(v,) * len(group) for v in GRIDS[group[0]]]) for group in tied]
    coords += [(pair, list(itertools.product(*(GRIDS[col] for col in pair)))) for pair in coupled]
    return coords


def fit_params(
    x: pd.DataFrame, pre: pd.DataFrame, start: dict[str, float], overlap: float
) -> tuple[dict[str, float], float]:
    """One parameter set for the rows of x and pre, in two stages, from `start`.

    A fixed step cost shows only where batches are small, so the latencies are fitted on
    the online points (a measured concurrency, every parameter searched); then, with the
    latencies held, the efficiencies on every point, offline maxima included (at their
    large batches a fixed cost is all but invisible, and an offline point would otherwise
    move a latency to stand for some other shortfall). Returns (parameters, loss of stage 2).
    """
    online = x["regime"] == "online"
    if online.any() or not pre.empty:
        start, _ = _search(x[online], pre, start, FITTED_COLUMNS, overlap)
    rates = [c for c in FITTED_COLUMNS if c not in LATENCY_COLUMNS]
    return _search(x, pre, start, rates, overlap)


def fit_families(x: pd.DataFrame, pre: pd.DataFrame, overlap: float) -> tuple[pd.DataFrame, float]:
    """Pooled parameters over every row, then each family's from them on its own rows.

    Returns the parameters per arch of ARCH_ORDER (a family without rows keeps the pooled
    values) with the pooled row, and the families' total loss.
    """
    pooled, _ = fit_params(x, pre, START, overlap)
    fits, total = {POOLED: pooled}, 0.0
    for arch in ARCH_ORDER:
        xa, pa = x[x["arch"] == arch], pre[pre["arch"] == arch]
        if xa.empty and pa.empty:
            fits[arch] = pooled
            continue
        fits[arch], score = fit_params(xa, pa, pooled, overlap)
        total += score
    params = pd.DataFrame.from_dict(fits, orient="index")[list(FITTED_COLUMNS)]
    params.index.name = "arch"
    return params, total


def fit(
    replay: Replay | None = None,
    overlaps: tuple[float, ...] = OVERLAP_GRID,
    sources: tuple[str, ...] | None = None,
) -> Calibration:
    """Fit on the fitted split of `sources` (default: all); estimate every point with it.

    `overlaps`: the compute/memory overlaps tried (all families share the best one).
    """
    replay = load_replay() if replay is None else replay
    x, pre = replay.decode, replay.prefill
    keep = sources if sources is not None else tuple(x["source"].unique())
    train = x[(x["split"] == "fitted") & x["source"].isin(keep)]
    train_pre = pre[(pre["split"] == "fitted") & pre["source"].isin(keep)]
    best_total, best = np.inf, None
    for overlap in overlaps:
        params, total = fit_families(train, train_pre, overlap)
        if total < best_total - 1e-12:
            best_total, best = total, (params, overlap)
    assert best is not None, "every overlap was tried"
    params, overlap = best
    return evaluate(params, overlap, replay)


def evaluate(params: pd.DataFrame, overlap: float, replay: Replay) -> Calibration:
    """Every point's model estimate and error under `params` (indexed by arch)."""
    x, pre = replay.decode.copy(), replay.prefill.copy()
    apply_params(x, params, overlap)
    apply_params(pre, params, overlap)
    x["model_user_tps"] = model_user_tps(x)
    x["ratio"] = model_ratio(x)
    x["error"] = x["ratio"] - 1
    x["model_output_tps_per_gpu"] = x["output_tps_per_gpu"] * x["ratio"]
    pre["model_prefill_tps_per_gpu"] = model_prefill_tps_per_gpu(pre)
    pre["error"] = pre["model_prefill_tps_per_gpu"] / pre["prefill_tps_per_prefill_gpu"] - 1
    summary = params[list(FITTED_COLUMNS)].copy()
    summary["overlap"] = overlap
    for split in ("fitted", "held-out"):
        errs = x.loc[x["split"] == split].groupby("arch")["error"]
        summary[f"{split}_points"] = errs.size().reindex(summary.index).fillna(0).astype(int)
        summary[f"{split}_rms_log_error"] = errs.apply(
            lambda e: float(np.sqrt(np.mean(np.log1p(e) ** 2)))
        ).reindex(summary.index)
    return Calibration(params=summary.reset_index(), decode=x, prefill=pre)


def leave_one_source_out(
    replay: Replay | None = None, overlaps: tuple[float, ...] = OVERLAP_GRID
) -> pd.DataFrame:
    """Every point estimated by the fit made without its source (the other sources'
    fitted split): the decode rows of fit(sources=others), one block per source."""
    replay = load_replay() if replay is None else replay
    sources = tuple(replay.decode["source"].unique())
    parts = []
    for held in sources:
        others = tuple(s for s in sources if s != held)
        cal = fit(replay, overlaps, sources=others)
        parts.append(cal.decode[cal.decode["source"] == held])
    return pd.concat(parts, ignore_index=True)


def calibration_params(path: str | Path | None = None) -> pd.DataFrame:
    """The committed fit (calibration.csv): one row per arch family and the pooled row."""
    return pd.read_csv(Path(path) if path is not None else CATALOG_DIR / "calibration.csv")


def committed_calibration(replay: Replay | None = None) -> Calibration:
    """The committed parameters evaluated on every source's points (no refit)."""
    c = calibration_params().set_index("arch")
    replay = load_replay() if replay is None else replay
    return evaluate(c[list(FITTED_COLUMNS)], float(c["overlap"].iloc[0]), replay)


def apply_to_specs(specs: pd.DataFrame, params: pd.DataFrame) -> pd.DataFrame:
    """specs with the fitted columns set on rows whose perf_arch was fitted, and the fitted
    overlap on every row (running layers in sequence is no family's trait: racks without a
    fit carry it too)."""
    p = params.set_index("arch") if "arch" in params.columns else params
    out = specs.copy()
    rows = out["perf_arch"].isin(p.index)
    for col in FITTED_COLUMNS:
        out[col] = out[col].astype(float)
        out.loc[rows, col] = out.loc[rows, "perf_arch"].map(p[col])
    out["overlap"] = float(p["overlap"].iloc[0])
    return out


def fitted_hardware_specs(params: pd.DataFrame, accelerators: pd.DataFrame) -> pd.DataFrame:
    """specs.csv-style rows per measured hardware with the fitted family parameters."""
    specs = _hardware_specs(accelerators)
    return apply_to_specs(specs, params)


def frontier_check(
    params: pd.DataFrame,
    measured: pd.DataFrame,
    accelerators: pd.DataFrame,
    models: pd.DataFrame,
) -> pd.DataFrame:
    """The planner's view: the model's best deployment vs the best measured one.

    Per hardware, precision and lengths (no speculative decoding), the measured point of
    most output tokens/s per GPU (any framework, aggregated or disaggregated) against the
    model's best instance and batch at that point's per-user speed (prefill and decode
    blended on the same GPUs, operating_point). Measured deployments are a handful of
    configurations, so the model may find a better one: a model above measured is not
    necessarily wrong, one below is.
    """
    m = measured[(measured["spec_method"] == "none") & measured["model"].isin(models["model"])]
    curve = ["hardware", "model", "precision", "isl", "osl"]
    best = m.loc[m.groupby(curve)["output_tps_per_gpu"].idxmax()].reset_index(drop=True)
    specs = fitted_hardware_specs(params, accelerators)
    queries = best[[*curve, "user_tps"]].rename(columns={"hardware": "rack_type"})
    est = model_estimates(specs, models, queries, LENGTH_FACTOR)
    out = best[[*curve, "framework", "disagg", "gpus", "user_tps", "output_tps_per_gpu"]].copy()
    out["model_output_tps_per_gpu"] = est["output_tps_per_gpu"].to_numpy()
    out["model_gpus"] = est["gpus"].to_numpy()
    out["error"] = out["model_output_tps_per_gpu"] / out["output_tps_per_gpu"] - 1
    held = (out["isl"] == HELD_OUT_ISL_OSL[0]) & (out["osl"] == HELD_OUT_ISL_OSL[1])
    out["split"] = np.where(held, "held-out", "fitted")
    return out


# --- the error by source -----------------------------------------------------------------

SOURCES_FILE = "calibration_sources.csv"
SOURCE_GROUPS: tuple[tuple[str, ...], ...] = (
    ("source",),
    ("source", "regime"),
    ("source", "regime", "hardware"),
)


def _transfer_stats(ratio: pd.Series) -> dict[str, float]:
    """Points, share within TRANSFER_FACTOR, geometric-mean error exp(mean |ln r|), median."""
    log = np.log(ratio.to_numpy(dtype=float))
    return {
        "points": len(log),
        "within_1_5x": float(np.mean(np.abs(log) <= np.log(TRANSFER_FACTOR))),
        "gm_error": float(np.exp(np.mean(np.abs(log)))),
        "median_ratio": float(np.exp(np.median(log))),
    }


def source_table(fitted: pd.DataFrame, left_out: pd.DataFrame) -> pd.DataFrame:
    """The error by source, regime and hardware: model / measured of every point under the
    fit of all sources (`fitted_*`) and under the fit without the point's source (`loso_*`).
    `regime` / `hardware` are `all` on the rows that sum over them."""
    rows = []
    for group in SOURCE_GROUPS:
        for key, f in fitted.groupby(list(group)):
            key = key if isinstance(key, tuple) else (key,)
            mask = np.ones(len(left_out), dtype=bool)
            for col, val in zip(group, key, strict=True):
                mask &= (left_out[col] == val).to_numpy()
            row = dict(zip(group, key, strict=True))
            row = {"source": row["source"], "regime": row.get("regime", ALL),
                   "hardware": row.get("hardware", ALL)}  # fmt: skip
            row |= {f"fitted_{k}": v for k, v in _transfer_stats(f["ratio"]).items()}
            loso = _transfer_stats(left_out.loc[mask, "ratio"])
            row |= {f"loso_{k}": v for k, v in loso.items() if k != "points"}
            rows.append(row)
    table = pd.DataFrame(rows).rename(columns={"fitted_points": "points"})
    return table.sort_values(["source", "regime", "hardware"], ignore_index=True)


def load_source_table(catalog_dir: str | Path | None = None) -> pd.DataFrame:
    """The committed calibration_sources.csv."""
    folder = Path(catalog_dir) if catalog_dir is not None else CATALOG_DIR
    return pd.read_csv(folder / SOURCES_FILE)


# --- the report --------------------------------------------------------------------------


def summary_table(cal: Calibration) -> pd.DataFrame:
    """Per source, hardware and split: points, median and RMS error, share within +-25%,
    and the error at each measured configuration's maximum-throughput point."""
    x = cal.decode
    curve = ["source", "hardware", "model", "framework", "precision", "parallelism", "isl",
             "osl", "gpus", "date"]  # fmt: skip
    at_max = x.loc[x.groupby(curve, dropna=False)["output_tps_per_gpu"].idxmax()]
    rows = []
    groups = [
        *x.groupby(["source", "hardware", "split"]),
        *(((s, ALL, split), d) for (s, split), d in x.groupby(["source", "split"])),
    ]
    for (source, hw, split), d in groups:
        m = at_max[(at_max["split"] == split) & (at_max["source"] == source)]
        m = m if hw == ALL else m[m["hardware"] == hw]
        rows.append(
            {
                "source": source,
                "hardware": hw,
                "rack_type": d["catalog_rack_type"].iloc[0] if hw != ALL else "",
                "split": split,
                "points": len(d),
                "median_abs_error": float(d["error"].abs().median()),
                "rms_log_error": float(np.sqrt(np.mean(np.log1p(d["error"]) ** 2))),
                "within_25pct": float((d["error"].abs() <= WITHIN).mean()),
                "max_tput_points": len(m),
                "max_tput_median_abs_error": float(m["error"].abs().median()),
                "max_tput_within_25pct": float((m["error"].abs() <= WITHIN).mean()),
            }
        )
    return pd.DataFrame(rows)


def write(cal: Calibration, left_out: pd.DataFrame, catalog_dir: str | Path | None = None) -> None:
    """Write calibration.csv, the fitted values into specs.csv and calibration_sources.csv
    (atomically)."""
    folder = Path(catalog_dir) if catalog_dir is not None else CATALOG_DIR
    write_csv_atomic(folder / "calibration.csv", cal.params, float_format="%.6g")
    specs = pd.read_csv(folder / "specs.csv")
    write_csv_atomic(folder / "specs.csv", apply_to_specs(specs, cal.params), float_format="%.10g")
    write_csv_atomic(folder / SOURCES_FILE, source_table(cal.decode, left_out), float_format="%.6g")


def _fmt_table(frame: pd.DataFrame, formats: dict[str, str]) -> str:
    """A DataFrame as aligned text, numbers formatted per column."""
    shown = frame.copy()
    for col, fmt in formats.items():
        if col in shown.columns:
            shown[col] = shown[col].map(lambda v, f=fmt: "" if pd.isna(v) else f.format(v))
    return shown.to_string(index=False)


_POINT_COLUMNS = {
    "source": "source",
    "regime": "regime",
    "hardware": "hardware",
    "catalog_rack_type": "rack_type",
    "model": "model",
    "lengths": "isl/osl",
    "precision": "prec",
    "framework": "framework",
    "parallelism": "parallelism",
    "gpus": "gpus",
    "conc": "conc",
    "user_tps": "user_tps",
    "model_user_tps": "model_user_tps",
    "output_tps_per_gpu": "out_tps_gpu",
    "model_output_tps_per_gpu": "model_out_tps_gpu",
    "error": "error",
    "date": "date",
}


def format_report(cal: Calibration, frontier: pd.DataFrame, sources: pd.DataFrame) -> str:
    """The calibration report `fleetopt perf --calibration` prints (sources: the error by
    source, source_table)."""
    lo, hi = HELD_OUT_ISL_OSL
    lines = [
        "Calibration of fleetopt.catalog.perf against measured serving of every source:",
        "InferenceX (measured.csv: DeepSeek-R1, online at a measured concurrency, no",
        "speculative decoding) and published figures (published.csv: TensorRT-LLM, NVIDIA NIM,",
        "an OCI blog, AMD's Instinct performance results; online, or offline maximum",
        "throughput). Each point replays its measured deployment; error = model / measured - 1",
        "of tokens/s per GPU at that load (offline: at the batch the memory holds, at most the",
        "engine's stated cap on requests in flight). Held out of every fit: InferenceX's",
        f"{lo}/{hi} runs.",
        "",
        "Fitted parameters per architecture family (calibration.csv; pooled: all GPU families",
        "together, kept by a family for what its points do not inform; a dense model's decode",
        "and prefill compute efficiency are one fitted value)",
        _fmt_table(
            cal.params,
            {c: "{:.3g}" for c in cal.params.columns if c != "arch" and "points" not in c},
        ),
        "",
        f"Error by source (calibration_sources.csv): within = share of points within "
        f"{TRANSFER_FACTOR:g}x,",
        "gm = geometric-mean error exp(mean |ln(model / measured)|), median = median model /",
        "measured; fitted = under the fit of all sources, loso = under the fit made without",
        "the point's source (leave one source out)",
        _fmt_table(
            sources,
            {
                **{f"{k}_within_1_5x": "{:.0%}" for k in ("fitted", "loso")},
                **{f"{k}_gm_error": "{:.2f}" for k in ("fitted", "loso")},
                **{f"{k}_median_ratio": "{:.2f}" for k in ("fitted", "loso")},
            },
        ),
        "",
        f"Summary per source, hardware and split (within = share of points within +-{WITHIN:.0%};",
        "max-tput = each measured configuration's highest-throughput point)",
        _fmt_table(
            summary_table(cal),
            {
                "median_abs_error": "{:.1%}",
                "rms_log_error": "{:.3f}",
                "within_25pct": "{:.0%}",
                "max_tput_median_abs_error": "{:.1%}",
                "max_tput_within_25pct": "{:.0%}",
            },
        ),
        "",
        "Planner view: the best measured deployment vs the model's best at the same",
        "per-user speed (prefill and decode blended on the same GPUs). Measured deployments",
        "are a few configurations each, so the model above measured may be a better",
        "configuration that was not run; below measured is a model error.",
        _fmt_table(
            frontier.drop(columns="model"),
            {
                "user_tps": "{:.1f}",
                "output_tps_per_gpu": "{:,.0f}",
                "model_output_tps_per_gpu": "{:,.0f}",
                "error": "{:+.0%}",
            },
        ),
        "",
        "Prefill: best tokens/s per prefill GPU of each disaggregated 8k/1k curve (fitted)",
        _fmt_table(
            cal.prefill[
                [
                    "hardware",
                    "precision",
                    "framework",
                    "prefill_tps_per_prefill_gpu",
                    "model_prefill_tps_per_gpu",
                    "error",
                    "date",
                    "url",
                ]
            ],
            {
                "prefill_tps_per_prefill_gpu": "{:,.0f}",
                "model_prefill_tps_per_gpu": "{:,.0f}",
                "error": "{:+.0%}",
            },
        ),
    ]
    x = cal.decode.assign(
        lengths=cal.decode["isl"].astype(str) + "/" + cal.decode["osl"].astype(str)
    )
    order = ["source", "hardware", "model", "isl", "osl", "precision", "framework", "gpus", "conc"]
    x = x.sort_values(order)
    for split in ("fitted", "held-out"):
        part = x[x["split"] == split][list(_POINT_COLUMNS)].rename(columns=_POINT_COLUMNS)
        lines += [
            "",
            f"{split.capitalize()} points ({len(part):,})",
            _fmt_table(
                part,
                {
                    "user_tps": "{:.1f}",
                    "model_user_tps": "{:.1f}",
                    "out_tps_gpu": "{:,.1f}",
                    "model_out_tps_gpu": "{:,.1f}",
                    "error": "{:+.0%}",
                },
            ),
        ]
    return "\n".join(lines) + "\n"


def report() -> str:
    """The report for the committed calibration (no refit)."""
    cal = committed_calibration()
    params = calibration_params().set_index("arch")
    frontier = frontier_check(params, load_measured(), load_accelerators(), load_catalog().models)
    return format_report(cal, frontier, load_source_table())


if __name__ == "__main__":
    replay = load_replay()
    write(fit(replay), leave_one_source_out(replay))
