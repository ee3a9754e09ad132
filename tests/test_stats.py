"""Every figure over scenarios has one definition (fleetopt.core.stats): each checked here by
hand, and shown to be the one the scenario summaries and the stochastic program use."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from fleetopt.core import stats
from fleetopt.model.risk import Risk
from fleetopt.pipelines.runs import Criterion, choose
from fleetopt.results.runs import Distribution, Estimate, EstimateKind

COSTS = np.arange(1.0, 16.0)  # 1..15


def test_cvar_is_rockafellar_uryasev():
    # VaR at 0.9 of 15 equally likely values: the 14th (14/15 >= 0.9 > 13/15);
    # CVaR = 14 + E[(x - 14)+] / 0.1 = 14 + (1 / 15) / 0.1.
    assert stats.value_at_risk(COSTS, 0.9) == 14.0
    assert stats.cvar(COSTS, 0.9) == pytest.approx(14 + 1 / 1.5)  # 14.67, not the tail mean 14.5
    # (1 - alpha) N whole: the mean of the (1 - alpha) N largest.
    assert stats.cvar(np.arange(1.0, 11.0), 0.8) == pytest.approx(9.5)
    # Weighted: the minimum of eta + E[(x - eta)+] / (1 - alpha) over eta, by brute force.
    p = np.array([0.1, 0.2, 0.3, 0.4])
    x = np.array([4.0, 1.0, 3.0, 2.0])
    grid = np.linspace(0, 5, 50_001)
    brute = min(eta + p @ np.maximum(x - eta, 0) / 0.25 for eta in grid)
    assert stats.cvar(x, 0.75, p) == pytest.approx(brute, abs=1e-6)
    assert math.isnan(stats.cvar([], 0.9))


def test_one_cvar_for_evaluate_robust_and_the_stochastic_program():
    p = np.full(15, 1 / 15)
    assert Risk(weight=1.0, alpha=0.9).value(COSTS, p) == pytest.approx(stats.cvar(COSTS, 0.9))
    assert Distribution.of(COSTS, 0.9).cvar == pytest.approx(stats.cvar(COSTS, 0.9))
    results = pd.DataFrame(
        {
            "scenario": np.tile(np.arange(15), 2),
            "plan": ["a"] * 15 + ["b"] * 15,
            "status": "optimal",
            "total_cost_usd_per_year": np.concatenate([COSTS, np.full(15, 14.6)]),
        }
    )
    # a's tail mean (14.5) is below b's 14.6, its CVaR (14.67) above: b is the choice.
    chosen, scores = choose(results, Criterion.CVAR, 0.9)
    assert chosen == "b" and scores["a"] == pytest.approx(14 + 1 / 1.5)


def test_standard_error_quantile_and_shares():
    assert stats.standard_error([1.0, 2.0, 3.0]) == pytest.approx(1 / math.sqrt(3))
    assert stats.standard_error([1.0]) is None
    assert pytest.approx(1.959963984540054) == stats.Z95
    assert stats.normal_quantile(0.5) == 0.0
    assert stats.share_above([0.0, 0.02, 0.005, 0.5], stats.UNMET_THRESHOLD) == 0.5
    assert stats.share_above([0.0, 1e-10, 1e-6], stats.SHORTFALL_THRESHOLD) == pytest.approx(1 / 3)
    assert stats.share_above([], 0.01) is None


def test_estimates_have_one_shape():
    vss = Estimate.mean_of([3.0, 1.0], EstimateKind.LOWER_BOUND)
    assert (vss.value, vss.se, vss.kind) == (2.0, pytest.approx(1.0), EstimateKind.LOWER_BOUND)
    assert Estimate.mean_of([]) == Estimate(None, None, EstimateKind.ESTIMATE)


def test_t_quantile_matches_its_closed_forms():
    """1 degree of freedom is Cauchy, tan(pi (p - 1/2)); 2 have t = (2p - 1) / sqrt(2 p (1 -
    p)); larger ones against printed tables (4 decimals)."""
    for p in (0.6, 0.9, 0.95, 0.99):
        assert stats.t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-10)
        assert stats.t_quantile(p, 2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)))
    table = {(3, 0.95): 2.3534, (9, 0.95): 1.8331, (29, 0.975): 2.0452, (120, 0.95): 1.6577}
    for (df, p), value in table.items():
        assert stats.t_quantile(p, df) == pytest.approx(value, abs=1e-4)
        assert stats.t_cdf(stats.t_quantile(p, df), df) == pytest.approx(p, abs=1e-12)
    assert stats.t_quantile(0.05, 4) == -stats.t_quantile(0.95, 4) and stats.t_cdf(0.0, 7) == 0.5
