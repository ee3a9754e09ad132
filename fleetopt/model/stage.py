"""One scenario's two-stage model (docs/model.md section 8): the racks ordered now, and what
the scenario's future lets a planner do with them.

Variables (blocks of fleetopt.model.layout, in this order):

    n[s, r]  first stage, integer, installed <= n <= n_first[s, r] (the same in every scenario)
    a, f, y, m                 as in fleetopt.model.build, under the scenario's numbers
    u[w]     shortfall below min_served_share, 0 <= u <= min_served_share[w]
    d[s, r]  racks delivered, >= 0; integer where the rack type's deliveries are cut
    e[s, r]  recourse racks bought once the future is known, integer (case.yaml `recourse`)
    eta      the value-at-risk level, first stage, free          (a CVaR objective only)
    z        this scenario's cost above eta, >= 0                 (a CVaR objective only)

Rows: serve (with u), phase, capacity and power (fleetopt.model.constraints), and the
families below. The objective is the scenario's part of (1 - L) E[cost] + L CVaR_alpha:

    (1 - L) cost + L (eta + z / (1 - alpha)),   cost = fleet_cost + penalty_cost,

in millions of USD per year (OBJECTIVE_SCALE). `cost` itself is kept as a vector, to
evaluate plans and to report figures.

`first_stage_mask` says which columns are decided here and now: the hook through which a
multi-period case (issue 12) narrows n to the racks that enter service before year
0 + max(1, lead_time_years).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from fleetopt.io.case import Case
from fleetopt.model.bounds import EPS, rack_count_bounds
from fleetopt.model.build import (
    OBJECTIVE_SCALE,
    LinearModel,
    common_bounds,
    fleet_objective,
    stack_rows,
)
from fleetopt.model.constraints import (
    RowBlock,
    define_capacity,
    define_phase,
    define_power,
    define_serve,
    limited_sum,
)
from fleetopt.model.costs import compute_costs
from fleetopt.model.index import ModelIndex
from fleetopt.model.inputs import ModelData
from fleetopt.model.layout import VariableLayout
from fleetopt.model.risk import MEAN, Risk

FIRST_STAGE_BLOCKS = ("n", "eta")  # blocks decided before the uncertainty is known
SCENARIO_TABLE = "scenario"  # `over` of the one-per-scenario blocks and rows (eta, z, tail)


@dataclass(frozen=True)
class StageModel:
    """A scenario's two-stage model: `model`, its first-stage columns, and its cost vector.

    `cost` (scaled like the objective) is fleet + penalty cost per column, first stage
    included: cost @ x is the scenario's total cost of solution x.
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
        lb[cols], ub[cols] = plan, plan
        layout = self.model.layout
        if "d" in layout:  # delivered racks stay within the (possibly larger) fixed counts
            ub[layout.d] = np.maximum(ub[layout.d], ub[layout.n])
        return replace(self.model, lb=lb, ub=ub, objective=self.cost.copy())


def stage_layout(index: ModelIndex, *, recourse: bool, risk: Risk) -> VariableLayout:
    """n, a, f, y, m, u, d, then e with recourse, then eta and z with a CVaR objective."""
    n_sr, n_w = len(index.sr), index.n_workloads
    return VariableLayout.of(
        ("n", n_sr, "sr"),
        ("a", n_sr, "sr"),
        ("f", len(index.sw), "sw"),
        ("y", len(index.y), "y"),
        ("m", n_w, "workloads"),
        ("u", n_w, "workloads"),
        ("d", n_sr, "sr"),
        *([("e", n_sr, "sr")] if recourse else []),
        *([("eta", 1, SCENARIO_TABLE), ("z", 1, SCENARIO_TABLE)] if risk.has_tail else []),
    )


def first_stage_mask(
    layout: VariableLayout, within: Mapping[str, np.ndarray] | None = None
) -> np.ndarray:
    """The columns decided here and now: every column of FIRST_STAGE_BLOCKS that the layout
    has, or, for a block named in `within`, only its rows where that boolean array holds
    (a multi-period case: n[s, r, t] for t < max(1, lead_time_years[r]))."""
    mask = np.zeros(layout.size, dtype=bool)
    for name in FIRST_STAGE_BLOCKS:
        if name in layout:
            rows = np.ones(layout.block(name).size, dtype=bool)
            if within is not None and name in within:
                rows = np.asarray(within[name], dtype=bool)
            mask[layout.cols(name)[rows]] = True
    return mask


def uncut(index: ModelIndex, data: ModelData) -> ModelData:
    """The scenario's numbers with the case's own supply limits: a cut delays deliveries
    (evaluate's rule), it does not shrink what may be ordered."""
    return replace(data, max_count=index.racks["max_count"].to_numpy(dtype=float))


def first_stage_bounds(index: ModelIndex, case: Case, datas: Sequence[ModelData]) -> np.ndarray:
    """n_first per `sr` row: the most racks any scenario could use, orders cut in delivery
    included.

    A rack beyond n_max of every scenario (fleetopt.model.bounds, with uncut supply) only
    adds cost; where deliveries are cut to a share q, reaching n_max delivered takes
    installed + ceil((n_max - installed) / q) orders (none if nothing arrives).
    """
    installed = index.sr["installed"].to_numpy()
    r_of = index.sr["r"].to_numpy()
    needed = []
    for data in datas:
        n_max, _ = rack_count_bounds(index, case, uncut(index, data))
        share = data.delivered_share[r_of]
        extra = np.where(
            share > 0, np.ceil((n_max - installed) / np.maximum(share, EPS) - EPS), 0.0
        )
        needed.append(installed + np.maximum(extra, 0.0))
    n_first = np.max(needed, axis=0)
    by_floor = _floor_limit(index)
    by_supply = index.racks["max_count"].to_numpy(dtype=float)[r_of]
    return np.maximum(installed, np.minimum.reduce([n_first, by_floor, by_supply]))


def _floor_limit(index: ModelIndex) -> np.ndarray:
    s_of, r_of = index.sr["s"].to_numpy(), index.sr["r"].to_numpy()
    max_slots = index.sites["max_slots"].to_numpy(dtype=float)[s_of]
    return np.floor(max_slots / index.racks["slots"].to_numpy(dtype=float)[r_of] + EPS)


def build_stage_model(
    index: ModelIndex,
    case: Case,
    data: ModelData,
    n_first: np.ndarray,
    risk: Risk = MEAN,
) -> StageModel:
    """One scenario's two-stage model, first stage within [installed, n_first]."""
    recourse = case.recourse_capex_premium is not None
    layout = stage_layout(index, recourse=recourse, risk=risk)
    costs = compute_costs(index, case, data)
    lb, ub, integer = common_bounds(index, case, uncut(index, data), layout)
    installed = index.sr["installed"].to_numpy()
    share = data.delivered_share[index.sr["r"].to_numpy()]
    lb[layout.n], ub[layout.n], integer[layout.n] = installed, n_first, True
    ub[layout.d], integer[layout.d] = n_first, share < 1.0
    if recourse:
        n_max, _ = rack_count_bounds(index, case, uncut(index, data))
        ub[layout.e], integer[layout.e] = n_max, True

    cost_usd = fleet_objective(layout, costs)
    cost_usd[layout.m], cost_usd[layout.u] = costs.penalty_m, costs.shortfall_u
    rows = [
        define_serve(index, layout),
        define_phase(index, layout, data),
        define_capacity(index, layout, case),
        define_power(index, layout, data),
        define_delivered(index, layout, data),
        define_powered(index, layout),
        define_space(index, layout),
        define_supply(index, layout),
    ]
    cost = cost_usd * OBJECTIVE_SCALE  # as stack_rows scales the objective
    objective_usd = cost_usd
    if risk.has_tail:  # eta and z are in the scaled unit (millions of USD per year)
        lb[layout.eta] = -np.inf
        rows.append(define_tail(layout, cost))
        objective_usd = (1.0 - risk.weight) * cost_usd
        objective_usd[layout.eta] = risk.weight / OBJECTIVE_SCALE
        objective_usd[layout.z] = risk.weight / ((1.0 - risk.alpha) * OBJECTIVE_SCALE)
    model = stack_rows(layout, costs, lb, ub, integer, objective_usd, 0.0, rows)
    return StageModel(model, first_stage_mask(layout), cost, risk)


def define_delivered(index: ModelIndex, layout: VariableLayout, data: ModelData) -> RowBlock:
    """delivered: d[s, r] <= installed + q[r] (n[s, r] - installed), q = 1 - cut.

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


def define_powered(index: ModelIndex, layout: VariableLayout) -> RowBlock:
    """powered: a[s, r] <= d[s, r] + e[s, r]   (only racks at hand can be powered)."""
    n_sr = len(index.sr)
    rows = np.arange(n_sr)
    at_hand = [layout.cols("d"), *([layout.cols("e")] if "e" in layout else [])]
    return RowBlock(
        name="powered",
        row=np.concatenate([rows] * (1 + len(at_hand))),
        col=np.concatenate([layout.cols("a"), *at_hand]),
        val=np.concatenate([np.ones(n_sr), *[-np.ones(n_sr)] * len(at_hand)]),
        lb=np.full(n_sr, -np.inf),
        ub=np.zeros(n_sr),
        over="sr",
        keys=rows,
    )


def _owned(index: ModelIndex, layout: VariableLayout) -> tuple[np.ndarray, np.ndarray]:
    """Columns of every rack owned in the scenario (n, and e with recourse), with their sr rows."""
    blocks = ["n", "e"] if "e" in layout else ["n"]
    sr = np.arange(len(index.sr))
    return np.concatenate([layout.cols(b) for b in blocks]), np.concatenate([sr] * len(blocks))


def define_space(index: ModelIndex, layout: VariableLayout) -> RowBlock:
    """space: sum_r slots[r] (n[s, r] + e[s, r]) <= max_slots[s]   (ordered racks take floor
    space, delivered or not)."""
    cols, sr = _owned(index, layout)
    return limited_sum(
        "space",
        over="sites",
        group=index.sr["s"].to_numpy()[sr],
        cols=cols,
        weights=index.racks["slots"].to_numpy(dtype=float)[index.sr["r"].to_numpy()[sr]],
        limit=index.sites["max_slots"].to_numpy(dtype=float),
    )


def define_supply(index: ModelIndex, layout: VariableLayout) -> RowBlock:
    """supply: sum_s (n[s, r] + e[s, r]) <= max_count[r]   (all purchases, uncut)."""
    cols, sr = _owned(index, layout)
    return limited_sum(
        "supply",
        over="racks",
        group=index.sr["r"].to_numpy()[sr],
        cols=cols,
        weights=np.ones(len(sr)),
        limit=index.racks["max_count"].to_numpy(dtype=float),
    )


COST_BLOCKS = ("n", "a", "y", "m", "u", "e")  # blocks with a cost (structure, not values)


def define_tail(layout: VariableLayout, cost: np.ndarray) -> RowBlock:
    """tail: z - cost(x) + eta >= 0   (z = the scenario's cost above the VaR level eta)."""
    priced = np.concatenate([layout.cols(b) for b in COST_BLOCKS if b in layout])
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
