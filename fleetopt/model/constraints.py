"""The constraint families of docs/model.md section 4: one vectorized `define_*` each.

Each family is a function over the index tables returning a `RowBlock` of COO triplets
(family-local row numbers) with its row bounds and, for labels, the index table its rows
range over (`over`) and each row's position in it (`keys`). Nothing here loops over
elements in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fleetopt.io.case import Case
from fleetopt.model.index import ModelIndex
from fleetopt.model.inputs import ModelData
from fleetopt.model.layout import VariableLayout


@dataclass(frozen=True)
class RowBlock:
    """One constraint family: COO triplets, row bounds, and which index rows the rows are."""

    name: str
    row: np.ndarray
    col: np.ndarray
    val: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    over: str  # index table the rows follow (fleetopt.model.labels maps them to ids)
    keys: np.ndarray  # per row: its position in that table

    @property
    def n_rows(self) -> int:
        return len(self.lb)


def define_serve(index: ModelIndex, layout: VariableLayout) -> RowBlock:
    """serve: sum_s f[s, w] + m[w] (+ u[w]) = 1   for every workload w.

    u[w], the shortfall below min_served_share, is there in models that allow it
    (section 8: the second stage always has a solution).
    """
    w_of_f = index.sw["w"].to_numpy()
    n_w = index.n_workloads
    unmet = [layout.cols("m"), *([layout.cols("u")] if "u" in layout else [])]
    return RowBlock(
        name="serve",
        row=np.concatenate([w_of_f, *[np.arange(n_w)] * len(unmet)]),
        col=np.concatenate([layout.cols("f"), *unmet]),
        val=np.ones(len(w_of_f) + n_w * len(unmet)),
        lb=np.ones(n_w),
        ub=np.ones(n_w),
        over="workloads",
        keys=np.arange(n_w),
    )


def define_phase(index: ModelIndex, layout: VariableLayout, data: ModelData) -> RowBlock:
    """phase: sum_r tp[r, w, p] * y[s, r, w, p] >= D[w, p] * f[s, w]   for (s, w) in SW, p in P_w.

    Each row is divided by the forecast demand D0[w, p] > 0, so y enters with tp / D0 and
    f with -D / D0: a scenario's demand changes only the f coefficients.
    """
    swp = index.swp
    wp_of_row = swp["wp"].to_numpy()
    y_swp = index.y["swp"].to_numpy()
    forecast = index.wp["demand_tokens_per_s"].to_numpy()[wp_of_row]
    n_rows = len(swp)
    return RowBlock(
        name="phase",
        row=np.concatenate([y_swp, np.arange(n_rows)]),
        col=np.concatenate([layout.cols("y"), layout.f.start + swp["sw"].to_numpy()]),
        val=np.concatenate(
            [
                index.y["tp_tokens_per_s"].to_numpy() / forecast[y_swp],
                -data.demand_tokens_per_s[wp_of_row] / forecast,
            ]
        ),
        lb=np.zeros(n_rows),
        ub=np.full(n_rows, np.inf),
        over="swp",
        keys=np.arange(n_rows),
    )


def define_capacity(index: ModelIndex, layout: VariableLayout, case: Case) -> RowBlock:
    """capacity: sum_{w, p} y[s, r, w, p] <= max_utilization * a[s, r]   for (s, r) in SR.

    Only pairs that can serve something get a row (the mask); the others have no y.
    """
    y_sr = index.y["sr"].to_numpy()
    used_sr = np.unique(y_sr)
    row_of_sr = np.full(len(index.sr), -1)
    row_of_sr[used_sr] = np.arange(len(used_sr))
    return RowBlock(
        name="capacity",
        row=np.concatenate([row_of_sr[y_sr], np.arange(len(used_sr))]),
        col=np.concatenate([layout.cols("y"), layout.a.start + used_sr]),
        val=np.concatenate([np.ones(len(y_sr)), np.full(len(used_sr), -case.max_utilization)]),
        lb=np.full(len(used_sr), -np.inf),
        ub=np.zeros(len(used_sr)),
        over="sr",
        keys=used_sr,
    )


def define_powered(index: ModelIndex, layout: VariableLayout) -> RowBlock:
    """powered: a[s, r] <= n[s, r]   (a rack must be owned to be powered)."""
    n_sr = len(index.sr)
    rows = np.arange(n_sr)
    return RowBlock(
        name="powered",
        row=np.concatenate([rows, rows]),
        col=np.concatenate([layout.cols("a"), layout.cols("n")]),
        val=np.concatenate([np.ones(n_sr), -np.ones(n_sr)]),
        lb=np.full(n_sr, -np.inf),
        ub=np.zeros(n_sr),
        over="sr",
        keys=rows,
    )


def define_power(index: ModelIndex, layout: VariableLayout, data: ModelData) -> RowBlock:
    """power: pue[s] * sum_r power_kw[r] * a[s, r] / 1000 <= power_cap_mw[s]   for all s."""
    s_of, r_of = index.sr["s"].to_numpy(), index.sr["r"].to_numpy()
    mw_per_rack = (
        index.sites["pue"].to_numpy()[s_of]
        * index.racks["power_kw"].to_numpy(dtype=float)[r_of]
        / 1000.0
    )
    return RowBlock(
        name="power",
        row=s_of,
        col=layout.cols("a"),
        val=mw_per_rack,
        lb=np.full(index.n_sites, -np.inf),
        ub=data.power_cap_mw.copy(),
        over="sites",
        keys=np.arange(index.n_sites),
    )


def define_space(index: ModelIndex, layout: VariableLayout) -> RowBlock:
    """space: sum_r slots[r] * n[s, r] <= max_slots[s]   for sites with a floor limit."""
    return limited_sum(
        "space",
        over="sites",
        group=index.sr["s"].to_numpy(),
        cols=layout.cols("n"),
        weights=index.racks["slots"].to_numpy(dtype=float)[index.sr["r"].to_numpy()],
        limit=index.sites["max_slots"].to_numpy(dtype=float),
    )


def define_supply(index: ModelIndex, layout: VariableLayout, data: ModelData) -> RowBlock:
    """supply: sum_s n[s, r] <= max_count[r]   for rack types with a supply limit."""
    return limited_sum(
        "supply",
        over="racks",
        group=index.sr["r"].to_numpy(),
        cols=layout.cols("n"),
        weights=np.ones(len(index.sr)),
        limit=data.max_count,
    )


def limited_sum(
    name: str,
    over: str,
    group: np.ndarray,
    cols: np.ndarray,
    weights: np.ndarray,
    limit: np.ndarray,
) -> RowBlock:
    """Rows sum_{k in g} weights[k] * x[cols[k]] <= limit[g], for groups with a finite limit."""
    limited = np.flatnonzero(np.isfinite(limit))
    row_of_group = np.full(len(limit), -1)
    row_of_group[limited] = np.arange(len(limited))
    keep = row_of_group[group] >= 0
    return RowBlock(
        name=name,
        row=row_of_group[group[keep]],
        col=cols[keep],
        val=weights[keep],
        lb=np.full(len(limited), -np.inf),
        ub=limit[limited].astype(float),
        over=over,
        keys=limited,
    )
