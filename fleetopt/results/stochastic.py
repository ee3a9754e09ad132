"""summary.json of a two-stage stochastic run, typed (docs/model.md section 9), and its text.

Money is in USD per year. `objective` is the recourse problem's value (RP) of the plan found,
on the run's scenarios; `lower_bound` is what no plan can beat on them (certified: the
extensive form's dual bound, or progressive hedging's Lagrangian bound), `gap` the relative
distance between the two. Each estimate of the uncertain future also has its standard error
over the scenarios (`*_se`; differences are paired scenario by scenario).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleetopt import __version__
from fleetopt.io.store import write_json_atomic
from fleetopt.results.summary import SUMMARY_FILE

STOCHASTIC_PLAN = "stochastic"
EXPECTED_VALUE_PLAN = "expected-value"
WAIT_AND_SEE_PLAN = "wait-and-see"


@dataclass(frozen=True)
class Estimate:
    """A value over the scenarios, with its standard error (None: not computable)."""

    value: float | None
    se: float | None = None


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

    status: str
    method: str
    case: str
    scenarios: int
    seed: int
    risk: dict[str, Any]
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
    notes: list[str] = field(default_factory=list)
    kind: str = "stochastic"
    fleetopt_version: str = __version__

    def to_json(self) -> dict[str, Any]:
        """The file's keys: estimates flattened to `key` and `key_se`."""
        data: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Estimate):
                data[f.name], data[f"{f.name}_se"] = value.value, value.se
            elif f.name == "out_of_sample":
                data[f.name] = {k: dataclasses.asdict(v) for k, v in value.items()}
            else:
                data[f.name] = value
        return data

    def write(self, folder: str | os.PathLike) -> None:
        write_json_atomic(Path(folder) / SUMMARY_FILE, self.to_json())


def _money(usd: float | None) -> str:
    if usd is None:
        return "n/a"
    return f"${usd / 1e6:,.2f}M"


def _with_se(data: dict, key: str) -> str:
    se = data.get(f"{key}_se")
    return _money(data.get(key)) + (f" ± {_money(se)}" if se is not None else "")


def format_stochastic(run_dir: str | Path) -> str:
    """The plan's value, its certified bounds, VSS and EVPI, the out-of-sample check."""
    data = json.loads((Path(run_dir) / SUMMARY_FILE).read_text())
    gap = data.get("gap")
    lines = [
        f"stochastic plan of case {data['case']} ({data['method']}, {data['scenarios']} scenarios,"
        f" seed {data['seed']}, {data['risk']['measure']}): {data['status']}",
        f"  objective (RP)          {_with_se(data, 'objective')} per year",
        f"  lower bound             {_money(data.get('lower_bound'))}"
        f" (certified gap {'n/a' if gap is None else f'{gap:.3%}'})",
        f"  expected-value plan     {_with_se(data, 'ev_objective')} (EEV)",
        f"  wait and see            {_with_se(data, 'wait_and_see')} (WS)",
        f"  value of the stochastic solution {_with_se(data, 'vss')}",
        f"  expected value of perfect information {_with_se(data, 'evpi')}",
    ]
    shortfall = data.get("probability_shortfall")
    if shortfall is not None:
        lines.append(f"  P(shortfall below a minimum served share) {shortfall:.1%}")
    lines.append(
        f"out of sample ({data['out_of_sample_scenarios']} scenarios, seed"
        f" {data['out_of_sample_seed']}), total cost per year:"
    )
    for plan, oos in data["out_of_sample"].items():
        lines.append(
            f"  {plan:<16} mean {_money(oos['mean'])}, 95% interval"
            f" [{_money(oos['ci95_low'])}, {_money(oos['ci95_high'])}]"
        )
    if data.get("message"):
        lines.append(f"  {data['message']}")
    return "\n".join(lines)
