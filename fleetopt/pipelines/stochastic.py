"""`fleetopt stochastic`: the plan that hedges, solved as an extensive form, by progressive
hedging or by Benders decomposition, into a run folder (docs/model.md section 9,
docs/scenarios.md).

Before anything is written, the first scenarios are measured (fleetopt.scenarios.sizing)
and a run that cannot fit this machine or the cluster is refused (bad input, exit 2). Then
steps, each kept in `state/` as it finishes so that the same command resumes where it
stopped (progressive hedging after its last iteration, Benders after its last round):

0. the first-stage bounds: every scenario's needs, drawn one at a time on the workers;
1. the expected-value plan (the case on its forecast, `min_cost`);
2. wait and see: every scenario's two-stage model solved alone (also PH's iteration 0);
3. the first stage: one extensive-form MILP (`ef`), progressive hedging (`ph`) or the
   L-shaped method (`benders`), with a certified lower bound;
4. the plan found and the expected-value plan evaluated in every scenario (their recourse
   and costs), and on `out_of_sample` fresh scenarios of another seed.

Scenarios are built where they are solved, from (seed, index): the driver holds no list of
them (the extensive form excepted, which is one model). Subproblems run on Ray actors
(fleetopt.parallel.actors); the extensive form and Benders' master are solved here, in one
process. The run's objective is total cost (fleet + penalty), whatever the case's
`objective`, as in robust selection.
"""

from __future__ import annotations

import enum
import io
import json
import logging
import math
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from fleetopt.core.errors import CaseError, Problem, SolverError
from fleetopt.io.case import Case, Objective, case_fingerprint
from fleetopt.io.runfolder import (
    RunKind,
    normalized,
)
from fleetopt.io.schema import MAX_SCENARIO_SEED
from fleetopt.io.store import (
    run_into,
    write_bytes_atomic,
    write_json_atomic,
    write_parquet_atomic,
)
from fleetopt.model.build import OBJECTIVE_SCALE
from fleetopt.model.extensive import build_extensive
from fleetopt.model.index import ModelIndex, build_index
from fleetopt.model.inputs import model_data
from fleetopt.model.master import master_structure
from fleetopt.model.measures import rack_mix
from fleetopt.model.risk import MEAN, Risk
from fleetopt.model.stage import RackNeeds, build_stage_model, first_stage_bounds
from fleetopt.parallel.actors import StagePool, rack_needs
from fleetopt.parallel.farm import connect
from fleetopt.pipelines.plan import plan_case
from fleetopt.pipelines.runs import FarmSettings
from fleetopt.results.stochastic import (
    EXPECTED_VALUE_PLAN,
    STOCHASTIC_PLAN,
    WAIT_AND_SEE_PLAN,
    Estimate,
    OutOfSample,
    StochasticSummary,
)
from fleetopt.results.summary import TOTAL_COST
from fleetopt.results.tables import clean_solution, orders_table
from fleetopt.scenarios.draws import draw, draw_many
from fleetopt.scenarios.job import conform_results, for_workers
from fleetopt.scenarios.sizing import available_bytes, probe, refusal
from fleetopt.scenarios.stage import RECOURSE_COLUMNS, STAGE_RESULT_COLUMNS, StageJob
from fleetopt.solve.benders import (
    BendersSettings,
    BendersState,
    Cuts,
    CutTask,
    Phase,
    decompose,
)
from fleetopt.solve.deadline import Deadline
from fleetopt.solve.hedging import (
    HedgingSettings,
    HedgingState,
    Reply,
    Task,
    TaskKind,
    hedge,
    make_bundles,
)
from fleetopt.solve.mathopt import OPTIMAL_GAP, relative_gap, solve_model
from fleetopt.solve.result import SolveStatus

# `auto` solves the extensive form up to this size, and Benders decomposition beyond
# (docs/scenarios.md, benchmarks/README.md): measured on 2 cores, EF reached a 1% gap faster
# than progressive hedging at every size tried, and Benders faster than both beyond it.
EF_MAX_COLUMNS = 250_000
SUBPROBLEM_GAP_SHARE = 0.1  # subproblems are solved to this share of the target gap
Z95 = 1.959963984540054  # the normal 97.5% quantile, for 95% intervals
SAMPLE, OUT_OF_SAMPLE = 0, 1  # scenario sets: the run's own, and fresh ones

log = logging.getLogger(__name__)


class Method(enum.StrEnum):
    EF = "ef"  # the extensive form: one MILP
    PH = "ph"  # progressive hedging on Ray actors
    BENDERS = "benders"  # the L-shaped method, subproblems on Ray actors
    AUTO = "auto"  # by size: ef up to EF_MAX_COLUMNS columns, else benders


@dataclass(frozen=True)
class StochasticSettings:
    """How to solve the two-stage program and what to check it on."""

    method: Method = Method.AUTO
    risk: Risk = MEAN
    gap: float = 0.01  # certified relative gap to stop at
    max_iterations: int = 100
    time_limit_s: float = 900.0
    out_of_sample: int = 100
    out_of_sample_seed: int | None = None  # default: the run's seed + 1
    cuts: Cuts = Cuts.MULTI  # Benders: one cut per scenario, or one aggregated

    def oos_seed(self, seed: int) -> int:
        if self.out_of_sample_seed is not None:
            return self.out_of_sample_seed
        return (seed + 1) % (MAX_SCENARIO_SEED + 1)


def choose_method(method: Method, n_scenarios: int, stage_columns: int) -> Method:
    """`auto`: the extensive form while it has at most EF_MAX_COLUMNS columns, else Benders."""
    if method is not Method.AUTO:
        return method
    return Method.EF if n_scenarios * stage_columns <= EF_MAX_COLUMNS else Method.BENDERS


def subproblem_options(case: Case, gap: float):
    """One thread per subproblem, solved to a tenth of the target gap."""
    return replace(for_workers(case.solver), relative_gap=SUBPROBLEM_GAP_SHARE * gap)


def stochastic(
    case: Case,
    n_scenarios: int,
    out_dir: str | Path,
    farm: FarmSettings,
    settings: StochasticSettings = StochasticSettings(),
    *,
    overwrite: bool = False,
) -> dict:
    """Solve the two-stage program on scenarios 0..n-1 into `out_dir`; returns its summary.

    The same run resumes (or returns its summary once complete); a run with other
    parameters there is refused unless `overwrite`.
    """
    out = Path(out_dir)
    case = case.replace(objective=Objective.MIN_COST)
    seed = case.uncertainty.seed
    params = normalized(
        {
            "case": case_fingerprint(case),
            "seed": seed,
            "scenarios": n_scenarios,
            "method": settings.method.value,
            "risk": settings.risk.as_params(),
            "gap": settings.gap,
            "max_iterations": settings.max_iterations,
            "time_limit_s": settings.time_limit_s,
            "out_of_sample": settings.out_of_sample,
            "out_of_sample_seed": settings.oos_seed(seed),
            "solver": subproblem_options(case, settings.gap).as_params(),
            "cuts": settings.cuts.value,
        }
    )
    check_size(case, n_scenarios, farm, settings)
    summary = run_into(
        out,
        RunKind.STOCHASTIC,
        params,
        lambda: StochasticRun(case, n_scenarios, out, farm, settings).run(),
        overwrite=overwrite,
    )
    shutil.rmtree(out / "state", ignore_errors=True)
    return summary


def check_size(case: Case, n_scenarios: int, farm: FarmSettings, settings: StochasticSettings):
    """Refuse (bad input, exit 2) a run that cannot fit this machine or the cluster, as
    measured on its first scenarios; joins (or starts) the Ray cluster to ask it."""
    options = subproblem_options(case, settings.gap)
    sizing = probe(case, n_scenarios, options, settings.risk, farm.workers, settings.out_of_sample)
    method = choose_method(settings.method, n_scenarios, sizing.columns)
    cluster = connect(farm.address, farm.workers)
    why = refusal(
        sizing,
        method.value,
        settings.max_iterations,
        multi_cut=settings.cuts is Cuts.MULTI,
        available=available_bytes(),
        cluster_bytes=cluster.get("memory"),
    )
    log.info(
        "%d scenarios: about %.0f s of solves without a time limit on %d worker(s)",
        n_scenarios,
        sizing.solve_seconds(),
        farm.workers,
    )
    if why is not None:
        raise CaseError([Problem(file="-n/--scenarios", message=why)])


class StochasticRun:
    """One run's steps; each finished step is kept in `state/` and skipped on resume."""

    def __init__(
        self, case: Case, n: int, out: Path, farm: FarmSettings, settings: StochasticSettings
    ):
        self.case, self.n, self.out, self.farm, self.settings = case, n, out, farm, settings
        self.state = out / "state"
        self.state.mkdir(exist_ok=True)
        self.index: ModelIndex = build_index(case)
        self.p = np.full(n, 1.0 / n)
        self.risk = settings.risk
        self.seeds = (case.uncertainty.seed, settings.oos_seed(case.uncertainty.seed))
        self.options = subproblem_options(case, settings.gap)
        self.evaluated: dict[bytes, list[Reply]] = {}  # plan -> its reported evaluation

    def data(self, scenario: int):
        """Scenario `scenario`'s numbers, drawn from (seed, scenario)."""
        return model_data(self.index, draw(self.index, self.case.uncertainty, scenario))

    def run(self) -> dict:
        connect(self.farm.address, self.farm.workers)
        self.first_bounds = self._first_stage_bounds()
        self.stage0 = build_stage_model(
            self.index, self.case, self.data(0), self.first_bounds, self.risk
        )
        self.method = choose_method(self.settings.method, self.n, self.stage0.model.n_variables)
        job = StageJob(self.case, self.options, self.first_bounds, self.risk, self.seeds)
        pool = StagePool(job, self.farm.workers, self.farm.chunk)
        try:
            ev_plan, ev_message = self._expected_value()
            self._wait_and_see(pool)
            solution = self._first_stage(pool, ev_plan)
            plans = {STOCHASTIC_PLAN: np.asarray(solution["plan"])}
            if ev_plan is not None:
                plans[EXPECTED_VALUE_PLAN] = ev_plan
            rows, recourse = self._evaluate(pool, plans, SAMPLE, self.n)
            oos, _ = self._evaluate(pool, plans, OUT_OF_SAMPLE, self.settings.out_of_sample)
            nodes = len(set(pool.nodes()))
        finally:
            pool.close()
        ws_rows = pd.read_parquet(self.state / "ws.parquet")
        ws_recourse = pd.read_parquet(self.state / "ws-recourse.parquet")
        self._write_tables(solution, rows, ws_rows, recourse, ws_recourse, oos)
        return self._summary(solution, rows, ws_rows, oos, ev_message, nodes).to_json()

    # --- steps ---------------------------------------------------------------------------

    def _first_stage_bounds(self):
        """The first stage's bounds from every scenario's needs, gathered on the workers."""
        path = self.state / "first-stage-needs.npz"
        if not path.exists():
            needs = rack_needs(self.case, self.seeds[SAMPLE], self.n, self.farm.workers)
            write_bytes_atomic(path, _npz(n=needs.n, b=needs.b))
        with np.load(path) as saved:
            needs = RackNeeds(saved["n"], saved["b"])
        return first_stage_bounds(self.index, self.case, needs)

    def _expected_value(self) -> tuple[np.ndarray | None, str]:
        """The expected-value plan's first stage (None, and why, if it has none)."""
        path = self.state / "expected-value.json"
        if not path.exists():
            outcome = plan_case(self.case, index=self.index)
            payload = {"counts": None, "new": None, "message": ""}
            if outcome.x is not None:
                layout = outcome.result.model.layout
                payload["counts"] = outcome.x[layout.n].tolist()
                payload["new"] = outcome.x[layout.b].tolist()
            else:
                payload["message"] = (
                    f"the expected-value plan could not be solved: {outcome.summary.status}"
                )
            write_json_atomic(path, payload)
        payload = json.loads(path.read_text())
        if payload["counts"] is None:
            return None, payload["message"]
        return self._first_of(np.asarray(payload["counts"]), np.asarray(payload["new"])), ""

    def _first_of(self, counts: np.ndarray, new: np.ndarray) -> np.ndarray:
        """A first stage from a plan's racks in service per `sr` row and new racks per `buy`
        row (eta, where there is one, at 0)."""
        x = np.zeros(self.stage0.model.n_variables)
        layout = self.stage0.model.layout
        x[layout.n], x[layout.b] = counts, new
        return x[self.stage0.first_cols]

    def _wait_and_see(self, pool: StagePool) -> None:
        """Every scenario alone, its first stage its own (WS), reported."""
        path = self.state / "ws.parquet"
        if path.exists():
            return
        tasks = [Task((k,), TaskKind.FREE, report=True) for k in range(self.n)]
        replies = pool.solve(tasks)
        for reply in replies:
            if not reply.status.has_plan:
                raise SolverError(
                    f"scenario {reply.scenarios[0]}'s wait-and-see solve ended"
                    f" {reply.status.value}: {reply.message}"
                )
        results, recourse = _gather(replies, WAIT_AND_SEE_PLAN)
        write_parquet_atomic(self.state / "ws-recourse.parquet", recourse)
        write_parquet_atomic(path, results)

    def _first_stage(self, pool: StagePool, ev_plan: np.ndarray | None) -> dict:
        """The plan, its certified lower bound and how it was found (scaled units)."""
        path = self.state / "solution.json"
        if not path.exists():
            started = time.perf_counter()
            if self.method is Method.EF:
                solution = self._extensive()
            elif self.method is Method.PH:
                solution = self._hedge(pool)
            else:
                solution = self._benders(pool, ev_plan)
            solution["seconds"] = time.perf_counter() - started
            write_json_atomic(path, solution)
        return json.loads(path.read_text())

    def _extensive(self) -> dict:
        stages = [
            build_stage_model(self.index, self.case, self.data(k), self.first_bounds, self.risk)
            for k in range(self.n)
        ]
        ef = build_extensive(stages, self.p)
        options = replace(
            self.case.solver,
            relative_gap=self.settings.gap,
            time_limit_s=self.settings.time_limit_s,
        )
        deadline = Deadline.after(self.settings.time_limit_s, hold=True)
        solution = solve_model(ef.model, options, deadline=deadline)
        if solution.x is None:
            raise SolverError(
                f"the extensive form ended {solution.status.value}"
                f"{': ' + solution.message if solution.message else ''}; try --method ph"
            )
        x = clean_solution(ef.model, solution.x)
        plan = ef.scenario_x(x, 0)[self.stage0.first_cols]
        row = {
            "iteration": 0,
            "lower_bound": solution.bound,
            "upper_bound": solution.objective,
            "gap": solution.gap,
            "solve_seconds": solution.seconds,
            "elapsed_seconds": solution.seconds,
        }
        return {
            "plan": plan.tolist(),
            "lower_bound": solution.bound,
            "iterations": 0,
            "history": [row],
            "message": solution.message,
            "stopped": f"the extensive form ended {solution.status.value}",
            "columns": ef.model.n_variables,
        }

    def _hedge(self, pool: StagePool) -> dict:
        path = self.state / "hedging.json"
        state = load_hedging(path) if path.exists() else None
        bundles = make_bundles(self.n, self.stage0.model.n_variables)
        settings = HedgingSettings(
            gap=self.settings.gap,
            max_iterations=self.settings.max_iterations,
            time_limit_s=self.settings.time_limit_s,
        )

        def checkpoint(state: HedgingState) -> None:
            save_hedging(path, state)
            log.info(
                "hedging: iteration %d of at most %d, certified gap %.2e",
                state.iteration,
                settings.max_iterations,
                state.gap,
            )

        state = hedge(self.stage0, bundles, self.p, pool.solve, settings, state, checkpoint)
        return {
            "plan": state.plan.tolist(),
            "lower_bound": state.lower_bound,
            "iterations": state.iteration,
            "history": state.history,
            "message": f"progressive hedging stopped: {state.stopped}",
            "stopped": state.stopped,
            "bundles": len(bundles),
        }

    def _benders(self, pool: StagePool, ev_plan: np.ndarray | None) -> dict:
        path = self.state / "benders.npz"
        state = load_benders(path) if path.exists() else None
        settings = BendersSettings(
            gap=self.settings.gap,
            max_rounds=self.settings.max_iterations,
            time_limit_s=self.settings.time_limit_s,
            cuts=self.settings.cuts,
        )

        def solve(tasks: list) -> list:
            cuts = bool(tasks) and isinstance(tasks[0], CutTask)
            return pool.solve(tasks, pin=(lambda task: task.scenario) if cuts else None)

        def evaluate(plan: np.ndarray) -> np.ndarray:
            """A plan's integer-recourse costs, its reported rows kept for step 4."""
            tasks = [Task((k,), TaskKind.EVALUATE, plan=plan, report=True) for k in range(self.n)]
            replies = pool.solve(tasks)
            costs = np.array([r.cost if r.status.has_plan else np.inf for r in replies])
            value = self.risk.value(costs, self.p)
            if value < best[0]:  # the plan Benders will return is the best evaluated
                best[0] = value
                self.evaluated = {plan.tobytes(): replies}
            return costs

        best = [np.inf]

        def checkpoint(state: BendersState) -> None:
            save_benders(path, state)
            log.info(
                "benders: round %d (%s phase) of at most %d, certified gap %.2e",
                state.round,
                state.phase.value,
                settings.max_rounds,
                state.gap,
            )

        state = decompose(
            self.stage0,
            master_structure(self.stage0),
            self.p,
            solve,
            settings,
            self.case.solver,
            starts=[ev_plan] if ev_plan is not None else [],
            state=state,
            checkpoint=checkpoint,
            evaluate=evaluate,
        )
        if state.plan is None:
            raise SolverError(f"Benders decomposition found no plan: {state.stopped}")
        return {
            "plan": state.plan.tolist(),
            "lower_bound": state.lower_bound,
            "iterations": state.round,
            "history": state.history,
            "message": f"Benders decomposition stopped: {state.stopped}",
            "stopped": state.stopped,
            "cuts": len(state.cut_constant),
        }

    def _evaluate(
        self, pool: StagePool, plans: dict[str, np.ndarray], sample: int, n: int
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Each plan's first stage fixed in scenarios 0..n-1 of `sample`: rows, recourse."""
        name = "evaluate" if sample == SAMPLE else "out-of-sample"
        path = self.state / f"{name}.parquet"
        if not path.exists():
            tables = []
            for plan, first in plans.items():
                tasks = [
                    Task((k,), TaskKind.EVALUATE, plan=first, report=True, sample=sample)
                    for k in range(n)
                ]
                known = self.evaluated.get(first.tobytes()) if sample == SAMPLE else None
                tables.append(_gather(known or pool.solve(tasks), plan))
            write_parquet_atomic(
                self.state / f"{name}-recourse.parquet",
                pd.concat([t[1] for t in tables], ignore_index=True),
            )
            write_parquet_atomic(path, pd.concat([t[0] for t in tables], ignore_index=True))
        return pd.read_parquet(path), pd.read_parquet(self.state / f"{name}-recourse.parquet")

    # --- outputs -------------------------------------------------------------------------

    def _write_tables(self, solution, rows, ws_rows, recourse, ws_recourse, oos) -> None:
        out = self.out
        x = np.zeros(self.stage0.model.n_variables)
        x[self.stage0.first_cols] = solution["plan"]
        racks = rack_mix(self.index, x[self.stage0.model.layout.n])
        if self.index.multi_period:  # the first period's racks, and every order placed now
            racks = racks[racks["period"] == self.case.periods[0]].reset_index(drop=True)
            write_parquet_atomic(
                out / "orders.parquet", orders_table(self.index, self.stage0.model, x)
            )
        history = pd.DataFrame(solution["history"])
        for column in ("lower_bound", "upper_bound", "relaxed_objective"):
            if column in history:
                history[column] = history[column] / OBJECTIVE_SCALE
        results = pd.concat([rows, ws_rows], ignore_index=True)
        write_parquet_atomic(
            out / "scenarios.parquet", draw_many(self.index, self.case.uncertainty, range(self.n))
        )
        write_parquet_atomic(out / "racks.parquet", racks)
        write_parquet_atomic(out / "results.parquet", results)
        write_parquet_atomic(
            out / "recourse.parquet", pd.concat([recourse, ws_recourse], ignore_index=True)
        )
        write_parquet_atomic(out / "convergence.parquet", history)
        columns = [
            "scenario",
            "plan",
            "status",
            TOTAL_COST,
            "unmet_share",
            "shortfall_share",
            "recourse_racks",
        ]
        write_parquet_atomic(out / "out_of_sample.parquet", oos[columns])

    def _summary(self, solution, rows, ws_rows, oos, ev_message, nodes) -> StochasticSummary:
        p, risk = self.p, self.risk
        rp = _costs(rows, STOCHASTIC_PLAN, self.n)
        ws = _costs(ws_rows, WAIT_AND_SEE_PLAN, self.n)
        ev = (
            _costs(rows, EXPECTED_VALUE_PLAN, self.n)
            if EXPECTED_VALUE_PLAN in set(rows["plan"])
            else None
        )
        r_rp, r_ws = risk.contributions(rp, p), risk.contributions(ws, p)
        objective = float(p @ r_rp)
        lower = solution["lower_bound"] / OBJECTIVE_SCALE
        gap = relative_gap(objective, lower)
        r_ev = risk.contributions(ev, p) if ev is not None else None
        chosen = rows[rows["plan"] == STOCHASTIC_PLAN]
        oos_plans = {
            plan: _out_of_sample(group, risk) for plan, group in oos.groupby("plan", sort=False)
        }
        message = "; ".join(m for m in (solution["message"], ev_message) if m)
        return StochasticSummary(
            status=(SolveStatus.OPTIMAL if gap <= OPTIMAL_GAP else SolveStatus.FEASIBLE).value,
            method=self.method.value,
            case=self.case.name,
            scenarios=self.n,
            seed=self.seeds[SAMPLE],
            risk=risk.as_params(),
            objective=Estimate(objective, _se(r_rp)),
            lower_bound=lower,
            gap=gap,
            ev_objective=Estimate(float(p @ r_ev), _se(r_ev))
            if r_ev is not None
            else Estimate(None),
            wait_and_see=Estimate(float(p @ r_ws), _se(r_ws)),
            vss=Estimate(float(p @ (r_ev - r_rp)), _se(r_ev - r_rp))
            if r_ev is not None
            else Estimate(None),
            evpi=Estimate(float(p @ (r_rp - r_ws)), _se(r_rp - r_ws)),
            probability_shortfall=float((chosen["shortfall_share"] > SHORTFALL_ZERO).mean()),
            expected_recourse_racks=float(chosen["recourse_racks"].mean()),
            out_of_sample_scenarios=self.settings.out_of_sample,
            out_of_sample_seed=self.seeds[OUT_OF_SAMPLE],
            out_of_sample=oos_plans,
            iterations=int(solution["iterations"]),
            solve_seconds=float(solution["seconds"]),
            message=message,
            recourse_capex_premium=self.case.recourse_capex_premium,
            nodes=nodes,
        )


SHORTFALL_ZERO = 1e-9  # a shortfall share below this is solver noise


def _gather(replies: list[Reply], plan: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reported replies' rows, labelled with the plan, in the results schema."""
    results = pd.concat([r.detail.results for r in replies], ignore_index=True).assign(plan=plan)
    recourse = pd.concat([r.detail.recourse for r in replies], ignore_index=True).assign(plan=plan)
    return conform_results(results, STAGE_RESULT_COLUMNS), recourse.astype(RECOURSE_COLUMNS)


def _costs(rows: pd.DataFrame, plan: str, n: int) -> np.ndarray:
    """A plan's total cost per scenario 0..n-1, in USD per year."""
    mine = rows[rows["plan"] == plan].set_index("scenario")[TOTAL_COST]
    return mine.reindex(range(n)).to_numpy(dtype=float)


def _se(values: np.ndarray) -> float | None:
    """Standard error of a mean over equally likely scenarios."""
    if len(values) < 2:
        return None
    return float(np.std(values, ddof=1) / math.sqrt(len(values)))


def _out_of_sample(rows: pd.DataFrame, risk: Risk) -> OutOfSample:
    costs = rows[TOTAL_COST].to_numpy(dtype=float)
    p = np.full(len(costs), 1.0 / len(costs))
    mean, se = float(costs.mean()), _se(costs)
    half = Z95 * se if se is not None else None
    return OutOfSample(
        mean=mean,
        se=se,
        ci95_low=mean - half if half is not None else None,
        ci95_high=mean + half if half is not None else None,
        risk=risk.value(costs, p),
        probability_shortfall=float((rows["shortfall_share"] > SHORTFALL_ZERO).mean()),
    )


# --- progressive hedging's checkpoint ------------------------------------------------------

_ARRAYS = ("probabilities", "x", "xbar", "weights", "rho", "ref", "cut_cols", "cut_points")


def save_hedging(path: Path, state: HedgingState) -> None:
    """The state as JSON (floats round-trip exactly), written atomically."""
    payload = {
        "bundles": [list(b) for b in state.bundles],
        **{name: getattr(state, name).tolist() for name in _ARRAYS},
        "lower_bound": state.lower_bound,
        "upper_bound": state.upper_bound,
        "plan": None if state.plan is None else state.plan.tolist(),
        "plan_costs": None if state.plan_costs is None else state.plan_costs.tolist(),
        "tried": state.tried,
        "iteration": state.iteration,
        "elapsed_s": state.elapsed_s,
        "stopped": state.stopped,
        "history": state.history,
    }
    write_json_atomic(path, payload)


def load_hedging(path: Path) -> HedgingState:
    data = json.loads(path.read_text())
    arrays = {name: np.asarray(data[name]) for name in _ARRAYS}
    arrays["cut_cols"] = arrays["cut_cols"].astype(np.int64)
    return HedgingState(
        bundles=[tuple(b) for b in data["bundles"]],
        **arrays,
        lower_bound=data["lower_bound"],
        upper_bound=data["upper_bound"],
        plan=None if data["plan"] is None else np.asarray(data["plan"]),
        plan_costs=None if data["plan_costs"] is None else np.asarray(data["plan_costs"]),
        tried=data["tried"],
        iteration=data["iteration"],
        elapsed_s=data["elapsed_s"],
        stopped=data["stopped"],
        history=data["history"],
    )


# --- Benders' checkpoint -------------------------------------------------------------------

_BENDERS_ARRAYS = (
    "probabilities",
    "cut_scenario",
    "cut_constant",
    "cut_slope",
    "bases",
    "points",
    "point_relaxed",
    "point_whole",
    "point_integer",
)


def _npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def save_benders(path: Path, state: BendersState) -> None:
    """The state in one .npz (arrays, and the rest as JSON), written atomically."""
    scalars = {
        "aggregated": state.aggregated,
        "phase": state.phase.value,
        "lam": state.lam,
        "best_in": state.best_in,
        "stalled": state.stalled,
        "lower_bound": state.lower_bound,
        "upper_bound": state.upper_bound,
        "round": state.round,
        "elapsed_s": state.elapsed_s,
        "stopped": state.stopped,
        "history": state.history,
    }
    plan = {} if state.plan is None else {"plan": state.plan, "plan_costs": state.plan_costs}
    arrays = {name: getattr(state, name) for name in _BENDERS_ARRAYS}
    write_bytes_atomic(path, _npz(**arrays, **plan, scalars=np.array(json.dumps(scalars))))


def load_benders(path: Path) -> BendersState:
    with np.load(path) as saved:
        scalars = json.loads(str(saved["scalars"]))
        arrays = {name: saved[name] for name in _BENDERS_ARRAYS}
        plan = saved.get("plan")
        plan_costs = saved.get("plan_costs")
    return BendersState(
        **arrays,
        aggregated=scalars["aggregated"],
        phase=Phase(scalars["phase"]),
        lam=scalars["lam"],
        best_in=scalars["best_in"],
        stalled=scalars["stalled"],
        lower_bound=scalars["lower_bound"],
        upper_bound=scalars["upper_bound"],
        plan=plan,
        plan_costs=plan_costs,
        round=scalars["round"],
        elapsed_s=scalars["elapsed_s"],
        stopped=scalars["stopped"],
        history=scalars["history"],
    )
