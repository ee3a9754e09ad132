"""Progressive hedging (docs/model.md section 9): the maths, apart from how subproblems travel.

Subproblems are bundles of scenarios (`make_bundles`: about sqrt(N) of them; a bundle is
the extensive form of its scenarios, fleetopt.model.extensive.bundle_stage, as
mpi-sppy's bundles). With bundle probabilities p, multipliers W[b] (sum_b p[b] W[b] = 0),
consensus xbar and per-variable rho, one iteration solves, for every bundle,

    hedge:       min f_b(x, y) + W[b] x + rho/2 |x - xbar|^2   (x integer: see `Prox`)
    lagrangian:  min f_b(x, y) + W[b] x                          (a lower bound, below)

then sets xbar = sum_b p[b] x[b] and W[b] += rho (x[b] - xbar). Every iteration also

- evaluates candidate plans in every scenario, their first stage fixed: the rounded
  consensus (floor(xbar) where rounding breaks a first-stage row), one bundle's own first
  stage in turn (mpi-sppy's xhat-shuffle) and the largest one any bundle chose where it fits
  (slam-max). Each is a real plan, so its objective, risk(costs), is an upper bound;
- sums the lagrangian solves' dual bounds: since sum_b p[b] W[b] = 0, for the optimal plan
  x*, sum_b p[b] min_x (f_b + W[b] x) <= sum_b p[b] (f_b(x*) + W[b] x*) = RP, a lower
  bound (with W = 0 and single-scenario bundles: the wait-and-see value).

The gap (best upper - best lower) / best upper is thus certified, whatever the subproblem
solver's own gaps (their dual bounds enter the lower bound). It stops at the gap target,
when every bundle agrees on the first stage (consensus), when neither bound has moved for
STALL_ITERATIONS (integer first stages can leave a duality gap that no W closes), or at
the iteration or time limit, checked between iterations.

rho is set from costs, with nothing to tune (Watson and Woodruff's cost-proportional
"SEP" rule, as mpi-sppy's cost-based setters): rho[j] = c[j] / (max_b x0[b, j] - min_b
x0[b, j] + 1) for an integer x[j] with cost c[j], over iteration 0's solutions x0;
c[j] / max(sum_b p[b] |x0[b, j] - xbar0[j]|, 1) for a continuous one.

This module knows nothing of Ray: `hedge` is given a `solve` function that answers a list
of `Task`s with `Reply`s in the same order (fleetopt.parallel.actors ships them to actors;
a plain loop does too). Each task carries all it needs, so a reply depends on its task
alone: results are the same however tasks are spread. Bundles depend on the number of
scenarios only, never on the workers.
"""

from __future__ import annotations

import enum
import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from fleetopt.core.errors import SolverError
from fleetopt.model.build import LinearModel
from fleetopt.model.stage import StageModel
from fleetopt.solve.mathopt import relative_gap
from fleetopt.solve.result import ConvergenceRow, SolveStatus

CONSENSUS_TOLERANCE = 1e-6  # mean |x[b] - xbar| below which the bundles agree
START_CANDIDATES = 8  # bundles' own first stages evaluated after iteration 0
STALL_ITERATIONS = 10  # stop when neither bound moved in this many iterations
GEOMETRIC_CUTS = 16  # cuts at ref +- 2^i, i < 16: q >= 3/4 (x - ref)^2 anywhere in reach


class TaskKind(enum.StrEnum):
    """What a subproblem solve is for."""

    FREE = "free"  # the scenario alone (wait and see; PH's iteration 0)
    LAGRANGIAN = "lagrangian"  # with W: its dual bound enters the lower bound
    HEDGE = "hedge"  # with W and the proximal term: PH's step
    EVALUATE = "evaluate"  # the first stage fixed: what a plan costs in this scenario


@dataclass(frozen=True)
class Prox:
    """The proximal term rho/2 |x - xbar|^2 over the first stage, made linear.

    x is integer, so the square is written around an integer reference `ref` (the rounded
    first consensus) with one variable q[j] >= (x[j] - ref[j])^2 per first-stage column,
    kept by secant cuts through consecutive integers v, v + 1 (exact at whole x) or, for a
    continuous x[j], tangents at v. Then

        rho/2 |x - xbar|^2 = rho/2 (q - 2 (xbar - ref) (x - ref) + (xbar - ref)^2)

    and only the objective follows xbar; cuts (`cut_cols`, `cut_points` v) are added, never
    changed, as the consensus moves.
    """

    xbar: np.ndarray
    rho: np.ndarray
    ref: np.ndarray
    cut_cols: np.ndarray
    cut_points: np.ndarray


@dataclass(frozen=True)
class Task:
    """One subproblem solve over `scenarios` (a bundle; one scenario to evaluate a plan).

    `sample` tells scenario sets apart (0: the run's scenarios; others: fresh ones).
    """

    scenarios: tuple[int, ...]
    kind: TaskKind
    weights: np.ndarray | None = None  # W over the first stage (lagrangian, hedge)
    prox: Prox | None = None  # hedge
    plan: np.ndarray | None = None  # evaluate: the first stage
    report: bool = False  # return the (single) scenario's result rows in `detail`
    sample: int = 0
    shortfall_cap: np.ndarray | None = None  # evaluate: u at most this (model.reliability)


@dataclass(frozen=True)
class Reply:
    """A solve's outcome in the model's scaled units.

    `first`: the first stage of the solution; `cost`: its expected cost over the task's
    scenarios (fleet + penalty); `objective`: the subproblem's value; `bound`: its proven
    dual bound.
    """

    scenarios: tuple[int, ...]
    kind: TaskKind
    status: SolveStatus
    first: np.ndarray | None
    cost: float
    objective: float
    bound: float
    gap: float
    seconds: float
    message: str = ""
    detail: object = None


def subproblem_model(
    stage: StageModel, weights: np.ndarray | None = None, prox: Prox | None = None
) -> LinearModel:
    """Scenario `stage`'s model with W on its first stage and, with `prox`, the proximal
    term: columns q appended, one per first-stage column, with their cuts as rows."""
    model = stage.model
    cols = stage.first_cols
    objective = model.objective.copy()
    if weights is not None:
        objective[cols] += weights
    if prox is None:
        return replace(model, objective=objective)
    n_first, n = len(cols), model.n_variables
    shift = prox.xbar - prox.ref
    objective[cols] -= prox.rho * shift
    offset = float(prox.rho @ (shift * prox.ref + shift**2 / 2))
    slope, intercept = _cut_lines(model, cols, prox)
    n_cuts = len(prox.cut_cols)
    rows = model.n_constraints + np.arange(n_cuts)
    return replace(
        model,
        lb=np.concatenate([model.lb, np.zeros(n_first)]),
        ub=np.concatenate([model.ub, np.full(n_first, np.inf)]),
        integer=np.concatenate([model.integer, np.zeros(n_first, dtype=bool)]),
        objective=np.concatenate([objective, prox.rho / 2]),
        objective_offset=model.objective_offset + offset,
        # Row-major, columns ascending within a row: x[j] (a model column), then q[j].
        row=np.concatenate([model.row, np.repeat(rows, 2)]),
        col=np.concatenate(
            [model.col, np.stack([cols[prox.cut_cols], n + prox.cut_cols], 1).ravel()]
        ),
        val=np.concatenate([model.val, np.stack([-slope, np.ones(n_cuts)], 1).ravel()]),
        row_lb=np.concatenate([model.row_lb, intercept]),
        row_ub=np.concatenate([model.row_ub, np.full(n_cuts, np.inf)]),
    )


def _cut_lines(model: LinearModel, cols: np.ndarray, prox: Prox) -> tuple[np.ndarray, np.ndarray]:
    """Cuts q[j] - slope x[j] >= intercept under (x - ref)^2: secants through v and v + 1 for
    integer columns, tangents at v for continuous ones."""
    j = prox.cut_cols
    v, ref = prox.cut_points, prox.ref[j]
    integer = model.integer[cols[j]]
    slope = np.where(integer, 2 * v + 1, 2 * v)
    square_at_ref = np.where(integer, -v * (v + 1), -(v**2))
    return slope, square_at_ref - slope * ref


def sep_rho(price: np.ndarray, x0: np.ndarray, p: np.ndarray, integer: np.ndarray) -> np.ndarray:
    """rho per first-stage column from its cost `price` and the wait-and-see spread x0."""
    spread_integer = x0.max(axis=0) - x0.min(axis=0) + 1.0
    spread_continuous = np.maximum(p @ np.abs(x0 - p @ x0), 1.0)
    return np.asarray(np.abs(price) / np.where(integer, spread_integer, spread_continuous))


def round_plan(xbar: np.ndarray, stage: StageModel) -> np.ndarray:
    """A first stage from the consensus: nearest whole numbers for integer columns, within
    bounds; floor(xbar) instead where rounding up breaks a row (floor never does: xbar
    meets every row that each scenario's plan met, and the rows' first-stage
    coefficients are non-negative)."""
    model, cols = stage.model, stage.first_cols
    integer = model.integer[cols]
    lo, hi = model.lb[cols], model.ub[cols]
    nearest = np.clip(np.where(integer, np.round(xbar), xbar), lo, hi)
    if first_stage_fits(stage, nearest):
        return nearest
    return np.clip(np.where(integer, np.floor(xbar + 1e-9), xbar), lo, hi)


def first_stage_fits(stage: StageModel, plan: np.ndarray) -> bool:
    """Whether every row can still hold with the first stage at `plan` and every other
    column anywhere within its bounds (row activity ranges, vectorized)."""
    model = stage.model
    fixed = np.zeros(model.n_variables, dtype=bool)
    fixed[stage.first_cols] = True
    value = np.zeros(model.n_variables)
    value[stage.first_cols] = plan
    lb, ub = model.lb[model.col], model.ub[model.col]
    val = model.val
    with np.errstate(invalid="ignore"):
        low = np.where(val > 0, val * lb, val * ub)
        high = np.where(val > 0, val * ub, val * lb)
    low = np.where(val == 0, 0.0, low)
    high = np.where(val == 0, 0.0, high)
    at = val * value[model.col]
    low = np.where(fixed[model.col], at, low)
    high = np.where(fixed[model.col], at, high)
    n_rows = model.n_constraints
    row_low = np.bincount(model.row, low, n_rows)
    row_high = np.bincount(model.row, high, n_rows)
    tolerance = 1e-6 * np.maximum(1.0, np.abs(model.row_ub))
    return bool(
        np.all(np.nan_to_num(row_low, nan=-np.inf) <= model.row_ub + tolerance)
        and np.all(np.nan_to_num(row_high, nan=np.inf) >= model.row_lb - tolerance)
    )


@dataclass(frozen=True)
class HedgingSettings:
    """When to stop: the certified gap, the iterations, the wall clock (between iterations)."""

    gap: float = 0.01
    max_iterations: int = 100
    time_limit_s: float = 900.0


BUNDLE_MAX_COLUMNS = 12_000  # a bundle's extensive form stays below this many columns


def make_bundles(n_scenarios: int, stage_columns: int) -> list[tuple[int, ...]]:
    """Scenarios 0..n-1 in consecutive bundles: about sqrt(n) bundles of about sqrt(n)
    scenarios, more where a bundle's extensive form would pass BUNDLE_MAX_COLUMNS.

    The rule depends on the problem alone (never on the workers), so results do not
    either: 4 scenarios make 2 bundles of 2, 256 make 16 of 16, 1,000 make 32 of 31-32.
    """
    by_size = math.ceil(n_scenarios * stage_columns / BUNDLE_MAX_COLUMNS)
    count = min(n_scenarios, max(math.ceil(math.sqrt(n_scenarios)), by_size))
    return [tuple(int(s) for s in part) for part in np.array_split(np.arange(n_scenarios), count)]


@dataclass
class HedgingState:
    """Everything an iteration needs and the history so far: a run resumes from it.

    Subproblems are bundles of scenarios (`bundles`, with probabilities `weights_of`
    summing those of their scenarios); x, W are per bundle.
    """

    bundles: list[tuple[int, ...]]
    probabilities: np.ndarray  # per scenario
    x: np.ndarray  # (bundles, first-stage columns): the last subproblem solutions
    xbar: np.ndarray
    weights: np.ndarray
    rho: np.ndarray
    ref: np.ndarray
    cut_cols: np.ndarray
    cut_points: np.ndarray
    lower_bound: float  # scaled units
    upper_bound: float = math.inf
    plan: np.ndarray | None = None  # the incumbent: the best plan evaluated
    plan_costs: np.ndarray | None = None  # its cost in each scenario
    tried: dict[str, float] = field(default_factory=dict)  # plan digest -> its objective
    iteration: int = 0
    elapsed_s: float = 0.0
    stopped: str = ""  # why it stopped; "" while running
    history: list[ConvergenceRow] = field(default_factory=list)

    @property
    def bundle_probabilities(self) -> np.ndarray:
        return np.array([self.probabilities[list(b)].sum() for b in self.bundles])

    @property
    def gap(self) -> float:
        return relative_gap(self.upper_bound, self.lower_bound)

    def prox(self) -> Prox:
        return Prox(self.xbar, self.rho, self.ref, self.cut_cols, self.cut_points)


def start(
    stage: StageModel,
    bundles: list[tuple[int, ...]],
    probabilities: np.ndarray,
    free: Sequence[Reply],
) -> HedgingState:
    """Iteration 0 from the bundles' free solves: consensus, rho, W, the first lower
    bound (at least the wait-and-see value), cuts around the reference and the range."""
    p = np.asarray(probabilities, dtype=float)
    pb = np.array([p[list(b)].sum() for b in bundles])
    x0 = np.stack([_first(r) for r in free])
    cols = stage.first_cols
    integer = stage.model.integer[cols]
    price = np.where(stage.cost[cols] != 0, stage.cost[cols], stage.model.objective[cols])
    rho = sep_rho(price, x0, pb, integer)
    xbar = pb @ x0
    ref = np.where(integer, np.round(xbar), xbar)
    state = HedgingState(
        bundles=bundles,
        probabilities=p,
        x=x0,
        xbar=xbar,
        weights=_centred(rho * (x0 - xbar), pb),
        rho=rho,
        ref=ref,
        cut_cols=np.zeros(0, dtype=np.int64),
        cut_points=np.zeros(0),
        lower_bound=float(pb @ [r.bound for r in free]),
    )
    lo, hi = stage.model.lb[cols] - ref, stage.model.ub[cols] - ref
    scale = np.where(integer, 1.0, np.maximum(1.0, x0.max(axis=0) - x0.min(axis=0)))
    for power in 2.0 ** np.arange(-1, GEOMETRIC_CUTS):
        step = np.where(integer, np.floor(power), power * scale)
        for points in (step, -step - integer):  # integer secants cover [v, v + 1]
            _add_cuts(state, points, integer, within=(points >= lo - 1) & (points <= hi))
    for x in x0:
        _add_cuts(state, x - ref, integer)
    state.history.append(_row(state, 0.0, 0.0))
    return state


def hedge(
    stage: StageModel,
    bundles: list[tuple[int, ...]],
    probabilities: np.ndarray,
    solve: Callable[[list[Task]], list[Reply]],
    settings: HedgingSettings,
    state: HedgingState | None = None,
    checkpoint: Callable[[HedgingState], None] = lambda state: None,
) -> HedgingState:
    """Progressive hedging from `state` (or from the start) until a stopping rule holds;
    `checkpoint` after each step. `stage` is any scenario's stage model (its first stage's
    columns, bounds and rows)."""
    clock = time.perf_counter() - (state.elapsed_s if state is not None else 0.0)
    integer = stage.model.integer[stage.first_cols]
    if state is None:
        tasks = [Task(b, TaskKind.FREE) for b in bundles]
        state = start(stage, bundles, probabilities, _check(solve(tasks), tasks))
        checkpoint(state)
    if state.iteration == 0 and state.plan is None:
        _evaluate(state, solve, _candidates(state, stage, START_CANDIDATES), stage)
        state.history[-1] = _row(state, 0.0, time.perf_counter() - clock)
        state.elapsed_s = time.perf_counter() - clock
        checkpoint(state)
    n_bundles = len(state.bundles)
    while not state.stopped:
        state.stopped = _stop_reason(state, settings, time.perf_counter() - clock)
        if state.stopped:
            break
        candidates = _candidates(state, stage)
        prox = state.prox()
        tasks = [
            Task(b, TaskKind.LAGRANGIAN, weights=w)
            for b, w in zip(state.bundles, state.weights, strict=True)
        ]
        tasks += [
            Task(b, TaskKind.HEDGE, w, prox)
            for b, w in zip(state.bundles, state.weights, strict=True)
        ]
        tasks += _evaluation_tasks(state, candidates)
        replies = _check(solve(tasks), tasks)
        lagrangian, hedged = replies[:n_bundles], replies[n_bundles : 2 * n_bundles]
        bound = float(state.bundle_probabilities @ [r.bound for r in lagrangian])
        state.lower_bound = max(state.lower_bound, bound)
        _absorb_evaluations(state, candidates, replies[2 * n_bundles :], stage)
        _step(state, np.stack([_first(r) for r in hedged]), integer)
        state.iteration += 1
        state.elapsed_s = time.perf_counter() - clock
        state.history.append(_row(state, sum(r.seconds for r in replies), state.elapsed_s))
        checkpoint(state)
    final = _candidates(state, stage)
    if final:  # the last consensus, so that no iteration goes unused
        _evaluate(state, solve, final, stage)
        state.elapsed_s = time.perf_counter() - clock
        lower, upper, gap = _bounds(state)
        state.history[-1] = replace(
            state.history[-1], lower_bound=lower, upper_bound=upper, gap=gap
        )
        checkpoint(state)
    return state


def _candidates(state: HedgingState, stage: StageModel, turns: int = 1) -> list[np.ndarray]:
    """Plans to evaluate this iteration, untried ones only: the rounded consensus; `turns`
    bundles' own first stages in turn (mpi-sppy's xhat-shuffle; they hedge across their
    scenarios already); and the largest first stage any bundle chose, where it fits (its
    slam-max: short capacity costs unmet demand, spare capacity only its price)."""
    n_bundles = len(state.bundles)
    picks = np.linspace(0, n_bundles, min(turns, n_bundles), endpoint=False).astype(int)
    plans = [round_plan(state.xbar, stage)]
    plans += [round_plan(state.x[(state.iteration + b) % n_bundles], stage) for b in picks]
    largest = state.x.max(axis=0)
    if first_stage_fits(stage, largest):
        plans.append(largest)
    unique = {_digest(plan): plan for plan in plans if _digest(plan) not in state.tried}
    return list(unique.values())


def _evaluation_tasks(state: HedgingState, candidates: list[np.ndarray]) -> list[Task]:
    n = len(state.probabilities)
    return [Task((s,), TaskKind.EVALUATE, plan=plan) for plan in candidates for s in range(n)]


def _evaluate(
    state: HedgingState,
    solve: Callable[[list[Task]], list[Reply]],
    candidates: list[np.ndarray],
    stage: StageModel,
) -> None:
    tasks = _evaluation_tasks(state, candidates)
    _absorb_evaluations(state, candidates, _check(solve(tasks), tasks), stage)


def _absorb_evaluations(
    state: HedgingState, candidates: list[np.ndarray], replies: Sequence[Reply], stage: StageModel
) -> None:
    """Each candidate's objective over the scenarios; the best so far is the incumbent."""
    n = len(state.probabilities)
    for i, plan in enumerate(candidates):
        # A plan some scenario cannot take (it breaks a first-stage row) has no value.
        costs = np.array(
            [r.cost if r.status.has_plan else np.inf for r in replies[i * n : (i + 1) * n]]
        )
        value = stage.risk.value(costs, state.probabilities)
        state.tried[_digest(plan)] = value
        if value < state.upper_bound:
            state.upper_bound, state.plan, state.plan_costs = value, plan.copy(), costs


def _stop_reason(state: HedgingState, settings: HedgingSettings, elapsed_s: float) -> str:
    if state.gap <= settings.gap:
        return f"certified gap {state.gap:.2e} within the target {settings.gap:g}"
    if state.iteration > 0 and _spread(state) <= CONSENSUS_TOLERANCE:
        return "every bundle agrees on the first stage (consensus)"
    if _stalled(state):
        return f"neither bound moved in {STALL_ITERATIONS} iterations"
    iterations = ("iteration", state.iteration, settings.max_iterations)
    return limit_reached(*iterations, elapsed_s, settings.time_limit_s)


def limit_reached(name: str, count: int, limit: int, elapsed_s: float, time_limit_s: float) -> str:
    """Why a method stops at its limits (`name` its steps), or "" while within them."""
    if count >= limit:
        return f"{name} limit ({limit})"
    if elapsed_s >= time_limit_s:
        return f"time limit ({time_limit_s:g} s)"
    return ""


def _stalled(state: HedgingState) -> bool:
    """Whether the last STALL_ITERATIONS iterations left both bounds where they were (PH
    on integer first stages can cycle, and a Lagrangian bound can stop short of the
    optimum: integrality leaves a duality gap)."""
    if len(state.history) <= STALL_ITERATIONS:
        return False
    before, now = state.history[-STALL_ITERATIONS - 1], state.history[-1]
    return before.lower_bound == now.lower_bound and before.upper_bound == now.upper_bound


def _step(state: HedgingState, x: np.ndarray, integer: np.ndarray) -> None:
    """New consensus, multipliers (kept at probability-weighted zero) and cuts."""
    pb = state.bundle_probabilities
    state.x = x
    state.xbar = pb @ x
    state.weights = _centred(state.weights + state.rho * (x - state.xbar), pb)
    for points in (state.xbar - state.ref, *(x - state.ref)):
        _add_cuts(state, points, integer)


def _centred(weights: np.ndarray, p: np.ndarray) -> np.ndarray:
    """W less its probability-weighted mean, so that sum_b p[b] W[b] = 0 holds exactly."""
    return np.asarray(weights - p @ weights)


def _add_cuts(
    state: HedgingState, points: np.ndarray, integer: np.ndarray, within: np.ndarray | None = None
) -> None:
    """Cuts at `points` (one per first-stage column; whole for integer columns; only
    where `within`), new ones only."""
    points = np.where(integer, np.floor(points + 1e-9), points)
    cols = np.arange(len(points))
    have = (state.cut_cols[None, :] == cols[:, None]) & (
        state.cut_points[None, :] == points[:, None]
    )
    new = ~have.any(axis=1) & (True if within is None else within)
    state.cut_cols = np.concatenate([state.cut_cols, cols[new]]).astype(np.int64)
    state.cut_points = np.concatenate([state.cut_points, points[new]])


def _spread(state: HedgingState) -> float:
    """Mean absolute distance of the bundles' first stages from the consensus."""
    return float(state.bundle_probabilities @ np.abs(state.x - state.xbar).mean(axis=1))


def _bounds(state: HedgingState) -> tuple[float, float, float]:
    """The lower and upper bounds and the certified gap (inf without a plan yet)."""
    gap = state.gap if math.isfinite(state.upper_bound) else math.inf
    return state.lower_bound, state.upper_bound, gap


def _row(state: HedgingState, solve_seconds: float, elapsed_s: float) -> ConvergenceRow:
    """One line of the convergence table (scaled units; the pipeline converts)."""
    lower, upper, gap = _bounds(state)
    return ConvergenceRow(
        iteration=state.iteration,
        lower_bound=lower,
        upper_bound=upper,
        gap=gap,
        solve_seconds=solve_seconds,
        elapsed_seconds=elapsed_s,
        spread=_spread(state),
        cuts=len(state.cut_cols),
        plans_evaluated=len(state.tried),
    )


def _check(replies: list[Reply], tasks: list[Task]) -> list[Reply]:
    """Replies in task order, each with what its use needs (a first stage, a bound)."""
    if len(replies) != len(tasks):
        raise ValueError(f"{len(tasks)} tasks got {len(replies)} replies")
    for task, reply in zip(tasks, replies, strict=True):
        usable = (
            reply.status.has_plan
            or (task.kind is TaskKind.LAGRANGIAN and np.isfinite(reply.bound))
            or (task.kind is TaskKind.EVALUATE and reply.status is SolveStatus.INFEASIBLE)
        )
        if not usable:
            raise SubproblemError(task, reply)
    return replies


def _first(reply: Reply) -> np.ndarray:
    """A checked reply's first stage (`_check` made sure it has one)."""
    assert reply.first is not None
    return reply.first


class SubproblemError(SolverError):
    """A subproblem without the answer PH needs: progressive hedging cannot go on."""

    def __init__(self, task: Task, reply: Reply):
        why = f": {reply.message}" if reply.message else ""
        which = ", ".join(map(str, task.scenarios))
        super().__init__(
            f"the {task.kind.value} subproblem of scenario(s) {which} ended"
            f" {reply.status.value}{why}"
        )


def _digest(plan: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(plan, dtype=np.float64).tobytes()).hexdigest()[:16]
