"""The fleet-planning MILP of MODEL.md sections 3-4, assembled as arrays.

Variables (one block each, laid out contiguously):

    n[s, r]        integer, installed[s, r] <= n <= n_max[s, r]    for (s, r) in SR
    a[s, r]        continuous, 0 <= a <= a_max[s, r]                for (s, r) in SR
    f[s, w]        continuous, 0 <= f <= 1                          for (s, w) in SW
    y[s, r, w, p]  continuous, y >= 0                               for rows of index.y
    m[w]           continuous, 0 <= m <= 1 - min_served_share[w]

Each constraint family is one `define_*` function over the index tables returning a
`RowBlock` of COO triplets; `build_model` stacks them. Nothing here loops over elements
in Python. Objective coefficients are in millions of USD per year (`OBJECTIVE_SCALE`)
to keep the solver's numbers near 1; reported costs are recomputed in USD from the
solution (fleetopt.results.tables), never read back from the scaled objective.

n_max is a bound that keeps every optimal plan: an owned rack beyond what the power cap
can feed, the floor can hold, supply can deliver, or the demand it could serve needs,
only adds cost, so n_max = max(installed, min(power, floor, supply, demand bounds)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fleetopt.io.case import Case
from fleetopt.model.index import ModelIndex
from fleetopt.model.inputs import ModelData

SECONDS_PER_YEAR = 31_536_000.0
MWH_PER_KW_YEAR = 8.76
OBJECTIVE_SCALE = 1e-6  # objective in millions of USD per year
_EPS = 1e-9


@dataclass(frozen=True)
class Layout:
    """Where each variable block starts in the solver's column vector."""

    n_sr: int
    n_sw: int
    n_y: int
    n_w: int

    @property
    def n(self) -> slice:
        return slice(0, self.n_sr)

    @property
    def a(self) -> slice:
        return slice(self.n_sr, 2 * self.n_sr)

    @property
    def f(self) -> slice:
        return slice(2 * self.n_sr, 2 * self.n_sr + self.n_sw)

    @property
    def y(self) -> slice:
        start = 2 * self.n_sr + self.n_sw
        return slice(start, start + self.n_y)

    @property
    def m(self) -> slice:
        start = 2 * self.n_sr + self.n_sw + self.n_y
        return slice(start, start + self.n_w)

    @property
    def size(self) -> int:
        return 2 * self.n_sr + self.n_sw + self.n_y + self.n_w


@dataclass(frozen=True)
class Costs:
    """Cost coefficients in USD per year (MODEL.md section 4), aligned with the index.

    capex_n/opex_n per `sr` row (per owned rack), idle_energy_a per `sr` row (per powered
    rack), busy_energy_y per `y` row (per busy rack-equivalent), penalty_m per workload
    (per unit of unmet share), tokens_per_year per workload (demanded).
    """

    capex_n: np.ndarray
    opex_n: np.ndarray
    idle_energy_a: np.ndarray
    busy_energy_y: np.ndarray
    penalty_m: np.ndarray
    tokens_per_year: np.ndarray


@dataclass(frozen=True)
class RowBlock:
    """One constraint family: COO triplets with family-local row numbers, and row bounds."""

    name: str
    row: np.ndarray
    col: np.ndarray
    val: np.ndarray
    lb: np.ndarray
    ub: np.ndarray

    @property
    def n_rows(self) -> int:
        return len(self.lb)


@dataclass(frozen=True)
class LinearModel:
    """A built model: bounds, objective and constraint matrix as arrays, ready to solve."""

    layout: Layout
    costs: Costs
    lb: np.ndarray
    ub: np.ndarray
    integer: np.ndarray
    objective: np.ndarray
    objective_offset: float
    row: np.ndarray
    col: np.ndarray
    val: np.ndarray
    row_lb: np.ndarray
    row_ub: np.ndarray
    families: dict[str, slice]

    @property
    def n_variables(self) -> int:
        return len(self.lb)

    @property
    def n_constraints(self) -> int:
        return len(self.row_lb)

    @property
    def is_mip(self) -> bool:
        return bool(self.integer.any())


def capital_recovery_factor(discount_rate: float, lifetime_years: np.ndarray) -> np.ndarray:
    """CRF(i, L) = i / (1 - (1 + i)^-L) for i > 0, else 1 / L (straight line)."""
    life = np.asarray(lifetime_years, dtype=float)
    if discount_rate > 0:
        return discount_rate / (1.0 - (1.0 + discount_rate) ** -life)
    return 1.0 / life


def compute_costs(index: ModelIndex, case: Case, data: ModelData) -> Costs:
    """Every cost coefficient of MODEL.md section 4 for this case and these numbers."""
    racks, sites, workloads = index.racks, index.sites, index.workloads
    s_of, r_of = index.sr["s"].to_numpy(), index.sr["r"].to_numpy()
    crf = capital_recovery_factor(case.discount_rate, racks["lifetime_years"].to_numpy())
    power_kw = racks["power_kw"].to_numpy(dtype=float)
    idle = racks["idle_power_frac"].to_numpy(dtype=float)
    # USD per year of one kW of IT load drawn all year at site s, PUE included.
    usd_per_it_kw_year = data.energy_usd_per_mwh * sites["pue"].to_numpy() * MWH_PER_KW_YEAR

    ys, yr, yw = (index.y[c].to_numpy() for c in ("s", "r", "w"))
    load = workloads["load_factor"].to_numpy(dtype=float)
    demand = np.zeros((index.n_workloads, 2))
    demand[index.wp["w"].to_numpy(), index.wp["p"].to_numpy()] = data.demand_tokens_per_s
    tokens_per_year = demand.sum(axis=1) * load * SECONDS_PER_YEAR
    return Costs(
        capex_n=racks["capex_usd"].to_numpy(dtype=float)[r_of] * crf[r_of],
        opex_n=racks["opex_usd_per_year"].to_numpy(dtype=float)[r_of],
        idle_energy_a=usd_per_it_kw_year[s_of] * power_kw[r_of] * idle[r_of],
        busy_energy_y=usd_per_it_kw_year[ys] * power_kw[yr] * (1.0 - idle[yr]) * load[yw],
        penalty_m=workloads["unmet_penalty_usd_per_mtok"].to_numpy(dtype=float)
        * tokens_per_year
        / 1e6,
        tokens_per_year=tokens_per_year,
    )


def rack_count_bounds(
    index: ModelIndex, case: Case, data: ModelData
) -> tuple[np.ndarray, np.ndarray]:
    """(n_max, a_max) per `sr` row: the tight bounds described in the module docstring."""
    sr, racks, sites = index.sr, index.racks, index.sites
    s_of, r_of = sr["s"].to_numpy(), sr["r"].to_numpy()
    installed = sr["installed"].to_numpy()
    rack_kw = racks["power_kw"].to_numpy(dtype=float)[r_of]
    a_max = 1000.0 * data.power_cap_mw[s_of] / (sites["pue"].to_numpy()[s_of] * rack_kw)
    by_floor = np.floor(
        sites["max_slots"].to_numpy(dtype=float)[s_of] / racks["slots"].to_numpy()[r_of] + _EPS
    )
    by_supply = data.max_count[r_of]
    # Rack-equivalents each sr pair would need to serve, alone, every demand it can serve.
    y = index.y
    need = data.demand_tokens_per_s[index.swp["wp"].to_numpy()[y["swp"].to_numpy()]] / (
        y["tp_tokens_per_s"].to_numpy() * case.max_utilization
    )
    by_demand = np.bincount(y["sr"].to_numpy(), weights=need, minlength=len(sr))
    n_max = np.minimum.reduce(
        [np.ceil(a_max - _EPS), by_floor, by_supply, np.ceil(by_demand - _EPS)]
    )
    n_max = np.maximum(installed, n_max)
    return n_max, np.minimum(a_max, n_max)


def define_serve(index: ModelIndex, layout: Layout) -> RowBlock:
    """serve: sum_s f[s, w] + m[w] = 1   for every workload w."""
    w_of_f = index.sw["w"].to_numpy()
    n_w = index.n_workloads
    return RowBlock(
        name="serve",
        row=np.concatenate([w_of_f, np.arange(n_w)]),
        col=np.concatenate([_cols(layout.f), _cols(layout.m)]),
        val=np.ones(len(w_of_f) + n_w),
        lb=np.ones(n_w),
        ub=np.ones(n_w),
    )


def define_phase(index: ModelIndex, layout: Layout, data: ModelData) -> RowBlock:
    """phase: sum_r tp[r, w, p] * y[s, r, w, p] >= D[w, p] * f[s, w]   for (s, w) in SW, p in P_w.

    Each row is divided by the forecast demand D0[w, p] > 0, so y enters with tp / D0 and
    f with -D / D0: a scenario's demand changes only the f coefficients, which keeps
    re-solves cheap (fleetopt.resolve).
    """
    swp = index.swp
    wp_of_row = swp["wp"].to_numpy()
    y_swp = index.y["swp"].to_numpy()
    forecast = index.wp["demand_tokens_per_s"].to_numpy()[wp_of_row]
    n_rows = len(swp)
    return RowBlock(
        name="phase",
        row=np.concatenate([y_swp, np.arange(n_rows)]),
        col=np.concatenate([_cols(layout.y), layout.f.start + swp["sw"].to_numpy()]),
        val=np.concatenate(
            [
                index.y["tp_tokens_per_s"].to_numpy() / forecast[y_swp],
                -data.demand_tokens_per_s[wp_of_row] / forecast,
            ]
        ),
        lb=np.zeros(n_rows),
        ub=np.full(n_rows, np.inf),
    )


def define_capacity(index: ModelIndex, layout: Layout, case: Case) -> RowBlock:
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
        col=np.concatenate([_cols(layout.y), layout.a.start + used_sr]),
        val=np.concatenate([np.ones(len(y_sr)), np.full(len(used_sr), -case.max_utilization)]),
        lb=np.full(len(used_sr), -np.inf),
        ub=np.zeros(len(used_sr)),
    )


def define_powered(index: ModelIndex, layout: Layout) -> RowBlock:
    """powered: a[s, r] <= n[s, r]   (a rack must be owned to be powered)."""
    n_sr = len(index.sr)
    rows = np.arange(n_sr)
    return RowBlock(
        name="powered",
        row=np.concatenate([rows, rows]),
        col=np.concatenate([_cols(layout.a), _cols(layout.n)]),
        val=np.concatenate([np.ones(n_sr), -np.ones(n_sr)]),
        lb=np.full(n_sr, -np.inf),
        ub=np.zeros(n_sr),
    )


def define_power(index: ModelIndex, layout: Layout, data: ModelData) -> RowBlock:
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
        col=_cols(layout.a),
        val=mw_per_rack,
        lb=np.full(index.n_sites, -np.inf),
        ub=data.power_cap_mw.copy(),
    )


def define_space(index: ModelIndex, layout: Layout) -> RowBlock:
    """space: sum_r slots[r] * n[s, r] <= max_slots[s]   for sites with a floor limit."""
    max_slots = index.sites["max_slots"].to_numpy(dtype=float)
    return _limited_sum(
        "space",
        group=index.sr["s"].to_numpy(),
        cols=_cols(layout.n),
        weights=index.racks["slots"].to_numpy(dtype=float)[index.sr["r"].to_numpy()],
        limit=max_slots,
    )


def define_supply(index: ModelIndex, layout: Layout, data: ModelData) -> RowBlock:
    """supply: sum_s n[s, r] <= max_count[r]   for rack types with a supply limit."""
    return _limited_sum(
        "supply",
        group=index.sr["r"].to_numpy(),
        cols=_cols(layout.n),
        weights=np.ones(len(index.sr)),
        limit=data.max_count,
    )


def _limited_sum(
    name: str, group: np.ndarray, cols: np.ndarray, weights: np.ndarray, limit: np.ndarray
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
    )


def _cols(block: slice) -> np.ndarray:
    return np.arange(block.start, block.stop)


def build_model(
    index: ModelIndex,
    case: Case,
    data: ModelData,
    *,
    price_usd_per_token: float | None = None,
    fixed_counts: np.ndarray | None = None,
) -> LinearModel:
    """Assemble the model for one set of numbers.

    - default: min fleet_cost + penalty_cost (objective `min_cost`).
    - `price_usd_per_token=lam`: one Dinkelbach step, min fleet_cost - lam * served_tokens
      (no penalty term).
    - `fixed_counts` (per `sr` row): evaluate a plan; n is fixed, the model is an LP, and
      a[s, r] <= installed + floor((n - installed) * delivered_share[r]).
    """
    layout = Layout(n_sr=len(index.sr), n_sw=len(index.sw), n_y=len(index.y), n_w=index.n_workloads)
    costs = compute_costs(index, case, data)
    n_max, a_max = rack_count_bounds(index, case, data)
    installed = index.sr["installed"].to_numpy()
    min_served = index.workloads["min_served_share"].to_numpy(dtype=float)

    lb = np.zeros(layout.size)
    ub = np.full(layout.size, np.inf)
    integer = np.zeros(layout.size, dtype=bool)
    if fixed_counts is None:
        lb[layout.n], ub[layout.n], integer[layout.n] = installed, n_max, True
        ub[layout.a] = a_max
    else:
        counts = np.asarray(fixed_counts, dtype=float)
        delivered_share = data.delivered_share[index.sr["r"].to_numpy()]
        delivered = installed + np.floor((counts - installed) * delivered_share + _EPS)
        lb[layout.n], ub[layout.n] = counts, counts
        ub[layout.a] = np.minimum(a_max, delivered)
    ub[layout.f] = 1.0
    ub[layout.m] = 1.0 - min_served

    objective = np.zeros(layout.size)
    objective[layout.n] = costs.capex_n + costs.opex_n
    objective[layout.a] = costs.idle_energy_a
    objective[layout.y] = costs.busy_energy_y
    offset = 0.0
    if price_usd_per_token is None:
        objective[layout.m] = costs.penalty_m
    else:
        # served_tokens = sum_w (1 - m[w]) * tokens[w]
        objective[layout.m] = price_usd_per_token * costs.tokens_per_year
        offset = -price_usd_per_token * costs.tokens_per_year.sum()

    blocks = [
        define_serve(index, layout),
        define_phase(index, layout, data),
        define_capacity(index, layout, case),
        define_power(index, layout, data),
    ]
    if fixed_counts is None:
        blocks += [
            define_powered(index, layout),
            define_space(index, layout),
            define_supply(index, layout, data),
        ]
    return _stack(
        layout,
        costs,
        lb,
        ub,
        integer,
        objective * OBJECTIVE_SCALE,
        offset * OBJECTIVE_SCALE,
        blocks,
    )


def _stack(
    layout: Layout,
    costs: Costs,
    lb: np.ndarray,
    ub: np.ndarray,
    integer: np.ndarray,
    objective: np.ndarray,
    offset: float,
    blocks: list[RowBlock],
) -> LinearModel:
    """Number the families' rows consecutively and sort the matrix row-major."""
    starts = np.cumsum([0] + [b.n_rows for b in blocks])
    row = np.concatenate([b.row + start for b, start in zip(blocks, starts, strict=False)])
    col = np.concatenate([b.col for b in blocks])
    val = np.concatenate([b.val for b in blocks])
    order = np.lexsort((col, row))
    return LinearModel(
        layout=layout,
        costs=costs,
        lb=lb,
        ub=ub,
        integer=integer,
        objective=objective,
        objective_offset=offset,
        row=row[order].astype(np.int64),
        col=col[order].astype(np.int64),
        val=val[order],
        row_lb=np.concatenate([b.lb for b in blocks]),
        row_ub=np.concatenate([b.ub for b in blocks]),
        families={
            b.name: slice(int(start), int(start + b.n_rows))
            for b, start in zip(blocks, starts, strict=False)
        },
    )
