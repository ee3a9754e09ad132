"""Solve one case (or one scenario of it) end to end: index, numbers, model, results."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np

from fleetopt.io.case import Case, SolverOptions, case_fingerprint
from fleetopt.io.store import write_plan_folder
from fleetopt.model.index import ModelIndex, build_index
from fleetopt.model.inputs import ModelData, Multipliers, model_data
from fleetopt.results.tables import (
    PlanTables,
    clean_solution,
    operating_points,
    plan_tables,
    summarize,
)
from fleetopt.solve.objectives import PlanResult, solve_plan


@dataclass(frozen=True)
class PlanOutcome:
    """A solved plan with its summary and tables (tables are None without a solution)."""

    case: Case
    options: SolverOptions
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
) -> PlanOutcome:
    """Solve `case` (optionally under a scenario's multipliers) and tabulate the plan."""
    options = options or case.solver
    index = index or build_index(case)
    data = model_data(index, multipliers)
    result = solve_plan(index, case, data, options, hint=hint)
    if result.x is not None:
        result = replace(result, x=clean_solution(result.model, result.x))
    summary = summarize(case, index, data, result, options.name)
    tables = plan_tables(index, data, result.model, result.x) if result.x is not None else None
    return PlanOutcome(case, options, index, data, result, summary, tables)


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
    write_plan_folder(out_dir, tables, outcome.summary, params)
