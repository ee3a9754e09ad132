"""One scenario's two-stage model (docs/model.md section 9): the racks ordered now, and what
the scenario's future lets a planner do with them.

Variables (blocks of fleetopt.model.layout, in this order; every period k of a
multi-period case has its own):

    n[s, r, k]  racks in service, integer, installed <= n <= the first-stage bound
    a, f, y, m  as in fleetopt.model.build, under the scenario's numbers
    u[w, k]     shortfall below min_served_share, 0 <= u <= min_served_share[w]
    b[s, r, k]  new racks entering service in period k >= 1 (multi-period cases)
    d[s, r, k]  racks delivered, >= 0; integer where the rack type's deliveries are cut
    e[s, r, k]  recourse racks bought once the future is known, integer (case.yaml `recourse`)
    eta      the value-at-risk level, first stage, free          (a CVaR objective only)
    z        this scenario's cost above eta, >= 0                 (a CVaR objective only)

Rows: serve (with u), phase, capacity, power, space and supply (with e), stock and
deliveries (fleetopt.model.constraints, the case's own supply limits), and the families
below. The objective is the scenario's part of (1 - L) E[cost] + L CVaR_alpha:

    (1 - L) cost + L (eta + z / (1 - alpha)),   cost = fleet_cost + penalty_cost,

in millions of USD per year (OBJECTIVE_SCALE). `cost` itself is kept as a vector, to
evaluate plans and to report figures.

The first stage (fleetopt.model.build.first_stage_columns) is n of period 0 and the b
that must be ordered before the next decision (Y_k - lead_time_years[r] < Y_1), with eta;
in a single-period case, all of n. Later periods' n and b are recourse, scenario by scenario.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np

from fleetopt.io.case import Case
from fleetopt.model.bounds import EPS, RackBounds, rack_count_bounds
from fleetopt.model.build import (
    OBJECTIVE_SCALE,
    LinearModel,
    common_bounds,
    first_stage_columns,
    fleet_objective,
    level_of,
    plan_layout,
    stack_rows,
)
from fleetopt.model.costs import compute_costs
from fleetopt.model.families import STAGE_FAMILIES, RowInputs, define_rows
from fleetopt.model.index import ModelIndex
from fleetopt.model.inputs import ModelData
from fleetopt.model.layout import SCENARIO_TABLE, VariableLayout
from fleetopt.model.risk import MEAN, Risk


@dataclass(frozen=True)
class StageModel:
    """A scenario's two-stage model: `model`, its first-stage columns, and its cost vector.

    `cost` (scaled like the objective) is fleet + penalty cost per column, first stage
    included: cost @ x is the scenario's total cost of solution x (levelized over periods).
    """

    model: LinearModel
    first_stage: np.ndarray  # bool per column
    cost: np.ndarray
    risk: Risk

    @property
    def first_cols(self) -> np.ndarray:
        return np.flatnonzero(self.first_stage)

    def with_first_stage(self, plan: np.ndarray) -> LinearModel:
        """The model with the first stage fixed to `plan` (values per first-stage column),
        minimizing the scenario's cost alone: what a plan costs in this future."""
        lb, ub = self.model.lb.copy(), self.model.ub.copy()
        cols = self.first_cols
        # Whole racks: a solver's 1e-9 off an integer must not make the fixed model empty.
        plan = np.where(self.model.integer[cols], np.round(plan), plan)
        lb[cols], ub[cols] = plan, plan
        layout = self.model.layout
        # A fixed plan may exceed the first-stage bounds (the expected-value plan): later
        # periods' racks follow it through the stock rows, and deliveries may reach it.
        n_cols = layout.cols("n")
        ub[n_cols[~self.first_stage[n_cols]]] = np.inf
        ub[layout.d] = np.maximum(ub[layout.d], ub[layout.n])
        return replace(self.model, lb=lb, ub=ub, objective=self.cost.copy())


def stage_layout(index: ModelIndex, *, recourse: bool, risk: Risk) -> VariableLayout:
    """The plan's blocks with u (n, a, f, y, m, u, b), then d, then e with recourse, then
    eta and z with a CVaR objective."""
    n_sr = len(index.sr)
    plan = plan_layout(index, shortfall=True)
    return VariableLayout.of(
        *((block.name, block.size, block.over) for block in plan.blocks),
        ("d", n_sr, "sr"),
        *([("e", n_sr, "sr")] if recourse else []),
        *([("eta", 1, SCENARIO_TABLE), ("z", 1, SCENARIO_TABLE)] if risk.has_tail else []),
    )


def first_stage_mask(index: ModelIndex, layout: VariableLayout) -> np.ndarray:
    """The columns decided here and now: the racks ordered now, and eta where there is one."""
    mask = first_stage_columns(index, layout)
    for block in layout.present("eta"):
        mask[layout.cols(block)] = True
    return mask


def uncut(index: ModelIndex, data: ModelData) -> ModelData:
    """The scenario's numbers with the case's own supply limits: a cut delays deliveries
    (evaluate's rule), it does not shrink what may be ordered."""
    racks = index.racks
    return replace(
        data,
        max_count=racks["max_count"].to_numpy(dtype=float),
        max_new_per_period=racks["max_new_per_period"].to_numpy(dtype=float),
    )


@dataclass(frozen=True)
class RackNeeds:
    """The most racks some scenarios could use, orders cut in delivery included: per `sr`
    row (n) and per `buy` row (b). Needs of disjoint sets of scenarios combine by maximum,
    so workers can each take a share of the scenarios."""

    n: np.ndarray
    b: np.ndarray

    def combine(self, other: RackNeeds) -> RackNeeds:
        return RackNeeds(np.maximum(self.n, other.n), np.maximum(self.b, other.b))


def rack_needs(index: ModelIndex, case: Case, datas: Iterable[ModelData]) -> RackNeeds:
    """The needs of the scenarios `datas` (any iterable: one scenario in memory at a time).

    A rack beyond n_max (b_max) of every scenario (fleetopt.model.bounds, with uncut supply)
    only adds cost; where deliveries are cut to a share q, reaching n_max delivered takes
    installed + ceil((n_max - installed) / q) orders (none if nothing arrives).
    """
    installed = index.sr["installed"].to_numpy()
    r_of = index.sr["r"].to_numpy()
    buy_sr = index.buy["sr"].to_numpy()
    needs = RackNeeds(installed.astype(float), np.zeros(len(buy_sr)))
    for data in datas:
        bounds = rack_count_bounds(index, case, uncut(index, data))
        share = data.delivered_share[r_of]
        scale = np.where(share > 0, 1.0 / np.maximum(share, EPS), 0.0)
        extra = np.ceil((bounds.n_max - installed) * scale - EPS)
        needed_b = np.maximum(np.ceil(bounds.b_max * scale[buy_sr] - EPS), 0.0)
        needs = needs.combine(RackNeeds(installed + np.maximum(extra, 0.0), needed_b))
    return needs


def first_stage_bounds(
    index: ModelIndex, case: Case, datas: Iterable[ModelData] | RackNeeds
) -> RackBounds:
    """Bounds on n per `sr` row and on b per `buy` row, the same in every scenario: the
    needs of the scenarios (`datas`, or their `RackNeeds`), within floor space and supply."""
    needs = datas if isinstance(datas, RackNeeds) else rack_needs(index, case, datas)
    installed = index.sr["installed"].to_numpy()
    r_of = index.sr["r"].to_numpy()
    by_floor = _floor_limit(index)
    by_supply = index.racks["max_count"].to_numpy(dtype=float)[r_of]
    n_first = np.maximum(installed, np.minimum.reduce([needs.n, by_floor, by_supply]))
    b_first = np.minimum(needs.b, n_first[index.buy["sr"].to_numpy()])
    return RackBounds(n_max=n_first, a_max=n_first, b_max=b_first)


def _floor_limit(index: ModelIndex) -> np.ndarray:
    s_of, r_of = index.sr["s"].to_numpy(), index.sr["r"].to_numpy()
    max_slots = index.sites["max_slots"].to_numpy(dtype=float)[s_of]
    return np.asarray(np.floor(max_slots / index.racks["slots"].to_numpy(dtype=float)[r_of] + EPS))


def build_stage_model(
    index: ModelIndex,
    case: Case,
    data: ModelData,
    first: RackBounds,
    risk: Risk = MEAN,
) -> StageModel:
    """One scenario's two-stage model, the racks within the first-stage bounds `first`."""
    recourse = case.recourse_capex_premium is not None
    layout = stage_layout(index, recourse=recourse, risk=risk)
    costs = compute_costs(index, case, data)
    own = uncut(index, data)
    plan_bounds = rack_count_bounds(index, case, own)
    lb, ub, integer = common_bounds(index, layout, plan_bounds)
    installed = index.sr["installed"].to_numpy()
    share = data.delivered_share[index.sr["r"].to_numpy()]
    lb[layout.n], ub[layout.n], integer[layout.n] = installed, first.n_max, True
    ub[layout.b], integer[layout.b] = first.b_max, True
    ub[layout.d], integer[layout.d] = first.n_max, share < 1.0
    if recourse:
        ub[layout.e], integer[layout.e] = plan_bounds.n_max, True

    cost_usd = fleet_objective(index, layout, costs)
    level_wk = level_of(index.wk, costs)
    cost_usd[layout.m], cost_usd[layout.u] = (
        costs.penalty_m * level_wk,
        costs.shortfall_u * level_wk,
    )
    cost = cost_usd * OBJECTIVE_SCALE  # as stack_rows scales the objective
    # The case's own supply limits (`own`: the scenario's numbers otherwise) on orders.
    families = (*STAGE_FAMILIES, *(("tail",) if risk.has_tail else ()))
    rows = define_rows(RowInputs(index, case, own, layout, cost), families)
    objective_usd = cost_usd
    if risk.has_tail:  # eta and z are in the scaled unit (millions of USD per year)
        lb[layout.eta] = -np.inf
        objective_usd = (1.0 - risk.weight) * cost_usd
        objective_usd[layout.eta] = risk.weight / OBJECTIVE_SCALE
        objective_usd[layout.z] = risk.weight / ((1.0 - risk.alpha) * OBJECTIVE_SCALE)
    model = stack_rows(layout, costs, lb, ub, integer, objective_usd, 0.0, rows)
    return StageModel(model, first_stage_mask(index, layout), cost, risk)


ROUNDING_ORDER = (("b", "e"), ("d",))  # groups of recourse blocks, rounded in this order


def rounding_groups(stage: StageModel) -> list[np.ndarray]:
    """The integer second-stage columns in the order a relaxed recourse is made whole:
    later orders and recourse racks first (the racks in service follow the orders through
    the stock rows, whole when they are), then the racks delivered (capped by the racks
    in service)."""
    layout, model = stage.model.layout, stage.model
    groups = []
    for names in ROUNDING_ORDER:
        cols = np.concatenate([layout.cols(name) for name in layout.present(*names)])
        groups.append(cols[model.integer[cols] & ~stage.first_stage[cols]])
    return [group for group in groups if len(group)]
