"""Reliability targets of the two-stage program (docs/model.md section 9, "Reliability
targets"): rows over the extensive form that bound how often, or how deep, a scenario falls
short of a minimum served share.

Scenario omega's shortfall share is linear in its shortfall columns u[w, k]:

    short_omega = sum_(w,k) c_omega[w, k] u[w, k, omega],
    c_omega[w, k] = lvl[k] tokens_omega[w, k] / sum_(w,k) lvl[k] tokens_omega[w, k]

(fleetopt.model.measures.shortfall_share, as a row). A scenario has a shortfall where
short_omega > SHORTFALL_THRESHOLD (fleetopt.core.stats).

- chance constraint (`define_chance_rows`): binaries v_omega, and

      u[w, k, omega] - min_served_share[w] v_omega <= 0     (w with min_served_share > 0)
      sum_omega p_omega v_omega <= P

- CVaR bound (`define_cvar_rows`): t free, z_omega >= 0, and

      short_omega - t - z_omega <= 0                        for every omega
      t + 1 / P sum_omega p_omega z_omega <= TOL            (P = 0: z fixed at 0, t <= TOL)

Both couple the scenarios, so they are rows of the extensive form only
(fleetopt.model.extensive); `with_target` appends the target's columns after the extensive
form's, whose own columns keep their places.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from fleetopt.core.stats import SHORTFALL_THRESHOLD
from fleetopt.model.build import LinearModel, level_of
from fleetopt.model.extensive import ExtensiveForm
from fleetopt.model.families import scenario_family
from fleetopt.model.index import ModelIndex
from fleetopt.model.layout import SCENARIO_TABLE, VariableLayout
from fleetopt.model.stage import StageModel

CAP_SLACK = 1e-6  # an evaluation may exceed the extensive form's shortfall by this (tolerances)

ALLOWED, PROBABILITY, TAIL, BOUND = (
    "shortfall_allowed",
    "shortfall_probability",
    "shortfall_tail",
    "shortfall_cvar",
)


@dataclass(frozen=True)
class ReliabilityTarget:
    """At most `max_probability` P of the scenarios may fall short; with `cvar_tolerance`
    TOL, instead the CVaR at level 1 - P of the shortfall share is at most TOL."""

    max_probability: float
    cvar_tolerance: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_probability <= 1.0:
            raise ValueError(f"a shortfall probability is in [0, 1], got {self.max_probability}")
        if self.cvar_tolerance is not None and not 0.0 <= self.cvar_tolerance <= 1.0:
            raise ValueError(f"a shortfall share is in [0, 1], got {self.cvar_tolerance}")

    @property
    def measure(self) -> str:
        return "chance" if self.cvar_tolerance is None else "cvar"

    def with_probability(self, p: float) -> ReliabilityTarget:
        """The same kind of target at another P (a point of the trade-off curve)."""
        return replace(self, max_probability=p)

    def as_params(self) -> dict[str, float | str | None]:
        return {
            "measure": self.measure,
            "max_shortfall_probability": self.max_probability,
            "shortfall_cvar": self.cvar_tolerance,
        }


@dataclass(frozen=True)
class ShortfallColumns:
    """Where each scenario's shortfall went in an extensive form: `cols[omega, j]` is the
    column of u at position `wk[j]` of the stage model's u block (the workloads with a
    minimum only), `weights[omega, j]` its coefficient c_omega in short_omega, `cap[j]` its
    upper bound (min_served_share)."""

    cols: np.ndarray
    weights: np.ndarray
    cap: np.ndarray
    positions: np.ndarray  # positions of the u block (rows of the wk table) kept
    block_size: int  # the u block's size

    def shares(self, u: np.ndarray) -> np.ndarray:
        """short_omega per scenario, of shortfall values `u` (shaped as `cols`)."""
        return np.asarray((self.weights * u).sum(axis=1))


def shortfall_columns(
    index: ModelIndex, ef: ExtensiveForm, stages: Sequence[StageModel]
) -> ShortfallColumns:
    """The shortfall columns of the extensive form `ef` of `stages`, with their weights."""
    layout = stages[0].model.layout
    cap = stages[0].model.ub[layout.u]
    positions = np.flatnonzero(cap > 0)
    cols = ef.columns[:, layout.cols("u")[positions]]
    level = np.stack([level_of(index.wk, s.model.priced) for s in stages])
    tokens = np.stack([s.model.priced.tokens_per_year for s in stages])
    demanded = (level * tokens).sum(axis=1, keepdims=True)
    weights = np.divide(level * tokens, demanded, out=np.zeros_like(tokens), where=demanded > 0)
    return ShortfallColumns(cols, weights[:, positions], cap[positions], positions, len(cap))


@dataclass(frozen=True)
class Rows:
    """Rows to append, numbered from 0, columns ascending within each row."""

    row: np.ndarray
    col: np.ndarray
    val: np.ndarray
    lb: np.ndarray
    ub: np.ndarray


def define_chance_rows(
    short: ShortfallColumns, v_cols: np.ndarray, p: np.ndarray, max_probability: float
) -> tuple[Rows, Rows]:
    """u[w, k, omega] - min_served_share[w] v_omega <= 0 per scenario and shortfall column
    (scenario-major), and sum_omega p_omega v_omega <= P."""
    n_scen, n_u = short.cols.shape
    rows = np.arange(n_scen * n_u)
    allowed = Rows(
        row=np.repeat(rows, 2),
        col=np.stack([short.cols.ravel(), np.repeat(v_cols, n_u)], axis=1).ravel(),
        val=np.stack([np.ones(rows.size), -np.tile(short.cap, n_scen)], axis=1).ravel(),
        lb=np.full(rows.size, -np.inf),
        ub=np.zeros(rows.size),
    )
    probability = Rows(
        row=np.zeros(n_scen, dtype=np.int64),
        col=v_cols,
        val=np.asarray(p, dtype=float),
        lb=np.array([-np.inf]),
        ub=np.array([max_probability]),
    )
    return allowed, probability


def define_cvar_rows(
    short: ShortfallColumns,
    t_col: int,
    z_cols: np.ndarray,
    p: np.ndarray,
    max_probability: float,
    tolerance: float,
) -> tuple[Rows, Rows]:
    """short_omega - t - z_omega <= 0 per scenario, and t + 1/P sum p_omega z_omega <= TOL
    (P = 0: t <= TOL, the z fixed at 0 by their bounds). Columns: u, then t, then z."""
    n_scen, n_u = short.cols.shape
    width = n_u + 2
    tail = Rows(
        row=np.repeat(np.arange(n_scen), width),
        col=np.concatenate(
            [short.cols, np.full((n_scen, 1), t_col), z_cols[:, None]], axis=1
        ).ravel(),
        val=np.concatenate([short.weights, -np.ones((n_scen, 2))], axis=1).ravel(),
        lb=np.full(n_scen, -np.inf),
        ub=np.zeros(n_scen),
    )
    z_part = max_probability > 0
    bound = Rows(
        row=np.zeros(1 + (n_scen if z_part else 0), dtype=np.int64),
        col=np.concatenate([[t_col], z_cols if z_part else []]).astype(np.int64),
        val=np.concatenate([[1.0], p / max_probability if z_part else []]),
        lb=np.array([-np.inf]),
        ub=np.array([tolerance]),
    )
    return tail, bound


def with_target(
    ef: ExtensiveForm, short: ShortfallColumns, target: ReliabilityTarget
) -> ExtensiveForm:
    """The extensive form `ef` (its shortfall columns `short`) with the target's columns (v;
    or t and z) after its own, and its rows after its own (families per scenario)."""
    model, p = ef.model, ef.probabilities
    n_scen = short.cols.shape[0]
    start = model.n_variables
    if target.cvar_tolerance is None:
        blocks = [("v", n_scen, SCENARIO_TABLE)]
        lb, ub = np.zeros(n_scen), np.ones(n_scen)
        integer = np.ones(n_scen, dtype=bool)
        v_cols = start + np.arange(n_scen)
        first, second = define_chance_rows(short, v_cols, p, target.max_probability)
        names = (ALLOWED, PROBABILITY)
        first_over = ("wk", short.positions)
    else:
        blocks = [("t", 1, SCENARIO_TABLE), ("z", n_scen, SCENARIO_TABLE)]
        z_ub = np.inf if target.max_probability > 0 else 0.0
        lb = np.concatenate([[-np.inf], np.zeros(n_scen)])
        ub = np.concatenate([[np.inf], np.full(n_scen, z_ub)])
        integer = np.zeros(n_scen + 1, dtype=bool)
        first, second = define_cvar_rows(
            short,
            start,
            start + 1 + np.arange(n_scen),
            p,
            target.max_probability,
            target.cvar_tolerance,
        )
        names = (TAIL, BOUND)
        first_over = (SCENARIO_TABLE, np.zeros(1, dtype=np.int64))
    per_scenario = len(first.lb) // n_scen
    base = model.n_constraints
    families = {
        scenario_family(names[0], s): slice(base + s * per_scenario, base + (s + 1) * per_scenario)
        for s in range(n_scen)
    }
    row_over = {key: first_over for key in families}
    at = base + len(first.lb)
    families[names[1]] = slice(at, at + 1)
    row_over[names[1]] = (SCENARIO_TABLE, np.zeros(1, dtype=np.int64))
    layout = VariableLayout.of(
        *((b.name, b.size, b.over) for b in model.layout.blocks),
        *blocks,
    )
    extended = replace(
        model,
        layout=layout,
        lb=np.concatenate([model.lb, lb]),
        ub=np.concatenate([model.ub, ub]),
        integer=np.concatenate([model.integer, integer]),
        objective=np.concatenate([model.objective, np.zeros(len(lb))]),
        row=np.concatenate([model.row, base + first.row, at + second.row]),
        col=np.concatenate([model.col, first.col, second.col]),
        val=np.concatenate([model.val, first.val, second.val]),
        row_lb=np.concatenate([model.row_lb, first.lb, second.lb]),
        row_ub=np.concatenate([model.row_ub, first.ub, second.ub]),
        families={**model.families, **families},
        row_over={**model.row_over, **row_over},
    )
    return replace(ef, model=extended)


def held_shortfall(ef: ExtensiveForm, short: ShortfallColumns, x: np.ndarray) -> np.ndarray:
    """Each scenario's shortfall columns (as `short.cols`) in the extensive form's solution
    x, as its target holds them: 0 in a scenario whose v_omega is 0 (within the solver's
    tolerances the row leaves it up to ~1e-6, which is noise, not a shortfall), and 0 where
    at most SHORTFALL_THRESHOLD."""
    u = x[short.cols]
    layout = ef.model.layout
    if layout.has("v"):
        allowed = np.round(x[layout.cols("v")]) > 0
        u = np.where(allowed[:, None], u, 0.0)
    return np.where(u <= SHORTFALL_THRESHOLD, 0.0, u)


def shortfall_caps(short: ShortfallColumns, held: np.ndarray) -> np.ndarray:
    """Per scenario, an upper bound on each column of its u block that holds its shortfall
    to the extensive form's (`held`, from held_shortfall): 0 where that is 0, else up to
    CAP_SLACK above it (within u's bound); 0 where a workload has no minimum (u's bound)."""
    kept = np.where(held > 0, np.minimum(short.cap, held + CAP_SLACK), 0.0)
    caps = np.zeros((held.shape[0], short.block_size))
    caps[:, short.positions] = kept
    return caps


def probability_of_shortfall(shares: np.ndarray, p: np.ndarray) -> float:
    """The probability of the scenarios whose shortfall share is above the threshold."""
    return float(np.asarray(p) @ (np.asarray(shares) > SHORTFALL_THRESHOLD))


def hold_shortfall(model: LinearModel, cap: np.ndarray) -> LinearModel:
    """A stage model (or one made of it, with the same layout) with its u block at most
    `cap` (shortfall_caps' row of its scenario): an in-sample evaluation of a plan found
    with a target meets the target as the extensive form did."""
    ub = model.ub.copy()
    ub[model.layout.u] = np.minimum(ub[model.layout.u], cap)
    return replace(model, ub=ub)
