"""A solution back to the plan tables of docs/model.md section 6, keyed by ids.

Every number comes from the solution and fleetopt.model.measures, so the tables, the
summary and the scenario rows agree by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from fleetopt.core.units import SECONDS_PER_YEAR
from fleetopt.io.case import Case
from fleetopt.io.schema import PHASES
from fleetopt.model.build import LinearModel
from fleetopt.model.costs import vintage_capex_usd
from fleetopt.model.index import ModelIndex, effective_throughput, is_estimate
from fleetopt.model.inputs import ModelData
from fleetopt.model.measures import (
    ZERO,
    avg_it_kw_by_site,
    new_racks,
    powered_mw_by_site,
    rack_mix,
    site_costs,
    unmet_by_workload,
    with_period,
)
from fleetopt.results.summary import period_figures


@dataclass(frozen=True)
class PlanTables:
    """The plan tables of docs/model.md section 6, and section 8's `orders` and `periods`
    (None in a case without periods)."""

    racks: pd.DataFrame
    placement: pd.DataFrame
    sites: pd.DataFrame
    workloads: pd.DataFrame
    orders: pd.DataFrame | None = None
    periods: pd.DataFrame | None = None

    def as_dict(self) -> dict[str, pd.DataFrame]:
        tables = {
            "racks": self.racks,
            "placement": self.placement,
            "sites": self.sites,
            "workloads": self.workloads,
            "orders": self.orders,
            "periods": self.periods,
        }
        return {name: table for name, table in tables.items() if table is not None}


def clean_solution(model: LinearModel, x: np.ndarray) -> np.ndarray:
    """Round integer variables and clip solver noise below zero."""
    x = np.maximum(x, 0.0)
    x[model.integer] = np.round(x[model.integer])
    return x


def site_power(
    index: ModelIndex, data: ModelData, model: LinearModel, x: np.ndarray
) -> pd.DataFrame:
    """Per site (and period): facility MW powered (against the cap), the cap, and the
    average draw."""
    s_of = index.sk["s"].to_numpy()
    pue = index.sites["pue"].to_numpy()[s_of]
    power = pd.DataFrame(
        {
            "site": index.sites["site"].to_numpy()[s_of],
            "power_mw": powered_mw_by_site(index, model, x),
            "power_cap_mw": data.power_cap_mw,
            "avg_facility_mw": pue * avg_it_kw_by_site(index, model, x) / 1000.0,
        }
    )
    return with_period(index, power, index.sk["period"].to_numpy())


def plan_tables(
    index: ModelIndex, data: ModelData, model: LinearModel, x: np.ndarray
) -> PlanTables:
    """racks, placement, sites and workloads tables of a solution (and, with periods,
    orders and periods)."""
    lay = model.layout
    counts = x[lay.n]
    y = index.y
    busy = x[lay.y]
    placed = busy > ZERO
    placement = pd.DataFrame(
        {
            "site": index.sites["site"].to_numpy()[y["s"].to_numpy()],
            "rack_type": index.racks["rack_type"].to_numpy()[y["r"].to_numpy()],
            "workload": index.workloads["workload"].to_numpy()[y["w"].to_numpy()],
            "phase": np.asarray(PHASES, dtype=object)[y["p"].to_numpy()],
            "racks": busy,
            "tokens_per_s": busy * data.tp_tokens_per_s,
        }
    )[placed].reset_index(drop=True)
    placement = with_period(index, placement, y["period"].to_numpy()[placed])

    sk_of, r_of = index.sr["sk"].to_numpy(), index.sr["r"].to_numpy()
    slots = np.bincount(
        sk_of, counts * index.racks["slots"].to_numpy(dtype=float)[r_of], len(index.sk)
    )
    power = site_power(index, data, model, x)
    sites_table = power.assign(
        slots=slots,
        max_slots=index.sites["max_slots"].to_numpy(dtype=float)[index.sk["s"].to_numpy()],
    )
    sites_table = sites_table[
        [*power.columns.drop("avg_facility_mw"), "slots", "max_slots", "avg_facility_mw"]
    ].assign(**site_costs(index, data, model, x))

    # Nothing demanded (a period before a workload starts): nothing unmet, whatever m is.
    unmet = np.where(model.priced.tokens_per_year > 0, unmet_by_workload(model, x), 0.0)
    workloads_table = pd.DataFrame(
        {
            "workload": index.workloads["workload"].to_numpy()[index.wk["w"].to_numpy()],
            "served_share": 1.0 - unmet,
            "unmet_share": unmet,
            "demand_tokens_per_s": model.priced.tokens_per_year / SECONDS_PER_YEAR,
            "penalty_cost_usd_per_year": model.priced.penalty_m * unmet,
        }
    )
    workloads_table = with_period(index, workloads_table, index.wk["period"].to_numpy())
    tables = PlanTables(rack_mix(index, counts), placement, sites_table, workloads_table)
    if not index.multi_period:
        return tables
    return replace(
        tables,
        orders=orders_table(index, model, x),
        periods=periods_table(index, data, model, x, sites_table),
    )


def orders_table(index: ModelIndex, model: LinearModel, x: np.ndarray) -> pd.DataFrame:
    """The order schedule: racks entering service per (site, rack type, period), when they
    must be ordered (period - lead_time_years) and their price each."""
    new = new_racks(index, model, x)
    ordered = new > ZERO
    sr = index.sr[ordered]
    lead = index.racks["lead_time_years"].to_numpy(dtype=float)[sr["r"].to_numpy()]
    return pd.DataFrame(
        {
            "site": sr["site"].to_numpy(),
            "rack_type": sr["rack_type"].to_numpy(),
            "period": sr["period"].to_numpy(dtype=np.int64),
            "new_racks": np.round(new[ordered]).astype(np.int64),
            "order_by_year": sr["period"].to_numpy(dtype=float) - lead,
            "capex_usd_each": vintage_capex_usd(index)[ordered],
        }
    )


def periods_table(
    index: ModelIndex,
    data: ModelData,
    model: LinearModel,
    x: np.ndarray,
    sites_table: pd.DataFrame,
) -> pd.DataFrame:
    """One row per period: its weight, every figure of section 6 for that period, and the
    facility power of all sites together."""
    figures = pd.DataFrame([f.as_dict() for f in period_figures(index, data, model, x)])
    power = sites_table.groupby("period")[["power_mw", "power_cap_mw", "avg_facility_mw"]].sum()
    table = pd.concat(
        [index.periods[["period"]], pd.Series(model.priced.weight, name="weight"), figures],
        axis=1,
    )
    return table.merge(power.reset_index(), on="period")


def operating_points(case: Case, index: ModelIndex) -> pd.DataFrame:
    """The throughput each rack type delivers on each workload phase within its SLO, and
    where the figure comes from: `source` as in throughput.csv, `estimate` when it is one.

    Written into a plan folder, so a report read from a copy of the run can say which of
    the plan's figures rest on estimates rather than measurements.
    """
    tp = effective_throughput(case, index.racks, index.workloads)
    return pd.DataFrame(
        {
            "rack_type": index.racks["rack_type"].to_numpy()[tp["r"].to_numpy()],
            "workload": index.workloads["workload"].to_numpy()[tp["w"].to_numpy()],
            "phase": np.asarray(PHASES, dtype=object)[tp["p"].to_numpy()],
            "tokens_per_s": tp["tp_tokens_per_s"].to_numpy(dtype=float),
            "source": tp["source"].fillna("").astype(str).to_numpy(),
            "estimate": tp["source"].fillna("").map(is_estimate).to_numpy(dtype=bool),
        }
    )
