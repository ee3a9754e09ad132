"""Sample statistics over scenarios, each defined once (every figure of every run uses these).

- `standard_error`: of a mean over equally likely scenarios, sample deviation (ddof 1) over
  sqrt(N); None below two scenarios. A paired difference is the mean of the differences.
- `normal_quantile`, `Z95`: the standard normal's quantile; 95% intervals are mean +- Z95 se.
- `t_quantile`: Student's t quantile of whole degrees of freedom (one-sided bounds over a
  few batches, docs/model.md section 9's multiple-replication procedure).
- `value_at_risk`, `cvar`: Rockafellar and Uryasev's CVaR, what the stochastic program
  minimizes (docs/model.md section 9):

      CVaR_alpha(x) = min_eta  eta + E[(x - eta)+] / (1 - alpha),

  minimized at eta = VaR_alpha, the smallest alpha-quantile. With N equally likely values and
  (1 - alpha) N whole it is the mean of the (1 - alpha) N largest; otherwise the value at the
  quantile weighs in part (values 1..15 at alpha 0.9: 14 + (15 - 14) / 15 / 0.1 = 14.67).
- `QUANTILES`: the p5/p50/p95 every distribution reports.
- `UNMET_THRESHOLD`, `SHORTFALL_THRESHOLD`, `share_above`: how often a scenario leaves more
  than 1% of demand unmet, or any share short of a minimum (below 1e-9 is solver noise).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike

QUANTILES = {"p5": 0.05, "p50": 0.50, "p95": 0.95}
UNMET_THRESHOLD = 0.01  # P(unmet > 1%)
SHORTFALL_THRESHOLD = 1e-9  # a shortfall share below this is solver noise


def normal_quantile(p: float) -> float:
    """The standard normal's p-quantile."""
    return NormalDist().inv_cdf(p)


Z95 = normal_quantile(0.975)  # two-sided 95%: 1.96


def t_cdf(t: float, df: int) -> float:
    """P(T <= t) for Student's t with `df` (whole, >= 1) degrees of freedom, exactly
    (Abramowitz and Stegun 26.7.3-4: a finite sum in theta = arctan(t / sqrt(df)))."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    theta = math.atan(abs(t) / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    if df % 2:  # odd: 2 / pi (theta + sin cos (1 + 2/3 c2 + 2 4 / (3 5) c2^2 + ...))
        term, total = 1.0, 1.0 if df > 1 else 0.0
        for k in range(1, (df - 1) // 2):
            term *= 2 * k / (2 * k + 1) * c2
            total += term
        inside = 2 / math.pi * (theta + math.sin(theta) * math.cos(theta) * total)
    else:  # even: sin (1 + 1/2 c2 + 1 3 / (2 4) c2^2 + ...)
        term, total = 1.0, 1.0
        for k in range(1, df // 2):
            term *= (2 * k - 1) / (2 * k) * c2
            total += term
        inside = math.sin(theta) * total
    return 0.5 + math.copysign(inside, t) / 2


def t_quantile(p: float, df: int) -> float:
    """Student's t p-quantile with `df` whole degrees of freedom (t_{2, 0.95} = 2.920), by
    bisection of the exact CDF to 1e-12."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"a quantile's probability is in (0, 1), got {p}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        low, high = high, 2 * high
    while high - low > 1e-12 * max(1.0, high):
        middle = (low + high) / 2
        low, high = (middle, high) if t_cdf(middle, df) < p else (low, middle)
    return (low + high) / 2


def standard_error(values: ArrayLike) -> float | None:
    """The standard error of the mean of `values` (equally likely); None below two."""
    sample = np.asarray(values, dtype=float)
    if len(sample) < 2:
        return None
    return float(sample.std(ddof=1) / math.sqrt(len(sample)))


def _weights(values: np.ndarray, probabilities: ArrayLike | None) -> np.ndarray:
    if probabilities is None:
        return np.full(len(values), 1.0 / len(values))
    return np.asarray(probabilities, dtype=float)


def value_at_risk(values: ArrayLike, alpha: float, probabilities: ArrayLike | None = None) -> float:
    """The smallest eta with P(x <= eta) >= alpha: the minimizer of Rockafellar and Uryasev's
    expression (equally likely values unless `probabilities` are given)."""
    x = np.asarray(values, dtype=float)
    p = _weights(x, probabilities)
    order = np.argsort(x, kind="stable")
    cumulative = np.cumsum(p[order])
    at = np.searchsorted(cumulative, alpha * cumulative[-1] - 1e-12)
    return float(x[order][min(int(at), len(x) - 1)])


def tail_contributions(
    values: ArrayLike, alpha: float, probabilities: ArrayLike | None = None
) -> np.ndarray:
    """Per value: eta + (x - eta)+ / (1 - alpha) at eta = VaR, whose mean is the CVaR (their
    spread gives its standard error)."""
    x = np.asarray(values, dtype=float)
    eta = value_at_risk(x, alpha, probabilities)
    return eta + np.maximum(x - eta, 0.0) / (1.0 - alpha)


def cvar(values: ArrayLike, alpha: float, probabilities: ArrayLike | None = None) -> float:
    """CVaR at level `alpha` in Rockafellar and Uryasev's form (nan without values)."""
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return math.nan
    p = _weights(x, probabilities)
    return float(p @ tail_contributions(x, alpha, p) / p.sum())


def share_above(values: ArrayLike, threshold: float) -> float | None:
    """The share of `values` above `threshold`; None without values."""
    x = np.asarray(values, dtype=float)
    return float((x > threshold).mean()) if len(x) else None
