"""The L-shaped method (Benders decomposition) for the two-stage program (docs/model.md
section 9): the maths, apart from how subproblems travel.

The master (fleetopt.model.master for its fixed rows) holds the first stage, one cost
variable theta per scenario (or one in all with aggregated cuts, `Cuts.SINGLE`) and, for
CVaR, eta and the tail z; each round adds optimality cuts

    theta[s] >= v[s] + g[s] (x - plan)

from every scenario's relaxed recourse at a plan (fleetopt.solve.recourse: value v, the
fixed columns' reduced costs g). Any master's dual bound is a lower bound of the program
with its integer recourse (the cuts are below the relaxed cost, which is below the
integer one); an upper bound is a whole plan's cost with whole-rack recourse: made whole
from the relaxed solution by the cut tasks themselves (`CutTask.whole`), or evaluated
exactly as `evaluate` does (hedging's EVALUATE tasks) where that does not reach the gap.

Rounds (`decompose`):

- start: cuts and upper bounds at the start plans (the smallest first stage; the
  pipeline adds the expected-value plan);
- LP phase: the master with x continuous; cuts at x_in + lam (x_out - x_in), where x_in is
  the point of lowest relaxed objective so far (in-out stabilization); lam = 1/2, then 1
  once the bound stalls;
- integer phase: the master as a MILP, cuts and an upper bound at its solution; the best
  integer point is evaluated exactly once its relaxed value is near the bound; stop at the
  certified gap, when the master repeats itself and no candidate closes the gap (the
  recourse's integrality gap), or at the round or time limit (between rounds).

This module knows nothing of Ray: `decompose` is given a `solve` function answering a list
of tasks (`CutTask`s, or hedging's `Task`s to evaluate plans) in order. Each `CutTask`
carries its scenario's last basis, so a reply is a function of its task: the same however
tasks are spread, and after a restart.
"""

from __future__ import annotations

import enum
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from fleetopt.core.errors import SolverError
from fleetopt.io.solver import SolverOptions
from fleetopt.model.build import LinearModel
from fleetopt.model.layout import VariableLayout
from fleetopt.model.master import MasterStructure
from fleetopt.model.risk import Risk
from fleetopt.model.stage import StageModel
from fleetopt.solve.hedging import HedgingSettings, Reply, Task, TaskKind, limit_reached
from fleetopt.solve.mathopt import relative_gap, solve_model
from fleetopt.solve.recourse import RecourseSolution
from fleetopt.solve.result import ConvergenceRow, SolveStatus

log = logging.getLogger(__name__)

IN_OUT = 0.5  # lam: cuts halfway from the best point towards the master's solution
STALL_ROUNDS = 5  # LP-phase rounds without progress before lam = 1, then the integer phase
LP_GAP_SHARE = 0.1  # the LP phase ends within this share of the target gap
MASTER_GAP_SHARE = 0.1  # the master MILP is solved to this share of the target gap
EVALUATE_WITHIN = 0.5  # integer-evaluate the best point within this share of the target
INTEGER_CANDIDATES = 3  # points evaluated with integer recourse once the master repeats
PROGRESS = 1e-9  # a relative bound change below this is no progress


# `solve`: cut tasks to their CutReplies, or hedging's Tasks (plans to evaluate) to Replies,
# in order, whoever solves them (fleetopt.parallel.actors.StagePool.solve).
Solve = Callable[[list[Any]], list[Any]]
Evaluate = Callable[[np.ndarray], np.ndarray]  # a plan's integer-recourse cost per scenario


class Cuts(enum.StrEnum):
    """One cost variable and cut per scenario, or one aggregated cut per point."""

    MULTI = "multi"
    SINGLE = "single"


class Phase(enum.StrEnum):
    LP = "lp"  # the master's first stage continuous
    INTEGER = "integer"  # the master a MILP


@dataclass(frozen=True)
class CutTask:
    """Scenario `scenario`'s relaxed recourse at first stage `plan`, from `basis`; with
    `whole` (a whole plan), also a whole-rack recourse's cost."""

    scenario: int
    plan: np.ndarray
    basis: np.ndarray | None = None
    sample: int = 0
    whole: bool = False


@dataclass(frozen=True)
class CutReply:
    """Scenario `scenario`'s recourse at the task's plan (fleetopt.solve.recourse), a cut
    cost(x) >= value + subgradient (x - plan), scaled units."""

    scenario: int
    solution: RecourseSolution


@dataclass(frozen=True)
class Round:
    """What one round did: its phase, rho of the relaxed costs at the point it cut at (nan:
    none), and the seconds of its subproblems and of its master."""

    phase: str
    relaxed: float
    solve_s: float
    master_s: float


@dataclass
class BendersState:
    """Everything a round needs and the history so far: a run resumes from it.

    Cuts are rows `theta[cut_scenario] >= cut_constant + cut_slope x` (cut_scenario -1:
    the aggregated theta). `bases[s]` is scenario s's last basis (zeros: none yet).
    Points are every first stage cut at: their relaxed objective and, once evaluated with
    integer recourse, their real one (nan before).
    """

    probabilities: np.ndarray
    cut_scenario: np.ndarray
    cut_constant: np.ndarray
    cut_slope: np.ndarray
    bases: np.ndarray
    points: np.ndarray  # (points, first-stage columns)
    point_relaxed: np.ndarray  # rho of the relaxed costs
    point_whole: np.ndarray  # rho of whole-rack recourse costs found from the LP (nan: none)
    point_integer: np.ndarray  # rho of the costs evaluated exactly (nan: not evaluated)
    aggregated: bool = False  # one cut per point (Cuts.SINGLE)
    phase: Phase = Phase.LP
    lam: float = IN_OUT
    best_in: int = -1  # the point of lowest relaxed objective (x_in)
    stalled: int = 0
    lower_bound: float = -math.inf  # scaled units
    upper_bound: float = math.inf
    plan: np.ndarray | None = None  # the incumbent: the best plan with integer recourse
    plan_costs: np.ndarray | None = None
    round: int = 0
    elapsed_s: float = 0.0
    stopped: str = ""
    history: list[ConvergenceRow] = field(default_factory=list)

    @property
    def gap(self) -> float:
        """The certified relative gap; inf until a plan has been evaluated."""
        if not math.isfinite(self.upper_bound):
            return math.inf
        return relative_gap(self.upper_bound, self.lower_bound)

    @property
    def n_scenarios(self) -> int:
        return len(self.probabilities)


def decompose(
    stage: StageModel,
    structure: MasterStructure,
    probabilities: np.ndarray,
    solve: Solve,
    stop: HedgingSettings,
    master_options: SolverOptions,
    cuts: Cuts = Cuts.MULTI,
    starts: Sequence[np.ndarray] = (),
    state: BendersState | None = None,
    checkpoint: Callable[[BendersState], None] = lambda state: None,
    evaluate: Evaluate | None = None,
) -> BendersState:
    """The L-shaped method from `state` (or from cuts at `starts` and the smallest first
    stage) until `stop` holds (the certified gap, `max_iterations` rounds, the time limit
    between rounds); `checkpoint` after every round. `stage` is any scenario's stage model
    (its first stage and risk measure). `evaluate(plan)` gives a plan's cost with integer
    recourse per scenario (default: EVALUATE tasks to `solve`)."""
    if cuts is Cuts.SINGLE and stage.risk.has_tail:
        raise ValueError("aggregated cuts (--cuts single) need the mean objective")
    clock = time.perf_counter() - (state.elapsed_s if state is not None else 0.0)
    master = Master(structure, stage, probabilities, cuts)
    n = len(master.p)
    evaluate = evaluate or (lambda plan: _evaluate_tasks(plan, n, solve))
    if state is None:
        started = time.perf_counter()
        state = _start(master, stage, solve, starts, aggregated=cuts is Cuts.SINGLE)
        state.elapsed_s = time.perf_counter() - clock
        start = Round("start", np.nan, time.perf_counter() - started, 0.0)
        state.history.append(_row(state, start))
        checkpoint(state)
    while not state.stopped:
        state.stopped = _stop_reason(state, stop, time.perf_counter() - clock)
        if state.stopped:
            break
        left_s = stop.time_limit_s - (time.perf_counter() - clock)
        options = replace(
            master_options,
            relative_gap=MASTER_GAP_SHARE * stop.gap,
            time_limit_s=max(1.0, min(master_options.time_limit_s, left_s)),
        )
        if state.phase is Phase.LP:
            done = _lp_round(state, master, stage, solve, options, stop.gap)
        else:
            done = _integer_round(state, master, stage, solve, evaluate, options, stop.gap)
        state.round += 1
        state.elapsed_s = time.perf_counter() - clock
        state.history.append(_row(state, done))
        checkpoint(state)
    return state


# --- rounds --------------------------------------------------------------------------------


def _start(
    master: Master,
    stage: StageModel,
    solve: Solve,
    starts: Sequence[np.ndarray],
    *,
    aggregated: bool,
) -> BendersState:
    """Cuts at the smallest first stage and at `starts` that are in the master's domain."""
    k, n = master.k, len(master.p)
    n_basis = stage.model.n_variables + stage.model.n_constraints
    state = BendersState(
        probabilities=master.p,
        cut_scenario=np.zeros(0, dtype=np.int64),
        cut_constant=np.zeros(0),
        cut_slope=np.zeros((0, k)),
        bases=np.zeros((n, n_basis), dtype=np.int8),
        points=np.zeros((0, k)),
        point_relaxed=np.zeros(0),
        point_whole=np.zeros(0),
        point_integer=np.zeros(0),
        aggregated=aggregated,
    )
    lo, hi = master.structure.model.lb[:k], master.structure.model.ub[:k]
    smallest = master.point(lo, integer=True)
    plans = [smallest, *(master.point(np.clip(s, lo, hi), integer=True) for s in starts)]
    for i, plan in enumerate(plans):
        if _known(state, plan) is not None:
            continue
        try:
            _separate(state, stage, plan, solve, whole=True)
        except RecourseError as err:
            if i == 0 or err.solution.status is not SolveStatus.INFEASIBLE:
                raise
            log.info("benders: start plan %d is outside the master's domain; not used", i)
    state.best_in = int(np.argmin(state.point_relaxed))
    return state


def _lp_round(
    state: BendersState,
    master: Master,
    stage: StageModel,
    solve: Solve,
    options: SolverOptions,
    target_gap: float,
) -> Round:
    """Master with x continuous; cuts between the best point and its solution."""
    started = time.perf_counter()
    bound, x = master.solve(state, integer=False, options=options)
    master_s = time.perf_counter() - started
    progress = bound > state.lower_bound + PROGRESS * max(1.0, abs(bound))
    state.lower_bound = max(state.lower_bound, bound)
    best = state.point_relaxed[state.best_in]
    if relative_gap(best, state.lower_bound) <= LP_GAP_SHARE * target_gap:
        state.phase = Phase.INTEGER
        return Round(Phase.LP, np.nan, 0.0, master_s)
    state.stalled = 0 if progress else state.stalled + 1
    if state.stalled >= STALL_ROUNDS:
        if state.lam < 1.0:
            state.lam, state.stalled = 1.0, 0
        else:
            state.phase = Phase.INTEGER
    x_in = state.points[state.best_in]
    x_out = master.point(x, integer=False)
    plan = x_in + state.lam * (x_out - x_in)
    relaxed, seconds = math.nan, 0.0
    if _known(state, plan) is None:
        started = time.perf_counter()
        relaxed = _separate(state, stage, plan, solve)
        seconds = time.perf_counter() - started
        if relaxed < best:
            state.best_in = len(state.points) - 1
    return Round(Phase.LP, relaxed, seconds, master_s)


def _integer_round(
    state: BendersState,
    master: Master,
    stage: StageModel,
    solve: Solve,
    evaluate: Evaluate,
    options: SolverOptions,
    target_gap: float,
) -> Round:
    """Master as a MILP; cuts at its solution; integer recourse for the best points."""
    started = time.perf_counter()
    bound, x = master.solve(state, integer=True, options=options)
    master_s = time.perf_counter() - started
    state.lower_bound = max(state.lower_bound, bound)
    plan = master.point(x, integer=True)
    started = time.perf_counter()
    known = _known(state, plan)
    if known is None:
        relaxed = _separate(state, stage, plan, solve, whole=True)
        close = [
            i
            for i in _best_integer_points(state, master, 1)
            if relative_gap(state.point_relaxed[i], state.lower_bound)
            <= EVALUATE_WITHIN * target_gap
            and state.gap > target_gap
        ]
    else:  # the cut model is exact at the master's solution: the relaxed problem is solved
        relaxed = state.point_relaxed[known]
        close = [
            i
            for i in _best_integer_points(state, master, INTEGER_CANDIDATES)
            if state.point_relaxed[i] < state.upper_bound
        ]
        if not close:
            state.stopped = (
                f"the relaxed recourse is solved (bound {state.lower_bound:.6g}); the rest of"
                f" the gap, {state.gap:.2e}, is the integrality gap of the recourse"
            )
    for i in close:
        _evaluate_integer(state, stage, i, evaluate)
    seconds = time.perf_counter() - started
    return Round(Phase.INTEGER, relaxed, seconds, master_s)


def _best_integer_points(state: BendersState, master: Master, count: int) -> list[int]:
    """Up to `count` integer points not yet evaluated with integer recourse, best first."""
    integer = master.integer_first
    whole = np.all(np.abs(state.points[:, integer] - np.round(state.points[:, integer])) == 0, 1)
    open_ = whole & np.isnan(state.point_integer)
    order = np.argsort(np.where(open_, state.point_relaxed, np.inf), kind="stable")
    return [int(i) for i in order[: int(open_.sum())][:count]]


def _separate(
    state: BendersState, stage: StageModel, plan: np.ndarray, solve: Solve, *, whole: bool = False
) -> float:
    """Cuts of every scenario at `plan`; the plan becomes a point (with `whole`, a whole
    plan valued with whole-rack recourse too: an upper bound). Returns rho of the relaxed
    costs; raises RecourseError (the state unchanged) where a scenario has no optimum."""
    n = state.n_scenarios
    tasks = [
        CutTask(s, plan, state.bases[s] if state.bases[s].any() else None, whole=whole)
        for s in range(n)
    ]
    replies = solve(tasks)
    if len(replies) != n:
        raise ValueError(f"{n} cut tasks got {len(replies)} replies")
    for reply in replies:
        if reply.solution.status is not SolveStatus.OPTIMAL:
            raise RecourseError(reply)
    solutions = [r.solution for r in replies]
    values = np.array([s.value for s in solutions])
    slopes = np.stack([s.subgradient for s in solutions])
    for reply in replies:
        if reply.solution.basis is not None:
            state.bases[reply.scenario] = reply.solution.basis
    p = state.probabilities
    constants = values - slopes @ plan
    if state.aggregated:
        scenario, constants, slopes = np.array([-1]), np.array([p @ constants]), (p @ slopes)[None]
    else:
        scenario = np.arange(n)
    state.cut_scenario = np.concatenate([state.cut_scenario, scenario])
    state.cut_constant = np.concatenate([state.cut_constant, constants])
    state.cut_slope = np.concatenate([state.cut_slope, slopes])
    relaxed = stage.risk.value(values, p)
    whole_costs = np.array([s.whole_cost if whole else np.nan for s in solutions], dtype=float)
    valued = stage.risk.value(whole_costs, p) if np.isfinite(whole_costs).all() else np.nan
    state.points = np.concatenate([state.points, plan[None]])
    state.point_relaxed = np.append(state.point_relaxed, relaxed)
    state.point_whole = np.append(state.point_whole, valued)
    state.point_integer = np.append(state.point_integer, np.nan)
    if valued < state.upper_bound:
        state.upper_bound, state.plan, state.plan_costs = valued, plan.copy(), whole_costs
    return relaxed


def _evaluate_tasks(plan: np.ndarray, n: int, solve: Solve) -> np.ndarray:
    """A plan's cost with integer recourse per scenario, by `evaluate`'s MILPs."""
    replies: list[Reply] = solve([Task((s,), TaskKind.EVALUATE, plan=plan) for s in range(n)])
    return np.array([r.cost if r.status.has_plan else np.inf for r in replies])


def _evaluate_integer(
    state: BendersState, stage: StageModel, point: int, evaluate: Evaluate
) -> None:
    """Point `point`'s cost with integer recourse in every scenario: an upper bound."""
    plan = state.points[point]
    costs = evaluate(plan)
    value = stage.risk.value(costs, state.probabilities)
    state.point_integer[point] = value
    if value < state.upper_bound:
        state.upper_bound, state.plan, state.plan_costs = value, plan.copy(), costs


def _stop_reason(state: BendersState, stop: HedgingSettings, elapsed_s: float) -> str:
    if state.gap <= stop.gap:
        return f"certified gap {state.gap:.2e} within the target {stop.gap:g}"
    rounds = ("round", state.round, stop.max_iterations)
    return limit_reached(*rounds, elapsed_s, stop.time_limit_s)


def _known(state: BendersState, plan: np.ndarray) -> int | None:
    """The point equal to `plan`, if it was cut at already."""
    same = np.flatnonzero(np.all(state.points == plan[None], axis=1))
    return int(same[0]) if len(same) else None


def _row(state: BendersState, done: Round) -> ConvergenceRow:
    """One line of the convergence table after round `done` (scaled units; the pipeline
    converts)."""
    return ConvergenceRow(
        iteration=state.round,
        lower_bound=state.lower_bound,
        upper_bound=state.upper_bound,
        gap=state.gap,
        solve_seconds=done.solve_s,
        elapsed_seconds=state.elapsed_s,
        cuts=len(state.cut_constant),
        phase=str(done.phase),
        relaxed_objective=done.relaxed,
        points=len(state.points),
        master_seconds=done.master_s,
    )


class RecourseError(SolverError):
    """A scenario's relaxed recourse without an optimum at a master point."""

    def __init__(self, reply: CutReply):
        self.solution = solution = reply.solution
        if solution.status is SolveStatus.INFEASIBLE:
            text = (
                f"scenario {reply.scenario}'s relaxed second stage is infeasible at a first"
                " stage the master allows: relatively complete recourse does not hold for this"
                " case (docs/model.md section 9); --method ef solves it without decomposition"
            )
        else:
            why = f": {solution.message}" if solution.message else ""
            text = f"scenario {reply.scenario}'s recourse LP ended {solution.status.value}{why}"
        super().__init__(text)


# --- the master ----------------------------------------------------------------------------


class Master:
    """The master's model from the fixed rows, the cuts and the risk measure's columns.

    Columns: the structure's (the first stage first), theta (one per scenario, or one),
    then z (one per scenario, CVaR only); eta is the stage's first-stage eta column.
    Rows: the structure's, one per cut, and with CVaR z[s] - theta[s] + eta >= 0.
    """

    def __init__(
        self,
        structure: MasterStructure,
        stage: StageModel,
        probabilities: np.ndarray,
        cuts: Cuts,
    ):
        self.structure = structure
        self.risk: Risk = stage.risk
        self.p = np.asarray(probabilities, dtype=float)
        self.k = structure.n_first
        self.n_thetas = 1 if cuts is Cuts.SINGLE else len(self.p)
        layout = stage.model.layout
        self.eta = (
            int(np.flatnonzero(stage.first_cols == layout.cols("eta")[0])[0])
            if layout.has("eta")
            else None
        )
        self.integer_first = structure.model.integer[: self.k].copy()

    def point(self, x: np.ndarray, *, integer: bool) -> np.ndarray:
        """The first stage of master solution `x` as a point to cut at: eta at 0 (no
        scenario's cost depends on it), whole racks where `integer`."""
        plan: np.ndarray = np.nan_to_num(np.asarray(x[: self.k], dtype=float))
        if integer:
            plan[self.integer_first] = np.round(plan[self.integer_first])
        if self.eta is not None:
            plan[self.eta] = 0.0
        return plan

    def solve(
        self, state: BendersState, *, integer: bool, options: SolverOptions
    ) -> tuple[float, np.ndarray]:
        """The master's dual bound (its objective where it has none) and its solution."""
        solution = solve_model(self.model(state, integer=integer), options)
        if solution.x is None:
            why = f"{solution.status.value}: {solution.message}"
            raise SolverError(f"the Benders master ended {why}")
        bound = solution.bound if np.isfinite(solution.bound) else solution.objective
        return float(bound), solution.x

    def model(self, state: BendersState, *, integer: bool) -> LinearModel:
        """The master with every cut of `state`, rows in order and columns ascending
        within a row (as the proto wants)."""
        base = self.structure.model
        n_base, n = base.n_variables, len(self.p)
        theta0 = n_base
        tail = self.risk.has_tail
        z0 = theta0 + self.n_thetas
        size = z0 + (n if tail else 0)

        lb = np.concatenate([base.lb, np.full(self.n_thetas, -np.inf), np.zeros(size - z0)])
        ub = np.concatenate([base.ub, np.full(size - n_base, np.inf)])
        is_integer = np.zeros(size, dtype=bool)
        if integer:
            is_integer[:n_base] = base.integer
        objective = np.zeros(size)
        weight = 1.0 - self.risk.weight if tail else 1.0
        objective[theta0:z0] = weight * (self.p if self.n_thetas > 1 else 1.0)
        if tail:
            objective[self.eta] = self.risk.weight
            objective[z0:] = self.risk.weight * self.p / (1.0 - self.risk.alpha)

        # Cut rows: -slope on the first stage (nonzeros), then theta.
        n_cuts = len(state.cut_constant)
        nonzero = state.cut_slope != 0
        per_row = nonzero.sum(axis=1) + 1
        cut_rows = base.n_constraints + np.repeat(np.arange(n_cuts), per_row)
        cut_cols = np.full((n_cuts, self.k + 1), -1)
        cut_vals = np.zeros((n_cuts, self.k + 1))
        cut_cols[:, : self.k] = np.where(nonzero, np.arange(self.k), -1)
        cut_vals[:, : self.k] = -state.cut_slope
        cut_cols[:, self.k] = theta0 + np.maximum(state.cut_scenario, 0)
        cut_vals[:, self.k] = 1.0
        used = cut_cols >= 0
        pieces_row = [base.row, cut_rows]
        pieces_col = [base.col, cut_cols[used]]
        pieces_val = [base.val, cut_vals[used]]
        row_lb = [base.row_lb, state.cut_constant]
        row_ub = [base.row_ub, np.full(n_cuts, np.inf)]
        if tail:  # eta, theta[s], z[s] in ascending column order
            first_tail = base.n_constraints + n_cuts
            pieces_row.append(np.repeat(first_tail + np.arange(n), 3))
            pieces_col.append(
                np.stack(
                    [np.full(n, self.eta), theta0 + np.arange(n), z0 + np.arange(n)], 1
                ).ravel()
            )
            pieces_val.append(np.tile([1.0, -1.0, 1.0], n))
            row_lb.append(np.zeros(n))
            row_ub.append(np.full(n, np.inf))
        layout = VariableLayout.of(
            ("structure", n_base, "master"),
            ("theta", self.n_thetas, "scenario"),
            ("z", size - z0, "scenario"),
        )
        return LinearModel(
            layout=layout,
            costs=None,
            lb=lb,
            ub=ub,
            integer=is_integer,
            objective=objective,
            objective_offset=0.0,
            row=np.concatenate(pieces_row).astype(np.int64),
            col=np.concatenate(pieces_col).astype(np.int64),
            val=np.concatenate(pieces_val),
            row_lb=np.concatenate(row_lb),
            row_ub=np.concatenate(row_ub),
            families={},
            row_over={},
        )
