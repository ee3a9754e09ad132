"""The fleet-planning model of docs/model.md sections 3-4 and 8, assembled as arrays.

Variables (one block each, fleetopt.model.layout), every one in a period k:

    n[s, r, k]        integer, inst[s, r, k] <= n <= n_max[s, r, k]   for (s, r) in SR
    a[s, r, k]        continuous, 0 <= a <= a_max[s, r, k]            for (s, r) in SR
    f[s, w, k]        continuous, 0 <= f <= 1                         for (s, w) in SW
    y[s, r, w, p, k]  continuous, y >= 0                              for rows of index.y
    m[w, k]           continuous, 0 <= m <= 1 - min_served_share[w]
    b[s, r, k]        integer, 0 <= b <= b_max[s, r, k]               for rows of index.buy

A case without periods has one period, no b and no stock or deliveries rows: the arrays of
sections 3-4 exactly. Objective coefficients carry the levelizing weights w_k / sum w (1
with one period), so the objective is the levelized cost.

Three models share these pieces (bounds: fleetopt.model.bounds; costs:
fleetopt.model.costs; constraint families: fleetopt.model.constraints):

- `build_plan_model`: min fleet_cost + penalty_cost, a MILP (objective `min_cost`);
- `build_dinkelbach_step`: min fleet_cost - lam * served_tokens, one step of Dinkelbach's
  method for `min_cost_per_token` (no penalty term);
- `build_evaluate_model`: a plan's rack counts fixed, an LP; a supply cut limits what is
  delivered: a[s, r] <= installed + floor((n - installed) x delivered_share[r]); with
  `shortfall`, a share short of min_served_share is paid for (u[w], section 9) instead of
  making the LP infeasible.

The two-stage model of section 9 builds on the same pieces (fleetopt.model.stage).

Objective coefficients are in millions of USD per year (`OBJECTIVE_SCALE`) to keep the
solver's numbers near 1; reported costs are recomputed in USD from the solution
(fleetopt.model.measures), never read back from the scaled objective.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fleetopt.io.case import Case
from fleetopt.model.bounds import RackBounds, delivered_racks, rack_count_bounds
from fleetopt.model.constraints import RowBlock
from fleetopt.model.costs import Costs, compute_costs
from fleetopt.model.families import EVALUATE_FAMILIES, PLAN_FAMILIES, RowInputs, define_rows
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
    def priced(self) -> Costs:
        """The cost coefficients of a model of one scenario (what every figure is made of)."""
        if self.costs is None:
            raise ValueError("a model of several scenarios has no figures of its own")
        return self.costs

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
    """The variable blocks of one case: n, a, f, y, m (every period), u (the shortfall, with
    `shortfall`), b (new racks, k >= 1)."""
    n_sr = len(index.sr)
    return VariableLayout.of(
        ("n", n_sr, "sr"),
        ("a", n_sr, "sr"),
        ("f", len(index.sw), "sw"),
        ("y", len(index.y), "y"),
        ("m", len(index.wk), "wk"),
        *([("u", len(index.wk), "wk")] if shortfall else []),
        ("b", len(index.buy), "buy"),
    )


def build_plan_model(index: ModelIndex, case: Case, data: ModelData) -> LinearModel:
    """min sum_k w_k (fleet_k + penalty_k) over the order schedule and placement (`min_cost`)."""
    layout, costs = plan_layout(index), compute_costs(index, case, data)
    lb, ub, integer = _plan_bounds(index, layout, rack_count_bounds(index, case, data))
    objective = fleet_objective(index, layout, costs)
    objective[layout.m] = costs.penalty_m * level_of(index.wk, costs)
    rows = define_rows(RowInputs(index, case, data, layout), PLAN_FAMILIES)
    return stack_rows(layout, costs, lb, ub, integer, objective, 0.0, rows)


def build_dinkelbach_step(
    index: ModelIndex, case: Case, data: ModelData, price_usd_per_token: float
) -> LinearModel:
    """min sum_k w_k (fleet_k - lam * served_k), lam = `price_usd_per_token` (no penalty).

    served_k = sum_w (1 - m[w, k]) * tokens[w, k]: the constant goes to the offset.
    """
    layout, costs = plan_layout(index), compute_costs(index, case, data)
    lb, ub, integer = _plan_bounds(index, layout, rack_count_bounds(index, case, data))
    objective = fleet_objective(index, layout, costs)
    weighted_tokens = costs.tokens_per_year * level_of(index.wk, costs)
    objective[layout.m] = price_usd_per_token * weighted_tokens
    offset = -price_usd_per_token * weighted_tokens.sum()
    rows = define_rows(RowInputs(index, case, data, layout), PLAN_FAMILIES)
    return stack_rows(layout, costs, lb, ub, integer, objective, offset, rows)


def build_evaluate_model(
    index: ModelIndex,
    case: Case,
    data: ModelData,
    counts: np.ndarray,
    *,
    shortfall: bool = False,
) -> LinearModel:
    """A plan's racks in service (per `sr` row: the whole schedule) fixed: the placement LP,
    at min fleet + penalty. The new racks b follow from the stock rows (an LP variable).

    a[s, r, k] <= inst + floor((n - inst) * delivered_share[r]): a supply cut means racks
    that were not delivered. With `shortfall`, u[w, k] <= min_served_share[w] at the
    shortfall penalty makes the LP always solvable.
    """
    layout = plan_layout(index, shortfall=shortfall)
    costs = compute_costs(index, case, data)
    lb, ub, integer = common_bounds(index, layout, rack_count_bounds(index, case, data))
    counts = np.asarray(counts, dtype=float)
    lb[layout.n], ub[layout.n] = counts, counts
    ub[layout.a] = np.minimum(ub[layout.a], delivered_racks(index, data, counts))
    objective = fleet_objective(index, layout, costs)
    objective[layout.m] = costs.penalty_m * level_of(index.wk, costs)
    if shortfall:
        objective[layout.u] = costs.shortfall_u * level_of(index.wk, costs)
    rows = define_rows(RowInputs(index, case, data, layout), EVALUATE_FAMILIES)
    return stack_rows(layout, costs, lb, ub, integer, objective, 0.0, rows)


def first_stage_columns(index: ModelIndex, layout: VariableLayout) -> np.ndarray:
    """Which columns are "the racks ordered now" (docs/model.md section 9), as a boolean
    mask over the model's columns: n[s, r, 0] (installed + the racks new in period 0) and
    every b[s, r, k] whose order date Y_k - lead_time_years[r] falls before the second
    period (Y_0 + the period length): an order that cannot wait for the next decision."""
    mask = np.zeros(layout.size, dtype=bool)
    mask[layout.col("n", np.flatnonzero(index.sr["k"].to_numpy() == 0))] = True
    periods = index.periods
    length = float(periods["elapsed_years"].iloc[1]) if len(periods) > 1 else 1.0
    elapsed = periods["elapsed_years"].to_numpy()[index.buy["k"].to_numpy()]
    lead = index.racks["lead_time_years"].to_numpy(dtype=float)[index.buy["r"].to_numpy()]
    mask[layout.col("b", np.flatnonzero(elapsed - lead < length))] = True
    return mask


def level_of(table: pd.DataFrame, costs: Costs) -> np.ndarray:
    """The levelizing weight w_k / sum w of each row of an index table (by its period)."""
    return np.asarray(costs.level[table["k"].to_numpy()])


def common_bounds(
    index: ModelIndex, layout: VariableLayout, bounds: RackBounds
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bounds every model shares: a <= a_max, f <= 1, m <= 1 - min_served_share, y >= 0,
    b >= 0, and, where the model has it, the shortfall u <= min_served_share."""
    lb, ub = np.zeros(layout.size), np.full(layout.size, np.inf)
    ub[layout.a] = bounds.a_max
    ub[layout.f] = 1.0
    min_served = index.workloads["min_served_share"].to_numpy(dtype=float)
    ub[layout.m] = 1.0 - min_served[index.wk["w"].to_numpy()]
    for block in layout.present("u"):
        ub[layout.block(block).slice] = min_served[index.wk["w"].to_numpy()]
    return lb, ub, np.zeros(layout.size, dtype=bool)


def _plan_bounds(
    index: ModelIndex, layout: VariableLayout, bounds: RackBounds
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shared bounds, integer n in [inst, n_max] and integer b in [0, b_max]."""
    lb, ub, integer = common_bounds(index, layout, bounds)
    lb[layout.n], ub[layout.n] = index.sr["installed"].to_numpy(), bounds.n_max
    ub[layout.b] = bounds.b_max
    integer[layout.n] = integer[layout.b] = True
    return lb, ub, integer


def fleet_objective(index: ModelIndex, layout: VariableLayout, costs: Costs) -> np.ndarray:
    """sum_k w_k fleet_k / sum_k w_k: capex and opex on n, idle energy on a, busy energy on
    y, each weighted by its period; a vintage's price change on b, weighted by every period
    it serves in; recourse racks e (where the model has them) at their premium, like n."""
    objective = np.zeros(layout.size)
    level_sr = level_of(index.sr, costs)
    objective[layout.n] = (costs.capex_n + costs.opex_n) * level_sr
    objective[layout.a] = costs.idle_energy_a * level_sr
    objective[layout.y] = costs.busy_energy_y * level_of(index.y, costs)
    service = index.service
    serving_level = np.bincount(
        service["buy"].to_numpy(), costs.level[service["k"].to_numpy()], len(index.buy)
    )
    objective[layout.b] = costs.capex_b * serving_level
    for block in layout.present("e"):
        objective[layout.block(block).slice] = (costs.capex_e + costs.opex_n) * level_sr
    return objective


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
