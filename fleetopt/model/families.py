"""The constraint families, registered once: each family's `define_*` function and the
variable blocks its rows hold (docs/model.md sections 4, 8 and 9).

Every model builder (the plan and Dinkelbach models, the evaluate LP, one scenario's
two-stage model, and so the extensive form) names the families it has and gets their rows
from `define_rows`, which checks that the model's layout has every block a family needs.
A new family is one `define_*` in fleetopt.model.constraints and one entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from fleetopt.io.case import Case
from fleetopt.model.constraints import (
    RowBlock,
    define_at_hand,
    define_capacity,
    define_delivered,
    define_deliveries,
    define_phase,
    define_power,
    define_powered,
    define_serve,
    define_space,
    define_stock,
    define_supply,
    define_tail,
)
from fleetopt.model.index import ModelIndex
from fleetopt.model.inputs import ModelData
from fleetopt.model.layout import VariableLayout


@dataclass(frozen=True)
class RowInputs:
    """What a model's rows are made of: the sets, the case, the numbers, the columns (and,
    for the CVaR tail, each column's scaled cost)."""

    index: ModelIndex
    case: Case
    data: ModelData
    layout: VariableLayout
    cost: np.ndarray | None = None


@dataclass(frozen=True)
class Family:
    """A constraint family: how its rows are defined, and the blocks they hold."""

    define: Callable[[RowInputs], RowBlock]
    needs: tuple[str, ...]


def _tail(r: RowInputs) -> RowBlock:
    if r.cost is None:
        raise ValueError("the tail family needs the model's cost per column")
    return define_tail(r.layout, r.cost)


FAMILIES: dict[str, Family] = {
    "serve": Family(lambda r: define_serve(r.index, r.layout), ("f", "m")),
    "phase": Family(lambda r: define_phase(r.index, r.layout, r.data), ("y", "f")),
    "capacity": Family(lambda r: define_capacity(r.index, r.layout, r.case), ("y", "a")),
    "power": Family(lambda r: define_power(r.index, r.layout, r.data), ("a",)),
    "powered": Family(lambda r: define_powered(r.index, r.layout), ("a", "n")),
    "space": Family(lambda r: define_space(r.index, r.layout), ("n",)),
    "supply": Family(lambda r: define_supply(r.index, r.layout, r.data), ("n",)),
    "stock": Family(lambda r: define_stock(r.index, r.layout), ("n", "b")),
    "deliveries": Family(lambda r: define_deliveries(r.index, r.layout, r.data), ("n", "b")),
    "delivered": Family(lambda r: define_delivered(r.index, r.layout, r.data), ("d", "n")),
    "at_hand": Family(lambda r: define_at_hand(r.index, r.layout), ("a", "d")),
    "tail": Family(_tail, ("eta", "z")),
}

# The families of each model.
PLAN_FAMILIES = (
    "serve",
    "phase",
    "capacity",
    "power",
    "powered",
    "space",
    "supply",
    "stock",
    "deliveries",
)
EVALUATE_FAMILIES = ("serve", "phase", "capacity", "power", "stock")  # n fixed: no limits on it
STAGE_FAMILIES = (  # racks powered only once delivered (at hand), not merely owned
    "serve",
    "phase",
    "capacity",
    "power",
    "delivered",
    "at_hand",
    "space",
    "supply",
    "stock",
    "deliveries",
)


def define_rows(inputs: RowInputs, families: Sequence[str]) -> list[RowBlock]:
    """The rows of `families`, in that order; a family whose blocks the layout lacks is a
    programming error, said at once."""
    layout = inputs.layout
    for name in families:
        missing = [block for block in FAMILIES[name].needs if not layout.has(block)]
        if missing:
            raise ValueError(f"family {name} needs block(s) {', '.join(missing)}")
    return [FAMILIES[name].define(inputs) for name in families]


SCENARIO_MARK = "@"  # a family of one scenario of an extensive form: "power@7"


def scenario_family(name: str, scenario: int) -> str:
    """The key of family `name`'s rows of scenario `scenario` in an extensive form."""
    return f"{name}{SCENARIO_MARK}{scenario}"


def split_family(key: str) -> tuple[str, int | None]:
    """A family key as (family, scenario): the scenario is None outside an extensive form."""
    name, mark, scenario = key.partition(SCENARIO_MARK)
    return name, int(scenario) if mark else None
