"""Solve one case (or one scenario of it) end to end: index, numbers, model, results."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np

from fleetopt.core.errors import InfeasibleError, SolverError
from fleetopt.io.case import Case, case_fingerprint
from fleetopt.io.solver import SolverOptions
from fleetopt.io.store import write_plan_folder
from fleetopt.model.index import ModelIndex, build_index
from fleetopt.model.inputs import ModelData, Multipliers, model_data
from fleetopt.results.schema import summary_json
from fleetopt.results.summary import Summary, summarize
from fleetopt.results.tables import PlanTables, clean_solution, operating_points, plan_tables
from fleetopt.solve.deadline import Deadline
from fleetopt.solve.diagnose import diagnose_plan
from fleetopt.solve.objectives import solve_plan
from fleetopt.solve.result import PlanResult, SolveStatus


@dataclass(frozen=True)
class PlanOutcome:
    """A solved plan with its summary and tables (tables are None without a solution)."""

    case: Case
    options: SolverOptions
    index: ModelIndex
    data: ModelData
    result: PlanResult
    summary: Summary
    tables: PlanTables | None

    @property
    def x(self) -> np.ndarray | None:
        return self.result.x

    @property
    def solution(self) -> np.ndarray:
        """The plan's solution vector (require_plan made sure there is one)."""
        if self.result.x is None:
            raise ValueError(f"no plan: {self.summary.status}")
        return self.result.x


def plan_case(
    case: Case,
    options: SolverOptions | None = None,
    *,
    index: ModelIndex | None = None,
    multipliers: Multipliers | None = None,
    hint: np.ndarray | None = None,
    deadline: Deadline | None = None,
) -> PlanOutcome:
    """Solve `case` (optionally under a scenario's multipliers) and tabulate the plan.

    All of it, tables included, is done by `deadline`: by default the options' time
    limit from now, held (fleetopt.solve.deadline). An infeasible case is explained
    (fleetopt.solve.diagnose) within the same deadline.
    """
    options = options or case.solver
    deadline = deadline or Deadline.after(options.time_limit_s, hold=True)
    index = index or build_index(case)
    data = model_data(index, multipliers)
    result = solve_plan(index, case, data, options, hint=hint, deadline=deadline)
    if result.x is not None:
        result = replace(result, x=clean_solution(result.model, result.x))
    diagnosis = None
    if result.status is SolveStatus.INFEASIBLE:
        diagnosis = diagnose_plan(index, case, data, options, deadline=deadline)
    summary = summarize(case, index, data, result, options.name, diagnosis)
    tables = plan_tables(index, data, result.model, result.x) if result.x is not None else None
    return PlanOutcome(case, options, index, data, result, summary, tables)


def expected_value_plan(case: Case, index: ModelIndex | None = None) -> PlanOutcome:
    """The case solved on its forecast: what robust selection, the stochastic program and
    the nightly run start from, before any scenario runs (`require_plan`)."""
    return require_plan(plan_case(case, index=index))


def require_plan(outcome: PlanOutcome) -> PlanOutcome:
    """`outcome` if it has a plan. Else the run fails (docs/architecture.md, "Failures"):
    an infeasible case raises InfeasibleError with its diagnosis (exit 3), any other status
    SolverError (exit 1)."""
    summary = outcome.summary
    if summary.status is SolveStatus.INFEASIBLE:
        raise InfeasibleError(f"the case has no feasible plan on its forecast: {summary.diagnosis}")
    if outcome.x is None:
        why = f": {summary.message}" if summary.message else ""
        raise SolverError(f"the expected-value plan ended {summary.status.value}{why}")
    return outcome


def write_plan(outcome: PlanOutcome, out_dir: str | os.PathLike) -> None:
    """Write the plan run folder (summary.json, tables, run record), atomically.

    Besides the plan's tables it holds the case's operating points (results.tables.
    operating_points): the assumptions a report flags, readable without the case.

    `out_dir` may only be missing, empty or an earlier plan run (store.write_plan_folder).
    """
    tables = outcome.tables.as_dict() if outcome.tables is not None else {}
    tables["operating_points"] = operating_points(outcome.case, outcome.index)
    params = {
        "case": case_fingerprint(outcome.case),
        "solver": outcome.options.as_params(),
    }
    write_plan_folder(out_dir, tables, summary_json(outcome.summary), params)
