"""A what-if run (docs/model.md section 11): its variants side by side, typed.

`variants_table` completes the rows the workers wrote (each variant's objective, figures and
status) with the change against the base and the change the base's marginal values predict;
`WhatifSummary` is the run's summary.json; the tables and columns `fleetopt show` and the
report write (fleetopt.results.text, fleetopt.report.whatif).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fleetopt import __version__
from fleetopt.core import formats
from fleetopt.core.units import SECONDS_PER_YEAR, TOKENS_PER_MTOK
from fleetopt.results.marginal import FAMILIES, ID_COLUMNS
from fleetopt.results.schema import read_summary
from fleetopt.results.yearly import Column

BASE = "base"
VARIANT = "variant"
# The inputs that are limits of section 10's families: (file, column) -> family.
LIMIT_INPUTS = {
    ("sites", "power_cap_mw"): "power",
    ("site_periods", "power_cap_mw"): "power",
    ("sites", "max_slots"): "space",
    ("racks", "max_count"): "supply",
    ("racks", "max_new_per_period"): "deliveries",
    ("workloads", "min_served_share"): "min_served_share",
}
SOLVED_COLUMNS = [  # what a worker writes for each variant
    VARIANT,
    "spec",
    "status",
    "objective",
    "npv_cost_usd",
    "cost_per_mtok_usd",
    "gap",
    "fleet_cost_usd_per_year",
    "penalty_cost_usd_per_year",
    "served_tokens_per_s",
    "message",
]
VARIANT_COLUMNS = [
    *SOLVED_COLUMNS[:4],
    "delta_objective",
    "lp_delta_objective",
    *SOLVED_COLUMNS[4:],
]
FIGURE_COLUMNS: list[Column] = [  # how show and the report write the variants' figures
    ("label", "", str),
    ("status", "status", str),
    ("objective", "objective", formats.usd),
    ("delta_objective", "change", formats.usd_change),
    ("lp_delta_objective", "LP estimate", formats.usd_change),
    ("cost_per_mtok_usd", "cost per Mtok", formats.usd),
    ("npv_cost_usd", "cost over the horizon", formats.usd),
    ("gap", "gap", formats.gap),
]
KEY_HEADERS = {"period": "year", "site": "site", "rack_type": "rack type"}  # changed racks
KEY_FORMATS: dict[str, Callable[[Any], str]] = {"period": formats.year}


@dataclass(frozen=True)
class VariantResult:
    """One variant's row of variants.parquet."""

    variant: str
    spec: str
    status: str
    objective: float | None
    delta_objective: float | None
    lp_delta_objective: float | None
    npv_cost_usd: float | None
    cost_per_mtok_usd: float | None
    gap: float | None
    message: str = ""


@dataclass(frozen=True)
class WhatifSummary:
    """summary.json of a what-if run: the variants, the base first."""

    case: str
    objective_kind: str
    periods: list[int] | None
    variants: list[VariantResult]
    kind: str = "whatif"
    fleetopt_version: str = __version__

    @property
    def base(self) -> VariantResult:
        return self.variants[0]

    @classmethod
    def read(cls, folder: str | os.PathLike[str]) -> WhatifSummary:
        return read_summary(folder, cls)


def variants_table(
    rows: pd.DataFrame,
    marginal: pd.DataFrame | None,
    periods: pd.DataFrame | None,
    changed: dict[str, list[tuple[str, str]]],
    per_token: bool,
) -> pd.DataFrame:
    """variants.parquet: the workers' rows (base first) with `delta_objective` and
    `lp_delta_objective` (the base's marginal values times the change of limits of a variant
    that changes limits only; `changed`: each variant's (file, column) pairs)."""
    base = rows.iloc[0]
    delta = rows["objective"] - base["objective"]
    served_mtok = base["served_tokens_per_s"] * SECONDS_PER_YEAR / TOKENS_PER_MTOK
    estimates = [
        _estimate(marginal, periods, name, changed.get(name, []))
        / (served_mtok if per_token else 1.0)
        for name in rows[VARIANT]
    ]
    table = rows.assign(delta_objective=delta, lp_delta_objective=estimates)
    columns = [c for c in VARIANT_COLUMNS if c != "npv_cost_usd" or periods is not None]
    return table[columns]


def _estimate(
    marginal: pd.DataFrame | None,
    periods: pd.DataFrame | None,
    variant: str,
    changed: list[tuple[str, str]],
) -> float:
    """-sum level x marginal x relaxation over the base's rows of the changed limits
    (docs/model.md section 11), in USD per year; NaN where it does not apply."""
    if variant == BASE:
        return 0.0
    families = {LIMIT_INPUTS.get(pair) for pair in changed}
    if marginal is None or not changed or None in families:
        return np.nan
    keys = ["family", *(["period"] if periods is not None else []), *ID_COLUMNS]
    mine = marginal[marginal["family"].isin(families)]
    before = mine[mine[VARIANT] == BASE].set_index(keys)
    after = mine[mine[VARIANT] == variant].set_index(keys)
    if set(before.index) != set(after.index):
        return np.nan
    after = after.loc[before.index]
    sense = np.array([FAMILIES[f].sense for f in before.index.get_level_values("family")])
    relaxation = (after["limit"].to_numpy() - before["limit"].to_numpy()) * sense
    level = np.ones(len(before))
    if periods is not None:
        weights = periods.set_index("period")["weight"]
        level = (weights / weights.sum()).loc[before.index.get_level_values("period")].to_numpy()
    return float(-(level * before["marginal_usd_per_year"].to_numpy() * relaxation).sum())


def variants_frame(summary: WhatifSummary) -> pd.DataFrame:
    """The variants (base first) as a table, each labelled (base, v1, v2, ...) and named
    with its changes (`what`)."""
    table = pd.DataFrame([vars(v) for v in summary.variants])
    table.insert(0, "label", [BASE, *(f"v{i}" for i in range(1, len(table)))])
    table["what"] = [
        v if not s or s == v else f"{v}: {s}"
        for v, s in zip(table[VARIANT], table["spec"], strict=True)
    ]
    return table


def figure_columns(summary: WhatifSummary) -> list[Column]:
    """The columns `fleetopt show` and the report write the variants' figures with."""
    return [c for c in FIGURE_COLUMNS if summary.periods or c[0] != "npv_cost_usd"]


def changed_racks(run: str | os.PathLike[str], names: list[str]) -> tuple[str, pd.DataFrame]:
    """What the variants buy differently from the base, one column per variant (`names`,
    the base first) and one row per (period, site, rack type) of a schedule whose new racks
    differ (orders: each year on its own), else per (site, rack type) whose racks differ;
    and what the rows are."""
    folder = Path(run)
    if (folder / "orders.parquet").exists():
        table = pd.read_parquet(folder / "orders.parquet")
        keys, value, what = ["period", "site", "rack_type"], "new_racks", "new racks, by year"
    else:
        table = pd.read_parquet(folder / "racks.parquet")
        keys, value, what = ["site", "rack_type"], "count", "racks per site and rack type"
    wide = table.pivot_table(index=keys, columns=VARIANT, values=value, aggfunc="sum")
    wide = wide.reindex(columns=names).fillna(0).astype(int)
    return what, wide[wide.ne(wide[BASE], axis=0).any(axis=1)]


def changed_racks_table(
    run: str | os.PathLike[str], variants: pd.DataFrame
) -> tuple[str, pd.DataFrame, list[Column]]:
    """`changed_racks` with the variants' labels as columns, flat, and its columns."""
    what, wide = changed_racks(run, list(variants[VARIANT]))
    keys = list(wide.index.names)
    wide = wide.set_axis(list(variants["label"]), axis=1).reset_index()
    columns: list[Column] = [
        *((key, KEY_HEADERS[key], KEY_FORMATS.get(key, str)) for key in keys),
        *((label, label, formats.integer) for label in variants["label"]),
    ]
    return what, wide, columns
