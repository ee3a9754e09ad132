"""summary.json of a plan, typed: the keys of docs/model.md section 6 (and sections 7-8's).

`Summary` is written and read here only (`write`, `read`); its fields are the file's keys.
`Figures` are the money and token figures of a solution, the part of a summary that
scenario rows (results.parquet) repeat per scenario and plan. In a multi-period case they
are levelized (docs/model.md section 8); `period_figures` gives them period by period.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fleetopt import __version__
from fleetopt.core.errors import ExitCode
from fleetopt.core.units import SECONDS_PER_YEAR, TOKENS_PER_MTOK
from fleetopt.io.case import Case, case_warnings
from fleetopt.model.build import LinearModel
from fleetopt.model.index import ModelIndex
from fleetopt.model.inputs import ModelData
from fleetopt.model.measures import (
    avg_it_kw_by_site,
    capex_usd_by_period,
    energy_usd_by_site,
    fleet_cost_usd_by_period,
    levelized,
    opex_usd_by_period,
    penalty_usd_by_period,
    period_sums,
    served_tokens_by_period,
)
from fleetopt.results.schema import SCHEMA_VERSION, read_summary
from fleetopt.solve.result import PlanResult, SolveStatus

TOTAL_COST = "total_cost_usd_per_year"  # fleet + penalty: what scenario runs compare


@dataclass(frozen=True)
class Figures:
    """The money and token figures of one solution (None: no solution, or undefined)."""

    fleet_cost_usd_per_year: float | None = None
    penalty_cost_usd_per_year: float | None = None
    capex_cost_usd_per_year: float | None = None
    opex_cost_usd_per_year: float | None = None
    energy_cost_usd_per_year: float | None = None
    served_tokens_per_s: float | None = None
    cost_per_mtok_usd: float | None = None
    tokens_per_joule: float | None = None

    @classmethod
    def of(cls, index: ModelIndex, data: ModelData, model: LinearModel, x: np.ndarray) -> Figures:
        """docs/model.md sections 4, 6 and 8, from the solution and the cost coefficients:
        levelized over the periods (with one period, that period's figures exactly)."""
        totals = _period_totals(index, data, model, x)
        return cls._from_totals({k: levelized(model, v) for k, v in totals.items()})

    @classmethod
    def _from_totals(cls, totals: dict[str, float]) -> Figures:
        """The figures of one period's totals, or of levelized totals: ratios are ratios
        of the totals."""
        fleet, served_per_year = totals["fleet"], totals["served_per_year"]
        served_per_s = served_per_year / SECONDS_PER_YEAR
        facility_w = totals["facility_w"]
        return cls(
            fleet_cost_usd_per_year=fleet,
            penalty_cost_usd_per_year=totals["penalty"],
            capex_cost_usd_per_year=totals["capex"],
            opex_cost_usd_per_year=totals["opex"],
            energy_cost_usd_per_year=totals["energy"],
            served_tokens_per_s=served_per_s,
            cost_per_mtok_usd=(
                fleet / (served_per_year / TOKENS_PER_MTOK) if served_per_year > 0 else None
            ),
            tokens_per_joule=served_per_s / facility_w if facility_w > 0 else None,
        )

    @property
    def total_cost_usd_per_year(self) -> float | None:
        """fleet + penalty."""
        if self.fleet_cost_usd_per_year is None or self.penalty_cost_usd_per_year is None:
            return None
        return self.fleet_cost_usd_per_year + self.penalty_cost_usd_per_year

    def as_dict(self) -> dict[str, float | None]:
        return dataclasses.asdict(self)


FIGURE_KEYS = tuple(f.name for f in dataclasses.fields(Figures))


def _period_totals(
    index: ModelIndex, data: ModelData, model: LinearModel, x: np.ndarray
) -> dict[str, np.ndarray]:
    """Per period: the money figures (USD per year), served tokens per year and average
    facility watts, from which `Figures` are made."""
    avg_it_kw = avg_it_kw_by_site(index, model, x)
    pue = index.sites["pue"].to_numpy()[index.sk["s"].to_numpy()]
    sk_rows = index.period_rows("sk")
    return {
        "fleet": fleet_cost_usd_by_period(index, model, x),
        "penalty": penalty_usd_by_period(index, model, x),
        "capex": capex_usd_by_period(index, model, x),
        "opex": opex_usd_by_period(index, model, x),
        "energy": period_sums(sk_rows, energy_usd_by_site(index, data, avg_it_kw)),
        "served_per_year": served_tokens_by_period(index, model, x),
        "facility_w": period_sums(sk_rows, pue * avg_it_kw) * 1000.0,
    }


def period_figures(
    index: ModelIndex, data: ModelData, model: LinearModel, x: np.ndarray
) -> list[Figures]:
    """The figures of each period (docs/model.md section 8), in period order."""
    totals = _period_totals(index, data, model, x)
    return [
        Figures._from_totals({name: float(v[period]) for name, v in totals.items()})
        for period in range(index.n_periods)
    ]


def npv_cost_usd(index: ModelIndex, data: ModelData, model: LinearModel, x: np.ndarray) -> float:
    """sum_k w_k (fleet_k + penalty_k): the plan's cost over the horizon, USD at year 0."""
    totals = _period_totals(index, data, model, x)
    return float(model.priced.weight @ (totals["fleet"] + totals["penalty"]))


@dataclass(frozen=True)
class Summary:
    """summary.json of a plan run."""

    status: SolveStatus
    objective: float | None
    figures: Figures
    mip_gap: float | None
    solver: str
    solve_seconds: float
    build_seconds: float
    warnings: list[str] = field(default_factory=list)
    npv_cost_usd: float | None = None  # multi-period cases only (docs/model.md section 8)
    periods: list[int] | None = None  # multi-period cases only: the years
    objective_kind: str = ""
    case: str = ""
    message: str = ""
    diagnosis: str | None = None  # why an infeasible case is (fleetopt.solve.diagnose)
    dinkelbach_steps: int = 1
    variables: int = 0
    constraints: int = 0
    fleetopt_version: str = __version__

    @property
    def has_plan(self) -> bool:
        return self.status.has_plan

    @property
    def exit_code(self) -> ExitCode:
        """What `fleetopt solve` exits with for this outcome (docs/architecture.md)."""
        return {
            SolveStatus.INFEASIBLE: ExitCode.INFEASIBLE,
            SolveStatus.ERROR: ExitCode.FAILURE,
        }.get(self.status, ExitCode.OK)

    def to_json(self) -> dict[str, Any]:
        """The file's keys, in the contract's order (figures inline, after `objective`);
        the multi-period keys only in a multi-period case."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        figures = data.pop("figures").as_dict()
        ordered = {"status": self.status.value, "objective": self.objective, **figures}
        ordered.update({k: v for k, v in data.items() if k not in ("status", "objective")})
        if self.periods is None:
            del ordered["npv_cost_usd"], ordered["periods"]
        return ordered

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Summary:
        known = {f.name for f in dataclasses.fields(cls)} - {"figures"}
        return cls(
            status=SolveStatus(data["status"]),
            figures=Figures(**{k: data.get(k) for k in FIGURE_KEYS}),
            **{k: data[k] for k in known - {"status"} if k in data},
        )

    @classmethod
    def read(cls, folder: str | os.PathLike[str]) -> Summary:
        """A plan folder's summary (plan summaries kept their keys since schema 1)."""
        return read_summary(folder, cls, readable=(1, SCHEMA_VERSION))


def summarize(
    case: Case,
    index: ModelIndex,
    data: ModelData,
    result: PlanResult,
    solver: str,
    diagnosis: str | None = None,
) -> Summary:
    """The summary of a solved plan: every key of docs/model.md section 6, and section 7's
    (`diagnosis`: why it is infeasible, None when it is not)."""
    x = result.x
    multi = index.multi_period
    npv = npv_cost_usd(index, data, result.model, x) if multi and x is not None else None
    return Summary(
        status=result.status,
        objective=finite(result.objective),
        figures=Figures.of(index, data, result.model, x) if x is not None else Figures(),
        mip_gap=finite(result.gap),
        solver=solver,
        solve_seconds=result.solve_seconds,
        build_seconds=result.build_seconds,
        warnings=plan_warnings(index, case),
        npv_cost_usd=npv,
        periods=list(case.periods) if multi else None,
        objective_kind=case.objective.value,
        case=case.name,
        message=result.message,
        diagnosis=diagnosis,
        dinkelbach_steps=result.steps,
        variables=result.model.n_variables,
        constraints=result.model.n_constraints,
    )


def plan_warnings(index: ModelIndex, case: Case) -> list[str]:
    """summary.json's `warnings`: phases no rack can serve, then what the case itself flags."""
    return list(index.warnings) + case_warnings(case)


def finite(value: float | None) -> float | None:
    """A number for JSON: None where it is missing or not finite."""
    return None if value is None or not np.isfinite(value) else float(value)
