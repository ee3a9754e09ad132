"""The extensive form (docs/model.md section 9): every scenario's two-stage model in one MILP.

Scenario models of one case share their structure (the same index, so the same columns,
rows and nonzero pattern; only numbers differ). The extensive form stacks them without a
loop over variables:

    columns: the first stage once (shared by every scenario), then each scenario's other
             columns, scenario after scenario;
    rows:    scenario s's rows at s x rows-per-scenario (block diagonal, linked only
             through the shared first-stage columns), each of its families kept as
             `scenario_family(family, s)` (so a row is "power at site S in scenario 7");
    objective: sum_s p[s] x (scenario s's objective).

`columns[s, j]` is the extensive-form column of scenario s's column j, so scenario s's
solution is `x[columns[s]]`. (k is a period in the model's index; here scenarios are s.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fleetopt.model.build import LinearModel
from fleetopt.model.families import scenario_family
from fleetopt.model.layout import SCENARIO_TABLE, VariableLayout
from fleetopt.model.stage import StageModel


@dataclass(frozen=True)
class ExtensiveForm:
    """The stacked model, and where each scenario's columns went."""

    model: LinearModel
    columns: np.ndarray  # (scenarios, stage columns) -> extensive-form column
    probabilities: np.ndarray

    def scenario_x(self, x: np.ndarray, scenario: int) -> np.ndarray:
        """Scenario `scenario`'s solution vector (its stage model's columns)."""
        return np.asarray(x[self.columns[scenario]])


def build_extensive(stages: Sequence[StageModel], probabilities: np.ndarray) -> ExtensiveForm:
    """Stack the scenarios' stage models (same structure) into one model."""
    first = stages[0].model
    mask = stages[0].first_stage
    _check_same_structure(stages)
    n_scen, n_cols, n_rows = len(stages), first.n_variables, first.n_constraints
    p = np.asarray(probabilities, dtype=float)

    n_first = int(mask.sum())
    position = np.cumsum(~mask) - 1  # each second-stage column's place among them
    n_second = n_cols - n_first
    scen = np.arange(n_scen)[:, None]
    columns = np.where(mask, np.cumsum(mask) - 1, n_first + scen * n_second + position)

    def stacked(field: str) -> np.ndarray:
        return np.stack([getattr(s.model, field) for s in stages])

    lb, ub, objective = stacked("lb"), stacked("ub"), stacked("objective")
    size = n_first + n_scen * n_second
    first_cols = np.flatnonzero(mask)
    second = ~mask
    out = {name: np.empty(size) for name in ("lb", "ub", "objective")}
    for name, values in (("lb", lb), ("ub", ub)):
        out[name][:n_first] = values[0, first_cols]
        out[name][n_first:] = values[:, second].ravel()
    out["objective"][:n_first] = p @ objective[:, first_cols]
    out["objective"][n_first:] = (p[:, None] * objective[:, second]).ravel()
    integer = np.empty(size, dtype=bool)
    integer[:n_first] = first.integer[first_cols]
    integer[n_first:] = stacked("integer")[:, second].ravel()

    # Moving the first stage to the front can reorder a row's columns (a first-stage column
    # after a second-stage one in the stage model); the proto wants them sorted per row.
    row = (first.row[None, :] + scen * n_rows).ravel()
    col = columns[scen, first.col[None, :]].ravel()
    order = np.lexsort((col, row))

    layout = VariableLayout.of(
        ("first_stage", n_first, "first_stage"),
        ("recourse", n_second * n_scen, SCENARIO_TABLE),
    )
    model = LinearModel(
        layout=layout,
        costs=None,
        lb=out["lb"],
        ub=out["ub"],
        integer=integer,
        objective=out["objective"],
        objective_offset=float(p @ [s.model.objective_offset for s in stages]),
        row=row[order],
        col=col[order],
        val=stacked("val").ravel()[order],
        row_lb=stacked("row_lb").ravel(),
        row_ub=stacked("row_ub").ravel(),
        families={
            scenario_family(name, s): slice(s * n_rows + rows.start, s * n_rows + rows.stop)
            for s in range(n_scen)
            for name, rows in first.families.items()
        },
        row_over={
            scenario_family(name, s): over
            for s in range(n_scen)
            for name, over in first.row_over.items()
        },
    )
    return ExtensiveForm(model, columns, p)


def _check_same_structure(stages: Sequence[StageModel]) -> None:
    """Every stage model must have the first one's columns, rows, nonzeros and first stage."""
    first = stages[0]
    for stage in stages[1:]:
        same = (
            np.array_equal(stage.first_stage, first.first_stage)
            and np.array_equal(stage.model.row, first.model.row)
            and np.array_equal(stage.model.col, first.model.col)
            and np.array_equal(stage.model.lb[first.first_stage], first.model.lb[first.first_stage])
            and np.array_equal(stage.model.ub[first.first_stage], first.model.ub[first.first_stage])
        )
        if not same:
            raise ValueError("scenario models of an extensive form must share their structure")


def bundle_stage(stages: Sequence[StageModel], probabilities: np.ndarray) -> StageModel:
    """Several scenarios as one subproblem (a bundle): their extensive form with the
    probabilities made conditional, as a stage model whose first stage is the shared one
    and whose cost is the bundle's expected cost."""
    if len(stages) == 1:
        return stages[0]
    q = np.asarray(probabilities, dtype=float)
    q = q / q.sum()
    ef = build_extensive(stages, q)
    n_first = int(stages[0].first_stage.sum())
    first_stage = np.zeros(ef.model.n_variables, dtype=bool)
    first_stage[:n_first] = True
    cost = np.zeros(ef.model.n_variables)
    weighted = q[:, None] * np.stack([s.cost for s in stages])
    np.add.at(cost, ef.columns.ravel(), weighted.ravel())
    return StageModel(ef.model, first_stage, cost, stages[0].risk)
