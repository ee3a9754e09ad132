"""summary.json of scenario runs (sweep, evaluate, robust), typed (docs/scenarios.md).

`Distribution` is a sample's mean (with its standard error), p5/p50/p95 and CVaR;
`Estimate` a value over the scenarios with its standard error and whether it is an
estimate or a bound (VSS and EVPI have this one shape in every run kind). The statistics
themselves are defined once in fleetopt.core.stats.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from fleetopt import __version__
from fleetopt.core.stats import QUANTILES, cvar, standard_error
from fleetopt.results.schema import to_json


class EstimateKind(enum.StrEnum):
    """What an `Estimate` is: a sample estimate of the value, or a bound on it."""

    ESTIMATE = "estimate"
    LOWER_BOUND = "lower_bound"
    UPPER_BOUND = "upper_bound"


@dataclass(frozen=True)
class Estimate:
    """A value over the scenarios, its standard error (None: not computable) and its kind."""

    value: float | None
    se: float | None = None
    kind: EstimateKind = EstimateKind.ESTIMATE

    @classmethod
    def mean_of(cls, values: ArrayLike, kind: EstimateKind = EstimateKind.ESTIMATE) -> Estimate:
        """The mean of equally likely `values` (a paired difference: of the differences)."""
        sample = np.asarray(values, dtype=float)
        if len(sample) == 0:
            return cls(None, None, kind)
        return cls(float(sample.mean()), standard_error(sample), kind)


@dataclass(frozen=True)
class Distribution:
    """A sample over the scenarios: mean with its standard error, p5/p50/p95, CVaR; NaN
    where the sample cannot give one (no finite value; one value: no standard error),
    null in summary.json."""

    mean: float = math.nan
    se: float = math.nan
    p5: float = math.nan
    p50: float = math.nan
    p95: float = math.nan
    cvar: float = math.nan

    @classmethod
    def of(cls, values: ArrayLike, alpha: float) -> Distribution:
        """The distribution of the finite `values`."""
        sample = np.asarray(values, dtype=float)
        sample = sample[np.isfinite(sample)]
        if len(sample) == 0:
            return cls()
        quantiles = {k: float(np.quantile(sample, q)) for k, q in QUANTILES.items()}
        se = standard_error(sample)
        return cls(
            mean=float(sample.mean()),
            se=math.nan if se is None else se,
            cvar=cvar(sample, alpha),
            **quantiles,
        )


@dataclass(frozen=True)
class PlanStats:
    """One plan over a scenario run's scenarios."""

    scenarios: int
    status_counts: dict[str, int]
    cost_per_mtok_usd: Distribution
    total_cost_usd_per_year: Distribution
    probability_unsolved: float
    probability_unmet_above_1pct: float | None
    probability_shortfall: float | None


@dataclass(frozen=True)
class Quantiles:
    """p5/p50/p95 over the scenarios."""

    p5: float
    p50: float
    p95: float


@dataclass(frozen=True)
class RackTypeStats:
    """A rack type over a sweep: the share of solved scenarios whose mix holds it, and the
    quantiles of its count."""

    share_of_scenarios: float
    p5: float
    p50: float
    p95: float


@dataclass(frozen=True)
class SampledRun:
    """What every scenario run's summary starts with: the case, how many scenarios of which
    seed, and the CVaR level of its distributions."""

    case: str
    scenarios: int
    seed: int
    alpha: float


@dataclass(frozen=True)
class ScenarioSummary(SampledRun):
    """summary.json of a sweep or evaluate run."""

    kind: str
    errors: int
    plans: dict[str, PlanStats]
    sites: dict[str, Quantiles]
    rack_types: dict[str, RackTypeStats] | None = None  # sweep only
    rack_types_left_out: int | None = None  # sweep only
    fleetopt_version: str = __version__

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = to_json(self)
        if self.rack_types is None:
            del data["rack_types"], data["rack_types_left_out"]
        return data


@dataclass(frozen=True)
class RobustSummary(SampledRun):
    """summary.json of a robust selection (its VSS and EVPI are bounds: the chosen plan is
    the best of a few candidates, not the optimum over all plans)."""

    criterion: str
    chosen_plan: str
    scores: dict[str, float]
    candidates: dict[str, PlanStats]
    vss: Estimate
    evpi: Estimate
    wait_and_see_total_cost_usd_per_year: Distribution
    shortfall: bool
    bounds_note: str
    sweep_errors: int
    evaluate_errors: int
    kind: str = "robust"
    fleetopt_version: str = __version__

    @property
    def chosen(self) -> PlanStats:
        return self.candidates[self.chosen_plan]

    @property
    def rule(self) -> str:
        """The rule that chose the plan, in words (fleetopt.pipelines.runs.choose)."""
        return robust_rule(self.criterion, self.alpha, self.shortfall)


def robust_rule(criterion: str | None, alpha: float | None, shortfall: bool) -> str:
    """Robust selection's rule in words: fewest futures a plan cannot serve, then the least
    mean (or CVaR) of total cost, the shortfall penalty included where it is priced."""
    measure = f"CVaR at {alpha:.0%} of total cost" if criterion == "cvar" else "mean total cost"
    priced = " (fleet + shortfall penalty)" if shortfall else ""
    return f"fewest futures it cannot serve, then least {measure}{priced}"
