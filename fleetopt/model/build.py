"""The fleet-planning model of docs/model.md sections 3-4, assembled as arrays.

Variables (one block each, fleetopt.model.layout):

    n[s, r]        integer, installed[s, r] <= n <= n_max[s, r]    for (s, r) in SR
    a[s, r]        continuous, 0 <= a <= a_max[s, r]                for (s, r) in SR
    f[s, w]        continuous, 0 <= f <= 1                          for (s, w) in SW
    y[s, r, w, p]  continuous, y >= 0                               for rows of index.y
    m[w]           continuous, 0 <= m <= 1 - min_served_share[w]

Three models share these pieces (bounds: fleetopt.model.bounds; costs:
fleetopt.model.costs; constraint families: fleetopt.model.constraints):

- `build_plan_model`: min fleet_cost + penalty_cost, a MILP (objective `min_cost`);
- `build_dinkelbach_step`: min fleet_cost - lam * served_tokens, one step of Dinkelbach's
  method for `min_cost_per_token` (no penalty term);
- `build_evaluate_model`: a plan's rack counts fixed, an LP; a supply cut limits what is
  delivered: a[s, r] <= installed + floor((n - installed) x delivered_share[r]); with
  `shortfall`, a share short of min_served_share is paid for (u[w], section 8) instead of
  making the LP infeasible.

The two-stage model of section 8 builds on the same pieces (fleetopt.model.stage).

Objective coefficients are in millions of USD per year (`OBJECTIVE_SCALE`) to keep the
solver's numbers near 1; reported costs are recomputed in USD from the solution
(fleetopt.model.measures), never read back from the scaled objective.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fleetopt.io.case import Case
from fleetopt.model.bounds import EPS, rack_count_bounds
from fleetopt.model.constraints import (
    RowBlock,
    define_capacity,
    define_phase,
    define_power,
    define_powered,
    define_serve,
    define_space,
    define_supply,
)
from fleetopt.model.costs import Costs, compute_costs
from fleetopt.model.index import ModelIndex
from fleetopt.model.inputs import ModelData
from fleetopt.model.layout import VariableLayout

OBJECTIVE_SCALE = 1e-6  # objective in millions of USD per year


@dataclass(frozen=True)
class LinearModel:
    """A built model: bounds, objective and constraint matrix as arrays, ready to solve.

    `families` maps each constraint family to its rows; `row_over` to the index table its
    rows follow and each row's position there (for labels, fleetopt.model.labels).
    `costs` is None for a model stacking several scenarios (fleetopt.model.extensive):
    figures come from each scenario's own model.
    """

    layout: VariableLayout
    costs: Costs | None
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
    row_over: dict[str, tuple[str, np.ndarray]]

    @property
    def n_variables(self) -> int:
        return len(self.lb)

    @property
    def n_constraints(self) -> int:
        return len(self.row_lb)

    @property
    def is_mip(self) -> bool:
        return bool(self.integer.any())


def plan_layout(index: ModelIndex, *, shortfall: bool = False) -> VariableLayout:
    """The variable blocks of one case: n, a, f, y, m (and u, with `shortfall`)."""
    n_sr = len(index.sr)
    return VariableLayout.of(
        ("n", n_sr, "sr"),
        ("a", n_sr, "sr"),
        ("f", len(index.sw), "sw"),
        ("y", len(index.y), "y"),
        ("m", index.n_workloads, "workloads"),
        *([("u", index.n_workloads, "workloads")] if shortfall else []),
    )


def build_plan_model(index: ModelIndex, case: Case, data: ModelData) -> LinearModel:
    """min fleet_cost + penalty_cost over rack counts and placement (objective `min_cost`)."""
    layout, costs = plan_layout(index), compute_costs(index, case, data)
    lb, ub, integer = _plan_bounds(index, case, data, layout)
    objective = fleet_objective(layout, costs)
    objective[layout.m] = costs.penalty_m
    rows = _plan_rows(index, case, data, layout)
    return stack_rows(layout, costs, lb, ub, integer, objective, 0.0, rows)


def build_dinkelbach_step(
    index: ModelIndex, case: Case, data: ModelData, price_usd_per_token: float
) -> LinearModel:
    """min fleet_cost - lam * served_tokens, lam = `price_usd_per_token` (no penalty term).

    served_tokens = sum_w (1 - m[w]) * tokens[w]: the constant goes to the offset.
    """
    layout, costs = plan_layout(index), compute_costs(index, case, data)
    lb, ub, integer = _plan_bounds(index, case, data, layout)
    objective = fleet_objective(layout, costs)
    objective[layout.m] = price_usd_per_token * costs.tokens_per_year
    offset = -price_usd_per_token * costs.tokens_per_year.sum()
    rows = _plan_rows(index, case, data, layout)
    return stack_rows(layout, costs, lb, ub, integer, objective, offset, rows)


def build_evaluate_model(
    index: ModelIndex,
    case: Case,
    data: ModelData,
    counts: np.ndarray,
    *,
    shortfall: bool = False,
) -> LinearModel:
    """A plan's rack counts (per `sr` row) fixed: the placement LP, at min fleet + penalty.

    a[s, r] <= installed + floor((n - installed) * delivered_share[r]): a supply cut means
    racks that were not delivered. With `shortfall`, u[w] <= min_served_share[w] at the
    shortfall penalty makes the LP always solvable.
    """
    layout = plan_layout(index, shortfall=shortfall)
    costs = compute_costs(index, case, data)
    lb, ub, integer = common_bounds(index, case, data, layout)
    counts = np.asarray(counts, dtype=float)
    installed = index.sr["installed"].to_numpy()
    delivered_share = data.delivered_share[index.sr["r"].to_numpy()]
    delivered = installed + np.floor((counts - installed) * delivered_share + EPS)
    lb[layout.n], ub[layout.n] = counts, counts
    ub[layout.a] = np.minimum(ub[layout.a], delivered)
    objective = fleet_objective(layout, costs)
    objective[layout.m] = costs.penalty_m
    if shortfall:
        objective[layout.u] = costs.shortfall_u
    rows = [
        define_serve(index, layout),
        define_phase(index, layout, data),
        define_capacity(index, layout, case),
        define_power(index, layout, data),
    ]
    return stack_rows(layout, costs, lb, ub, integer, objective, 0.0, rows)


def common_bounds(
    index: ModelIndex, case: Case, data: ModelData, layout: VariableLayout
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bounds every model shares: a <= a_max, f <= 1, m <= 1 - min_served_share, y >= 0,
    and, where the model has it, the shortfall u <= min_served_share."""
    _, a_max = rack_count_bounds(index, case, data)
    lb, ub = np.zeros(layout.size), np.full(layout.size, np.inf)
    min_served = index.workloads["min_served_share"].to_numpy(dtype=float)
    ub[layout.a] = a_max
    ub[layout.f] = 1.0
    ub[layout.m] = 1.0 - min_served
    if "u" in layout:
        ub[layout.u] = min_served
    return lb, ub, np.zeros(layout.size, dtype=bool)


def _plan_bounds(
    index: ModelIndex, case: Case, data: ModelData, layout: VariableLayout
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shared bounds, and integer n in [installed, n_max]."""
    lb, ub, integer = common_bounds(index, case, data, layout)
    n_max, _ = rack_count_bounds(index, case, data)
    lb[layout.n], ub[layout.n], integer[layout.n] = index.sr["installed"].to_numpy(), n_max, True
    return lb, ub, integer


def fleet_objective(layout: VariableLayout, costs: Costs) -> np.ndarray:
    """fleet_cost's coefficients: capex and opex on n (and on recourse racks e, at their
    premium, where the model has them), idle energy on a, busy energy on y."""
    objective = np.zeros(layout.size)
    objective[layout.n] = costs.capex_n + costs.opex_n
    objective[layout.a] = costs.idle_energy_a
    objective[layout.y] = costs.busy_energy_y
    if "e" in layout:
        objective[layout.e] = costs.capex_e + costs.opex_n
    return objective


def _plan_rows(
    index: ModelIndex, case: Case, data: ModelData, layout: VariableLayout
) -> list[RowBlock]:
    return [
        define_serve(index, layout),
        define_phase(index, layout, data),
        define_capacity(index, layout, case),
        define_power(index, layout, data),
        define_powered(index, layout),
        define_space(index, layout),
        define_supply(index, layout, data),
    ]


def stack_rows(
    layout: VariableLayout,
    costs: Costs | None,
    lb: np.ndarray,
    ub: np.ndarray,
    integer: np.ndarray,
    objective_usd: np.ndarray,
    offset_usd: float,
    blocks: list[RowBlock],
) -> LinearModel:
    """Scale the objective, number the families' rows consecutively, sort row-major."""
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
        objective=objective_usd * OBJECTIVE_SCALE,
        objective_offset=offset_usd * OBJECTIVE_SCALE,
        row=row[order].astype(np.int64),
        col=col[order].astype(np.int64),
        val=val[order],
        row_lb=np.concatenate([b.lb for b in blocks]),
        row_ub=np.concatenate([b.ub for b in blocks]),
        families={
            b.name: slice(int(start), int(start + b.n_rows))
            for b, start in zip(blocks, starts, strict=False)
        },
        row_over={b.name: (b.over, b.keys) for b in blocks},
    )
