"""The fixed part of the L-shaped method's master (docs/model.md section 9): the first stage
and the rows that bind it in every scenario alike.

Space, supply, stock and deliveries hold the case's own numbers in every scenario
(fleetopt.model.stage builds them with uncut supply), so the first stages that leave every
scenario a second stage are those for which these rows have a solution: over the first
stage, the later periods' racks in service and orders (continuous here), and recourse
racks at 0. Recourse racks only ever add to the left side of these `<=` rows, so at 0 they
loosen them most; every other row of a scenario has a solution whatever the racks (section
9, relatively complete recourse). `master_structure` keeps exactly these rows and columns,
and checks that every column it drops is of that kind.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fleetopt.model.build import LinearModel
from fleetopt.model.layout import VariableLayout
from fleetopt.model.stage import StageModel

MASTER_FAMILIES = ("space", "supply", "stock", "deliveries")  # the same in every scenario
LATER_BLOCKS = ("n", "b")  # the racks in service and orders of later periods


@dataclass(frozen=True)
class MasterStructure:
    """The master's rows without cuts: columns are the first stage (in the stage model's
    first-stage order), then the later racks and orders (continuous); no objective."""

    model: LinearModel
    n_first: int  # the first n_first columns are the first stage

    @property
    def n_columns(self) -> int:
        return self.model.n_variables


def master_structure(stage: StageModel) -> MasterStructure:
    """The first stage of `stage` and the rows of MASTER_FAMILIES over it and the later
    racks and orders; raises ValueError where a dropped column could tighten a kept row."""
    model = stage.model
    first = stage.first_cols
    later = np.concatenate(
        [model.layout.cols(name) for name in model.layout.present(*LATER_BLOCKS)]
    )
    later = later[~stage.first_stage[later]]
    kept = np.concatenate([first, later])
    position = np.full(model.n_variables, -1)
    position[kept] = np.arange(len(kept))

    rows = np.concatenate(
        [np.arange(s.start, s.stop) for f, s in model.families.items() if f in MASTER_FAMILIES]
    ).astype(np.int64)
    row_position = np.full(model.n_constraints, -1)
    row_position[rows] = np.arange(len(rows))
    in_rows = row_position[model.row] >= 0
    keep = in_rows & (position[model.col] >= 0)
    _check_dropped(model, in_rows & ~keep)

    row, col = row_position[model.row[keep]], position[model.col[keep]]
    order = np.lexsort((col, row))  # the first stage moved to the front: re-sort each row
    integer = np.zeros(len(kept), dtype=bool)
    integer[: len(first)] = model.integer[first]
    layout = VariableLayout.of(
        ("first_stage", len(first), "first_stage"), ("later", len(later), "later")
    )
    structure = LinearModel(
        layout=layout,
        costs=None,
        lb=model.lb[kept],
        ub=model.ub[kept],
        integer=integer,
        objective=np.zeros(len(kept)),
        objective_offset=0.0,
        row=row[order],
        col=col[order],
        val=model.val[keep][order],
        row_lb=model.row_lb[rows],
        row_ub=model.row_ub[rows],
        families={"structure": slice(0, len(rows))},
        row_over={},
    )
    return MasterStructure(structure, len(first))


def _check_dropped(model: LinearModel, dropped: np.ndarray) -> None:
    """Every dropped entry must be a column >= 0 adding to a `<=` row (a recourse rack): at 0
    it loosens the row most, so dropping it keeps exactly the first stages that fit."""
    cols, rows = model.col[dropped], model.row[dropped]
    loosest_at_zero = (
        (model.lb[cols] == 0) & (model.val[dropped] > 0) & np.isneginf(model.row_lb[rows])
    )
    if not loosest_at_zero.all():
        raise ValueError(
            "the master's rows hold second-stage columns that are not recourse racks;"
            " relatively complete recourse is not shown for this model"
        )
