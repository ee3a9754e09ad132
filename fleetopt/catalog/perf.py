"""Performance model: throughput.csv rows for a model on a rack type.

fleetopt plans from operating points (throughput.csv). Measured points are best (the
catalog loads them, fleetopt.catalog.measured); elsewhere this module estimates them from
hardware specs (specs.csv) and model shapes (models.csv), with efficiencies, fixed step
costs and the compute/memory overlap fitted to measured serving (fleetopt.catalog.calibration),
so that every rack type in the catalog can be compared. The formulas and their limits are
in docs/performance.md; in short:

- A model *instance* is sharded over `g` accelerators (inside one scale-up domain, or a
  pipeline of whole domains / racks); it must hold the weights plus at least one user's KV.
- Decode step time at batch B: `floor + max(m, c) + overlap x min(m, c)`, with
  m = bytes(B) / bandwidth (weights touched by the batch + every user's KV) and
  c = B x flops_per_token / compute; `floor` = layers x (per-layer latency + collectives)
  for dense models, layers x (MoE step cost, growing with log2 g) for MoE models.
  Per-user speed = 1 / step, tokens per rack = instances per rack x B / step. The batch is
  capped by the memory left for KV. For each per-user speed target, the best (instance
  size, batch) wins.
- Prefill: rack compute x efficiency (MoE or dense) / FLOPs per prompt token.

All functions are vectorized over (rack type, model, instance size, target) tables.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from fleetopt.core.errors import CaseError, Problem
from fleetopt.io.ownership import FileKind
from fleetopt.io.schema import SERVING_KEY
from fleetopt.io.store import write_csv_atomic

CATALOG_DIR = Path(str(resources.files("fleetopt") / "data" / "catalog"))

THROUGHPUT_COLUMNS: tuple[str, ...] = (
    "rack_type",
    "model",
    "phase",
    "tokens_per_s",
    "user_tps",
    "ttft_ms",
    "source",
)
# The serving-key columns throughput rows at a workload's lengths carry (SERVING_KEY).
KEY_COLUMNS: list[str] = [c for c in SERVING_KEY if c != "model"]
SPEC_COLUMNS: tuple[str, ...] = (
    "rack_type",
    "accelerator",
    "accelerators_per_rack",
    "fp8_pflops_per_rack",
    "fp4_pflops_per_rack",
    "mem_kind",
    "mem_gb_per_rack",
    "mem_tb_per_s_per_rack",
    "scaleup_accelerators",
    "max_instance_accelerators",
    "min_weight_bytes_per_param",
    "mem_bw_efficiency",
    "prefill_compute_efficiency",
    "decode_compute_efficiency",
    "mem_usable_frac",
    "layer_latency_us",
    "collective_latency_us",
    "overlap",
    "moe_prefill_compute_efficiency",
    "moe_decode_compute_efficiency",
    "moe_layer_latency_us",
    "moe_layer_latency_per_doubling_us",
    "perf_arch",
    "source",
)
MODEL_COLUMNS: tuple[str, ...] = (
    "model",
    "params_billion",
    "active_params_billion",
    "weight_bytes_per_param",
    "compute_precision",
    "layers",
    "collectives_per_layer",
    "kv_heads",
    "kv_bytes_per_token",
    "attn_flops_per_ctx_token",
    "prefill_attn_flops_per_ctx_token",
    "avg_context_tokens",
    "max_context_tokens",
    "source",
)

# Per-user decode speeds (tokens/s seen by one user) at which decode rows are emitted;
# each (rack type, model) also gets a row at its own maximum speed.
DEFAULT_USER_TPS_POINTS: tuple[float, ...] = (
    5,
    10,
    20,
    30,
    50,
    75,
    100,
    150,
    200,
    300,
    400,
    500,
    750,
    1000,
    1250,
    1500,
    2000,
    3000,
    5000,
)
ESTIMATE_TAG = "estimate: fleetopt performance model"
_BISECTION_STEPS = 48  # enough for batches up to 2**48


@dataclass(frozen=True)
class Catalog:
    """The default hardware catalog: case-format racks (+ source) and the perf inputs."""

    racks: pd.DataFrame
    specs: pd.DataFrame
    models: pd.DataFrame
    throughput: pd.DataFrame


def read_checked(
    path: str | Path | None, name: str, check: Callable[[pd.DataFrame, str], list[Problem]]
) -> pd.DataFrame:
    """A catalog table (default: the bundled catalog's `name`) read and checked: CaseError
    lists every problem `check` finds."""
    file = Path(path) if path is not None else CATALOG_DIR / name
    table = pd.read_csv(file)
    problems = check(table, file.name)
    if problems:
        raise CaseError(problems)
    return table


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Read racks.csv, specs.csv, models.csv and throughput.csv from a catalog folder.

    throughput.csv may be missing (a catalog being built); it is then empty. specs.csv is
    checked (check_specs): CaseError lists every problem.
    """
    folder = Path(path) if path is not None else CATALOG_DIR
    specs = read_checked(folder / "specs.csv", "specs.csv", check_specs)
    throughput_path = folder / "throughput.csv"
    throughput = (
        pd.read_csv(throughput_path)
        if throughput_path.exists()
        else pd.DataFrame(columns=list(THROUGHPUT_COLUMNS))
    )
    return Catalog(
        racks=pd.read_csv(folder / "racks.csv"),
        specs=specs,
        models=pd.read_csv(folder / "models.csv"),
        throughput=throughput,
    )


# Parameters whose range keeps every estimate under the hardware's roofline: a share of
# peak is in (0, 1], the overlap in [0, 1], a fixed cost >= 0 (docs/performance.md,
# "Physical bounds").
_SHARES = (
    "mem_bw_efficiency",
    "prefill_compute_efficiency",
    "decode_compute_efficiency",
    "moe_prefill_compute_efficiency",
    "moe_decode_compute_efficiency",
    "mem_usable_frac",
)
_COSTS = (
    "layer_latency_us",
    "collective_latency_us",
    "moe_layer_latency_us",
    "moe_layer_latency_per_doubling_us",
)
_HARDWARE = (
    "accelerators_per_rack",
    "fp8_pflops_per_rack",
    "mem_gb_per_rack",
    "mem_tb_per_s_per_rack",
    "scaleup_accelerators",
    "max_instance_accelerators",
    "min_weight_bytes_per_param",
)


def check_specs(specs: pd.DataFrame, name: str) -> list[Problem]:
    """Every problem of a specs table: missing columns, hardware figures not > 0, shares of
    peak outside (0, 1], an overlap outside [0, 1], a negative fixed cost."""
    missing = [c for c in SPEC_COLUMNS if c not in specs.columns]
    if missing:
        return [Problem(name, f"missing column(s): {', '.join(missing)}")]
    rules = [
        *((c, lambda v: v > 0, "expected > 0") for c in _HARDWARE),
        *((c, lambda v: (v > 0) & (v <= 1), "expected a share of peak in (0, 1]") for c in _SHARES),
        *((c, lambda v: v >= 0, "expected >= 0") for c in _COSTS),
        ("overlap", lambda v: (v >= 0) & (v <= 1), "expected in [0, 1]"),
    ]
    problems = []
    for col, ok, message in rules:
        values = pd.to_numeric(specs[col], errors="coerce")
        problems += [
            Problem(name, f"{message}, got {specs[col].iloc[i]}", i + 1, column=col)
            for i in map(int, np.flatnonzero(~ok(values).fillna(False).to_numpy(dtype=bool)))
        ]
    return problems


# The bytes per weight a deployment of a precision stores when it is not the model's own
# format: FP8, or NVFP4 (4-bit values with an FP8 scale per 16: 4.5 bits).
WEIGHT_BYTES_PER_PARAM: dict[str, float] = {"fp8": 1.0, "fp4": 0.5625}


def served_variants(
    models: pd.DataFrame, keys: pd.DataFrame, length_factor: float = 1.0
) -> pd.DataFrame:
    """Model rows as served at given lengths (and precisions, when `keys` has them).

    keys: model, isl, osl [, precision]. Each variant gets `variant` = an id unique per key,
    decode context length_factor x (isl + osl/2) (the context a request holds on average
    while it decodes) and prompt length_factor x isl; blank lengths keep the model's own
    context (models.csv avg_context_tokens, also its prompt). `precision` is the weights'
    format: the model's own bytes per weight when it is blank or the model's compute
    precision, else that format's (WEIGHT_BYTES_PER_PARAM); computation runs in it where
    the hardware can.
    """
    k = keys.drop_duplicates().reset_index(drop=True)
    v = k.merge(models.drop(columns=["source"]), on="model", how="inner")
    if "precision" in k.columns:
        asked = v["precision"].fillna("")
        own = (asked == "") | (asked == v["compute_precision"])
        v["weight_bytes_per_param"] = v["weight_bytes_per_param"].where(
            own, asked.map(WEIGHT_BYTES_PER_PARAM)
        )
        v["compute_precision"] = v["compute_precision"].where(asked == "", asked)
        v["precision"] = asked
    else:
        v["precision"] = v["compute_precision"]
    given = v["isl"].notna()
    own_context = v["avg_context_tokens"]
    v["avg_context_tokens"] = (length_factor * (v["isl"] + v["osl"] / 2)).where(given, own_context)
    v["prompt_tokens"] = (length_factor * v["isl"]).where(given, own_context)
    lengths = v["isl"].map("{:g}".format) + "|" + v["osl"].map("{:g}".format)
    v["variant"] = v["model"] + "|" + v["precision"] + "|" + lengths
    return v


# --- instances ---------------------------------------------------------------------


def _candidate_sizes(max_instance: int) -> np.ndarray:
    """Every instance size that might be valid: powers of two and small multiples."""
    powers = 2 ** np.arange(0, int(math.log2(max(max_instance, 1))) + 2)
    return np.unique(powers[powers <= max(max_instance, 1)])


def instance_options(specs: pd.DataFrame, models: pd.DataFrame) -> pd.DataFrame:
    """One row per (rack type, model, instance size g) that can hold the model.

    Valid sizes: inside a scale-up domain of D accelerators, a power of two below D or D
    itself (floor(D / g) instances per domain); beyond it, whole multiples of D up to
    `max_instance_accelerators` (an instance may then span racks: its throughput is
    shared by the racks it spans). The instance must hold the weights and one user's KV.
    Returns the derived per-instance quantities used by the decode and prefill formulas.
    """
    max_g = int(specs["max_instance_accelerators"].max())
    domains = specs["scaleup_accelerators"].astype(int).unique()
    multiples = np.concatenate(
        [d * np.arange(1, max_g // max(d, 1) + 1) for d in domains if d >= 1]
    )
    sizes = pd.DataFrame(
        {"g": np.unique(np.concatenate([_candidate_sizes(max_g), domains, multiples]))}
    )
    o = specs.merge(models, how="cross", suffixes=("", "_model")).merge(sizes, how="cross")
    d = o["scaleup_accelerators"].astype(int)
    g = o["g"].astype(int)
    inside = (g <= d) & (((g & (g - 1)) == 0) | (g == d))
    beyond = (g > d) & (g % d == 0)
    o = derive_instances(o[(inside | beyond) & (g <= o["max_instance_accelerators"])])
    # HBM/DRAM machines span scale-up domains only when the weights alone do not fit one
    # domain, and then at the smallest spanning size that holds them. SRAM machines always
    # spread weights over many chips, and a bigger instance there is how KV room grows, so
    # every allowed size stays. The rule looks at weights only, not the context length, so
    # a longer context only removes options: throughput never rises with it.
    key = [o["rack_type"], o["model"]]
    spans = o["g"] > o["scaleup_accelerators"]
    domain_bytes = o["mem_bytes"] / o["g"] * o["scaleup_accelerators"]
    holds = o["weight_bytes"] <= o["mem_bytes"]
    smallest_span = o["g"].where(spans & holds).groupby(key).transform("min")
    needed = (o["weight_bytes"] > domain_bytes) & (o["g"] == smallest_span)
    keep = ~spans | (o["mem_kind"] == "sram") | needed
    return o[keep & (o["max_batch"] >= 1)].reset_index(drop=True)


def derive_instances(rows: pd.DataFrame) -> pd.DataFrame:
    """Per-instance quantities of (spec x model) rows with an instance size `g` column.

    Memory, bandwidth and FLOP/s of the g accelerators; weight and KV bytes; the batch the
    memory holds; FLOPs per decode and per prompt token; the fixed floor of a decode step;
    instances per rack. A MoE model (active < total params) uses the rack's MoE compute
    efficiencies and the MoE per-layer step cost (routing, grouped expert GEMMs, launches),
    which grows with log2(g) (expert dispatch/combine across more accelerators); a dense
    model uses the per-layer latency plus its collectives when sharded. Any g is accepted
    (calibration evaluates the measured deployments' sizes); instance_options applies the
    catalog's size rules.
    """
    o = rows.copy()
    n_acc = o["accelerators_per_rack"].astype(float)
    acc_bw = o["mem_tb_per_s_per_rack"] * 1e12 / n_acc
    acc_fp8 = o["fp8_pflops_per_rack"] * 1e15 / n_acc
    acc_fp4 = o["fp4_pflops_per_rack"].fillna(0.0) * 1e15 / n_acc
    g = o["g"].astype(float)

    o["weight_bytes_per_param_eff"] = np.maximum(
        o["weight_bytes_per_param"], o["min_weight_bytes_per_param"]
    )
    o["weight_bytes"] = o["params_billion"] * 1e9 * o["weight_bytes_per_param_eff"]
    o["active_frac"] = o["active_params_billion"] / o["params_billion"]
    o["moe"] = o["active_frac"] < 1.0
    o["kv_bytes_per_user"] = o["kv_bytes_per_token"] * o["avg_context_tokens"]
    o["mem_bytes"] = g * o["mem_gb_per_rack"] * 1e9 / n_acc * o["mem_usable_frac"]
    o["max_batch"] = np.floor((o["mem_bytes"] - o["weight_bytes"]) / o["kv_bytes_per_user"])

    use_fp4 = (o["compute_precision"] == "fp4") & (acc_fp4 > 0)
    o["compute_precision_eff"] = np.where(use_fp4, "fp4", "fp8")
    o["peak_flops_per_s"] = g * np.where(use_fp4, acc_fp4, acc_fp8)
    o["peak_bw_bytes_per_s"] = g * acc_bw
    active_flops = 2e9 * o["active_params_billion"]
    o["decode_flops_per_token"] = (
        active_flops + o["attn_flops_per_ctx_token"] * o["avg_context_tokens"]
    )
    o["prompt_tokens"] = o["prompt_tokens"] if "prompt_tokens" in o else o["avg_context_tokens"]
    # A prompt token attends to half the prompt on average (causal attention).
    o["prefill_flops_per_token"] = (
        active_flops + o["prefill_attn_flops_per_ctx_token"] * o["prompt_tokens"] / 2
    )
    apply_efficiencies(o)
    o["instances_per_rack"] = np.where(
        o["g"] <= o["scaleup_accelerators"],
        np.floor(o["scaleup_accelerators"] / o["g"])
        * o["accelerators_per_rack"]
        / o["scaleup_accelerators"],
        o["accelerators_per_rack"] / o["g"],
    )
    return o.reset_index(drop=True)


def apply_efficiencies(o: pd.DataFrame) -> None:
    """Set the achieved rates and the step floor of instance rows from their parameters.

    prefill / decode FLOP/s = peak x (MoE or dense) compute efficiency, bandwidth = peak x
    mem_bw_efficiency, step floor = layers x (MoE step cost growing with log2 g, or the
    dense per-layer latency plus collectives when sharded). In place: the calibration
    re-applies it to the same rows for every parameter set it tries.
    """
    moe = o["moe"].to_numpy(dtype=bool)
    g = o["g"].to_numpy(dtype=float)
    prefill_eff = np.where(
        moe, o["moe_prefill_compute_efficiency"], o["prefill_compute_efficiency"]
    )
    decode_eff = np.where(moe, o["moe_decode_compute_efficiency"], o["decode_compute_efficiency"])
    o["prefill_flops_per_s"] = o["peak_flops_per_s"].to_numpy() * prefill_eff
    o["flops_per_s"] = o["peak_flops_per_s"].to_numpy() * decode_eff
    o["bw_bytes_per_s"] = o["peak_bw_bytes_per_s"].to_numpy() * o["mem_bw_efficiency"].to_numpy()
    dense_floor_us = o["layer_latency_us"].to_numpy() + o["collectives_per_layer"].to_numpy() * o[
        "collective_latency_us"
    ].to_numpy() * (g > 1)
    moe_floor_us = moe_layer_floor_us(
        o["moe_layer_latency_us"].to_numpy(), o["moe_layer_latency_per_doubling_us"].to_numpy(), g
    )
    o["step_floor_s"] = o["layers"].to_numpy() * np.where(moe, moe_floor_us, dense_floor_us) * 1e-6


def _touched_share(active_frac: np.ndarray, batch: np.ndarray) -> np.ndarray:
    """Share of the weights a batch reads in one step: 1 - (1 - active_frac)^batch."""
    frac = np.minimum(active_frac, 1 - 1e-15)
    return np.where(active_frac >= 1.0, 1.0, -np.expm1(batch * np.log1p(-frac)))


def moe_layer_floor_us(base_us, per_doubling_us, g):
    """Fixed cost of one MoE layer in a decode step on g accelerators (us).

    base + per_doubling x log2(g): dispatch/combine, launches and synchronization, growing
    as the experts spread over more accelerators.
    """
    return base_us + per_doubling_us * np.log2(np.maximum(g, 1.0))


def _memory_compute_s(options: pd.DataFrame, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Memory time and compute time (s) of one decode step at batch b."""
    touched = _touched_share(options["active_frac"].to_numpy(), b)
    mem_s = (
        options["weight_bytes"].to_numpy() * touched + b * options["kv_bytes_per_user"].to_numpy()
    ) / options["bw_bytes_per_s"].to_numpy()
    compute_s = b * options["decode_flops_per_token"].to_numpy() / options["flops_per_s"].to_numpy()
    return mem_s, compute_s


def step_time_s(options: pd.DataFrame, batch: np.ndarray | float) -> np.ndarray:
    """Decode step time (s) of each instance option at `batch` concurrent users.

    bytes(B) = weights x (1 - (1 - active_frac)^B) + B x KV per user: a MoE batch touches
    more experts as it grows (each parameter used by a token with probability
    active_frac), a dense model (active_frac = 1) reads all weights every step.
    step = floor + max(memory, compute) + overlap x min(memory, compute): `overlap` 0 is a
    perfect overlap of weight reads and math, 1 none (they run one after the other).
    """
    b = np.asarray(batch, dtype=float)
    mem_s, compute_s = _memory_compute_s(options, b)
    return (
        options["step_floor_s"].to_numpy()
        + np.maximum(mem_s, compute_s)
        + options["overlap"].to_numpy() * np.minimum(mem_s, compute_s)
    )


def max_batch_within(options: pd.DataFrame, max_step_s: np.ndarray) -> np.ndarray:
    """Largest integer batch in [1, max_batch] whose step time is <= max_step_s (0: none).

    Step time grows with the batch, so a vectorized bisection finds it exactly.
    """
    lo = np.ones(len(options))
    hi = options["max_batch"].to_numpy(dtype=float).copy()
    feasible = step_time_s(options, lo) <= max_step_s
    for _ in range(_BISECTION_STEPS):
        if not np.any(lo < hi):
            break
        mid = np.floor((lo + hi + 1) / 2)
        ok = step_time_s(options, mid) <= max_step_s
        lo = np.where(ok, mid, lo)
        hi = np.where(ok, hi, mid - 1)
    return np.where(feasible, lo, 0.0)


def max_user_tps(specs: pd.DataFrame, models: pd.DataFrame) -> pd.DataFrame:
    """Fastest per-user decode (tokens/s) each rack type reaches on each model.

    A single user (batch 1) on the instance size with the shortest step.
    Columns: rack_type, model, max_user_tps, instance_accelerators.
    """
    o = instance_options(specs, models)
    o["user_tps"] = 1.0 / step_time_s(o, 1.0)
    best = o.loc[o.groupby(["rack_type", "model"])["user_tps"].idxmax()]
    return best.rename(columns={"user_tps": "max_user_tps", "g": "instance_accelerators"})[
        ["rack_type", "model", "max_user_tps", "instance_accelerators"]
    ].reset_index(drop=True)


def roofline(specs: pd.DataFrame, models: pd.DataFrame) -> pd.DataFrame:
    """The hardware's bound on tokens per rack of each (rack type, model): what no estimate
    exceeds, whatever its efficiencies and fixed costs.

    decode: on each instance option, the most users the memory holds (max_batch, at the
    model's context), every byte at peak bandwidth and every FLOP at peak compute, nothing
    else in the step: min(B x peak_bw / (W x touched(B) + B x K), peak_flops / F_dec) per
    instance, x instances per rack, the best option; prefill: rack peak FLOP/s / F_pre.
    Columns: rack_type, model, decode_tokens_per_s, prefill_tokens_per_s (per rack).
    """
    o = instance_options(specs, models)
    b = o["max_batch"].to_numpy(dtype=float)
    touched = _touched_share(o["active_frac"].to_numpy(), b)
    bytes_per_step = o["weight_bytes"].to_numpy() * touched + b * o["kv_bytes_per_user"].to_numpy()
    peak = o["peak_flops_per_s"].to_numpy()
    per_instance = np.minimum(
        b * o["peak_bw_bytes_per_s"].to_numpy() / bytes_per_step,
        peak / o["decode_flops_per_token"].to_numpy(),
    )
    o["decode_tokens_per_s"] = o["instances_per_rack"] * per_instance
    rack_peak = peak / o["g"] * o["accelerators_per_rack"]
    o["prefill_tokens_per_s"] = rack_peak / o["prefill_flops_per_token"]
    best = o.groupby(["rack_type", "model"])[["decode_tokens_per_s", "prefill_tokens_per_s"]]
    return best.max().reset_index()


def decode_points(
    specs: pd.DataFrame,
    models: pd.DataFrame,
    user_tps_points: Iterable[float] = DEFAULT_USER_TPS_POINTS,
) -> pd.DataFrame:
    """Decode operating points: the most tokens per rack at each per-user speed target.

    For every target u (and each pair's own maximum speed, floored to a whole number),
    every instance size runs the largest batch whose step is <= 1/u; the size with the
    most tokens per rack wins. Returns one row per (rack_type, model, user_tps) with
    tokens_per_s (per rack), batch, instance_accelerators, racks_per_instance and bound
    (what limits the batch: kv-capacity, bandwidth, compute or latency).
    """
    o = instance_options(specs, models)
    fastest = max_user_tps(specs, models)
    grid = pd.DataFrame({"user_tps": sorted({float(u) for u in user_tps_points})})
    targets = pd.concat(
        [
            fastest[["rack_type", "model"]].merge(grid, how="cross"),
            fastest.assign(user_tps=np.floor(fastest["max_user_tps"]))[
                ["rack_type", "model", "user_tps"]
            ],
        ],
        ignore_index=True,
    ).drop_duplicates()
    targets = targets.merge(fastest[["rack_type", "model", "max_user_tps"]])
    targets = targets[(targets["user_tps"] > 0) & (targets["user_tps"] <= targets["max_user_tps"])]

    x = o.merge(targets[["rack_type", "model", "user_tps"]], on=["rack_type", "model"])
    x["batch"] = max_batch_within(x, 1.0 / x["user_tps"].to_numpy())
    x = x[x["batch"] >= 1].copy()
    step = step_time_s(x, x["batch"].to_numpy())
    x["tokens_per_s"] = x["instances_per_rack"] * x["batch"] / step
    best = x.loc[x.groupby(["rack_type", "model", "user_tps"])["tokens_per_s"].idxmax()].copy()
    best["bound"] = _bound(best)
    best["racks_per_instance"] = best["g"] / best["accelerators_per_rack"]
    best = best.rename(columns={"g": "instance_accelerators"})
    cols = [
        "rack_type",
        "model",
        "user_tps",
        "tokens_per_s",
        "batch",
        "instance_accelerators",
        "racks_per_instance",
        "compute_precision_eff",
        "bound",
    ]
    return best[cols].sort_values(["rack_type", "model", "user_tps"], ignore_index=True)


def _bound(points: pd.DataFrame) -> np.ndarray:
    """Which limit binds at each chosen operating point (for the row's source text)."""
    b = points["batch"].to_numpy(dtype=float)
    at_cap = b >= points["max_batch"].to_numpy()
    # The next batch up would break the speed target: name the term that grew the most.
    mem_s, compute_s = _memory_compute_s(points, b)
    floor_s = points["step_floor_s"].to_numpy()
    kind = np.where(
        compute_s > mem_s,
        "compute",
        "bandwidth",
    )
    kind = np.where(floor_s > np.maximum(mem_s, compute_s), "latency", kind)
    return np.where(at_cap, "kv-capacity", kind)


def prefill_points(specs: pd.DataFrame, models: pd.DataFrame) -> pd.DataFrame:
    """Prefill throughput per rack and time to first token for each (rack type, model).

    tokens/s per rack = rack FLOP/s x prefill efficiency (MoE or dense) / prefill FLOPs per
    token, where a prompt token costs 2 x active params + prompt attention over half the
    prompt on average. TTFT = one prompt (prompt_tokens, else avg_context_tokens) alone on
    an instance (a whole scale-up domain if the model fits in it, else the smallest
    instance that holds it) plus the step floor.
    """
    o = instance_options(specs, models)
    in_domain = o["g"] <= o["scaleup_accelerators"]
    # Prefer the largest instance inside one domain; else the smallest beyond it.
    o["rank"] = np.where(in_domain, -o["g"], o["g"] + 1e9)
    pick = o.loc[o.groupby(["rack_type", "model"])["rank"].idxmin()].copy()
    rack_flops = pick["prefill_flops_per_s"] / pick["g"] * pick["accelerators_per_rack"]
    pick["tokens_per_s"] = rack_flops / pick["prefill_flops_per_token"]
    prompt_s = pick["prompt_tokens"] * pick["prefill_flops_per_token"] / pick["prefill_flops_per_s"]
    pick["ttft_ms"] = (prompt_s + pick["step_floor_s"]) * 1e3
    pick = pick.rename(columns={"g": "instance_accelerators"})
    cols = [
        "rack_type",
        "model",
        "tokens_per_s",
        "ttft_ms",
        "instance_accelerators",
        "prompt_tokens",
        "compute_precision_eff",
    ]
    return pick[cols].sort_values(["rack_type", "model"], ignore_index=True)


def _sig(x: pd.Series, digits: int = 6, rounding=np.round) -> pd.Series:
    """Round to `digits` significant digits, so written tables are stable and readable;
    `rounding=np.floor` for throughput, so a written row never exceeds its estimate (and
    so its bounds). A value within float noise (1e-6 of the last digit) of a digit boundary
    is taken as on it: two equal estimates computed along different paths (50,000 tokens/s
    as 49,999.99999999) must not round a tenth apart, which would break monotonicity."""
    v = x.to_numpy(dtype=float)
    with np.errstate(divide="ignore"):
        mag = np.where(v != 0, np.floor(np.log10(np.abs(v))), 0)
    scale = 10.0 ** (digits - 1 - mag)
    scaled = v * scale
    nearest = np.round(scaled)
    scaled = np.where(np.abs(scaled - nearest) < 1e-6, nearest, scaled)
    return pd.Series(rounding(scaled) / scale, index=x.index)


def estimate_throughput(
    specs: pd.DataFrame,
    models: pd.DataFrame,
    user_tps_points: Iterable[float] = DEFAULT_USER_TPS_POINTS,
    keys: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """throughput.csv rows (docs/model.md columns) estimated for every rack type x model.

    A (rack type, model) pair whose model fits no allowed instance gets no rows: the rack
    cannot serve it. Every row's source starts with 'estimate:' and names its operating
    point (instance size, batch, what binds). With `keys` (model, isl, osl, precision:
    workloads' serving keys, blank = the model's own), the rows are estimated at each key's
    lengths and precision (served_variants) and carry its isl, osl and precision columns,
    so that each workload finds the rows of its own key (docs/model.md section 1).
    """
    if keys is not None:
        variants = served_variants(models, keys[list(SERVING_KEY)])
        served = variants.drop(columns="model").rename(columns={"variant": "model"})
        rows = estimate_throughput(specs, served, user_tps_points)
        key = variants.set_index("variant")[list(SERVING_KEY)]
        rows = rows.drop(columns="model").join(key, on=rows["model"])
        return rows[[*THROUGHPUT_COLUMNS, *KEY_COLUMNS]].reset_index(drop=True)
    dec = decode_points(specs, models, user_tps_points)
    dec_rows = pd.DataFrame(
        {
            "rack_type": dec["rack_type"],
            "model": dec["model"],
            "phase": "decode",
            "tokens_per_s": _sig(dec["tokens_per_s"], rounding=np.floor),
            "user_tps": dec["user_tps"],
            "ttft_ms": np.nan,
            "source": (
                ESTIMATE_TAG
                + " decode: instance of "
                + dec["instance_accelerators"].astype(int).astype(str)
                + " accelerators ("
                + dec["racks_per_instance"].round(3).astype(str)
                + " racks), batch "
                + dec["batch"].astype(int).astype(str)
                + ", "
                + dec["compute_precision_eff"]
                + ", "
                + dec["bound"]
                + "-bound"
            ),
        }
    )
    pre = prefill_points(specs, models)
    pre_rows = pd.DataFrame(
        {
            "rack_type": pre["rack_type"],
            "model": pre["model"],
            "phase": "prefill",
            "tokens_per_s": _sig(pre["tokens_per_s"], rounding=np.floor),
            "user_tps": np.nan,
            "ttft_ms": _sig(pre["ttft_ms"], 4),
            "source": (
                ESTIMATE_TAG
                + " prefill: rack compute x efficiency, "
                + pre["compute_precision_eff"]
                + "; TTFT of one "
                + pre["prompt_tokens"].astype(int).astype(str)
                + "-token prompt on "
                + pre["instance_accelerators"].astype(int).astype(str)
                + " accelerators"
            ),
        }
    )
    rows = pd.concat([pre_rows, dec_rows], ignore_index=True)
    rows["_p"] = (rows["phase"] == "decode").astype(int)
    rows = rows.sort_values(["rack_type", "model", "_p", "user_tps"], ignore_index=True)
    return rows[list(THROUGHPUT_COLUMNS)]


def merge_measured(estimated: pd.DataFrame, measured: pd.DataFrame) -> pd.DataFrame:
    """Estimated rows, with every (rack_type, model, phase) that has measured rows replaced.

    A measured curve replaces the whole estimated curve of that (rack_type, model, phase),
    not single points: mixing the two would make a curve that neither source supports.
    Measured rows without a source get 'measured'. Rows with serving keys (isl, osl,
    precision) replace only the curve of the same key.
    """
    missing = {"rack_type", "model", "phase", "tokens_per_s"} - set(measured.columns)
    if missing:
        raise ValueError(f"measured rows lack column(s): {', '.join(sorted(missing))}")
    meas = measured.copy()
    for col in THROUGHPUT_COLUMNS:
        if col not in meas.columns:
            meas[col] = np.nan
    src = meas["source"]
    meas["source"] = src.where(src.notna() & (src.astype(str).str.strip() != ""), "measured")
    columns = list(THROUGHPUT_COLUMNS)
    if any(c in frame for frame in (estimated, meas) for c in KEY_COLUMNS):
        columns += KEY_COLUMNS
        estimated, meas = with_key_columns(estimated), with_key_columns(meas)
    curve = ["rack_type", "model", *columns[len(THROUGHPUT_COLUMNS) :], "phase"]
    covered = meas[curve].drop_duplicates()
    found = estimated.merge(covered, on=curve, how="left", indicator=True)["_merge"]
    keep = (found == "left_only").to_numpy()
    merged = pd.concat([estimated.loc[keep, columns], meas[columns]], ignore_index=True)
    merged["_p"] = (merged["phase"] == "decode").astype(int)
    order = ["rack_type", "model", *columns[len(THROUGHPUT_COLUMNS) :], "_p", "user_tps"]
    merged = merged.sort_values(order, ignore_index=True, na_position="first")
    return merged[columns]


def with_key_columns(rows: pd.DataFrame) -> pd.DataFrame:
    """Throughput rows with the serving-key columns (isl, osl, precision; blank when absent)."""
    out = rows.copy()
    for col in KEY_COLUMNS:
        if col not in out:
            out[col] = "" if col == "precision" else np.nan
    out["precision"] = out["precision"].fillna("")
    return out


def select(
    frame: pd.DataFrame,
    rack_types: Sequence[str] = (),
    models: Sequence[str] = (),
    model_column: str = "model",
) -> pd.DataFrame:
    """Rows of `frame` for the given rack types and models (empty selection: all)."""
    keep = np.ones(len(frame), dtype=bool)
    if rack_types and "rack_type" in frame.columns:
        keep &= frame["rack_type"].isin(list(rack_types)).to_numpy()
    if models and model_column in frame.columns:
        keep &= frame[model_column].isin(list(models)).to_numpy()
    return frame.loc[keep]


def write_throughput(rows: pd.DataFrame, path: str | Path, mark: FileKind | None = None) -> None:
    """Write throughput rows as CSV with blank cells for NaN (the case format), atomically;
    with `mark`, its line first (a case reads it as a comment: docs/case-format.md)."""
    write_csv_atomic(path, rows, preamble=mark.mark if mark else "", float_format="%.10g")
