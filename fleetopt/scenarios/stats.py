"""Summaries of scenario results: per plan, rack and site use, paired differences.

Every statistic is fleetopt.core.stats's (CVaR in Rockafellar and Uryasev's form, as the
stochastic program minimizes it); the results are the typed summaries of
fleetopt.results.runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fleetopt.core.stats import QUANTILES, SHORTFALL_THRESHOLD, UNMET_THRESHOLD, share_above
from fleetopt.results.runs import (
    Distribution,
    Estimate,
    EstimateKind,
    PlanStats,
    Quantiles,
    RackTypeStats,
)
from fleetopt.solve.result import SOLVED


def paired_difference(
    a: pd.Series, b: pd.Series, kind: EstimateKind = EstimateKind.ESTIMATE
) -> Estimate:
    """Mean of a - b over the scenarios both have, with its standard error."""
    both = pd.concat([a, b], axis=1, join="inner").dropna()
    return Estimate.mean_of((both.iloc[:, 0] - both.iloc[:, 1]).to_numpy(), kind)


def plan_summaries(results: pd.DataFrame, alpha: float) -> dict[str, PlanStats]:
    """Per plan: status counts, cost distributions, probability of unmet demand > 1%."""
    out = {}
    for plan, rows in results.groupby("plan", sort=False):
        solved = rows[rows["status"].isin(SOLVED)]
        shortfall = solved.get("shortfall_share", [])
        out[str(plan)] = PlanStats(
            scenarios=len(rows),
            status_counts={str(k): int(v) for k, v in rows["status"].value_counts().items()},
            cost_per_mtok_usd=Distribution.of(solved["cost_per_mtok_usd"], alpha),
            total_cost_usd_per_year=Distribution.of(solved["total_cost_usd_per_year"], alpha),
            probability_unsolved=float(1.0 - len(solved) / len(rows)),
            probability_unmet_above_1pct=share_above(solved["unmet_share"], UNMET_THRESHOLD),
            probability_shortfall=share_above(shortfall, SHORTFALL_THRESHOLD),
        )
    return out


def rack_type_summary(mix: pd.DataFrame, scenarios: pd.Index) -> dict[str, RackTypeStats]:
    """Per rack type: how often it is in the best mix, and quantiles of its total count.

    `scenarios` are the solved ones: a scenario with no solution has no mix, and counting
    it as a mix without the rack type would bias every share and quantile down. In a
    multi-period run (mix has `period`) a scenario's count is its peak over the periods.
    """
    mix = mix[mix["scenario"].isin(scenarios)]
    per_period = "period" in mix.columns
    keys = ["scenario", "rack_type", *(["period"] if per_period else [])]
    totals = mix.groupby(keys)["count"].sum()
    if per_period:
        totals = totals.groupby(level=["scenario", "rack_type"]).max()
    totals = totals.unstack(fill_value=0)
    totals = totals.reindex(scenarios, fill_value=0)
    return {
        str(rack): RackTypeStats(float((counts > 0).mean()), **_quantiles(counts))
        for rack, counts in totals.items()
    }


def site_summary(sites: pd.DataFrame) -> dict[str, Quantiles]:
    """Per site: quantiles of the share of the power cap that powered racks use (over
    scenarios, and periods in a multi-period run)."""
    use = sites.assign(utilization=sites["power_mw"] / sites["power_cap_mw"])
    return {
        str(site): Quantiles(**_quantiles(rows["utilization"]))
        for site, rows in use.groupby("site", sort=False)
    }


def _quantiles(values: pd.Series) -> dict[str, float]:
    return {k: float(np.quantile(values, q)) for k, q in QUANTILES.items()}
