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
4. the plan found, the expected-value plan and any plan given to compare (the nightly's
   robust choice) evaluated in every scenario (their recourse and costs: the same futures,
   the same shortfall rule, so each difference is paired), and on `out_of_sample` fresh
   scenarios of another seed;
5. with `replications` R: the multiple-replication procedure (docs/model.md section 9), R
   batches of N scenarios of other seeds, each solved (steps 0 and 3) and the plan found
   evaluated on it, in its own folder `state/replications/batch-g/`, kept batch by batch.

Scenarios are built where they are solved, from (seed, index): the driver holds no list of
them (the extensive form excepted, which is one model). Subproblems run on Ray actors
(fleetopt.parallel.actors); the extensive form and Benders' master are solved here, in one
process. The run's objective is total cost (fleet + penalty), whatever the case's
`objective`, as in robust selection.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
import time
from collections.abc import Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fleetopt.core import formats
from fleetopt.core.errors import CaseError, InfeasibleError, Problem, SolverError
from fleetopt.core.stats import (
    SHORTFALL_THRESHOLD,
    Z95,
    share_above,
    standard_error,
    t_quantile,
)
from fleetopt.io.case import Case, Objective, case_fingerprint
from fleetopt.io.runfolder import (
    RunKind,
    normalized,
)
from fleetopt.io.store import (
    run_into,
    write_bytes_atomic,
    write_json_atomic,
    write_parquet_atomic,
)
from fleetopt.model.bounds import RackBounds
from fleetopt.model.build import OBJECTIVE_SCALE, build_evaluate_model
from fleetopt.model.costs import check_shortfall_priced
from fleetopt.model.index import ModelIndex, build_index
from fleetopt.model.inputs import ModelData, model_data
from fleetopt.model.master import master_structure
from fleetopt.model.measures import rack_mix
from fleetopt.model.reliability import held_shortfall, shortfall_caps
from fleetopt.model.risk import Risk
from fleetopt.model.stage import RackNeeds, build_stage_model, first_stage_bounds
from fleetopt.parallel.actors import StagePool, rack_needs
from fleetopt.parallel.farm import connect
from fleetopt.parallel.progress import Progress, announce
from fleetopt.pipelines.options import FarmSettings, Method, ScenarioOptions, StochasticSettings
from fleetopt.pipelines.plan import expected_value_plan
from fleetopt.pipelines.reliability import (
    TARGET_OPTION,
    check_method,
    extensive_form,
    recorded,
    shortfall_curve,
    solve_extensive,
)
from fleetopt.results.runs import Estimate
from fleetopt.results.schema import read_summary, write_summary
from fleetopt.results.stochastic import (
    EXPECTED_VALUE_PLAN,
    REPLICATION_COLUMNS,
    STOCHASTIC_PLAN,
    WAIT_AND_SEE_PLAN,
    CurvePoint,
    OutOfSample,
    PlanComparison,
    ReplicationBatch,
    ReplicationGap,
    RiskMeasure,
    StochasticSummary,
    curve_table,
)
from fleetopt.results.summary import TOTAL_COST
from fleetopt.results.tables import clean_solution, orders_table
from fleetopt.scenarios.draws import draw, draw_many
from fleetopt.scenarios.job import conform_results, for_workers
from fleetopt.scenarios.sizing import available_bytes, probe, refusal
from fleetopt.scenarios.stage import RECOURSE_COLUMNS, STAGE_RESULT_COLUMNS, StageJob, StageResult
from fleetopt.solve.benders import BendersState, Cuts, Phase, decompose
from fleetopt.solve.hedging import (
    HedgingState,
    Reply,
    Task,
    TaskKind,
    hedge,
    make_bundles,
)
from fleetopt.solve.mathopt import OPTIMAL_GAP, relative_gap, solve_model
from fleetopt.solve.result import CONVERGENCE_COLUMNS, ConvergenceRow, SolveStatus

# `auto` solves the extensive form up to this size, and Benders decomposition beyond
# (docs/scenarios.md, benchmarks/README.md): measured on 2 cores, EF reached a 1% gap faster
# than progressive hedging at every size tried, and Benders faster than both beyond it.
EF_MAX_COLUMNS = 250_000
SUBPROBLEM_GAP_SHARE = 0.1  # subproblems are solved to this share of the target gap
SAMPLE, OUT_OF_SAMPLE = 0, 1  # scenario sets: the run's own, and fresh ones
MRP_TAG = 0x4D5250  # "MRP": the replication batches' seeds (docs/model.md section 9)
MRP_CONFIDENCE = 0.95  # the one-sided confidence of the gap's upper bound
CANDIDATE_PLAN = "candidate"  # the run's plan, evaluated on a replication batch

log = logging.getLogger(__name__)


def choose_method(
    method: Method, n_scenarios: int, stage_columns: int, *, coupled: bool = False
) -> Method:
    """`auto`: the extensive form while it has at most EF_MAX_COLUMNS columns, else Benders;
    always the extensive form where a reliability target couples the scenarios (`coupled`)."""
    if method is not Method.AUTO:
        return method
    if coupled:
        return Method.EF
    return Method.EF if n_scenarios * stage_columns <= EF_MAX_COLUMNS else Method.BENDERS


def subproblem_options(case: Case, gap: float):
    """One thread per subproblem, solved to a tenth of the target gap."""
    return replace(for_workers(case.solver), relative_gap=SUBPROBLEM_GAP_SHARE * gap)


def stochastic(
    case: Case,
    out_dir: str | Path,
    run: ScenarioOptions,
    settings: StochasticSettings,
    compare: Mapping[str, np.ndarray] | None = None,
) -> StochasticSummary:
    """Solve the two-stage program on scenarios 0..n-1 into `out_dir`; returns its summary.

    `compare`: other plans (racks in service per `sr` row, the whole schedule) whose orders
    now are evaluated beside the plan found, in the same scenarios (`compared` in the
    summary). The same run resumes (or returns its summary once complete); a run with other
    parameters there is refused unless `run.overwrite`.
    """
    compare = dict(compare or {})
    check_settings(case, settings)
    n_scenarios, stop = run.scenarios, settings.stop
    out = Path(out_dir)
    case = case.replace(objective=Objective.MIN_COST)
    seed = case.uncertainty.seed
    target = settings.reliability
    params = normalized(
        {
            "case": case_fingerprint(case),
            "seed": seed,
            "scenarios": n_scenarios,
            "method": settings.method.value,
            "risk": settings.risk.as_params(),
            "gap": stop.gap,
            "max_iterations": stop.max_iterations,
            "time_limit_s": stop.time_limit_s,
            "out_of_sample": settings.out_of_sample,
            "out_of_sample_seed": settings.oos_seed(seed),
            "solver": subproblem_options(case, stop.gap).as_params(),
            "cuts": settings.cuts.value,
            **({"compare": {k: _digest(v) for k, v in compare.items()}} if compare else {}),
            "reliability": None if target is None else target.as_params(),
            "shortfall_curve": [point.as_params() for point in settings.shortfall_curve],
            # only when asked, so that earlier runs keep their identity
            **({"replications": settings.replications} if settings.replications else {}),
        }
    )
    check_size(case, n_scenarios, run.farm, settings)
    summary = run_into(
        out,
        RunKind.STOCHASTIC,
        params,
        lambda: StochasticRun(case, n_scenarios, out, run.farm, settings, compare).run(),
        write=write_summary,
        read=lambda folder: read_summary(folder, StochasticSummary),
        overwrite=run.overwrite,
    )
    shutil.rmtree(out / "state", ignore_errors=True)
    return summary


def replication_seeds(seed: int, replications: int) -> list[int]:
    """The uncertainty seed of each replication batch g = 1..R: SeedSequence([seed, MRP_TAG,
    g])'s first 32-bit word: 0..2^32 - 1, the case format's seeds (docs/model.md section 9)."""
    return [
        int(np.random.SeedSequence([seed, MRP_TAG, g]).generate_state(1, np.uint32)[0])
        for g in range(1, replications + 1)
    ]


def check_settings(case: Case, settings: StochasticSettings) -> None:
    """Refuse (bad input, exit 2) a program that is not priced, a method the target rules
    out and replications that cannot be run: before anything is solved (the nightly calls
    it before its first stage)."""
    check_shortfall_priced(case)
    check_method(settings)
    check_replications(settings, case.uncertainty.seed)


def check_replications(settings: StochasticSettings, seed: int) -> None:
    """Refuse (bad input, exit 2) R = 1 (no interval from one batch) and batch seeds that
    coincide with the run's, the out-of-sample check's or each other (odds about R / 2^32)."""
    r = settings.replications
    if r == 0:
        return
    where = "--replications"
    if r < 2:
        message = f"{r} batch(es) give no interval (no standard error): use 0 (off) or >= 2"
        raise CaseError([Problem(file=where, message=message)])
    if settings.reliability is not None:
        message = (
            f"the replications' gap needs the priced program: not with {TARGET_OPTION}"
            " (a batch's optimum would be held to the target, the plan's cost on it not)"
        )
        raise CaseError([Problem(file=where, message=message)])
    seeds = replication_seeds(seed, r)
    taken = {seed, settings.oos_seed(seed)}
    if len(set(seeds)) < r or taken & set(seeds):
        message = f"a batch seed of {seeds} repeats the run's or the out-of-sample seed {taken}"
        raise CaseError([Problem(file=where, message=message)])


def check_size(case: Case, n_scenarios: int, farm: FarmSettings, settings: StochasticSettings):
    """Refuse (bad input, exit 2) a run that cannot fit this machine or the cluster, as
    measured on its first scenarios; joins (or starts) the Ray cluster to ask it."""
    options = subproblem_options(case, settings.stop.gap)
    sizing = probe(case, n_scenarios, options, settings.risk, farm.workers, settings.out_of_sample)
    method = choose_method(
        settings.method, n_scenarios, sizing.columns, coupled=settings.couples_scenarios
    )
    cluster = connect(farm.address, farm.workers)
    why = refusal(
        sizing,
        method.value,
        settings.stop.max_iterations,
        multi_cut=settings.cuts is Cuts.MULTI,
        available=available_bytes(),
        cluster_bytes=cluster.get("memory"),
    )
    log.info(
        "%d scenarios: about %s of solves without a time limit on %d worker(s)",
        n_scenarios,
        formats.seconds(sizing.solve_seconds()),
        farm.workers,
    )
    if why is not None:
        raise CaseError([Problem(file="-n/--scenarios", message=why)])


class StochasticRun:
    """One run's steps; each finished step is kept in `state/` and skipped on resume."""

    def __init__(
        self,
        case: Case,
        n: int,
        out: Path,
        farm: FarmSettings,
        settings: StochasticSettings,
        compare: Mapping[str, np.ndarray] | None = None,
    ):
        self.case, self.n, self.out, self.farm, self.settings = case, n, out, farm, settings
        self.compare = dict(compare or {})
        self.state = out / "state"
        self.state.mkdir(exist_ok=True)
        self.index: ModelIndex = build_index(case)
        self.p = np.full(n, 1.0 / n)
        self.risk = settings.risk
        self.seeds = (case.uncertainty.seed, settings.oos_seed(case.uncertainty.seed))
        self.options = subproblem_options(case, settings.stop.gap)
        self.evaluated: dict[bytes, list[Reply]] = {}  # plan -> its reported evaluation
        self.caps: np.ndarray | None = None  # per scenario, u at most (a reliability target)

    def data(self, scenario: int) -> ModelData:
        """Scenario `scenario`'s numbers, drawn from (seed, scenario)."""
        return model_data(self.index, draw(self.index, self.case.uncertainty, scenario))

    def _start(self) -> StagePool:
        """The first-stage bounds (step 0), the method, and the actors for this run's job."""
        connect(self.farm.address, self.farm.workers)
        self.first_bounds = self._first_stage_bounds()
        self.stage0 = build_stage_model(
            self.index, self.case, self.data(0), self.first_bounds, self.risk
        )
        self.method = choose_method(
            self.settings.method,
            self.n,
            self.stage0.model.n_variables,
            coupled=self.settings.couples_scenarios,
        )
        job = StageJob(self.case, self.options, self.first_bounds, self.risk, self.seeds)
        return StagePool(job, self.farm.workers, self.farm.chunk)

    def run(self) -> StochasticSummary:
        pool = self._start()
        try:
            ev_plan = self._expected_value()
            plans = {EXPECTED_VALUE_PLAN: ev_plan}
            self._wait_and_see(pool)
            solution = self._first_stage(pool, ev_plan)
            caps = solution.get("shortfall_caps")
            self.caps = None if caps is None else np.asarray(caps, dtype=float)
            plans = {STOCHASTIC_PLAN: np.asarray(solution["plan"]), **plans}
            plans.update({name: self._first_of_schedule(c) for name, c in self.compare.items()})
            rows, recourse = self._evaluate(pool, plans, SAMPLE, self.n)
            oos, _ = self._evaluate(pool, plans, OUT_OF_SAMPLE, self.settings.out_of_sample)
            nodes = len(set(pool.nodes()))
        finally:
            pool.close()
        curve = self._shortfall_curve()
        replications = self._replications(plans[STOCHASTIC_PLAN], ev_plan)
        ws_rows = pd.read_parquet(self.state / "ws.parquet")
        ws_recourse = pd.read_parquet(self.state / "ws-recourse.parquet")
        self._write_tables(solution, rows, ws_rows, recourse, ws_recourse, oos)
        if self.settings.shortfall_curve:
            write_parquet_atomic(self.out / "shortfall_curve.parquet", curve_table(curve))
        if replications is not None:
            write_parquet_atomic(
                self.out / "replications.parquet", replications_table(replications)
            )
        return replace(
            self._summary(solution, rows, ws_rows, oos, nodes, replications),
            shortfall_curve=tuple(curve),
        )

    # --- the multiple-replication procedure (step 5) -------------------------------------

    def _replications(self, plan: np.ndarray, ev_plan: np.ndarray) -> ReplicationGap | None:
        """The plan's statistical optimality gap over R batches, each kept when done."""
        r = self.settings.replications
        if r == 0:
            return None
        seeds = replication_seeds(self.seeds[SAMPLE], r)
        batches = []
        for g, seed in enumerate(seeds, start=1):  # each batch's steps show their own progress
            announce(f"replication batch {g}/{r} ({self.n} scenarios of seed {seed})")
            batches.append(self._batch(g, seed, plan, ev_plan))
        return replication_gap(batches, self.n, self.settings.stop.gap)

    def _batch(self, g: int, seed: int, plan: np.ndarray, ev_plan: np.ndarray) -> ReplicationBatch:
        """Batch g: the case on `seed`, solved like this run (its method, risk, stopping
        rule) in its own folder, and `plan` evaluated on its scenarios."""
        folder = self.state / "replications" / f"batch-{g}"
        done = folder / "batch.json"
        if not done.exists():
            folder.mkdir(parents=True, exist_ok=True)
            case = self.case.replace(uncertainty=replace(self.case.uncertainty, seed=seed))
            settings = replace(
                self.settings, method=self.method, replications=0, shortfall_curve=()
            )
            batch = StochasticRun(case, self.n, folder, self.farm, settings)
            write_json_atomic(done, asdict(batch.replicate(g, plan, ev_plan)))
        return ReplicationBatch(**json.loads(done.read_text()))

    def replicate(self, g: int, plan: np.ndarray, ev_plan: np.ndarray) -> ReplicationBatch:
        """This run as replication batch g: its optimum (certified lower bound) and the
        objective of `plan` (the candidate's first stage, eta included) on its scenarios."""
        pool = self._start()
        try:
            solution = self._first_stage(pool, ev_plan)
            rows, _ = self._evaluate(pool, {CANDIDATE_PLAN: plan}, SAMPLE, self.n)
        finally:
            pool.close()
        eta = None
        if self.risk.has_tail:  # the candidate's own VaR level, fixed like its racks
            at = np.searchsorted(self.stage0.first_cols, self.stage0.model.layout.cols("eta"))
            eta = float(plan[int(at[0])]) / OBJECTIVE_SCALE
        costs = _costs(rows, CANDIDATE_PLAN, self.n)
        plan_cost = float(self.p @ self.risk.contributions(costs, self.p, eta))
        lower = solution["lower_bound"] / OBJECTIVE_SCALE
        uppers = [row["upper_bound"] for row in solution["history"]]
        finite = [u for u in uppers if u is not None and np.isfinite(u)]
        return ReplicationBatch(
            batch=g,
            seed=self.seeds[SAMPLE],
            lower_bound=lower,
            batch_objective=min(finite) / OBJECTIVE_SCALE if finite else float("nan"),
            plan_cost=plan_cost,
            gap=plan_cost - lower,
        )

    # --- steps ---------------------------------------------------------------------------

    def _first_stage_bounds(self) -> RackBounds:
        """The first stage's bounds from every scenario's needs, gathered on the workers."""
        path = self.state / "first-stage-needs.npz"
        if not path.exists():
            needs = rack_needs(self.case, self.seeds[SAMPLE], self.n, self.farm.workers)
            write_bytes_atomic(path, _npz(n=needs.n, b=needs.b))
        with np.load(path) as saved:
            needs = RackNeeds(saved["n"], saved["b"])
        return first_stage_bounds(self.index, self.case, needs)

    def _expected_value(self) -> np.ndarray:
        """The expected-value plan's first stage; the run fails without one (exit 3 for an
        infeasible case, fleetopt.pipelines.plan.require_plan), before any scenario runs."""
        path = self.state / "expected-value.json"
        if not path.exists():
            outcome = expected_value_plan(self.case, self.index)
            layout = outcome.result.model.layout
            x = outcome.solution
            write_json_atomic(path, {"counts": x[layout.n].tolist(), "new": x[layout.b].tolist()})
        payload = json.loads(path.read_text())
        return self._first_of(np.asarray(payload["counts"]), np.asarray(payload["new"]))

    def _first_of(self, counts: np.ndarray, new: np.ndarray) -> np.ndarray:
        """A first stage from a plan's racks in service per `sr` row and new racks per `buy`
        row (eta, where there is one, at 0)."""
        x = np.zeros(self.stage0.model.n_variables)
        layout = self.stage0.model.layout
        x[layout.n], x[layout.b] = counts, new
        return x[self.stage0.first_cols]

    def _first_of_schedule(self, counts: np.ndarray) -> np.ndarray:
        """A plan's first stage from its racks in service per `sr` row (the whole schedule):
        its new racks follow from the stock rows, solved once on the forecast (shortfall
        priced, so always solvable)."""
        model = build_evaluate_model(
            self.index, self.case, model_data(self.index), counts, shortfall=True
        )
        solution = solve_model(model, self.case.solver)
        if solution.x is None:
            raise SolverError(
                f"a plan to compare has no new racks that give its schedule: the forecast's"
                f" solve ended {solution.status.value}"
            )
        return self._first_of(np.asarray(counts, dtype=float), np.round(solution.x[model.layout.b]))

    def _wait_and_see(self, pool: StagePool) -> None:
        """Every scenario alone, its first stage its own (WS), reported."""
        path = self.state / "ws.parquet"
        if path.exists():
            return
        tasks = [Task((s,), TaskKind.FREE, report=True) for s in range(self.n)]
        replies = pool.solve(tasks, "wait and see")
        for reply in replies:
            if not reply.status.has_plan:
                raise SolverError(
                    f"scenario {reply.scenarios[0]}'s wait-and-see solve ended"
                    f" {reply.status.value}: {reply.message}"
                )
        results, recourse = _gather(replies, WAIT_AND_SEE_PLAN)
        write_parquet_atomic(self.state / "ws-recourse.parquet", recourse)
        write_parquet_atomic(path, results)

    def _first_stage(self, pool: StagePool, ev_plan: np.ndarray) -> dict:
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
        form = extensive_form(self.case, self.index, self.first_bounds, self.risk, self.n)
        stop = self.settings.stop
        options = replace(self.case.solver, relative_gap=stop.gap, time_limit_s=stop.time_limit_s)
        target = self.settings.reliability
        columns = form.ef.model.n_variables
        with Progress(f"extensive form ({columns:,d} columns)", None, unit="MILP"):
            ef, solution = solve_extensive(form, target, options)
        if target is not None and solution.status is SolveStatus.INFEASIBLE:
            raise InfeasibleError(
                f"no plan meets {TARGET_OPTION} {formats.share(target.max_probability)}"
                f" on these {self.n} scenarios (the shortfall cannot be avoided often enough)"
            )
        if solution.x is None:
            raise SolverError(
                f"the extensive form ended {solution.status.value}"
                f"{': ' + solution.message if solution.message else ''}; "
                + ("try --method ph" if target is None else "try a longer --time-limit")
            )
        x = clean_solution(ef.model, solution.x)
        plan = ef.scenario_x(x, 0)[self.stage0.first_cols]
        row = ConvergenceRow(
            iteration=0,
            lower_bound=solution.bound,
            upper_bound=solution.objective,
            gap=solution.gap,
            solve_seconds=solution.seconds,
            elapsed_seconds=solution.seconds,
        )
        caps = (
            None
            if target is None
            else shortfall_caps(form.short, held_shortfall(ef, form.short, x)).tolist()
        )
        return {
            "plan": plan.tolist(),
            "lower_bound": solution.bound,
            "iterations": 0,
            "history": [asdict(row)],
            "message": solution.message,
            "stopped": f"the extensive form ended {solution.status.value}",
            "columns": ef.model.n_variables,
            "shortfall_caps": caps,
        }

    def _shortfall_curve(self) -> list[CurvePoint]:
        """The cost-of-reliability curve's points (state/shortfall-curve.json once done)."""
        if not self.settings.shortfall_curve:
            return []
        path = self.state / "shortfall-curve.json"
        if not path.exists():
            points = shortfall_curve(
                self.case, self.first_bounds, self.n, self.settings, self.farm.workers
            )
            write_json_atomic(path, {"points": [normalized(asdict(point)) for point in points]})
        return [_curve_point(point) for point in json.loads(path.read_text())["points"]]

    def _hedge(self, pool: StagePool) -> dict:
        path = self.state / "hedging.json"
        state = load_hedging(path) if path.exists() else None
        bundles = make_bundles(self.n, self.stage0.model.n_variables)
        settings = self.settings.stop

        with Progress("progressive hedging", settings.max_iterations, unit="iterations") as shown:
            shown.advance(state.iteration if state is not None else 0)

            def checkpoint(state: HedgingState) -> None:
                save_hedging(path, state)
                shown.advance(state.iteration - shown.done, f"gap {formats.gap(state.gap)}")

            state = hedge(self.stage0, bundles, self.p, pool.solve, settings, state, checkpoint)
        return _stopped("progressive hedging", state, state.iteration, bundles=len(bundles))

    def _benders(self, pool: StagePool, ev_plan: np.ndarray) -> dict:
        path = self.state / "benders.npz"
        state = load_benders(path) if path.exists() else None
        stop = self.settings.stop

        best = [np.inf]

        def evaluate(plan: np.ndarray) -> np.ndarray:
            """A plan's integer-recourse costs, its reported rows kept for step 4."""
            tasks = [Task((s,), TaskKind.EVALUATE, plan=plan, report=True) for s in range(self.n)]
            replies = pool.solve(tasks)
            costs = np.array([r.cost if r.status.has_plan else np.inf for r in replies])
            value = self.risk.value(costs, self.p)
            if value < best[0]:  # the plan Benders will return is the best evaluated
                best[0] = value
                self.evaluated = {plan.tobytes(): replies}
            return costs

        with Progress("Benders decomposition", stop.max_iterations, unit="rounds") as shown:
            shown.advance(state.round if state is not None else 0)

            def checkpoint(state: BendersState) -> None:
                save_benders(path, state)
                note = f"{state.phase.value} phase, gap {formats.gap(state.gap)}"
                shown.advance(state.round - shown.done, note)

            state = decompose(
                self.stage0,
                master_structure(self.stage0),
                self.p,
                pool.solve,
                stop,
                self.case.solver,
                cuts=self.settings.cuts,
                starts=[ev_plan],
                state=state,
                checkpoint=checkpoint,
                evaluate=evaluate,
            )
        return _stopped("Benders decomposition", state, state.round, cuts=len(state.cut_constant))

    def _evaluate(
        self, pool: StagePool, plans: dict[str, np.ndarray], sample: int, n: int
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Each plan's first stage fixed in scenarios 0..n-1 of `sample`: rows, recourse."""
        name = "evaluate" if sample == SAMPLE else "out-of-sample"
        path = self.state / f"{name}.parquet"
        if not path.exists():
            tables: list[tuple[pd.DataFrame, pd.DataFrame]] = []
            done: dict[bytes, int] = {}  # a first stage already evaluated -> its table
            for plan, first in plans.items():
                held = self.caps if plan == STOCHASTIC_PLAN and sample == SAMPLE else None
                same = done.get(first.tobytes()) if held is None else None
                if same is not None:  # the same orders under another name: the same rows
                    results, recourse = tables[same]
                    tables.append((results.assign(plan=plan), recourse.assign(plan=plan)))
                    continue
                if held is None:  # (rows under a reliability target's caps are its own)
                    done[first.tobytes()] = len(tables)
                tasks = [
                    Task(
                        (s,),
                        TaskKind.EVALUATE,
                        plan=first,
                        report=True,
                        sample=sample,
                        shortfall_cap=None if held is None else held[s],
                    )
                    for s in range(n)
                ]
                label = f"{plan} plan, {'scenarios' if sample == SAMPLE else 'out of sample'}"
                known = self.evaluated.get(first.tobytes()) if sample == SAMPLE else None
                tables.append(_gather(known or pool.solve(tasks, label), plan))
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
        orders = orders_table(self.index, self.stage0.model, x)  # every order placed now
        if self.index.multi_period:  # and the first period's racks
            racks = racks[racks["period"] == self.case.periods[0]].reset_index(drop=True)
        else:  # one period: everything is ordered now, for the one year
            orders = orders.drop(columns=["period", "order_by_year"])
        write_parquet_atomic(out / "orders.parquet", orders)
        history = pd.DataFrame(solution["history"], columns=list(CONVERGENCE_COLUMNS))
        for column in ("lower_bound", "upper_bound", "relaxed_objective"):
            history[column] = history[column].astype(float) / OBJECTIVE_SCALE
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

    def _summary(self, solution, rows, ws_rows, oos, nodes, replications) -> StochasticSummary:
        """The plan's risk (RP) with its certified bound, and EEV, WS, VSS and EVPI as
        estimates over the scenarios (equally likely: the mean of the per-scenario risk
        contributions, differences paired scenario by scenario)."""
        p, risk = self.p, self.risk
        r_rp, r_ws, r_ev = (
            risk.contributions(_costs(table, plan, self.n), p)
            for table, plan in (
                (rows, STOCHASTIC_PLAN),
                (ws_rows, WAIT_AND_SEE_PLAN),
                (rows, EXPECTED_VALUE_PLAN),
            )
        )
        objective = Estimate.mean_of(r_rp)
        lower = solution["lower_bound"] / OBJECTIVE_SCALE
        gap = relative_gap(float(p @ r_rp), lower)
        chosen = rows[rows["plan"] == STOCHASTIC_PLAN]
        compared = {}
        for name in self.compare:
            r_other = risk.contributions(_costs(rows, name, self.n), p)
            mine = rows[rows["plan"] == name]
            compared[name] = PlanComparison(
                objective=Estimate.mean_of(r_other),
                difference=Estimate.mean_of(r_other - r_rp),
                probability_shortfall=share_above(mine["shortfall_share"], SHORTFALL_THRESHOLD),
            )
        oos_plans = {
            plan: _out_of_sample(group, risk) for plan, group in oos.groupby("plan", sort=False)
        }
        return StochasticSummary(
            status=SolveStatus.OPTIMAL if gap <= OPTIMAL_GAP else SolveStatus.FEASIBLE,
            method=self.method.value,
            case=self.case.name,
            scenarios=self.n,
            seed=self.seeds[SAMPLE],
            risk=RiskMeasure.of(risk),
            objective=objective,
            lower_bound=lower,
            gap=gap,
            ev_objective=Estimate.mean_of(r_ev),
            wait_and_see=Estimate.mean_of(r_ws),
            vss=Estimate.mean_of(r_ev - r_rp),
            evpi=Estimate.mean_of(r_rp - r_ws),
            probability_shortfall=share_above(chosen["shortfall_share"], SHORTFALL_THRESHOLD),
            expected_recourse_racks=float(chosen["recourse_racks"].mean()),
            out_of_sample_scenarios=self.settings.out_of_sample,
            out_of_sample_seed=self.seeds[OUT_OF_SAMPLE],
            out_of_sample=oos_plans,
            iterations=int(solution["iterations"]),
            solve_seconds=float(solution["seconds"]),
            message=solution["message"],
            recourse_capex_premium=self.case.recourse_capex_premium,
            nodes=nodes,
            compared=compared,
            reliability=recorded(self.settings.reliability),
            replications=replications,
        )


def replication_gap(
    batches: list[ReplicationBatch], scenarios: int, tolerance: float
) -> ReplicationGap:
    """Mak, Morton and Wood's estimate from the batches' paired gaps G_g: their mean, its
    standard error, the one-sided MRP_CONFIDENCE upper bound mean + t_{R-1} s / sqrt(R), and
    whether that bound, relative to the plan's mean objective, is within `tolerance`."""
    gaps = np.array([b.gap for b in batches])
    se = standard_error(gaps)
    assert se is not None, "at least two batches (check_replications)"
    mean = float(gaps.mean())
    high = mean + t_quantile(MRP_CONFIDENCE, len(gaps) - 1) * se
    plan_cost = float(np.mean([b.plan_cost for b in batches]))
    relative = high / abs(plan_cost) if plan_cost else float("inf")
    return ReplicationGap(
        replications=len(batches),
        scenarios=scenarios,
        confidence=MRP_CONFIDENCE,
        tolerance=tolerance,
        mean=mean,
        se=se,
        ci_high=high,
        plan_cost=plan_cost,
        relative=relative,
        suffices=bool(relative <= tolerance),
        solve_gap=float(np.mean([b.batch_objective - b.lower_bound for b in batches])),
        batches=tuple(batches),
    )


def replications_table(gap: ReplicationGap) -> pd.DataFrame:
    """replications.parquet: one row per batch."""
    return pd.DataFrame([asdict(b) for b in gap.batches], columns=list(REPLICATION_COLUMNS))


def _stopped(
    method: str, state: HedgingState | BendersState, iterations: int, **extra: int
) -> dict[str, Any]:
    """What an iterative method found (state/solution.json): its best plan, its certified
    bound, its rows and why it stopped."""
    if state.plan is None:
        raise SolverError(f"{method} found no plan: {state.stopped}")
    return {
        "plan": state.plan.tolist(),
        "lower_bound": state.lower_bound,
        "iterations": iterations,
        "history": [asdict(row) for row in state.history],
        "message": f"{method} stopped: {state.stopped}",
        "stopped": state.stopped,
        **extra,
    }


def _digest(counts: np.ndarray) -> str:
    """A plan's racks per `sr` row, as a short fingerprint for the run's parameters."""
    return hashlib.sha256(np.asarray(counts, dtype=float).tobytes()).hexdigest()[:16]


def _curve_point(saved: dict[str, Any]) -> CurvePoint:
    """A curve point from state/shortfall-curve.json."""
    return CurvePoint(**(saved | {"status": SolveStatus(saved["status"])}))


def _gather(replies: list[Reply], plan: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reported replies' rows, labelled with the plan, in the results schema."""
    details = [_detail(r) for r in replies]
    results = pd.concat([d.results for d in details], ignore_index=True).assign(plan=plan)
    recourse = pd.concat([d.recourse for d in details], ignore_index=True).assign(plan=plan)
    return conform_results(results, STAGE_RESULT_COLUMNS), recourse.astype(RECOURSE_COLUMNS)


def _detail(reply: Reply) -> StageResult:
    """A reported reply's rows."""
    assert isinstance(reply.detail, StageResult), "a reported reply carries its rows"
    return reply.detail


def _costs(rows: pd.DataFrame, plan: str, n: int) -> np.ndarray:
    """A plan's total cost per scenario 0..n-1, in USD per year."""
    mine = rows[rows["plan"] == plan].set_index("scenario")[TOTAL_COST]
    return mine.reindex(range(n)).to_numpy(dtype=float)


def _out_of_sample(rows: pd.DataFrame, risk: Risk) -> OutOfSample:
    costs = rows[TOTAL_COST].to_numpy(dtype=float)
    p = np.full(len(costs), 1.0 / len(costs))
    mean, se = float(costs.mean()), standard_error(costs)
    half = Z95 * se if se is not None else None
    return OutOfSample(
        mean=mean,
        se=se,
        ci95_low=mean - half if half is not None else None,
        ci95_high=mean + half if half is not None else None,
        risk=risk.value(costs, p),
        probability_shortfall=share_above(rows["shortfall_share"], SHORTFALL_THRESHOLD),
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
        "history": [asdict(row) for row in state.history],
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
        history=[ConvergenceRow(**row) for row in data["history"]],
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


def _npz(**arrays: Any) -> bytes:
    """Arrays as the bytes of one .npz file."""
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
        "history": [asdict(row) for row in state.history],
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
        history=[ConvergenceRow(**row) for row in scalars["history"]],
    )
