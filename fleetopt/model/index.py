"""The model's index sets (MODEL.md section 2) as integer-coded pandas tables.

Everything downstream is vectorized over these tables: a row of `y` is one variable
y[s, r, w, p], carrying the integer codes of its site, rack type, workload and phase and
the rows of `sr` and `sw` it belongs to. The sets depend only on the case's structure
(cooling, regions, SLO curves, which phases have demand), never on the numbers a
scenario multiplies, so one index serves every scenario of a case.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fleetopt.io.case import Case
from fleetopt.io.schema import PHASES

DEMAND_COLUMNS: tuple[str, str] = ("prefill_tokens_per_s", "decode_tokens_per_s")


@dataclass(frozen=True)
class ModelIndex:
    """Integer-coded sets of one case.

    - `sr`: (s, r) pairs whose cooling fits, with `installed` racks.
    - `sw`: (s, w) pairs whose region the workload accepts.
    - `wp`: (w, p) phases with demand (P_w), with base demand `demand_tokens_per_s`.
    - `swp`: (s, w, p) rows of the phase constraint, with their `sw` and `wp` rows.
    - `y`: placement variables (s, r, w, p) with effective throughput `tp_tokens_per_s`
      and their `sr` and `swp` rows.
    """

    sites: pd.DataFrame
    racks: pd.DataFrame
    workloads: pd.DataFrame
    sr: pd.DataFrame
    sw: pd.DataFrame
    wp: pd.DataFrame
    swp: pd.DataFrame
    y: pd.DataFrame
    warnings: tuple[str, ...]

    @property
    def n_sites(self) -> int:
        return len(self.sites)

    @property
    def n_racks(self) -> int:
        return len(self.racks)

    @property
    def n_workloads(self) -> int:
        return len(self.workloads)


def build_index(case: Case) -> ModelIndex:
    """Derive the index sets of `case` (MODEL.md section 2 and the domain of y)."""
    sites = case.sites.assign(s=np.arange(len(case.sites)))
    racks = case.racks.assign(r=np.arange(len(case.racks)))
    workloads = case.workloads.assign(w=np.arange(len(case.workloads)))

    sr = _site_rack_pairs(sites, racks, case.installed)
    sw = _site_workload_pairs(sites, workloads)
    wp = _workload_phases(workloads)
    swp = sw.reset_index(names="sw").merge(wp.reset_index(names="wp"), on="w")
    swp = swp[["s", "w", "p", "sw", "wp"]].sort_values(["s", "w", "p"], ignore_index=True)
    tp = effective_throughput(case, racks, workloads)
    y = (
        sr.reset_index(names="sr")[["s", "r", "sr"]]
        .merge(swp.reset_index(names="swp")[["s", "w", "p", "swp"]], on="s")
        .merge(tp, on=["r", "w", "p"])
        .sort_values(["s", "r", "w", "p"], ignore_index=True)
    )
    return ModelIndex(
        sites=sites,
        racks=racks,
        workloads=workloads,
        sr=sr,
        sw=sw,
        wp=wp,
        swp=swp,
        y=y[["s", "r", "w", "p", "sr", "swp", "tp_tokens_per_s"]],
        warnings=_unservable_warnings(workloads, wp, y),
    )


def _site_rack_pairs(
    sites: pd.DataFrame, racks: pd.DataFrame, installed: pd.DataFrame
) -> pd.DataFrame:
    """SR: every (site, rack type) whose cooling fits, with the racks already installed."""
    pairs = sites[["s", "site", "liquid_cooling"]].merge(
        racks[["r", "rack_type", "cooling"]], how="cross"
    )
    fits = (pairs["cooling"] != "liquid") | pairs["liquid_cooling"]
    pairs = pairs.loc[fits, ["s", "r", "site", "rack_type"]]
    owned = installed.groupby(["site", "rack_type"], as_index=False)["count"].sum()
    pairs = pairs.merge(owned, on=["site", "rack_type"], how="left")
    pairs["installed"] = pairs["count"].fillna(0.0).astype(float)
    return pairs.drop(columns="count").sort_values(["s", "r"], ignore_index=True)


def _site_workload_pairs(sites: pd.DataFrame, workloads: pd.DataFrame) -> pd.DataFrame:
    """SW: every (site, workload) where the workload accepts the site's region."""
    allowed = workloads[["w", "region_list"]].explode("region_list")
    anywhere = allowed["region_list"].isna()
    pairs_any = workloads.loc[workloads["w"].isin(allowed.loc[anywhere, "w"]), ["w"]].merge(
        sites[["s"]], how="cross"
    )
    pairs_listed = allowed.loc[~anywhere].merge(
        sites[["s", "region"]], left_on="region_list", right_on="region"
    )[["w", "s"]]
    pairs = pd.concat([pairs_any, pairs_listed], ignore_index=True).drop_duplicates()
    return pairs[["s", "w"]].sort_values(["s", "w"], ignore_index=True)


def _workload_phases(workloads: pd.DataFrame) -> pd.DataFrame:
    """P_w: the phases of each workload with positive demand."""
    parts = [
        pd.DataFrame(
            {
                "w": workloads["w"].to_numpy(),
                "p": p,
                "demand_tokens_per_s": workloads[col].to_numpy(dtype=float),
            }
        )
        for p, col in enumerate(DEMAND_COLUMNS)
    ]
    wp = pd.concat(parts, ignore_index=True)
    wp = wp[wp["demand_tokens_per_s"] > 0]
    return wp.sort_values(["w", "p"], ignore_index=True)


def effective_throughput(case: Case, racks: pd.DataFrame, workloads: pd.DataFrame) -> pd.DataFrame:
    """tp[r, w, p]: the best qualifying operating point of each rack type on each workload.

    decode:  max tokens_per_s over rows with user_tps >= min_user_tps[w]
    prefill: max tokens_per_s over rows with ttft_ms <= max_ttft_ms[w]
    A (r, w, p) with no qualifying row is absent: that rack cannot serve that phase of w.
    `source` is the chosen row's (among rows tied at the max, one not marked an estimate,
    so a figure a measurement backs is never reported as estimated).
    """
    rows = case.throughput.merge(racks[["r", "rack_type"]], on="rack_type").merge(
        workloads[["w", "model", "min_user_tps", "max_ttft_ms"]], on="model"
    )
    is_decode = rows["phase"] == PHASES[1]
    qualifies = np.where(
        is_decode,
        rows["user_tps"] >= rows["min_user_tps"],
        rows["ttft_ms"] <= rows["max_ttft_ms"],
    )
    rows = rows.loc[qualifies].assign(
        p=is_decode[qualifies].astype(int),
        estimate=rows.loc[qualifies, "source"].fillna("").map(is_estimate),
    )
    best = rows.sort_values(["tokens_per_s", "estimate"], ascending=[False, True], kind="stable")
    tp = best.drop_duplicates(["r", "w", "p"]).sort_values(["r", "w", "p"], ignore_index=True)
    return tp[["r", "w", "p", "tokens_per_s", "source"]].rename(
        columns={"tokens_per_s": "tp_tokens_per_s"}
    )


def is_estimate(source: str) -> bool:
    """Whether a throughput row's `source` marks it an estimate (it starts 'estimate')."""
    return str(source).strip().lower().startswith("estimate")


def _unservable_warnings(
    workloads: pd.DataFrame, wp: pd.DataFrame, y: pd.DataFrame
) -> tuple[str, ...]:
    """A warning for each phase with demand that no (site, rack type) pair can serve."""
    served = wp.merge(y[["w", "p"]].drop_duplicates(), on=["w", "p"], how="left", indicator=True)
    missing = served[served["_merge"] == "left_only"]
    names = workloads["workload"].to_numpy()
    return tuple(
        f"workload {names[w]}: no rack at any allowed site can serve its {PHASES[p]} phase "
        "within its SLO; that demand can only go unmet"
        for w, p in zip(missing["w"], missing["p"], strict=True)
    )
