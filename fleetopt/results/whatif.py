"""A what-if run (docs/model.md section 11): its variants side by side, typed.

`variants_table` completes the rows the workers wrote (each variant's objective, figures and
status) with the change against the base and the change the base's marginal values predict;
`WhatifSummary` is the run's summary.json; `format_whatif` is `fleetopt show`'s text.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fleetopt import __version__
from fleetopt.core.units import SECONDS_PER_YEAR, TOKENS_PER_MTOK
from fleetopt.results.marginal import FAMILIES, ID_COLUMNS
from fleetopt.results.schema import read_summary
from fleetopt.results.wording import money, num, objective_unit

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


SHOWN_CHANGES = 24  # changed order rows `fleetopt show` lists


def format_whatif(run_dir: str | os.PathLike[str]) -> str:
    """The variants side by side (labelled v1, v2, ...), then the racks they buy
    differently from the base."""
    run = Path(run_dir)
    summary = WhatifSummary.read(run)
    variants = summary.variants
    labels = [BASE, *(f"v{i}" for i in range(1, len(variants)))]
    unit = objective_unit(summary.objective_kind, bool(summary.periods))
    lines = [
        f"what-if run of case {summary.case}: {len(variants) - 1} variant(s) and the base"
        f" (objective {summary.objective_kind}, {unit})",
    ]
    lines += [
        f"  {label} = {v.variant}" + (f": {v.spec}" if v.spec != v.variant else "")
        for label, v in zip(labels[1:], variants[1:], strict=True)
    ]
    width = 14
    rows = [
        ("status", [v.status for v in variants]),
        ("objective", [money(v.objective) for v in variants]),
        ("change", ["-", *(_signed(v.delta_objective) for v in variants[1:])]),
        ("LP estimate", ["-", *(_signed(v.lp_delta_objective) for v in variants[1:])]),
        ("cost per Mtok", [money(v.cost_per_mtok_usd) for v in variants]),
        *(
            [("cost, horizon", [money(v.npv_cost_usd) for v in variants])]
            if summary.periods
            else []
        ),
        ("gap", [num(v.gap, "{:.1e}") for v in variants]),
    ]
    lines.append("  " + " " * 15 + "".join(f"{label:>{width}}" for label in labels))
    lines += [
        f"  {name:<15}" + "".join(f"{cell:>{width}}" for cell in cells) for name, cells in rows
    ]
    lines += [
        f"  {label}: {v.message}" for label, v in zip(labels, variants, strict=True) if v.message
    ]
    lines += _changed_racks(run, labels, [v.variant for v in variants], width)
    return "\n".join(lines)


def _signed(usd: float | None) -> str:
    """A change of money: +$1.20M, $-3.40M, $0."""
    if usd is None or usd == 0:
        return money(None if usd is None else 0.0)
    return money(usd) if usd < 0 else "+" + money(usd)


def changed_racks(run: str | os.PathLike[str], names: list[str]) -> tuple[str, pd.DataFrame]:
    """What the variants buy differently from the base, one column per variant (`names`,
    the base first) and one row per (period, site, rack type) of a schedule whose new racks
    differ (orders), else per (site, rack type) whose racks differ; and what the rows are."""
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


def _changed_racks(run: Path, labels: list[str], names: list[str], width: int) -> list[str]:
    what, changed = changed_racks(run, names)
    title = f"\nracks bought differently ({what}):"
    if not len(changed):
        return [title, "  none: every variant buys the base's racks"]
    lines = [title, "  " + " " * 36 + "".join(f"{label:>{width}}" for label in labels)]
    for key, counts in changed.head(SHOWN_CHANGES).iterrows():
        where = " ".join(str(k) for k in (key if isinstance(key, tuple) else (key,)))
        lines.append(f"  {where:<36}" + "".join(f"{c:>{width},d}" for c in counts))
    if len(changed) > SHOWN_CHANGES:
        lines.append(f"  ... and {len(changed) - SHOWN_CHANGES} more")
    return lines
