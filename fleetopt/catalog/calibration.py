"""Fit the performance model to measured DeepSeek-R1 serving and report its error.

Every measured point (measured.csv, no speculative decoding) is a deployment the model
can replay: its decode instance size g, how many users were decoding at once, whether
attention was data-parallel, aggregated or disaggregated serving, input and output
lengths. For each, the model predicts the time per output token; the error is
model / measured per-user speed at the same concurrency, which equals model / measured
tokens per second at that load. Disaggregated runs also give prefill tokens/s per prefill
GPU; the best one per curve is fitted (at lower loads prefill GPUs wait for work).

Per architecture family (hopper, blackwell, cdna3, cdna4) a coordinate search over grids
minimizes the squared log error of the fitted points: memory-bandwidth efficiency, MoE
decode and prefill compute efficiency, and the MoE per-layer step cost (base, and growth
per doubling of g). One compute/memory overlap for all families is picked from its grid
by the total error. Held out: every 1k-in/8k-out run, an input length and output/input
ratio the fit never sees. `python -m fleetopt.catalog.calibration` writes calibration.csv and the
fitted values into the specs.csv rows whose `perf_arch` names the family.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fleetopt.catalog.measured import CATALOG_ISL_OSL, load_measured
from fleetopt.catalog.operating_point import model_estimates, served_variants
from fleetopt.catalog.perf import (
    CATALOG_DIR,
    derive_instances,
    load_catalog,
    moe_layer_floor_us,
    step_time_s,
)
from fleetopt.io.store import write_csv_atomic

HELD_OUT_ISL_OSL: tuple[int, int] = (1024, 8192)
LENGTH_FACTOR = 0.9  # InferenceX draws lengths from 80-100% of nominal: 90% on average
WITHIN = 0.25  # the accuracy goal: model within +-25% of measured
ALL = "all"  # the summary row over every hardware
ARCH_ORDER: tuple[str, ...] = ("hopper", "blackwell", "cdna3", "cdna4")
FITTED_COLUMNS: tuple[str, ...] = (
    "mem_bw_efficiency",
    "moe_decode_compute_efficiency",
    "moe_prefill_compute_efficiency",
    "moe_layer_latency_us",
    "moe_layer_latency_per_doubling_us",
)
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
}  # fmt: skip
OVERLAP_GRID: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
START: dict[str, float] = {
    "mem_bw_efficiency": 0.75,
    "moe_decode_compute_efficiency": 0.1,
    "moe_prefill_compute_efficiency": 0.15,
    "moe_layer_latency_us": 50.0,
    "moe_layer_latency_per_doubling_us": 10.0,
}
SWEEPS = 3
# Each fitted efficiency scales one rate of the replay frame: (rate column, its peak).
_RATES = {
    "mem_bw_efficiency": ("bw_bytes_per_s", "peak_bw_bytes_per_s"),
    "moe_decode_compute_efficiency": ("flops_per_s", "peak_flops_per_s"),
    "moe_prefill_compute_efficiency": ("prefill_flops_per_s", "peak_prefill_flops_per_s"),
}


@dataclass(frozen=True)
class Calibration:
    """A fit: parameters per architecture family and every point's model estimate."""

    params: pd.DataFrame  # one row per arch: FITTED_COLUMNS, overlap, points, RMS log error
    decode: pd.DataFrame  # one row per measured decode point: measured vs model, split
    prefill: pd.DataFrame  # best prefill point of each disaggregated curve: measured vs model


def load_accelerators(path: str | Path | None = None) -> pd.DataFrame:
    """accelerators.csv: per-GPU figures of every measured hardware and its arch family."""
    return pd.read_csv(Path(path) if path is not None else CATALOG_DIR / "accelerators.csv")


# --- replaying the measured deployments -------------------------------------------------


def _hardware_specs(accelerators: pd.DataFrame) -> pd.DataFrame:
    """specs.csv-style rows per measured hardware (a 'rack' = one scale-up domain).

    Efficiencies are 1 and latencies 0: the replay frame then holds peak rates, and each
    fit evaluation scales them by the parameters it tries.
    """
    a = accelerators
    n = a["scaleup_accelerators"].astype(float)
    return pd.DataFrame(
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
            "mem_bw_efficiency": 1.0,
            "prefill_compute_efficiency": 1.0,
            "decode_compute_efficiency": 1.0,
            "moe_prefill_compute_efficiency": 1.0,
            "moe_decode_compute_efficiency": 1.0,
            "layer_latency_us": 0.0,
            "collective_latency_us": 0.0,
            "moe_layer_latency_us": 0.0,
            "moe_layer_latency_per_doubling_us": 0.0,
            "overlap": 0.0,
        }
    )


def replay_frame(
    measured: pd.DataFrame, accelerators: pd.DataFrame, models: pd.DataFrame
) -> pd.DataFrame:
    """One row per measured point without speculative decoding, with its instance figures.

    perf.derive_instances at peak rates, for the measured deployment: g accelerators per
    decode instance; `batch` = users decoding at once per instance (a user waits TTFT, then
    decodes osl tokens, so the decoding share is (osl/u) / (TTFT + osl/u)); KV read by all
    g accelerators when attention is tensor-parallel (MLA's latent KV does not split by
    head), by its own accelerator when data-parallel.
    """
    m = measured[(measured["spec_method"] == "none") & measured["model"].isin(models["model"])]
    x = m.rename(columns={"rack_type": "catalog_rack_type"})
    x = x.merge(_hardware_specs(accelerators).drop(columns="rack_type"), on="hardware")
    keys = ["model", "precision", "isl", "osl"]
    x = x.merge(served_variants(models, m[keys], LENGTH_FACTOR), on=keys)
    x["g"] = x["decode_instance_gpus"].astype(float)
    x = derive_instances(x)
    decode_s = x["osl"] * LENGTH_FACTOR / x["user_tps"]
    x["batch"] = x["conc"] * decode_s / (x["ttft_ms"] / 1e3 + decode_s) / x["decode_workers"]
    x["kv_bytes_per_user"] *= np.where(x["dp_attention"], 1.0, x["g"])
    for rate, peak in _RATES.values():
        x[peak] = x[rate]
    held = (x["isl"] == HELD_OUT_ISL_OSL[0]) & (x["osl"] == HELD_OUT_ISL_OSL[1])
    x["split"] = np.where(held, "held-out", "fitted")
    return x


def _set_params(x: pd.DataFrame, params: pd.DataFrame, overlap: float) -> None:
    """Scale peak rates and set the step floor of replay rows to `params` (by arch)."""
    p = params.reindex(x["arch"])
    for col, (rate, peak) in _RATES.items():
        x[rate] = x[peak].to_numpy() * p[col].to_numpy()
    x["step_floor_s"] = (
        x["layers"].to_numpy()
        * moe_layer_floor_us(
            p["moe_layer_latency_us"].to_numpy(),
            p["moe_layer_latency_per_doubling_us"].to_numpy(),
            x["g"].to_numpy(dtype=float),
        )
        * 1e-6
    )
    x["overlap"] = overlap


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
    """Log errors of decode speed and prefill rate (model / measured), concatenated."""
    dec = np.log(model_user_tps(x) / x["user_tps"].to_numpy())
    pref = np.log(model_prefill_tps_per_gpu(pre) / pre["prefill_tps_per_prefill_gpu"].to_numpy())
    return np.concatenate([dec, pref])


def fit_arch(x: pd.DataFrame, pre: pd.DataFrame, overlap: float) -> tuple[dict, float]:
    """Coordinate search over GRIDS for one family; returns (parameters, sum of squares)."""
    best = dict(START)
    arch = x["arch"].iloc[0]

    def loss(values: dict) -> float:
        p = pd.DataFrame([values], index=[arch])
        _set_params(x, p, overlap)
        _set_params(pre, p, overlap)
        return float(np.sum(_log_errors(x, pre) ** 2))

    score = loss(best)
    for _ in range(SWEEPS):
        for col in FITTED_COLUMNS:
            for value in GRIDS[col]:
                trial = {**best, col: float(value)}
                s = loss(trial)
                if s < score - 1e-12:
                    best, score = trial, s
    return best, score


def fit(
    measured: pd.DataFrame | None = None,
    accelerators: pd.DataFrame | None = None,
    models: pd.DataFrame | None = None,
    overlaps: tuple[float, ...] = OVERLAP_GRID,
) -> Calibration:
    """Fit every family with data on the fitted split; estimate every point with the fit.

    `overlaps`: the compute/memory overlaps tried (all families share the best one).
    """
    measured = load_measured() if measured is None else measured
    accelerators = load_accelerators() if accelerators is None else accelerators
    models = load_catalog().models if models is None else models
    x = replay_frame(measured, accelerators, models)
    pre = prefill_points(x)
    archs = [a for a in ARCH_ORDER if a in set(x["arch"])]
    best_total, best = np.inf, None
    for overlap in overlaps:
        fits, total = {}, 0.0
        for arch in archs:
            xa = x[(x["arch"] == arch) & (x["split"] == "fitted")].copy()
            pa = pre[(pre["arch"] == arch) & (pre["split"] == "fitted")].copy()
            fits[arch], s = fit_arch(xa, pa, overlap)
            total += s
        if total < best_total - 1e-12:
            best_total, best = total, (overlap, fits)
    assert best is not None, "every overlap was tried"
    overlap, fits = best
    params = pd.DataFrame.from_dict(fits, orient="index")[list(FITTED_COLUMNS)]
    params.index.name = "arch"
    return evaluate(params, overlap, x, pre)


def evaluate(
    params: pd.DataFrame, overlap: float, x: pd.DataFrame, pre: pd.DataFrame
) -> Calibration:
    """Every point's model estimate and error under `params` (indexed by arch)."""
    x, pre = x.copy(), pre.copy()
    _set_params(x, params, overlap)
    _set_params(pre, params, overlap)
    x["model_user_tps"] = model_user_tps(x)
    x["model_output_tps_per_gpu"] = x["output_tps_per_gpu"] * x["model_user_tps"] / x["user_tps"]
    x["error"] = x["model_user_tps"] / x["user_tps"] - 1
    pre["model_prefill_tps_per_gpu"] = model_prefill_tps_per_gpu(pre)
    pre["error"] = pre["model_prefill_tps_per_gpu"] / pre["prefill_tps_per_prefill_gpu"] - 1
    summary = params.copy()
    summary["overlap"] = overlap
    for split in ("fitted", "held-out"):
        errs = x.loc[x["split"] == split].groupby("arch")["error"]
        summary[f"{split}_points"] = errs.size().reindex(summary.index).fillna(0).astype(int)
        summary[f"{split}_rms_log_error"] = errs.apply(
            lambda e: float(np.sqrt(np.mean(np.log1p(e) ** 2)))
        ).reindex(summary.index)
    return Calibration(params=summary.reset_index(), decode=x, prefill=pre)


def calibration_params(path: str | Path | None = None) -> pd.DataFrame:
    """The committed fit (calibration.csv): one row per arch family."""
    return pd.read_csv(Path(path) if path is not None else CATALOG_DIR / "calibration.csv")


def committed_calibration() -> Calibration:
    """The committed parameters evaluated on the measured table (no refit)."""
    c = calibration_params().set_index("arch")
    x = replay_frame(load_measured(), load_accelerators(), load_catalog().models)
    overlap = float(c["overlap"].iloc[0])
    return evaluate(c[list(FITTED_COLUMNS)], overlap, x, prefill_points(x))


def apply_to_specs(specs: pd.DataFrame, params: pd.DataFrame) -> pd.DataFrame:
    """specs with the fitted columns (and overlap) set on rows whose perf_arch was fitted."""
    p = params.set_index("arch") if "arch" in params.columns else params
    out = specs.copy()
    rows = out["perf_arch"].isin(p.index)
    for col in [*FITTED_COLUMNS, "overlap"]:
        out.loc[rows, col] = out.loc[rows, "perf_arch"].map(p[col])
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


# --- the report --------------------------------------------------------------------------


def summary_table(cal: Calibration) -> pd.DataFrame:
    """Per hardware, split: points, median and RMS error, share within +-25%, and the
    error at each measured configuration's maximum-throughput point."""
    x = cal.decode
    curve = ["hardware", "framework", "precision", "disagg", "isl", "osl", "gpus", "date"]
    at_max = x.loc[x.groupby(curve)["output_tps_per_gpu"].idxmax()]
    rows = []
    groups = [*x.groupby(["hardware", "split"]), *(((ALL, s), d) for s, d in x.groupby("split"))]
    for (hw, split), d in groups:
        m = at_max[at_max["split"] == split]
        m = m if hw == ALL else m[m["hardware"] == hw]
        rows.append(
            {
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


def write(cal: Calibration, catalog_dir: str | Path | None = None) -> None:
    """Write calibration.csv and the fitted values into specs.csv (atomically)."""
    folder = Path(catalog_dir) if catalog_dir is not None else CATALOG_DIR
    write_csv_atomic(folder / "calibration.csv", cal.params, float_format="%.6g")
    specs = pd.read_csv(folder / "specs.csv")
    write_csv_atomic(folder / "specs.csv", apply_to_specs(specs, cal.params), float_format="%.10g")


def _fmt_table(frame: pd.DataFrame, formats: dict[str, str]) -> str:
    """A DataFrame as aligned text, numbers formatted per column."""
    shown = frame.copy()
    for col, fmt in formats.items():
        if col in shown.columns:
            shown[col] = shown[col].map(lambda v, f=fmt: "" if pd.isna(v) else f.format(v))
    return shown.to_string(index=False)


_POINT_COLUMNS = {
    "hardware": "hardware",
    "catalog_rack_type": "rack_type",
    "model": "model",
    "lengths": "isl/osl",
    "precision": "prec",
    "framework": "framework",
    "mode": "mode",
    "gpus": "gpus",
    "conc": "conc",
    "user_tps": "user_tps",
    "model_user_tps": "model_user_tps",
    "output_tps_per_gpu": "out_tps_gpu",
    "model_output_tps_per_gpu": "model_out_tps_gpu",
    "error": "error",
    "date": "date",
}


def format_report(cal: Calibration, frontier: pd.DataFrame) -> str:
    """The calibration report `fleetopt perf --calibration` prints."""
    lo, hi = HELD_OUT_ISL_OSL
    lines = [
        "Calibration of fleetopt.catalog.perf against measured DeepSeek-R1 serving (InferenceX,",
        "catalog measured.csv; no speculative decoding). Each point replays its measured",
        "deployment (instance size, concurrency, attention sharding, aggregated or",
        "disaggregated); error = model / measured - 1 of tokens/s per GPU at that load.",
        f"Fitted: all other input/output lengths. Held out (never fitted): {lo}/{hi} runs.",
        "",
        "Fitted parameters per architecture family (calibration.csv)",
        _fmt_table(
            cal.params,
            {c: "{:.3g}" for c in cal.params.columns if c != "arch" and "points" not in c},
        ),
        "",
        f"Summary per hardware and model (within = share of points within +-{WITHIN:.0%};",
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
                    "run_url",
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
        lengths=cal.decode["isl"].astype(str) + "/" + cal.decode["osl"].astype(str),
        mode=np.where(cal.decode["disagg"], "disagg", "agg"),
    )
    x = x.sort_values(["hardware", "model", "isl", "osl", "precision", "framework", "gpus", "conc"])
    for split in ("fitted", "held-out"):
        part = x[x["split"] == split][list(_POINT_COLUMNS)].rename(columns=_POINT_COLUMNS)
        lines += [
            "",
            f"{split.capitalize()} points ({len(part)})",
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
    return format_report(cal, frontier)


if __name__ == "__main__":
    write(fit())
