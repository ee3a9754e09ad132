"""An alternatives run (docs/model.md section 12): the optimum and the near-optimal plans
found, typed, and the tables and columns `fleetopt show` and the report write (the plans
and their mixes: fleetopt.results.text, fleetopt.report.alternatives)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pandas as pd

from fleetopt import __version__
from fleetopt.core import formats
from fleetopt.results.schema import read_summary
from fleetopt.results.yearly import Column

OPTIMUM = "optimum"
PLAN = "plan"
DIRECTION = "direction"
ROW_COLUMNS = [  # alternatives.parquet, one row per plan
    PLAN,
    DIRECTION,
    "status",
    "objective",
    "cost_ratio",
    "distance",
    "direction_gap",
    "npv_cost_usd",
    "cost_per_mtok_usd",
    "fleet_cost_usd_per_year",
    "penalty_cost_usd_per_year",
    "served_tokens_per_s",
    "message",
]
PLAN_COLUMNS: list[Column] = [  # how show and the report write the plans
    (PLAN, "plan", str),
    (DIRECTION, "direction", str),
    ("status", "status", str),
    ("objective", "objective", formats.usd),
    ("above", "above the optimum", formats.share),
    ("distance", "racks bought differently", formats.integer),
]


@dataclass(frozen=True)
class AlternativeResult:
    """One plan's row of alternatives.parquet."""

    plan: str
    direction: str
    status: str
    objective: float | None
    cost_ratio: float | None
    distance: float | None
    direction_gap: float | None


@dataclass(frozen=True)
class AlternativesSummary:
    """summary.json of an alternatives run: the optimum first, then the alternatives."""

    case: str
    objective_kind: str
    slack: float
    k: int
    seed: int
    periods: list[int] | None
    plans: list[AlternativeResult]
    directions_solved: int
    directions_repeating: int
    message: str = ""
    kind: str = "alternatives"
    fleetopt_version: str = __version__

    @classmethod
    def read(cls, folder: str | os.PathLike[str]) -> AlternativesSummary:
        return read_summary(folder, cls)


def shares_wide(shares: pd.DataFrame, plans: list[str]) -> pd.DataFrame:
    """Each group's share of the work (rows) in each plan (columns, in `plans` order)."""
    wide = shares.pivot_table(index="group", columns=PLAN, values="share", aggfunc="sum")
    order = shares.drop_duplicates("group")["group"]
    return wide.reindex(index=order, columns=plans).fillna(0.0)


def plans_frame(summary: AlternativesSummary) -> pd.DataFrame:
    """The plans (optimum first) as a table, with how far `above` the optimum each is."""
    plans = pd.DataFrame([vars(p) for p in summary.plans])
    return plans.assign(above=plans["cost_ratio"] - 1.0)
