"""summary.json of a two-stage stochastic run, typed (docs/model.md section 9), and its text.

Money is in USD per year. `objective` is the recourse problem's value (RP) of the plan found,
on the run's scenarios; `lower_bound` is what no plan can beat on them (certified: the
extensive form's dual bound, or progressive hedging's Lagrangian bound), `gap` the relative
distance between the two. Each estimate of the uncertain future also has its standard error
over the scenarios (`se`; differences are paired scenario by scenario).
"""

from __future__ import annotations

from dataclasses import dataclass

from fleetopt import __version__
from fleetopt.model.risk import Risk
from fleetopt.results.runs import Estimate
from fleetopt.solve.result import SolveStatus

STOCHASTIC_PLAN = "stochastic"
EXPECTED_VALUE_PLAN = "expected-value"
WAIT_AND_SEE_PLAN = "wait-and-see"


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
    kind: str = "stochastic"
    fleetopt_version: str = __version__


def _money(usd: float | None) -> str:
    if usd is None:
        return "n/a"
    return f"${usd / 1e6:,.2f}M"


def _with_se(estimate: Estimate) -> str:
    se = estimate.se
    return _money(estimate.value) + (f" ± {_money(se)}" if se is not None else "")


def format_stochastic(summary: StochasticSummary) -> str:
    """The plan's value, its certified bounds, VSS and EVPI, the out-of-sample check."""
    s = summary
    gap = s.gap
    lines = [
        f"stochastic plan of case {s.case} ({s.method}, {s.scenarios} scenarios,"
        f" seed {s.seed}, {s.risk.measure}): {s.status}",
        f"  objective (RP)          {_with_se(s.objective)} per year",
        f"  lower bound             {_money(s.lower_bound)}"
        f" (certified gap {'n/a' if gap is None else f'{gap:.3%}'})",
        f"  expected-value plan     {_with_se(s.ev_objective)} (EEV)",
        f"  wait and see            {_with_se(s.wait_and_see)} (WS)",
        f"  value of the stochastic solution {_with_se(s.vss)}",
        f"  expected value of perfect information {_with_se(s.evpi)}",
    ]
    if s.probability_shortfall is not None:
        lines.append(f"  P(shortfall below a minimum served share) {s.probability_shortfall:.1%}")
    lines.append(
        f"out of sample ({s.out_of_sample_scenarios} scenarios, seed"
        f" {s.out_of_sample_seed}), total cost per year:"
    )
    for plan, oos in s.out_of_sample.items():
        lines.append(
            f"  {plan:<16} mean {_money(oos.mean)}, 95% interval"
            f" [{_money(oos.ci95_low)}, {_money(oos.ci95_high)}]"
        )
    if s.message:
        lines.append(f"  {s.message}")
    return "\n".join(lines)
