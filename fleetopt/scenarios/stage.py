"""The subproblems of a two-stage run, without Ray: draw a scenario, build its stage model
once, and solve whatever a `Task` asks of it (fleetopt.solve.hedging).

`StageJob` says what every subproblem of a run shares (the case, the first-stage bounds,
the risk measure, the solver options, the seed of each scenario set); a worker prepares it
once (`PreparedStages`) and keeps each scenario's stage model, so that an iteration only
changes numbers. Every solve starts afresh from its task alone (no state carried from an
earlier solve), so a reply is the same on any worker, in any order.
"""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import overload

import numpy as np
import pandas as pd

from fleetopt.core.errors import SolverError
from fleetopt.io.case import Case
from fleetopt.io.solver import SolverOptions
from fleetopt.model.bounds import RackBounds
from fleetopt.model.build import OBJECTIVE_SCALE, LinearModel
from fleetopt.model.extensive import bundle_stage
from fleetopt.model.index import ModelIndex, build_index
from fleetopt.model.inputs import ModelData, model_data
from fleetopt.model.measures import rack_mix, shortfall_share, unmet_share
from fleetopt.model.reliability import hold_shortfall
from fleetopt.model.risk import Risk
from fleetopt.model.stage import RackNeeds, StageModel, build_stage_model, rack_needs
from fleetopt.results.summary import TOTAL_COST, Figures
from fleetopt.results.tables import clean_solution
from fleetopt.scenarios.draws import draw
from fleetopt.scenarios.job import RESULT_COLUMNS
from fleetopt.solve.benders import CutReply, CutTask
from fleetopt.solve.hedging import Reply, Task, TaskKind, subproblem_model
from fleetopt.solve.mathopt import solve_model
from fleetopt.solve.recourse import RecourseLP, recourse_lp, solve_recourse
from fleetopt.solve.result import SolveStatus

STAGE_RESULT_COLUMNS = {**RESULT_COLUMNS, "recourse_racks": "float64"}
RECOURSE_COLUMNS = {  # and `period`, after `plan`, in a multi-period case
    "scenario": np.int64,
    "plan": object,
    "site": object,
    "rack_type": object,
    "count": np.int64,
}
CACHED_STAGES = 4096  # stage models a worker keeps (a few tens of kB each)


@dataclass(frozen=True)
class StageJob:
    """What every subproblem of a two-stage run shares.

    `seeds[sample]` is the uncertainty seed of scenario set `sample` (0: the run's own
    scenarios; 1: fresh ones for the out-of-sample check). `options` are the subproblems'
    (one thread each: parallelism comes from the workers).
    """

    case: Case
    options: SolverOptions
    first_bounds: RackBounds
    risk: Risk
    seeds: tuple[int, ...]

    def prepare(self) -> PreparedStages:
        return PreparedStages(self)

    def key(self) -> str:
        return hashlib.sha256(pickle.dumps(self)).hexdigest()[:16]


@dataclass(frozen=True)
class StageResult:
    """A reported solve's rows: one results row, and the recourse racks it bought."""

    results: pd.DataFrame
    recourse: pd.DataFrame


class PreparedStages:
    """A StageJob ready on one worker: the index once, each scenario's stage model once."""

    def __init__(self, job: StageJob):
        self.job = job
        self.index: ModelIndex = build_index(job.case)
        self._stages: OrderedDict[tuple[int, int], tuple[ModelData, StageModel]] = OrderedDict()
        self._bundles: dict[tuple[int, tuple[int, ...]], StageModel] = {}
        self._recourse: OrderedDict[tuple[int, int], RecourseLP] = OrderedDict()

    def subproblem(self, sample: int, scenarios: tuple[int, ...]) -> StageModel:
        """The stage model of one scenario, or of a bundle of them (equally likely)."""
        if len(scenarios) == 1:
            return self.stage(sample, scenarios[0])[1]
        key = (sample, scenarios)
        if key not in self._bundles:
            stages = [self.stage(sample, s)[1] for s in scenarios]
            self._bundles[key] = bundle_stage(stages, np.ones(len(stages)))
        return self._bundles[key]

    def stage(self, sample: int, scenario: int) -> tuple[ModelData, StageModel]:
        """Scenario `scenario` of set `sample`: its numbers and its stage model (cached)."""
        key = (sample, scenario)
        if key not in self._stages:
            job = self.job
            uncertainty = dataclasses.replace(job.case.uncertainty, seed=job.seeds[sample])
            data = model_data(self.index, draw(self.index, uncertainty, scenario))
            self._stages[key] = (
                data,
                build_stage_model(self.index, job.case, data, job.first_bounds, job.risk),
            )
            if len(self._stages) > CACHED_STAGES:
                self._stages.popitem(last=False)
        self._stages.move_to_end(key)
        return self._stages[key]

    def recourse(self, sample: int, scenario: int) -> RecourseLP:
        """Scenario `scenario`'s relaxed recourse LP (cached like the stage models)."""
        key = (sample, scenario)
        if key not in self._recourse:
            self._recourse[key] = recourse_lp(self.stage(sample, scenario)[1])
            if len(self._recourse) > CACHED_STAGES:
                self._recourse.popitem(last=False)
        self._recourse.move_to_end(key)
        return self._recourse[key]

    @overload
    def solve(self, task: Task) -> Reply: ...

    @overload
    def solve(self, task: CutTask) -> CutReply: ...

    def solve(self, task: Task | CutTask) -> Reply | CutReply:
        """Solve one task; a solver failure comes back as a reply with status `error`.

        Result rows (`report`) are for single scenarios only."""
        if isinstance(task, CutTask):
            return self.cut(task)
        stage = self.subproblem(task.sample, task.scenarios)
        model = self._model(stage, task)
        started = time.perf_counter()
        try:
            solution = solve_model(model, self.job.options)
        except SolverError as err:
            return Reply(
                task.scenarios, task.kind, SolveStatus.ERROR, None, np.nan, np.nan, np.nan,
                np.nan, time.perf_counter() - started, str(err),
            )  # fmt: skip
        if solution.x is None:
            return Reply(
                task.scenarios, task.kind, solution.status, None, np.nan, np.nan, solution.bound,
                np.nan, solution.seconds, solution.message,
            )  # fmt: skip
        x = clean_solution(model, solution.x)[: stage.model.n_variables]
        detail = self._rows(task, stage, x, solution) if task.report else None
        return Reply(
            scenarios=task.scenarios,
            kind=task.kind,
            status=solution.status,
            first=x[stage.first_cols],
            cost=float(stage.cost @ x),
            objective=solution.objective,
            bound=solution.bound,
            gap=solution.gap,
            seconds=solution.seconds,
            message=solution.message,
            detail=detail,
        )

    def cut(self, task: CutTask) -> CutReply:
        """An optimality cut of the task's scenario at its plan (the L-shaped method)."""
        lp = self.recourse(task.sample, task.scenario)
        solution = solve_recourse(lp, task.plan, task.basis, self.job.options, whole=task.whole)
        return CutReply(task.scenario, solution)

    def _model(self, stage: StageModel, task: Task) -> LinearModel:
        if task.kind is TaskKind.EVALUATE:
            assert task.plan is not None, "an evaluation task carries its plan"
            model = stage.with_first_stage(task.plan)
            if task.shortfall_cap is not None:
                model = hold_shortfall(model, task.shortfall_cap)
            return model
        if task.kind is TaskKind.FREE:
            return stage.model
        return subproblem_model(stage, task.weights, task.prox)

    def _rows(self, task, stage, x, solution) -> StageResult:
        (scenario,) = task.scenarios
        data, _ = self.stage(task.sample, scenario)
        model = stage.model
        figures = Figures.of(self.index, data, model, x)
        plan = task.kind.value  # the pipeline names evaluated plans
        recourse_x = [x[model.layout.block(b).slice] for b in model.layout.present("e")]
        row = {
            "scenario": scenario,
            "plan": plan,
            "status": solution.status.value,
            "objective": stage.cost @ x / OBJECTIVE_SCALE,
            **figures.as_dict(),
            TOTAL_COST: figures.total_cost_usd_per_year,
            "unmet_share": unmet_share(self.index, model, x),
            "shortfall_share": shortfall_share(self.index, model, x),
            "recourse_racks": float(sum(e.sum() for e in recourse_x)),
            "mip_gap": solution.gap,
            "solver": self.job.options.name.value,
            "solve_seconds": solution.seconds,
            "build_seconds": 0.0,
            "warnings": [],
            "message": solution.message,
        }
        bought = (
            rack_mix(self.index, recourse_x[0])
            if recourse_x
            else pd.DataFrame(columns=["site", "rack_type", "count"])
        )
        bought = bought[bought["count"] > 0].drop(columns="installed", errors="ignore")
        bought.insert(0, "plan", plan)
        bought.insert(0, "scenario", scenario)
        types = RECOURSE_COLUMNS | ({"period": np.int64} if "period" in bought else {})
        recourse = bought.reset_index(drop=True).astype(types)
        return StageResult(pd.DataFrame([row]), recourse)


def scenario_needs(case: Case, seed: int, scenarios: range) -> RackNeeds:
    """The first-stage needs of `scenarios` of seed `seed`, drawn one at a time."""
    index = build_index(case)
    uncertainty = dataclasses.replace(case.uncertainty, seed=seed)
    datas = (model_data(index, draw(index, uncertainty, k)) for k in scenarios)
    return rack_needs(index, case, datas)
