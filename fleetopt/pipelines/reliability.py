"""Reliability targets of `fleetopt stochastic` (docs/model.md section 9, "Reliability
targets"): the extensive form with a target, solved once (the run's plan) or once per point
of the cost-of-reliability curve, the points farmed out as Ray tasks (fleetopt.parallel.farm,
one point a task; each point's solve depends on the point alone, so 1 or many workers give
the same numbers).
"""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
import time
from dataclasses import dataclass

import numpy as np

from fleetopt.core.errors import CaseError, Problem
from fleetopt.io.case import Case
from fleetopt.io.solver import SolverOptions
from fleetopt.model.bounds import RackBounds
from fleetopt.model.build import OBJECTIVE_SCALE
from fleetopt.model.extensive import ExtensiveForm, build_extensive
from fleetopt.model.index import ModelIndex, build_index
from fleetopt.model.inputs import model_data
from fleetopt.model.reliability import (
    ReliabilityTarget,
    ShortfallColumns,
    held_shortfall,
    probability_of_shortfall,
    shortfall_columns,
    with_target,
)
from fleetopt.model.risk import Risk
from fleetopt.model.stage import StageModel, build_stage_model
from fleetopt.parallel.farm import chunks_of, run_chunks
from fleetopt.pipelines.options import Method, StochasticSettings
from fleetopt.results.stochastic import CurvePoint, Reliability
from fleetopt.results.tables import clean_solution, orders_table
from fleetopt.scenarios.draws import draw
from fleetopt.scenarios.job import for_workers
from fleetopt.solve.deadline import Deadline
from fleetopt.solve.mathopt import Solution, solve_model
from fleetopt.solve.result import SolveStatus

TARGET_OPTION = "--max-shortfall-probability"
CURVE_OPTION = "--shortfall-curve"


def check_method(settings: StochasticSettings) -> None:
    """A target couples the scenarios: refuse (bad input, exit 2) a method that splits them."""
    if not settings.couples_scenarios or settings.method in (Method.EF, Method.AUTO):
        return
    option = TARGET_OPTION if settings.reliability is not None else CURVE_OPTION
    raise CaseError(
        [
            Problem(
                file=option,
                message=f"{option} couples the scenarios and is solved by the extensive form"
                f" only: use --method ef or auto, not {settings.method.value}",
            )
        ]
    )


def recorded(target: ReliabilityTarget | None) -> Reliability | None:
    """A target as the summary records it."""
    if target is None:
        return None
    return Reliability(target.measure, target.max_probability, target.cvar_tolerance)


@dataclass(frozen=True)
class Extensive:
    """The extensive form of scenarios 0..n-1, its stage models and shortfall columns."""

    ef: ExtensiveForm
    stages: list[StageModel]
    short: ShortfallColumns


def extensive_form(
    case: Case, index: ModelIndex, first: RackBounds, risk: Risk, n: int
) -> Extensive:
    """Scenarios 0..n-1 of the case's seed, equally likely, as one extensive form."""
    stages = [
        build_stage_model(
            index, case, model_data(index, draw(index, case.uncertainty, s)), first, risk
        )
        for s in range(n)
    ]
    ef = build_extensive(stages, np.full(n, 1.0 / n))
    return Extensive(ef, stages, shortfall_columns(index, ef, stages))


def solve_extensive(
    form: Extensive, target: ReliabilityTarget | None, options: SolverOptions
) -> tuple[ExtensiveForm, Solution]:
    """The extensive form with `target` (None: as it is), solved with `options` (their time
    limit held as a deadline)."""
    ef = form.ef if target is None else with_target(form.ef, form.short, target)
    deadline = Deadline.after(options.time_limit_s, hold=True)
    return ef, solve_model(ef.model, options, deadline=deadline)


def curve_point(
    index: ModelIndex, form: Extensive, target: ReliabilityTarget, options: SolverOptions
) -> CurvePoint:
    """One point of the curve: the extensive form with `target`, its plan's figures."""
    started = time.perf_counter()
    ef, solution = solve_extensive(form, target, options)
    seconds = time.perf_counter() - started
    if solution.x is None or not solution.status.has_plan:
        return CurvePoint(
            target.max_probability, solution.status, None, None, None, None, None, seconds
        )
    x = clean_solution(ef.model, solution.x)
    stage0 = form.stages[0]
    first = np.zeros(stage0.model.n_variables)
    first[stage0.first_cols] = ef.scenario_x(x, 0)[stage0.first_cols]
    orders = orders_table(index, stage0.model, first)
    return CurvePoint(
        max_shortfall_probability=target.max_probability,
        status=solution.status,
        objective=solution.objective / OBJECTIVE_SCALE,
        lower_bound=solution.bound / OBJECTIVE_SCALE,
        gap=solution.gap,
        probability_shortfall=probability_of_shortfall(
            form.short.shares(held_shortfall(ef, form.short, x)), ef.probabilities
        ),
        racks_ordered=int(orders["new_racks"].sum()),
        solve_seconds=seconds,
    )


@dataclass(frozen=True)
class CurveJob:
    """The curve's points as a farm job (fleetopt.parallel.farm): item i is `targets[i]`."""

    case: Case
    first: RackBounds
    risk: Risk
    scenarios: int
    targets: tuple[ReliabilityTarget, ...]
    options: SolverOptions

    def key(self) -> str:
        return hashlib.sha256(pickle.dumps(self)).hexdigest()[:16]

    def prepare(self) -> PreparedCurve:
        return PreparedCurve(self)

    def failed(self, item: int, reason: str) -> list[CurvePoint]:
        probability = self.targets[item].max_probability
        return [CurvePoint(probability, SolveStatus.ERROR, None, None, None, None, None, 0.0)]

    def combine(self, parts: list[list[CurvePoint]]) -> list[CurvePoint]:
        return [point for part in parts for point in part]


class PreparedCurve:
    """A CurveJob on one worker: the extensive form built once, each point a solve."""

    def __init__(self, job: CurveJob):
        self.job = job
        self.index = build_index(job.case)
        self.form = extensive_form(job.case, self.index, job.first, job.risk, job.scenarios)

    def solve_chunk(self, items: list[int], isolate: bool) -> list[CurvePoint]:
        return [
            curve_point(self.index, self.form, self.job.targets[i], self.job.options) for i in items
        ]


def shortfall_curve(
    case: Case,
    first: RackBounds,
    n: int,
    settings: StochasticSettings,
    workers: int,
) -> list[CurvePoint]:
    """One extensive form per target of `settings.shortfall_curve`, a Ray task each (at most
    `workers` at once), in the order of the targets. Each is solved on one thread to the
    run's gap, within its time limit."""
    targets = settings.shortfall_curve
    options = dataclasses.replace(
        for_workers(case.solver),
        relative_gap=settings.stop.gap,
        time_limit_s=settings.stop.time_limit_s,
    )
    job = CurveJob(case, first, settings.risk, n, targets, options)
    points: dict[int, CurvePoint] = {}

    def keep(chunk, result: list[CurvePoint]) -> None:
        points.update(zip(chunk.scenarios, result, strict=True))

    run_chunks(
        job,
        chunks_of(range(len(targets)), 1),
        workers,
        keep,
        progress_label="shortfall curve",
        progress_unit="points",
    )
    return [points[i] for i in range(len(targets))]
