"""summary.json of a two-stage stochastic run, typed (docs/model.md section 9), and its text.

Money is in USD per year. `objective` is the recourse problem's value (RP) of the plan found,
on the run's scenarios; `lower_bound` is what no plan can beat on them (certified: the
extensive form's dual bound, or progressive hedging's Lagrangian bound), `gap` the relative
distance between the two. Each estimate of the uncertain future also has its standard error
over the scenarios (`se`; differences are paired scenario by scenario).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import pandas as pd

from fleetopt import __version__
from fleetopt.core import formats
from fleetopt.core.stats import SHORTFALL_THRESHOLD
from fleetopt.model.risk import Risk
from fleetopt.results.runs import Estimate
from fleetopt.results.yearly import Column
from fleetopt.solve.result import SOLVED, SolveStatus

# What each method is called where people read it (show, the report): the summary's
# `method`, spelt out; a method not listed here is shown as recorded.
METHOD_NAMES = {
    "ef": "extensive form",
    "ph": "progressive hedging",
    "benders": "Benders decomposition",
}


def method_name(method: str) -> str:
    """'ef' -> 'extensive form'."""
    return METHOD_NAMES.get(method, method)


STOCHASTIC_PLAN = "stochastic"
EXPECTED_VALUE_PLAN = "expected-value"
WAIT_AND_SEE_PLAN = "wait-and-see"
ROBUST_CHOICE = "robust"  # the nightly's robust choice, compared with the plan found


@dataclass(frozen=True)
class RiskMeasure:
    """The objective's risk measure as the summary records it."""

    measure: str  # mean or cvar
    weight: float
    alpha: float

    @classmethod
    def of(cls, risk: Risk) -> RiskMeasure:
        return cls("cvar" if risk.has_tail else "mean", risk.weight, risk.alpha)


@dataclass(frozen=True)
class OutOfSample:
    """One plan's total cost on fresh scenarios: mean, standard error, 95% interval."""

    mean: float | None
    se: float | None
    ci95_low: float | None
    ci95_high: float | None
    risk: float | None  # the run's objective measure on these scenarios
    probability_shortfall: float | None


@dataclass(frozen=True)
class PlanComparison:
    """Another plan's orders now (the nightly's robust choice) in the run's scenarios, under
    the same recourse and shortfall rule: its objective, and `difference`, its objective
    minus the plan found, paired scenario by scenario (what hedging saves over it)."""

    objective: Estimate
    difference: Estimate
    probability_shortfall: float | None


@dataclass(frozen=True)
class Reliability:
    """A reliability target as the summary records it (docs/model.md section 9): at most
    `max_shortfall_probability` of the scenarios short (`measure` chance), or the CVaR at
    level 1 - P of the shortfall share at most `shortfall_cvar` (`measure` cvar)."""

    measure: str
    max_shortfall_probability: float
    shortfall_cvar: float | None = None

    def describe(self) -> str:
        """The target in words: 'at most 5.00% of the scenarios short of ...'."""
        p = formats.share(self.max_shortfall_probability)
        if self.shortfall_cvar is None:
            return f"at most {p} of the scenarios short of a minimum served share"
        return (
            f"CVaR of the shortfall share over the worst {p} of the scenarios at most"
            f" {formats.share(self.shortfall_cvar)}"
        )


@dataclass(frozen=True)
class ReplicationBatch:
    """One batch of the multiple-replication procedure (docs/model.md section 9), in USD
    per year: the batch's optimum as its solve's certified `lower_bound`, its own plan's
    objective (`batch_objective`, the solve's upper bound), the run's plan's objective on
    the same scenarios (`plan_cost`) and their difference `gap` (G_g)."""

    batch: int
    seed: int
    lower_bound: float
    batch_objective: float
    plan_cost: float
    gap: float


REPLICATION_COLUMNS = tuple(f.name for f in fields(ReplicationBatch))  # replications.parquet


@dataclass(frozen=True)
class ReplicationGap:
    """The statistical optimality gap of the run's plan (Mak, Morton and Wood's
    multiple-replication procedure, docs/model.md section 9), in USD per year.

    `mean` is the gap estimate over `replications` batches of `scenarios` scenarios, `se`
    its standard error, `ci_high` the one-sided upper bound at `confidence` (Student's t),
    `relative` that bound over `plan_cost` (the plan's mean objective over the batches);
    `suffices` when `relative` is at most `tolerance` (the run's target gap). `solve_gap` is
    the part of `mean` that is the batches' own optimization gap (mean batch_objective -
    lower_bound): what a tighter --gap, not more scenarios, would remove."""

    replications: int
    scenarios: int
    confidence: float
    tolerance: float
    mean: float
    se: float
    ci_high: float
    plan_cost: float
    relative: float
    suffices: bool
    solve_gap: float
    batches: tuple[ReplicationBatch, ...]

    def slack(self) -> str:
        """The batches' own optimization gaps, said as what they are: part of each batch's
        gap that a tighter --gap, not more scenarios, would shrink (it may exceed `mean`:
        a batch's own plan can cost more on it than the run's plan)."""
        return (
            f"the batches' own solve gaps average {formats.usd(self.solve_gap)}: a tighter"
            " --gap, not more scenarios, would shrink those"
        )

    def verdict(self) -> str:
        """Whether the run's N scenarios suffice, and the rule, in one sentence (show, the
        report, the nightly's headline)."""
        n, within = self.scenarios, formats.share(self.tolerance)
        bound = (
            f"the plan's optimality gap is at most {formats.usd(self.ci_high)} a year"
            f" ({formats.gap(self.relative)} of its cost) with"
            f" {formats.share(self.confidence)} confidence"
        )
        if self.suffices:
            return f"{n} scenarios suffice: {bound}, within the target gap {within}."
        return (
            f"{n} scenarios are not enough: {bound}, above the target gap {within};"
            " more scenarios would give a better plan, or a tighter estimate of it."
        )


@dataclass(frozen=True)
class CurvePoint:
    """One point of the cost-of-reliability curve (shortfall_curve.parquet): the extensive
    form with at most `max_shortfall_probability` of the scenarios short. `objective` and
    `lower_bound` in USD per year (the run's objective measure: mean total cost with
    --risk mean); `probability_shortfall` is the plan's on the run's scenarios; None where
    the point has no plan (status infeasible, or a limit reached first)."""

    max_shortfall_probability: float
    status: SolveStatus
    objective: float | None
    lower_bound: float | None
    gap: float | None
    probability_shortfall: float | None
    racks_ordered: int | None
    solve_seconds: float


CURVE_COLUMNS = {  # shortfall_curve.parquet
    "max_shortfall_probability": "float64",
    "status": "object",
    "objective": "float64",
    "lower_bound": "float64",
    "gap": "float64",
    "probability_shortfall": "float64",
    "racks_ordered": "Int64",
    "solve_seconds": "float64",
}


CURVE_DISPLAY: list[Column] = [  # the curve's table where people read it (show, the report)
    ("max_shortfall_probability", "target P", formats.share),
    ("status", "status", str),
    ("objective", "objective per year", formats.usd),
    ("lower_bound", "certified lower bound", formats.usd),
    ("gap", "gap", formats.gap),
    ("probability_shortfall", "P(shortfall) of the plan", formats.share),
    ("racks_ordered", "racks ordered now", formats.integer),
    ("solve_seconds", "solve time", formats.seconds),
]


def curve_table(points: Sequence[CurvePoint]) -> pd.DataFrame:
    """The curve's points as shortfall_curve.parquet has them: one row each, typed."""
    rows = [dataclasses.asdict(point) | {"status": point.status.value} for point in points]
    return pd.DataFrame(rows, columns=list(CURVE_COLUMNS)).astype(CURVE_COLUMNS)


@dataclass(frozen=True)
class StochasticSummary:
    """summary.json of `fleetopt stochastic`."""

    status: SolveStatus
    method: str
    case: str
    scenarios: int
    seed: int
    risk: RiskMeasure
    objective: Estimate
    lower_bound: float | None
    gap: float | None
    ev_objective: Estimate
    wait_and_see: Estimate
    vss: Estimate
    evpi: Estimate
    probability_shortfall: float | None
    expected_recourse_racks: float | None
    out_of_sample_scenarios: int
    out_of_sample_seed: int
    out_of_sample: dict[str, OutOfSample]
    iterations: int
    solve_seconds: float
    message: str = ""
    recourse_capex_premium: float | None = None
    nodes: int = 1
    compared: dict[str, PlanComparison] = field(default_factory=dict)
    reliability: Reliability | None = None
    shortfall_curve: tuple[CurvePoint, ...] = ()
    replications: ReplicationGap | None = None  # --replications R (None: off)
    kind: str = "stochastic"
    fleetopt_version: str = __version__

    def recourse_racks(self) -> tuple[str, str]:
        """The recourse racks as (figure, what it means): their mean per scenario where the
        case allows them, else that it does not. Later years' orders at the ordinary price are
        each future's own either way, and are not recourse racks (docs/model.md section 9)."""
        if self.recourse_capex_premium is None:
            return (
                "not allowed",
                "case.yaml has no recourse; later years' orders are each future's own",
            )
        return (
            formats.number(self.expected_recourse_racks),
            "per scenario, mean: bought once the future is known, at a capex premium of"
            f" {formats.share(self.recourse_capex_premium)}",
        )


@dataclass(frozen=True)
class ShortfallDepth:
    """How deep a plan's shortfalls go in the futures where it falls short: the share of
    demanded tokens short of the minimum served shares (docs/model.md), mean and largest."""

    futures: int  # solved futures in which the plan falls short
    mean_share: float
    max_share: float

    def text(self) -> str:
        """'when short, by X% of demanded tokens on average, at most Y%'."""
        return (
            f"when short, by {formats.share(self.mean_share)} of demanded tokens on average,"
            f" at most {formats.share(self.max_share)}"
        )


def shortfall_depth(results: pd.DataFrame | None, plan: str) -> ShortfallDepth | None:
    """The depth of `plan`'s shortfalls over its solved futures in a results table (None:
    no table, no shortfall share recorded for the plan, or it never falls short)."""
    if results is None or "shortfall_share" not in results:
        return None
    rows = results[results["status"].isin(SOLVED) & (results["plan"] == plan)]
    shares = rows["shortfall_share"].to_numpy(dtype=float)
    short = shares[shares > SHORTFALL_THRESHOLD]
    if not len(short):
        return None
    return ShortfallDepth(len(short), float(short.mean()), float(short.max()))
