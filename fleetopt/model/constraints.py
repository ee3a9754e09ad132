"""The constraint families of docs/model.md sections 4 and 8: one vectorized `define_*` each.

Each family is a function over the index tables returning a `RowBlock` of COO triplets
(family-local row numbers) with its row bounds and, for labels, the index table its rows
range over (`over`) and each row's position in it (`keys`). Index rows carry their period
(fleetopt.model.index), so every family holds in every period k without a loop over
periods; nothing here loops over elements in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fleetopt.io.case import Case
from fleetopt.model.bounds import EPS, delivered_racks
from fleetopt.model.index import ModelIndex
from fleetopt.model.inputs import ModelData
from fleetopt.model.layout import SCENARIO_TABLE, VariableLayout

COST_BLOCKS = ("n", "a", "y", "m", "u", "b", "e")  # blocks with a cost (structure, not values)


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
    """serve: sum_s f[s, w, k] + m[w, k] (+ u[w, k]) = 1   for every workload w and period k.

    u, the shortfall below min_served_share, is there in models that allow it (section 9:
    the second stage always has a solution).
    """
    wk_of_f = index.sw["wk"].to_numpy()
    n_wk = len(index.wk)
    unmet = [layout.cols(block) for block in layout.present("m", "u")]
    return RowBlock(
        name="serve",
        row=np.concatenate([wk_of_f, *[np.arange(n_wk)] * len(unmet)]),
        col=np.concatenate([layout.cols("f"), *unmet]),
        val=np.ones(len(wk_of_f) + n_wk * len(unmet)),
        lb=np.ones(n_wk),
        ub=np.ones(n_wk),
        over="wk",
        keys=np.arange(n_wk),
    )


def define_phase(index: ModelIndex, layout: VariableLayout, data: ModelData) -> RowBlock:
    """phase: sum_r tp[r, w, p] * y[s, r, w, p, k] >= D[w, p, k] * f[s, w, k]
    for (s, w) in SW, p in P_wk, every period k.

    Each row is divided by the forecast demand D0[w, p, k] > 0, so y enters with tp / D0
    and f with -D / D0: a scenario's demand changes only the f coefficients, its throughput
    factors only the y coefficients (tp is ModelData's, after them).
    """
    swp = index.swp
    wp_of_row = swp["wp"].to_numpy()
    y_swp = index.y["swp"].to_numpy()
    forecast = index.wp["demand_tokens_per_s"].to_numpy()[wp_of_row]
    n_rows = len(swp)
    return RowBlock(
        name="phase",
        row=np.concatenate([y_swp, np.arange(n_rows)]),
        col=np.concatenate([layout.cols("y"), layout.col("f", swp["sw"].to_numpy())]),
        val=np.concatenate(
            [
                data.tp_tokens_per_s / forecast[y_swp],
                -data.demand_tokens_per_s[wp_of_row] / forecast,
            ]
        ),
        lb=np.zeros(n_rows),
        ub=np.full(n_rows, np.inf),
        over="swp",
        keys=np.arange(n_rows),
    )


def define_capacity(index: ModelIndex, layout: VariableLayout, case: Case) -> RowBlock:
    """capacity: sum_{w, p} y[s, r, w, p, k] <= max_utilization * a[s, r, k]   for (s, r) in SR.

    Only pairs that can serve something get a row (the mask); the others have no y.
    """
    y_sr = index.y["sr"].to_numpy()
    used_sr = np.unique(y_sr)
    row_of_sr = np.full(len(index.sr), -1)
    row_of_sr[used_sr] = np.arange(len(used_sr))
    return RowBlock(
        name="capacity",
        row=np.concatenate([row_of_sr[y_sr], np.arange(len(used_sr))]),
        col=np.concatenate([layout.cols("y"), layout.col("a", used_sr)]),
        val=np.concatenate([np.ones(len(y_sr)), np.full(len(used_sr), -case.max_utilization)]),
        lb=np.full(len(used_sr), -np.inf),
        ub=np.zeros(len(used_sr)),
        over="sr",
        keys=used_sr,
    )


def define_powered(index: ModelIndex, layout: VariableLayout) -> RowBlock:
    """powered: a[s, r, k] <= n[s, r, k]   (a rack must be in service to be powered)."""
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
    """power: pue[s] * sum_r power_kw[r] * a[s, r, k] / 1000 <= cap[s, k]   for all s, k."""
    s_of, r_of = index.sr["s"].to_numpy(), index.sr["r"].to_numpy()
    mw_per_rack = (
        index.sites["pue"].to_numpy()[s_of]
        * index.racks["power_kw"].to_numpy(dtype=float)[r_of]
        / 1000.0
    )
    return RowBlock(
        name="power",
        row=index.sr["sk"].to_numpy(),
        col=layout.cols("a"),
        val=mw_per_rack,
        lb=np.full(len(index.sk), -np.inf),
        ub=data.power_cap_mw.copy(),
        over="sk",
        keys=np.arange(len(index.sk)),
    )


def define_delivered_limit(
    index: ModelIndex, layout: VariableLayout, data: ModelData, counts: np.ndarray
) -> RowBlock:
    """delivered_limit: a[s, r] <= installed + floor((n - installed) x delivered_share[r])
    for (s, r) in SR, n a plan's fixed counts.

    The evaluate model holds this as a bound on a; it is a row only where it must be
    relaxed (fleetopt.solve.diagnose), so it is no family of a model.
    """
    n_sr = len(index.sr)
    return RowBlock(
        name="delivered_limit",
        row=np.arange(n_sr),
        col=layout.cols("a"),
        val=np.ones(n_sr),
        lb=np.full(n_sr, -np.inf),
        ub=delivered_racks(index, data, counts),
        over="sr",
        keys=np.arange(n_sr),
    )


def _owned_limit(
    index: ModelIndex,
    layout: VariableLayout,
    name: str,
    over: str,
    weight: np.ndarray,
    limit: np.ndarray,
) -> RowBlock:
    """sum weight[r] * (n[s, r, k] + e[s, r, k]) <= limit per row of `over` ("sk" or "rk",
    each `sr` row's group by its column of that name): every rack owned counts, n and the
    recourse racks e where the model has them, delivered or not."""
    blocks = layout.present("n", "e")
    sr = np.concatenate([np.arange(len(index.sr))] * len(blocks))
    return limited_sum(
        name,
        over=over,
        group=index.sr[over].to_numpy()[sr],
        cols=np.concatenate([layout.cols(b) for b in blocks]),
        weights=weight[index.sr["r"].to_numpy()[sr]],
        limit=limit,
    )


def define_space(index: ModelIndex, layout: VariableLayout) -> RowBlock:
    """space: sum_r slots[r] * (n[s, r, k] + e[s, r, k]) <= max_slots[s]   for sites with a
    floor limit (e: recourse racks, section 9; ordered racks take floor space, delivered
    or not)."""
    slots = index.racks["slots"].to_numpy(dtype=float)
    max_slots = index.sites["max_slots"].to_numpy(dtype=float)[index.sk["s"].to_numpy()]
    return _owned_limit(index, layout, "space", "sk", slots, max_slots)


def define_supply(index: ModelIndex, layout: VariableLayout, data: ModelData) -> RowBlock:
    """supply: sum_s (n[s, r, k] + e[s, r, k]) <= max_count[r]   for rack types with a
    supply limit."""
    limit = data.max_count[index.rk["r"].to_numpy()]
    return _owned_limit(index, layout, "supply", "rk", np.ones(index.n_racks), limit)


def define_stock(index: ModelIndex, layout: VariableLayout) -> RowBlock:
    """stock: racks in service = installed still serving + every vintage still serving,
    for every (s, r) in SR and period k >= 1 (docs/model.md section 8):

        n[s, r, k] - [k in T(r, 0)] n[s, r, 0] - sum_{1 <= j <= k, k in T(r, j)} b[s, r, j]
            = inst[s, r, k] - [k in T(r, 0)] inst[s, r, 0]

    Period 0's new racks are n[s, r, 0] - inst[s, r, 0] (no b column), so one period has
    no stock rows at all.
    """
    sr = index.sr
    later = np.flatnonzero(sr["k"].to_numpy() >= 1)
    row_of_sr = np.full(len(sr), -1)
    row_of_sr[later] = np.arange(len(later))
    first = later[sr["first_vintage"].to_numpy()[later]]
    first_sr = sr["pair"].to_numpy()[first]  # period 0 rows come first, in pair order
    service = index.service
    installed = sr["installed"].to_numpy()
    pair_installed = installed[sr["pair"].to_numpy()[later]]
    rhs = installed[later] - np.where(sr["first_vintage"].to_numpy()[later], pair_installed, 0.0)
    return RowBlock(
        name="stock",
        row=np.concatenate(
            [np.arange(len(later)), row_of_sr[first], row_of_sr[service["sr"].to_numpy()]]
        ),
        col=np.concatenate(
            [
                layout.col("n", later),
                layout.col("n", first_sr),
                layout.col("b", service["buy"].to_numpy()),
            ]
        ),
        val=np.concatenate([np.ones(len(later)), -np.ones(len(first) + len(service))]),
        lb=rhs,
        ub=rhs.copy(),
        over="sr",
        keys=later,
    )


def define_deliveries(index: ModelIndex, layout: VariableLayout, data: ModelData) -> RowBlock:
    """deliveries: sum_s b[s, r, k] <= max_new_per_period[r]   for rack types with a limit,
    every period k; in period 0 the new racks are n - installed:

        sum_s n[s, r, 0] <= max_new_per_period[r] + sum_s inst[s, r, 0]
    """
    sr = index.sr
    first = np.flatnonzero(sr["k"].to_numpy() == 0)
    installed_first = np.bincount(
        sr["r"].to_numpy()[first], sr["installed"].to_numpy()[first], index.n_racks
    )
    rk_r = index.rk["r"].to_numpy()
    installed_now = np.where(index.rk["k"].to_numpy() == 0, installed_first[rk_r], 0.0)
    limit = data.max_new_per_period[rk_r] + installed_now
    buy_rk = sr["rk"].to_numpy()[index.buy["sr"].to_numpy()]
    return limited_sum(
        "deliveries",
        over="rk",
        group=np.concatenate([sr["rk"].to_numpy()[first], buy_rk]),
        cols=np.concatenate([layout.col("n", first), layout.cols("b")]),
        weights=np.ones(len(first) + len(buy_rk)),
        limit=limit,
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


# --- the two-stage model's own families (docs/model.md section 9) -------------------


def define_delivered(index: ModelIndex, layout: VariableLayout, data: ModelData) -> RowBlock:
    """delivered: d[s, r, k] <= installed + q[r] (n[s, r, k] - installed), q = 1 - cut.

    With d integer where q < 1, at most installed + floor(q (n - installed)) racks arrive:
    evaluate's delivery rule (section 5), now with n a decision.
    """
    n_sr = len(index.sr)
    installed = index.sr["installed"].to_numpy()
    share = data.delivered_share[index.sr["r"].to_numpy()]
    rows = np.arange(n_sr)
    return RowBlock(
        name="delivered",
        row=np.concatenate([rows, rows]),
        col=np.concatenate([layout.cols("d"), layout.cols("n")]),
        val=np.concatenate([np.ones(n_sr), -share]),
        lb=np.full(n_sr, -np.inf),
        ub=installed * (1.0 - share) + EPS,
        over="sr",
        keys=rows,
    )


def define_at_hand(index: ModelIndex, layout: VariableLayout) -> RowBlock:
    """at_hand: a[s, r, k] <= d[s, r, k] + e[s, r, k]   (only racks at hand can be powered)."""
    n_sr = len(index.sr)
    rows = np.arange(n_sr)
    at_hand = [layout.cols(block) for block in layout.present("d", "e")]
    return RowBlock(
        name="at_hand",
        row=np.concatenate([rows] * (1 + len(at_hand))),
        col=np.concatenate([layout.cols("a"), *at_hand]),
        val=np.concatenate([np.ones(n_sr), *[-np.ones(n_sr)] * len(at_hand)]),
        lb=np.full(n_sr, -np.inf),
        ub=np.zeros(n_sr),
        over="sr",
        keys=rows,
    )


def define_tail(layout: VariableLayout, cost: np.ndarray) -> RowBlock:
    """tail: z - cost(x) + eta >= 0   (z = the scenario's cost above the VaR level eta)."""
    priced = np.concatenate([layout.cols(b) for b in layout.present(*COST_BLOCKS)])
    return RowBlock(
        name="tail",
        row=np.zeros(len(priced) + 2, dtype=np.int64),
        col=np.concatenate([priced, layout.cols("z"), layout.cols("eta")]),
        val=np.concatenate([-cost[priced], [1.0, 1.0]]),
        lb=np.zeros(1),
        ub=np.full(1, np.inf),
        over=SCENARIO_TABLE,
        keys=np.zeros(1, dtype=np.int64),
    )
