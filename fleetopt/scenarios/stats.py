"""Summaries of scenario results: distributions, CVaR, paired differences, rack and site use.

CVaR at level alpha is the mean of the worst (1 - alpha) share of outcomes (the largest
costs): with N samples, the mean of the ceil((1 - alpha) N) largest.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from fleetopt.solve.result import SOLVED

QUANTILES = {"p5": 0.05, "p50": 0.50, "p95": 0.95}
UNMET_THRESHOLD = 0.01
SHORTFALL_THRESHOLD = 1e-9  # a shortfall share below this is solver noise


def cvar(values: np.ndarray, alpha: float) -> float:
    """Mean of the ceil((1 - alpha) N) largest values."""
    values = np.sort(np.asarray(values, dtype=float))
    if len(values) == 0:
        return math.nan
    tail = max(1, math.ceil((1.0 - alpha) * len(values) - 1e-9))
    return float(values[-tail:].mean())


def distribution(values: np.ndarray, alpha: float) -> dict[str, float | None]:
    """mean (with its standard error), p5/p50/p95 and CVaR of a sample."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return {"mean": None, "se": None, **dict.fromkeys(QUANTILES), "cvar": None}
    se = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else None
    return {
        "mean": float(values.mean()),
        "se": se,
        **{k: float(np.quantile(values, q)) for k, q in QUANTILES.items()},
        "cvar": cvar(values, alpha),
    }


def paired_difference(a: pd.Series, b: pd.Series) -> dict[str, float | None]:
    """Mean of a - b over the scenarios both have, with its standard error."""
    both = pd.concat([a, b], axis=1, join="inner").dropna()
    diff = (both.iloc[:, 0] - both.iloc[:, 1]).to_numpy()
    if len(diff) == 0:
        return {"mean": None, "se": None, "scenarios": 0}
    se = float(diff.std(ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else None
    return {"mean": float(diff.mean()), "se": se, "scenarios": len(diff)}


def plan_summaries(results: pd.DataFrame, alpha: float) -> dict[str, dict]:
    """Per plan: status counts, cost distributions, probability of unmet demand > 1%."""
    out = {}
    for plan, rows in results.groupby("plan", sort=False):
        solved = rows[rows["status"].isin(SOLVED)]
        out[str(plan)] = {
            "scenarios": len(rows),
            "status_counts": {str(k): int(v) for k, v in rows["status"].value_counts().items()},
            "cost_per_mtok_usd": distribution(solved["cost_per_mtok_usd"], alpha),
            "total_cost_usd_per_year": distribution(solved["total_cost_usd_per_year"], alpha),
            "probability_unsolved": float(1.0 - len(solved) / len(rows)),
            "probability_unmet_above_1pct": (
                float((solved["unmet_share"] > UNMET_THRESHOLD).mean()) if len(solved) else None
            ),
            "probability_shortfall": (
                float((solved["shortfall_share"] > SHORTFALL_THRESHOLD).mean())
                if len(solved) and "shortfall_share" in solved
                else None
            ),
        }
    return out


def rack_type_summary(mix: pd.DataFrame, scenarios: pd.Index) -> dict[str, dict]:
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
        str(rack): {
            "share_of_scenarios": float((counts > 0).mean()),
            **{k: float(np.quantile(counts, q)) for k, q in QUANTILES.items()},
        }
        for rack, counts in totals.items()
    }


def site_summary(sites: pd.DataFrame) -> dict[str, dict]:
    """Per site: quantiles of the share of the power cap that powered racks use (over
    scenarios, and periods in a multi-period run)."""
    use = sites.assign(utilization=sites["power_mw"] / sites["power_cap_mw"])
    return {
        str(site): {k: float(np.quantile(rows["utilization"], q)) for k, q in QUANTILES.items()}
        for site, rows in use.groupby("site", sort=False)
    }
