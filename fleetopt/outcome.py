"""Solve one case (or one scenario of it) end to end: index, numbers, model, results."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from fleetopt.case import Case, SolverOptions
from fleetopt.deadline import Deadline
from fleetopt.index import ModelIndex, build_index
from fleetopt.inputs import ModelData, Multipliers, model_data
from fleetopt.plan import PlanResult, solve_plan
from fleetopt.results import PlanTables, clean_solution, plan_tables, summarize
from fleetopt.store import write_folder_atomic


@dataclass(frozen=True)
class PlanOutcome:
    """A solved plan with its summary and tables (tables are None without a solution)."""

    case: Case
    index: ModelIndex
    data: ModelData
    result: PlanResult
    summary: dict
    tables: PlanTables | None

    @property
    def x(self) -> np.ndarray | None:
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
    limit from now, held (fleetopt.deadline).
    """
    options = options or case.solver
    deadline = deadline or Deadline.after(options.time_limit_s, hold=True)
    index = index or build_index(case)
    data = model_data(index, multipliers)
    result = solve_plan(index, case, data, options, hint=hint, deadline=deadline)
    if result.x is not None:
        result = replace(result, x=clean_solution(result.model, result.x))
    summary = summarize(case, index, data, result, options.name)
    tables = plan_tables(index, data, result.model, result.x) if result.x is not None else None
    return PlanOutcome(case, index, data, result, summary, tables)


def write_plan(outcome: PlanOutcome, out_dir) -> None:
    """Write summary.json and the plan tables into `out_dir`, atomically."""
    tables = outcome.tables.as_dict() if outcome.tables is not None else {}
    write_folder_atomic(out_dir, tables, outcome.summary)
