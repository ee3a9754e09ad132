"""Modelling to generate alternatives (docs/model.md section 12): the budget that keeps a
plan within (1 + S) of the optimum, the work each group of rack types does, and the
directions that push plans apart.

A group is a vendor (racks.csv `vendor`) or, where that is blank, the rack type alone. Its
work is the tokens its racks process, levelized over the periods:

    T_g(x) = sum_{y rows with r in g} level_k x tp x y x load_factor x 31,536,000

A direction minimizes `d(x) / T(x*) + 1e-3 x cost(x) / cost*`: one group's work (min), its
opposite (max), or a random weighting of every (site, rack type) pair's work, plus a
tie-break towards cheaper plans of the same work.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from fleetopt.core.units import SECONDS_PER_YEAR
from fleetopt.model.build import LinearModel
from fleetopt.model.index import ModelIndex
from fleetopt.model.inputs import ModelData
from fleetopt.model.layout import SCENARIO_TABLE

TIE_BREAK = 1e-3  # weight of the cost, relative to the optimum's, in a direction's objective
BUDGET = "budget"
VENDOR_GROUP, RACK_GROUP = "vendor ", "rack_type "  # how a group's name starts


class Sense(enum.StrEnum):
    """Which way a direction pushes."""

    MIN = "min"
    MAX = "max"
    RANDOM = "random"


@dataclass(frozen=True)
class Direction:
    """One direction: minimize or maximize a group's work, or random draw `draw`."""

    sense: Sense
    group: str = ""  # "vendor NAME" or "rack_type NAME"
    draw: int = 0

    @property
    def label(self) -> str:
        return f"{self.sense.value} {self.group}" if self.group else f"random {self.draw}"


def rack_groups(index: ModelIndex) -> np.ndarray:
    """Each rack type's group: 'vendor NAME' where racks.csv names a vendor, else
    'rack_type NAME'."""
    racks = index.racks
    vendor = racks["vendor"].fillna("").astype(str).to_numpy()
    own = RACK_GROUP + racks["rack_type"].astype(str).to_numpy()
    return np.asarray(np.where(vendor != "", VENDOR_GROUP + vendor, own), dtype=object)


def work_per_column(index: ModelIndex, data: ModelData, model: LinearModel) -> np.ndarray:
    """Per column of `model`: the tokens per year (levelized) one unit of it processes:
    level_k x tp x load_factor x 31,536,000 on y, 0 elsewhere."""
    y = index.y
    load = index.workloads["load_factor"].to_numpy(dtype=float)[y["w"].to_numpy()]
    level = model.priced.level[y["k"].to_numpy()]
    work = np.zeros(model.n_variables)
    work[model.layout.y] = level * data.tp_tokens_per_s * load * SECONDS_PER_YEAR
    return work


def group_shares(
    index: ModelIndex, data: ModelData, model: LinearModel, x: np.ndarray
) -> pd.DataFrame:
    """Per group: its racks in service (levelized over the periods) and its share of the
    work (T_g / sum_h T_h); groups in the order of the racks table."""
    groups = rack_groups(index)
    names = list(dict.fromkeys(groups))
    code = pd.Index(names).get_indexer(groups)
    work = work_per_column(index, data, model)[model.layout.y] * x[model.layout.y]
    by_group = np.bincount(code[index.y["r"].to_numpy()], work, len(names))
    level = model.priced.level[index.sr["k"].to_numpy()]
    racks = np.bincount(code[index.sr["r"].to_numpy()], level * x[model.layout.n], len(names))
    total = by_group.sum()
    return pd.DataFrame(
        {
            "group": names,
            "racks": racks,
            "share": by_group / total if total > 0 else np.zeros(len(names)),
        }
    )


def directions(shares: pd.DataFrame, count: int) -> list[Direction]:
    """The first `count` directions: the min of each group with work (largest share first)
    and the max of each group without all of it (smallest first), interleaved; then
    random draws 0, 1, ..."""
    order = np.arange(len(shares))
    share = shares["share"].to_numpy()
    used = sorted(order[share > 0], key=lambda g: (-share[g], g))
    short = sorted(order[share < 1], key=lambda g: (share[g], g))
    groups = shares["group"].tolist()
    mins = [Direction(Sense.MIN, groups[g]) for g in used]
    maxs = [Direction(Sense.MAX, groups[g]) for g in short]
    interleaved = [d for pair in zip(mins, maxs, strict=False) for d in pair]
    longer = mins if len(mins) > len(maxs) else maxs
    listed = interleaved + longer[min(len(mins), len(maxs)) :]
    randoms = [Direction(Sense.RANDOM, draw=j) for j in range(max(0, count - len(listed)))]
    return (listed + randoms)[:count]


def with_budget(model: LinearModel, budget: float) -> LinearModel:
    """`model` with one more row: its own objective (scaled, offset included) at most
    `budget` (docs/model.md section 12)."""
    nonzero = np.flatnonzero(model.objective)
    row = model.n_constraints
    return replace(
        model,
        row=np.concatenate([model.row, np.full(len(nonzero), row)]),
        col=np.concatenate([model.col, nonzero]),
        val=np.concatenate([model.val, model.objective[nonzero]]),
        row_lb=np.append(model.row_lb, -np.inf),
        row_ub=np.append(model.row_ub, budget - model.objective_offset),
        families={**model.families, BUDGET: slice(row, row + 1)},
        row_over={**model.row_over, BUDGET: (SCENARIO_TABLE, np.zeros(1, dtype=np.int64))},
    )


def direction_objective(
    index: ModelIndex,
    model: LinearModel,
    work: np.ndarray,
    total_work: float,
    reference_cost: float,
    direction: Direction,
    seed: int,
) -> np.ndarray:
    """The objective of `direction`: its work term over the optimum's total work
    `total_work`, plus TIE_BREAK x the model's own objective over `reference_cost` (the
    optimum's, in the model's units)."""
    per_y = work[model.layout.y] / total_work
    pick = np.zeros(len(per_y))
    if direction.sense is Sense.RANDOM:
        rng = np.random.default_rng([seed, direction.draw])
        weights = rng.standard_normal(int(index.sr["pair"].max()) + 1)
        pick = weights[index.sr["pair"].to_numpy()[index.y["sr"].to_numpy()]]
    else:
        in_group = rack_groups(index)[index.y["r"].to_numpy()] == direction.group
        pick = np.where(in_group, 1.0 if direction.sense is Sense.MIN else -1.0, 0.0)
    objective = TIE_BREAK * model.objective / abs(reference_cost)
    objective[model.layout.y] += pick * per_y
    return np.asarray(objective)
