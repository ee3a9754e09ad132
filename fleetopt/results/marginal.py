"""A plan's limits, their slack and what one more unit of each is worth (docs/model.md
section 10): `marginal_values.parquet`, from the LP with the plan's integer decisions fixed.

The values come from that LP's duals (row dual values, and the reduced cost of the unmet
share m for a minimum served share), turned into USD per year of the row's period per unit
of its limit. Limits on the purchases alone (space, supply, deliveries) are worth 0 for
operations with the fleet as bought; their slack still says whether they bind.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fleetopt.core import formats
from fleetopt.model.build import OBJECTIVE_SCALE, LinearModel
from fleetopt.model.index import ModelIndex
from fleetopt.model.labels import ids_of
from fleetopt.model.measures import ZERO, with_period

BINDING_TOLERANCE = 1e-6  # relative to max(1, |limit|)
SHARE_POINT = 0.01  # a minimum served share moves in points of 1%
MIN_SERVED_SHARE = "min_served_share"


@dataclass(frozen=True)
class LimitFamily:
    """How a family of limits is reported: the unit of its value, and whether operations
    with the fleet fixed can use more of it (else its value is 0 by definition)."""

    unit: str
    operational: bool
    sense: float = 1.0  # +1: a cap (relaxed by more), -1: a minimum (relaxed by less)


FAMILIES: dict[str, LimitFamily] = {
    "power": LimitFamily("per MW facility", True),
    "capacity": LimitFamily("per rack", True),
    MIN_SERVED_SHARE: LimitFamily("per share point", True, -1.0),
    "space": LimitFamily("per rack slot", False),
    "supply": LimitFamily("per rack", False),
    "deliveries": LimitFamily("per rack", False),
}
ID_COLUMNS = ("site", "rack_type", "workload")
COLUMNS = [
    "family",
    *ID_COLUMNS,
    "limit",
    "slack",
    "binding",
    "marginal_usd_per_year",
    "unit",
]


def marginal_values(
    index: ModelIndex,
    model: LinearModel,
    x: np.ndarray,
    dual_values: np.ndarray,
    reduced_costs: np.ndarray,
    max_utilization: float,
) -> pd.DataFrame:
    """One row per limit of `model` (the LP with the plan's integers fixed, solved: its
    solution `x`, duals and reduced costs), in the families of FAMILIES; a first column
    `period` in a multi-period case."""
    activity = np.bincount(model.row, model.val * x[model.col], model.n_constraints)
    level = model.priced.level
    parts = []
    for family, spec in FAMILIES.items():
        if family == MIN_SERVED_SHARE:
            parts.append(_minimums(index, model, x, reduced_costs))
            continue
        if family not in model.families:
            continue
        rows = np.arange(model.families[family].start, model.families[family].stop)
        table, keys = model.row_over[family]
        limit = model.row_ub[rows]
        slack = limit - activity[rows]
        value = -dual_values[rows] if spec.operational else np.zeros(len(rows))
        if family == "capacity":  # the SLO capacity of the powered racks, where racks serve
            served = x[model.layout.n][keys] > ZERO
            rows, keys, slack, value = rows[served], keys[served], slack[served], value[served]
            limit = max_utilization * x[model.layout.a][keys]
        k = getattr(index, table)["k"].to_numpy()[keys]
        parts.append(_frame(index, family, table, keys, limit, slack, value / level[k]))
    out = pd.concat(parts, ignore_index=True)
    periods = out.pop("period").to_numpy()
    return with_period(index, out[COLUMNS], periods)


def _minimums(
    index: ModelIndex, model: LinearModel, x: np.ndarray, reduced_costs: np.ndarray
) -> pd.DataFrame:
    """min_served_share: m[w, k] <= 1 - min_served_share[w], for workloads with a minimum
    and demand in period k; limit and slack in share points."""
    wk = index.wk
    minimum = index.workloads["min_served_share"].to_numpy(dtype=float)[wk["w"].to_numpy()]
    keys = np.flatnonzero((minimum > 0) & (model.priced.tokens_per_year > 0))
    cols = model.layout.col("m", keys)
    slack = (model.ub[cols] - x[cols]) / SHARE_POINT
    value = -reduced_costs[cols] * SHARE_POINT / model.priced.level[wk["k"].to_numpy()[keys]]
    return _frame(index, MIN_SERVED_SHARE, "wk", keys, minimum[keys] / SHARE_POINT, slack, value)


def _frame(
    index: ModelIndex,
    family: str,
    table: str,
    keys: np.ndarray,
    limit: np.ndarray,
    slack: np.ndarray,
    scaled_value: np.ndarray,
) -> pd.DataFrame:
    """The rows of one family: ids (blank where the row has none), limit, slack, whether it
    binds, its value in USD per year (>= 0; solver round-off below 0 is 0)."""
    ids = ids_of(index, table, keys)
    value = np.maximum(scaled_value / OBJECTIVE_SCALE, 0.0)
    return pd.DataFrame(
        {
            "family": family,
            "period": ids["period"].to_numpy(),
            **{c: ids[c].fillna("").to_numpy(dtype=object) for c in ID_COLUMNS},
            "limit": np.asarray(limit, dtype=float),
            "slack": np.asarray(slack, dtype=float),
            "binding": slack <= BINDING_TOLERANCE * np.maximum(1.0, np.abs(limit)),
            "marginal_usd_per_year": value,
            "unit": FAMILIES[family].unit,
        }
    )


SHOWN_LIMITS = 12  # binding limits `fleetopt show` lists a year; the rest are in the table


def binding_limits(values: pd.DataFrame) -> pd.DataFrame:
    """The binding rows of a plan's marginal values, largest value first, with `where`
    naming the row (its site, rack type and workload)."""
    binding = values[values["binding"]].sort_values(
        "marginal_usd_per_year", ascending=False, kind="stable"
    )
    parts = [binding[c].astype(str) for c in ID_COLUMNS]
    where = parts[0].str.cat(parts[1:], sep=" ").str.split().str.join(" ")
    return binding.assign(where=where).reset_index(drop=True)


def binding_limit_lines(
    values: pd.DataFrame, year: int | None = None, shown: int = SHOWN_LIMITS
) -> list[str]:
    """`fleetopt show`'s "binding limits" of one year (`year`; None: a plan without
    periods): the binding rows, largest value first."""
    if year is not None:
        values = values[values["period"] == year]
    binding = binding_limits(values)
    lines = [
        "\nbinding limits (what one more unit is worth per year, for operations with the fleet"
        " as bought; fleetopt whatif prices a change of fleet):"
    ]
    if not len(binding):
        return [*lines, "  none"]
    lines += [
        f"  {row.family:<17} {row.where}: {formats.usd(row.marginal_usd_per_year)}/year"
        f" {row.unit} (limit {formats.number(row.limit)})"
        for row in binding.head(shown).itertuples()
    ]
    if len(binding) > shown:
        lines.append(f"  ... and {len(binding) - shown} more (marginal_values.parquet)")
    return lines
