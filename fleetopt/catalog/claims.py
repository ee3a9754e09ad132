"""The seeds' headline claims next to fleetopt's own figures from the default catalog.

The catalog is not tuned toward these claims: its figures come from vendor specs and
labelled estimates (docs/catalog.md), its throughput from the performance model fitted to
measured serving (docs/performance.md). The claims compare systems with and without
measurements, so every figure here comes from the calibrated model on one footing (the
measured curves of the catalog are quoted beside it as a cross-check). This module only
reads them, at stated operating conditions, says where fleetopt agrees and where it does
not, and explains why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fleetopt.catalog.measured import load_measured, throughput_rows
from fleetopt.catalog.perf import (
    DEFAULT_USER_TPS_POINTS,
    Catalog,
    estimate_throughput,
    load_catalog,
)
from fleetopt.core.units import HOURS_PER_YEAR, SECONDS_PER_YEAR, capital_recovery_factor

AGREE_WITHIN = 2.0  # a fleetopt figure within this factor of the claim counts as agreeing

VERA_RUBIN = "vr-nvl72"
HOPPER = "hgx-h100"
BLACKWELL = "gb200-nvl72"
GROQ = "groq3-lpx"

# The claims as the seeds state them.
CLAIM_TOKENS_PER_GW = {VERA_RUBIN: 700e6, HOPPER: 22e6}  # tokens/s from a 1 GW data center
CLAIM_COST_RATIO = 10.0  # Rubin cost per token 10x lower than Blackwell
CLAIM_DISAGG_RATIO = 35.0  # VR prefill + LPX decode: 35x throughput per MW vs GPU-only
CLAIM_GROQ_USER_TPS = 1500.0  # Groq 3 target tokens/s per user


@dataclass(frozen=True)
class ClaimConditions:
    """The operating conditions fleetopt evaluates the claims at (stated in the output)."""

    model: str = "deepseek-r1"
    interactive_user_tps: float = 50.0  # SLO for the per-MW and cost claims
    agentic_user_tps: float = 1000.0  # SLO for the disaggregation claim
    prefill_tokens_per_decode_token: float = 4.0  # agentic request mix (e.g. 8k in, 2k out)
    energy_usd_per_mwh: float = 60.0
    pue: float = 1.2
    discount_rate: float = 0.0


def decode_at(throughput: pd.DataFrame, model: str, user_tps: float) -> pd.Series:
    """Decode tokens/s per rack of each rack type at an SLO (docs/model.md effective throughput)."""
    rows = throughput[
        (throughput["model"] == model)
        & (throughput["phase"] == "decode")
        & (throughput["user_tps"] >= user_tps)
    ]
    return rows.groupby("rack_type")["tokens_per_s"].max()


def prefill_of(throughput: pd.DataFrame, model: str) -> pd.Series:
    """Best prefill tokens/s per rack of each rack type (no TTFT limit)."""
    rows = throughput[(throughput["model"] == model) & (throughput["phase"] == "prefill")]
    return rows.groupby("rack_type")["tokens_per_s"].max()


def max_user_tps_by_rack(throughput: pd.DataFrame, model: str) -> pd.Series:
    """Fastest per-user decode each rack type reaches on `model` (its fastest decode row)."""
    rows = throughput[(throughput["model"] == model) & (throughput["phase"] == "decode")]
    return rows.groupby("rack_type")["user_tps"].max().sort_values(ascending=False)


def _verdict(ratio: float) -> str:
    """'agrees' within AGREE_WITHIN, else how far off fleetopt is and in which direction."""
    if not math.isfinite(ratio) or ratio <= 0:
        return "fleetopt cannot evaluate this claim"
    if 1 / AGREE_WITHIN <= ratio <= AGREE_WITHIN:
        return "agrees (within 2x)"
    if ratio < 1:
        return f"DISAGREES: fleetopt's figure is {1 / ratio:.1f}x lower than claimed"
    return f"DISAGREES: fleetopt's figure is {ratio:.1f}x higher than claimed"


def claims_table(
    catalog: Catalog | None = None, conditions: ClaimConditions = ClaimConditions()
) -> pd.DataFrame:
    """The four headline claims: claim, value, fleetopt's value, ratio, verdict, why, basis.

    ratio = fleetopt_value / claim_value. Throughput comes from the calibrated model on the
    catalog's specs.csv and models.csv (every rack type on the same footing); `why`
    explains the verdict with the figures behind it.
    """
    cat = catalog if catalog is not None else load_catalog()
    tp = estimate_throughput(cat.specs, cat.models)
    measured = throughput_rows(load_measured(), cat.specs)
    racks = cat.racks.set_index("rack_type")
    c = conditions
    facility_mw = racks["power_kw"] * c.pue / 1000.0

    rows = [
        _claim_tokens_per_mw(tp, measured, facility_mw, c),
        _claim_cost(tp, racks, c),
        _claim_disaggregation(tp, facility_mw, c),
        _claim_groq_speed(tp, c),
    ]
    table = pd.DataFrame(rows)
    table["ratio"] = table["fleetopt_value"] / table["claim_value"]
    table["verdict"] = [_verdict(r) for r in table["ratio"]]
    cols = ["claim_id", "claim", "claim_value", "fleetopt_value", "ratio", "unit", "verdict"]
    return table[[*cols, "why", "basis"]]


def _claim_tokens_per_mw(
    tp: pd.DataFrame, measured: pd.DataFrame, facility_mw: pd.Series, c: ClaimConditions
) -> dict:
    """Claim 1: tokens/s per MW, Vera Rubin NVL72 vs Hopper."""

    def per_mw(rows: pd.DataFrame, slo: float) -> pd.Series:
        dec = decode_at(rows, c.model, slo)
        return dec / facility_mw.reindex(dec.index)

    at = per_mw(tp, c.interactive_user_tps)
    vr, hop = at.get(VERA_RUBIN, np.nan), at.get(HOPPER, np.nan)
    h200 = at.get("hgx-h200", np.nan)
    claim_vr = CLAIM_TOKENS_PER_GW[VERA_RUBIN] / 1000
    claim_hop = CLAIM_TOKENS_PER_GW[HOPPER] / 1000
    by_slo = []
    for slo in (20.0, 30.0, c.interactive_user_tps):
        v = per_mw(tp, slo)
        by_slo.append(f"{v.get(VERA_RUBIN, np.nan) / v.get(HOPPER, np.nan):.1f}x at {slo:g}")
    top_hop = max_user_tps_by_rack(tp, c.model).get(HOPPER, np.nan)
    meas = per_mw(measured, c.interactive_user_tps)
    cross = ", ".join(f"{r} {v:,.0f}" for r, v in meas.items()) or "none"
    return {
        "claim_id": "tokens_per_mw",
        "claim": "Vera Rubin NVL72 makes 700M tokens/s per GW vs 22M for Hopper (31.8x)",
        "claim_value": claim_vr / claim_hop,
        "fleetopt_value": vr / hop,
        "unit": "x (VR / Hopper tokens/s per MW)",
        "why": (
            f"fleetopt's VR figure is {vr / claim_vr:.1f}x and its Hopper figure "
            f"{hop / claim_hop:.1f}x the seeds' absolute ones. The ratio hinges on the "
            f"per-user SLO ({', '.join(by_slo)} tok/s/user): H100 holds DeepSeek-R1 only in "
            f"FP8 on 16 GPUs (two HGX boards) and its calibrated fixed step cost caps a user "
            f"at {top_hop:,.0f} tok/s, so near that speed its batches collapse while VR keeps "
            f"4.5-bit weights in one NVLink domain. Measured (InferenceX, catalog curves, "
            f"lower bounds) at >= {c.interactive_user_tps:g} tok/s/user, tokens/s per MW: "
            f"{cross}"
        ),
        "basis": (
            f"{c.model} decode at >= {c.interactive_user_tps:g} tok/s/user, per MW of facility "
            f"power (PUE {c.pue:g}), calibrated model: VR {vr:,.0f} vs HGX H100 {hop:,.0f} "
            f"tokens/s per MW (H200 {h200:,.0f}); the seeds' absolute figures are "
            f"{claim_vr:,.0f} and {claim_hop:,.0f} tokens/s per MW"
        ),
    }


def _cost_per_mtok(tp_per_rack: float, rack: pd.Series, c: ClaimConditions) -> float:
    """USD per million tokens of a rack kept busy all year at `tp_per_rack` tokens/s."""
    yearly = (
        rack["capex_usd"] * capital_recovery_factor(c.discount_rate, rack["lifetime_years"])
        + rack["opex_usd_per_year"]
        + rack["power_kw"] * c.pue * HOURS_PER_YEAR / 1000.0 * c.energy_usd_per_mwh
    )
    return yearly / (tp_per_rack * SECONDS_PER_YEAR / 1e6)


def _claim_cost(tp: pd.DataFrame, racks: pd.DataFrame, c: ClaimConditions) -> dict:
    """Claim 2: Rubin cost per token 10x lower than Blackwell."""
    dec = decode_at(tp, c.model, c.interactive_user_tps)
    cost = {
        r: _cost_per_mtok(dec.get(r, np.nan), racks.loc[r], c)
        for r in (VERA_RUBIN, BLACKWELL, "gb300-nvl72")
        if r in racks.index
    }
    vr, gb = cost.get(VERA_RUBIN, np.nan), cost.get(BLACKWELL, np.nan)
    tokens_ratio = dec.get(VERA_RUBIN, np.nan) / dec.get(BLACKWELL, np.nan)
    rack_cost_ratio = (vr * dec.get(VERA_RUBIN, np.nan)) / (gb * dec.get(BLACKWELL, np.nan))
    return {
        "claim_id": "cost_per_token",
        "claim": "Rubin cuts inference cost per token 10x vs Blackwell",
        "claim_value": CLAIM_COST_RATIO,
        "fleetopt_value": gb / vr,
        "unit": "x (GB200 / VR USD per Mtok)",
        "why": (
            f"a VR rack costs {rack_cost_ratio:.1f}x a GB200 rack per year (capex, opex, "
            f"energy) and, with the Blackwell efficiencies fitted to measured GB200/B200 "
            f"serving carried to Rubin, delivers {tokens_ratio:.1f}x its tokens at "
            f">= {c.interactive_user_tps:g} tok/s/user (3.3x the FP4 FLOP/s and 2.75x the "
            f"bandwidth per GPU, the same per-step fixed cost). A 10x cost cut would need "
            f"{CLAIM_COST_RATIO * rack_cost_ratio:.0f}x the tokens per rack"
        ),
        "basis": (
            f"{c.model} decode at >= {c.interactive_user_tps:g} tok/s/user, racks busy all year; "
            f"cost = capex x CRF(rate {c.discount_rate:g}, lifetime) + opex + energy at "
            f"${c.energy_usd_per_mwh:g}/MWh and PUE {c.pue:g}: VR ${vr:.4f}, GB200 ${gb:.4f}, "
            f"GB300 ${cost.get('gb300-nvl72', np.nan):.4f} per million tokens"
        ),
    }


def _disaggregated_ratio(
    tp: pd.DataFrame, pre: pd.Series, facility_mw: pd.Series, mix: float, slo: float, model: str
) -> tuple[float, float, float]:
    """(VR+LPX / VR-only ratio, VR+LPX, VR-only decode tokens/s per MW) at one SLO."""
    dec = decode_at(tp, model, slo) if math.isfinite(slo) else pd.Series(dtype=float)
    # MW of facility per (decode token/s), with `mix` prefill tokens per decode token.
    prefill_mw = mix * facility_mw.get(VERA_RUBIN, np.nan) / pre.get(VERA_RUBIN, np.nan)
    disagg_mw = prefill_mw + facility_mw.get(GROQ, np.nan) / dec.get(GROQ, np.nan)
    gpu_mw = prefill_mw + facility_mw.get(VERA_RUBIN, np.nan) / dec.get(VERA_RUBIN, np.nan)
    return gpu_mw / disagg_mw, 1 / disagg_mw, 1 / gpu_mw


def _claim_disaggregation(tp: pd.DataFrame, facility_mw: pd.Series, c: ClaimConditions) -> dict:
    """Claim 3: prefill on VR + decode on LPX vs GPU-only (VR), throughput per MW."""
    pre = prefill_of(tp, c.model)
    mix = c.prefill_tokens_per_decode_token
    speeds = max_user_tps_by_rack(tp, c.model)
    slo = c.agentic_user_tps
    note = ""
    common = min(speeds.get(VERA_RUBIN, 0.0), speeds.get(GROQ, 0.0))
    if common < slo:
        # GPU-only (or LPX) cannot reach the agentic SLO at all: the claim's ratio is then
        # unbounded (or zero); compare at the fastest SLO both can serve instead.
        # A standard grid point, not a rack's own top speed (batch 1 there, a degenerate
        # comparison that would flatter whichever rack is faster).
        grid = np.asarray(DEFAULT_USER_TPS_POINTS, dtype=float)
        below = grid[grid <= common]
        reachable = float(below.max()) if len(below) else np.nan
        note = (
            f"at {slo:g} tok/s/user: VR reaches at most {speeds.get(VERA_RUBIN, 0.0):,.0f} and "
            f"LPX {speeds.get(GROQ, 0.0):,.0f} tok/s/user, so only "
            + ("LPX" if speeds.get(GROQ, 0.0) >= slo else "neither")
            + f" can serve it (GPU-only throughput there is 0, the ratio unbounded); compared "
            f"instead at {reachable:g} tok/s/user, the fastest standard SLO both reach: "
        )
        slo = reachable
    ratio, disagg, gpu = _disaggregated_ratio(tp, pre, facility_mw, mix, slo, c.model)
    slower = [u for u in (50.0, 100.0) if u < slo]
    others = [_disaggregated_ratio(tp, pre, facility_mw, mix, u, c.model)[0] for u in slower]
    return {
        "claim_id": "disaggregated_per_mw",
        "claim": "VR prefill + Groq 3 LPX decode: 35x throughput per MW vs GPU-only",
        "claim_value": CLAIM_DISAGG_RATIO,
        "fleetopt_value": ratio,
        "unit": "x (disaggregated / GPU-only tokens/s per MW)",
        "why": (
            f"at {slo:g} tok/s/user VR runs DeepSeek-R1 near its calibrated speed limit "
            f"({speeds.get(VERA_RUBIN, np.nan):,.0f} tok/s/user: MoE step cost of the Blackwell "
            f"fit), with tiny batches, while LPX keeps its full batch; the ratio falls fast "
            f"with the SLO ("
            + ", ".join(f"{r:.1f}x at {u:g}" for r, u in zip(others, slower, strict=True))
            + " tok/s/user), so agreement here reflects the SLO chosen, not a general "
            "advantage; LPX figures are estimates without measured data"
        ),
        "basis": (
            note + f"{c.model}, {mix:g} prefill tokens per decode token, decode at >= {slo:g} "
            f"tok/s/user: VR+LPX {disagg:,.0f} vs VR-only {gpu:,.0f} decode tokens/s per MW "
            "of facility power; fleetopt keeps each LPX user's KV cache in LPX SRAM (no "
            "attention offload to GPUs), which caps LPX batches"
        ),
    }


def _mtp_speedup(measured: pd.DataFrame) -> float:
    """Median gain in top per-user speed from multi-token prediction in measured.csv.

    Per (hardware, framework, precision, lengths) with both kinds of runs: the fastest
    user_tps with MTP over the fastest without.
    """
    key = ["hardware", "framework", "precision", "isl", "osl"]
    top = measured.groupby([*key, "spec_method"])["user_tps"].max().unstack()
    both = top.dropna(subset=["mtp", "none"])
    return float((both["mtp"] / both["none"]).median()) if len(both) else np.nan


def _claim_groq_speed(tp: pd.DataFrame, c: ClaimConditions) -> dict:
    """Claim 4: Groq 3 reaches 1,500 tokens/s per user."""
    speeds = max_user_tps_by_rack(tp, c.model)
    listing = ", ".join(f"{r} {v:,.0f}" for r, v in speeds.items())
    gain = _mtp_speedup(load_measured())
    lpx = speeds.get(GROQ, np.nan)
    return {
        "claim_id": "max_user_tps",
        "claim": "Groq 3 LPX targets 1,500 tokens/s per user",
        "claim_value": CLAIM_GROQ_USER_TPS,
        "fleetopt_value": lpx,
        "unit": "tokens/s per user",
        "why": (
            f"LPX at batch 1 spreads the model over thousands of LPUs and pays its estimated "
            f"per-layer step cost on every one of the model's layers; fleetopt models no "
            f"speculative decoding. Measured multi-token prediction raises GPUs' top per-user "
            f"speed by a median {gain:.2f}x (InferenceX MTP vs plain runs); the same gain "
            f"would put LPX at {lpx * gain:,.0f} tok/s/user. LPX has no measured data"
        ),
        "basis": (
            f"{c.model}, batch 1 on the fastest instance, no speculative decoding; every "
            f"rack type's maximum: {listing}"
        ),
    }


def format_claims(table: pd.DataFrame) -> str:
    """A readable report of the claims table: one block per claim."""
    lines = []
    for row in table.itertuples(index=False):
        lines += [
            f"[{row.claim_id}] {row.claim}",
            f"  claim {row.claim_value:,.4g}  fleetopt {row.fleetopt_value:,.4g}  "
            f"ratio {row.ratio:.3g}  ({row.unit})",
            f"  {row.verdict}",
            f"  why: {row.why}",
            f"  basis: {row.basis}",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"
