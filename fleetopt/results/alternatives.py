"""An alternatives run (docs/model.md section 12): the optimum and the near-optimal plans
found, typed; `format_alternatives` is `fleetopt show`'s text: the plans and their mixes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fleetopt import __version__
from fleetopt.results.schema import read_summary
from fleetopt.results.wording import money, num, objective_unit

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


def format_alternatives(run_dir: str | os.PathLike[str]) -> str:
    """The plans (cost against the optimum, distance in racks), then the mix of each: every
    group's share of the work."""
    run = Path(run_dir)
    summary = AlternativesSummary.read(run)
    plans = summary.plans
    unit = objective_unit(summary.objective_kind, bool(summary.periods))
    lines = [
        f"alternatives of case {summary.case}: {len(plans) - 1} plan(s) within"
        f" {summary.slack:.1%} of the optimum (objective {summary.objective_kind}, {unit});"
        f" {summary.directions_solved} direction(s) solved, {summary.directions_repeating}"
        " gave a plan found already",
    ]
    if summary.message:
        lines.append(f"  {summary.message}")
    lines.append(f"  {'plan':<10} {'objective':>12} {'ratio':>8} {'distance':>9}  direction")
    lines += [
        f"  {p.plan:<10} {money(p.objective):>12} {num(p.cost_ratio, '{:.4f}'):>8}"
        f" {num(p.distance, '{:,.0f}'):>9}  {p.direction}"
        for p in plans
    ]
    names = [p.plan for p in plans]
    wide = shares_wide(pd.read_parquet(run / "shares.parquet"), names)
    width = max(10, *(len(n) + 2 for n in names))
    group_width = max(len(str(g)) for g in wide.index) + 2
    lines.append("\nmix: each group's share of the tokens the fleet processes")
    lines.append("  " + " " * group_width + "".join(f"{n:>{width}}" for n in names))
    lines += [
        f"  {group:<{group_width}}" + "".join(f"{v:>{width}.1%}" for v in row)
        for group, row in wide.iterrows()
    ]
    return "\n".join(lines)
