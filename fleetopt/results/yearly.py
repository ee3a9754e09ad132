"""What a planner reads year by year from a plan's tables (docs/model.md sections 6 and 8):
the cash paid out each year, the order schedule with its order-by dates, and each site's
power against its cap. `fleetopt show`, `compare` and the report all take them from here.

Tables of a multi-period plan carry a `period` column (the year); those of a plan without
periods do not, and every function here takes both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd

from fleetopt.core import formats

PERIOD = "period"
Column = tuple[str, str, Callable[[Any], str]]  # a table's column, its header and format

# The columns `fleetopt show` and the report write these tables with.
ORDER_COLUMNS: list[Column] = [
    ("order_by_year", "order by", formats.month_year),
    (PERIOD, "in service from", formats.year),
    ("rack_type", "rack type", str),
    ("site", "site", str),
    ("new_racks", "racks", formats.integer),
    ("capex_usd_each", "price each", formats.usd),
    ("capex_usd", "capex", formats.usd),
]
CASH_COLUMNS: list[Column] = [
    (PERIOD, "year", formats.year),
    ("new_racks", "new racks", formats.integer),
    ("capex_usd", "capex paid", formats.usd),
    ("opex_usd", "opex", formats.usd),
    ("energy_usd", "energy", formats.usd),
    ("cash_usd", "cash out", formats.usd),
    ("fleet_cost_usd_per_year", "fleet cost (annualised)", formats.usd),
    ("penalty_cost_usd_per_year", "penalty", formats.usd),
    ("cost_per_mtok_usd", "per Mtok", formats.usd),
    ("unmet_share", "unmet", formats.share),
]
TEXT_FORMATS = (str,)  # formats that write text (left-aligned), not numbers
CASH_PARTS = ("capex", "opex", "energy")  # what is paid out in a year, USD


def years(table: pd.DataFrame | None) -> list[int]:
    """The years of a multi-period table, in order; [] for a table without periods."""
    if table is None or PERIOD not in table.columns:
        return []
    return sorted(int(y) for y in pd.unique(table[PERIOD]))


def by_year(table: pd.DataFrame) -> Iterator[tuple[int | None, pd.DataFrame]]:
    """(year, its rows) for each year of a multi-period table, in order; (None, the table)
    for a table without periods: per-year views never add years together."""
    found = years(table)
    if not found:
        yield None, table.reset_index(drop=True)
        return
    for year in found:
        rows = table[table[PERIOD] == year].drop(columns=PERIOD)
        yield year, rows.reset_index(drop=True)


def order_schedule(orders: pd.DataFrame) -> pd.DataFrame:
    """Every order, in the order it must be placed: order_by_year (a fractional year; absent
    in a plan without periods, where everything is ordered now), the year the racks enter
    service (`period`), site, rack type, racks, price each and the order's capex."""
    keys = [c for c in ("order_by_year", PERIOD, "site", "rack_type") if c in orders.columns]
    out = orders[orders["new_racks"] > 0].sort_values(keys, kind="stable", ignore_index=True)
    return out.assign(capex_usd=out["new_racks"] * out["capex_usd_each"])


def cash_out(
    orders: pd.DataFrame | None, periods: pd.DataFrame, workloads: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per year: the money paid out, USD: capex for the racks entering service that year (at
    that year's price; the year they are ordered is in the order schedule), opex and energy
    of the fleet in service, and their sum `cash_usd`; beside it the year's annualised fleet
    cost (what the levelized figures average), the penalty for unmet demand (a price, not a
    payment), cost per million tokens, served tokens per second and (given the workloads
    table) the unmet share of the year's demand."""
    out = periods[[PERIOD]].copy()
    if orders is not None and len(orders):
        paid = orders.assign(capex=orders["new_racks"] * orders["capex_usd_each"])
        out["new_racks"] = out[PERIOD].map(paid.groupby(PERIOD)["new_racks"].sum()).fillna(0)
        out["capex_usd"] = out[PERIOD].map(paid.groupby(PERIOD)["capex"].sum()).fillna(0.0)
    else:
        out["new_racks"], out["capex_usd"] = 0, 0.0
    out["new_racks"] = out["new_racks"].astype("int64")
    out["opex_usd"] = periods["opex_cost_usd_per_year"].to_numpy()
    out["energy_usd"] = periods["energy_cost_usd_per_year"].to_numpy()
    out["cash_usd"] = out["capex_usd"] + out["opex_usd"] + out["energy_usd"]
    for column in (
        "fleet_cost_usd_per_year",
        "penalty_cost_usd_per_year",
        "cost_per_mtok_usd",
        "served_tokens_per_s",
    ):
        out[column] = periods[column].to_numpy()
    if workloads is not None:
        unmet = {year: unmet_share(rows) for year, rows in by_year(workloads)}
        out["unmet_share"] = out[PERIOD].map(unmet)
    return out


def power_use(sites: pd.DataFrame) -> pd.DataFrame:
    """Per (year and) site: facility power of the powered racks at full load, the cap, the
    share of the cap in use, the headroom left (MW), and the average draw."""
    keys = [c for c in (PERIOD, "site") if c in sites.columns]
    out = sites[[*keys, "power_mw", "power_cap_mw", "avg_facility_mw"]].copy()
    out["power_share"] = out["power_mw"] / out["power_cap_mw"]
    out["headroom_mw"] = out["power_cap_mw"] - out["power_mw"]
    return out.reset_index(drop=True)


def unmet_share(workloads: pd.DataFrame) -> float:
    """Share of demanded tokens left unserved over the rows given (all years of a schedule,
    or one), weighted by each row's demand."""
    demand = workloads["demand_tokens_per_s"].to_numpy(dtype=float)
    if demand.sum() <= 0:
        return 0.0
    return float((workloads["unmet_share"].to_numpy(dtype=float) * demand).sum() / demand.sum())
