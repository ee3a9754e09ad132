"""The work of one scenario, without Ray: draw it, solve it, turn it into rows.

`ScenarioJob` says what every scenario of a run solves: the full model (sweep, wait and
see) or the placement LP of fixed plans (evaluate). A worker prepares a job once
(`PreparedJob`: the index and the warm starts) and then solves scenario after scenario
with it, rebuilding only the numbers (fleetopt.model.inputs) and the model arrays.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from fleetopt.core import logs
from fleetopt.core.errors import SolverError
from fleetopt.io.case import Case, Objective, case_fingerprint
from fleetopt.io.runfolder import RunKind
from fleetopt.io.solver import SolverOptions
from fleetopt.model.build import OBJECTIVE_SCALE, build_evaluate_model, build_plan_model
from fleetopt.model.index import ModelIndex, build_index
from fleetopt.model.inputs import model_data
from fleetopt.model.measures import rack_mix, shortfall_share, unmet_share
from fleetopt.results.summary import TOTAL_COST, Figures, plan_warnings
from fleetopt.results.tables import clean_solution, site_power
from fleetopt.scenarios.draws import draw, draws_table
from fleetopt.solve.diagnose import diagnose_evaluate, diagnose_plan
from fleetopt.solve.mathopt import Engine, solve_model
from fleetopt.solve.objectives import solve_plan
from fleetopt.solve.result import SolveStatus

log = logging.getLogger(__name__)

WAIT_AND_SEE = "wait-and-see"


@dataclass(frozen=True)
class ScenarioJob:
    """Everything a worker needs to solve any scenario of a run.

    `plans` (evaluate): plan id -> rack counts per `sr` row of the case's index.
    `hint` (sweep): a solution vector to warm-start each scenario's MILP from.
    `lp_engine`: the back end for evaluate LPs (GLOP re-solves in place from its basis).
    `shortfall` (evaluate): a share short of min_served_share is paid for at the shortfall
    penalty (docs/model.md section 9) instead of making the scenario infeasible.
    """

    case: Case
    mode: RunKind  # SWEEP or EVALUATE
    options: SolverOptions
    plans: dict[str, np.ndarray] = field(default_factory=dict)
    hint: np.ndarray | None = None
    lp_engine: Engine = Engine.GLOP
    shortfall: bool = False

    def prepare(self) -> PreparedJob:
        """Make this job ready to solve scenarios on the current worker."""
        return PreparedJob(self)

    def key(self) -> str:
        """A digest naming this job, for worker-side caches."""
        return hashlib.sha256(pickle.dumps(self)).hexdigest()[:16]

    def identity(self) -> dict:
        """What this job's results depend on, in readable form, for run records."""
        return {
            "mode": self.mode.value,
            "case": case_fingerprint(self.case),
            "seed": self.case.uncertainty.seed,
            "solver": self.options.as_params(),
            "lp_engine": self.lp_engine.value if self.mode is RunKind.EVALUATE else None,
            "plans": {name: _digest(counts) for name, counts in self.plans.items()},
            "hint": _digest(self.hint) if self.hint is not None else None,
            "shortfall": self.shortfall,
        }


def _digest(values: np.ndarray) -> str:
    """sha256 of an array's float64 bytes."""
    return hashlib.sha256(np.ascontiguousarray(values, dtype=np.float64).tobytes()).hexdigest()


@dataclass(frozen=True)
class ChunkResult:
    """Rows produced by a chunk of scenarios, one DataFrame per output table."""

    results: pd.DataFrame
    mix: pd.DataFrame
    sites: pd.DataFrame
    draws: pd.DataFrame

    @staticmethod
    def concat(parts: list[ChunkResult]) -> ChunkResult:
        return ChunkResult(
            *(pd.concat([getattr(p, f) for p in parts], ignore_index=True) for f in _FIELDS)
        )


_FIELDS = ("results", "mix", "sites", "draws")


class PreparedJob:
    """A job made ready on one worker: the index built once, and the fixed warm starts.

    Every scenario is solved by a solver made for it, warm-started from the same point
    whichever scenarios this worker solved before: a MILP from the job's hint, an
    evaluate LP from the basis of its plan's forecast (no multipliers) solve, made here.
    A scenario's numbers are thus a function of the scenario alone, so a run gives
    identical results however it is chunked and spread over workers. (Updating one GLOP
    solver in place was measured faster, but then 14 of 64 scenarios differed in the last
    bit with the order of solves.)
    """

    def __init__(self, job: ScenarioJob):
        started = time.perf_counter()
        self.job = job
        self.index: ModelIndex = build_index(job.case)
        self.warnings = plan_warnings(self.index, job.case)
        forecast = model_data(self.index)
        self._basis = {
            plan: solve_model(
                build_evaluate_model(
                    self.index, job.case, forecast, counts, shortfall=job.shortfall
                ),
                job.options,
                engine=job.lp_engine,
            ).basis
            for plan, counts in job.plans.items()
        }
        log.debug(
            "prepared the %s job in %.2f s (%d forecast solves for warm starts)",
            job.mode.value,
            time.perf_counter() - started,
            len(self._basis),
        )

    def solve_scenario(self, scenario: int) -> ChunkResult:
        """Draw scenario `scenario` and solve it for every plan of the job; an infeasible one
        is explained in its row's `message` (only those pay for the diagnosis)."""
        started = time.perf_counter()
        mult = draw(self.index, self.job.case.uncertainty, scenario)
        data = model_data(self.index, mult)
        draws = draws_table(self.index, scenario, mult)
        if self.job.mode is RunKind.SWEEP:
            rows = [self._sweep(scenario, data)]
        else:
            rows = [self._evaluate(scenario, plan, data) for plan in self.job.plans]
        log.debug(
            "solved in %.3f s: %s",
            time.perf_counter() - started,
            ", ".join(f"{r[0]['plan']} {r[0]['status']}" for r in rows),
        )
        return ChunkResult(
            results=pd.DataFrame([r[0] for r in rows]),
            mix=pd.concat([r[1] for r in rows], ignore_index=True),
            sites=pd.concat([r[2] for r in rows], ignore_index=True),
            draws=draws,
        )

    def _sweep(self, scenario: int, data):
        case = self.job.case
        started = time.perf_counter()
        if case.objective is Objective.MIN_COST_PER_TOKEN:
            result = solve_plan(self.index, case, data, self.job.options, hint=self.job.hint)
            model, x, status, objective, gap = (
                result.model,
                result.x,
                result.status,
                result.objective,
                result.gap,
            )
            build_s, solve_s = result.build_seconds, result.solve_seconds
        else:
            model = build_plan_model(self.index, case, data)
            build_s = time.perf_counter() - started
            solution = solve_model(model, self.job.options, hint=self.job.hint)
            x, status, gap = solution.x, solution.status, solution.gap
            objective = solution.objective / OBJECTIVE_SCALE
            solve_s = solution.seconds
        why = ""
        if status is SolveStatus.INFEASIBLE:
            why = diagnose_plan(self.index, case, data, self.job.options)
        return self._rows(
            scenario, WAIT_AND_SEE, data, model, x, status, objective, gap, build_s, solve_s, why
        )

    def _evaluate(self, scenario: int, plan: str, data):
        started = time.perf_counter()
        model = build_evaluate_model(
            self.index, self.job.case, data, self.job.plans[plan], shortfall=self.job.shortfall
        )
        build_s = time.perf_counter() - started
        solution = solve_model(
            model, self.job.options, engine=self.job.lp_engine, basis=self._basis[plan]
        )
        why = ""
        if solution.status is SolveStatus.INFEASIBLE:
            why = diagnose_evaluate(
                self.index,
                self.job.case,
                data,
                self.job.plans[plan],
                self.job.options,
                engine=self.job.lp_engine,
            )
        return self._rows(
            scenario,
            plan,
            data,
            model,
            solution.x,
            solution.status,
            solution.objective / OBJECTIVE_SCALE,
            solution.gap,
            build_s,
            solution.seconds,
            why,
        )

    def _rows(self, scenario, plan, data, model, x, status, objective, gap, build_s, solve_s, why):
        """One scenario's rows; `why` an infeasible one is (fleetopt.solve.diagnose)."""
        index = self.index
        row = {
            "scenario": scenario,
            "plan": plan,
            "status": status.value,
            "objective": objective if x is not None else np.nan,
            "mip_gap": gap,
            "solver": (
                self.job.lp_engine if self.job.mode is RunKind.EVALUATE else self.job.options.name
            ).value,
            "solve_seconds": solve_s,
            "build_seconds": build_s,
            "warnings": self.warnings,
            "message": "",
        }
        if x is None:
            row["message"] = why or f"no solution: {status.value}"
            multi = index.multi_period
            return row, _empty_mix(multi), _empty_sites(multi)
        x = clean_solution(model, x)
        figures = Figures.of(index, data, model, x)
        row.update(figures.as_dict())
        row[TOTAL_COST] = figures.total_cost_usd_per_year
        row["unmet_share"] = unmet_share(index, model, x)
        row["shortfall_share"] = shortfall_share(index, model, x)
        mix = rack_mix(index, x[model.layout.n])
        mix = mix[mix["count"] > 0].drop(columns="installed")
        mix.insert(0, "plan", plan)
        mix.insert(0, "scenario", scenario)
        sites = site_power(index, data, model, x)
        sites.insert(0, "plan", plan)
        sites.insert(0, "scenario", scenario)
        return row, mix.reset_index(drop=True), sites


def error_rows(
    job: ScenarioJob, scenario: int, reason: str, index: ModelIndex | None = None
) -> ChunkResult:
    """The rows of a scenario that could not be solved: status error, with the reason.

    Its draws are still recorded when the index is at hand (drawing cannot fail).
    """
    plans = list(job.plans) if job.mode is RunKind.EVALUATE else [WAIT_AND_SEE]
    draws = (
        draws_table(index, scenario, draw(index, job.case.uncertainty, scenario))
        if index is not None
        else _empty_draws()
    )
    results = pd.DataFrame(
        {
            "scenario": scenario,
            "plan": plans,
            "status": SolveStatus.ERROR.value,
            "warnings": [plan_warnings(index, job.case) if index is not None else []] * len(plans),
            "message": reason,
        }
    )
    multi = job.case.multi_period
    return ChunkResult(results, _empty_mix(multi), _empty_sites(multi), draws)


def solve_chunk(prepared: PreparedJob, scenarios: list[int], isolate: bool) -> ChunkResult:
    """Solve a chunk. With `isolate`, a scenario that raises becomes an error row.

    Records logged while a scenario is solved carry its number (fleetopt.core.logs).
    """
    parts = []
    for scenario in scenarios:
        with logs.scenario(scenario):
            try:
                parts.append(prepared.solve_scenario(scenario))
            except (SolverError, ValueError, ArithmeticError) as err:
                if not isolate:
                    raise
                reason = f"{type(err).__name__}: {err}"
                log.warning("failed: %s", reason)
                parts.append(error_rows(prepared.job, scenario, reason, prepared.index))
    return ChunkResult.concat(parts)


def for_workers(options: SolverOptions) -> SolverOptions:
    """Worker solves run single-threaded: parallelism comes from running many at once."""
    return replace(options, threads=1)


MIX_COLUMNS = {
    "scenario": np.int64,
    "plan": object,
    "site": object,
    "rack_type": object,
    "count": np.int64,
}
SITE_COLUMNS = {
    "scenario": np.int64,
    "plan": object,
    "site": object,
    "power_mw": float,
    "power_cap_mw": float,
    "avg_facility_mw": float,
}
DRAW_COLUMNS = {"scenario": np.int64, "kind": object, "key": object, "multiplier": float}


def _empty(columns: dict[str, Any], multi_period: bool = False) -> pd.DataFrame:
    """A table with no rows but the columns and dtypes of its kind, so parts concatenate;
    a multi-period case's tables have `period` after `plan`."""
    if multi_period:
        names = list(columns)
        after = names.index("plan") + 1
        columns = {
            **{k: columns[k] for k in names[:after]},
            "period": np.int64,
            **{k: columns[k] for k in names[after:]},
        }
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})


def _empty_mix(multi_period: bool) -> pd.DataFrame:
    return _empty(MIX_COLUMNS, multi_period)


def _empty_sites(multi_period: bool) -> pd.DataFrame:
    return _empty(SITE_COLUMNS, multi_period)


def _empty_draws() -> pd.DataFrame:
    return _empty(DRAW_COLUMNS)


RESULT_COLUMNS: dict[str, str] = {
    "scenario": "int64",
    "plan": "object",
    "status": "object",
    "objective": "float64",
    "fleet_cost_usd_per_year": "float64",
    "penalty_cost_usd_per_year": "float64",
    "capex_cost_usd_per_year": "float64",
    "opex_cost_usd_per_year": "float64",
    "energy_cost_usd_per_year": "float64",
    TOTAL_COST: "float64",
    "served_tokens_per_s": "float64",
    "cost_per_mtok_usd": "float64",
    "tokens_per_joule": "float64",
    "unmet_share": "float64",
    "shortfall_share": "float64",
    "mip_gap": "float64",
    "solver": "object",
    "solve_seconds": "float64",
    "build_seconds": "float64",
    "warnings": "list",
    "message": "object",
}


def conform_results(
    results: pd.DataFrame, columns: dict[str, str] = RESULT_COLUMNS
) -> pd.DataFrame:
    """results.parquet rows in one fixed schema, whatever each row could fill in."""
    table = results.reindex(columns=list(columns))
    for column, dtype in columns.items():
        if dtype == "list":
            table[column] = [list(v) if isinstance(v, list) else [] for v in table[column]]
        elif dtype == "object":
            table[column] = table[column].astype(object).where(table[column].notna(), "")
        else:
            table[column] = pd.to_numeric(table[column], errors="coerce").astype(dtype)
    return table
