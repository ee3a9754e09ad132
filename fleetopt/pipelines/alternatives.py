"""Near-optimal alternatives of a case (docs/model.md section 12), solved on Ray.

The optimum is solved first, on the driver: its cost sets the budget and its plan is every
direction's feasible start. Directions are then solved in rounds, one Ray task each, until
K of them give fleets that differ from the optimum's and from each other (or 3 K have been
tried). Which directions run depends only on the case, S, K and the seed, and each solve is
single-threaded from the same start, so the answer is the same with any number of workers.
The run folder is a resumable store: a direction solved before an interruption is kept.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from fleetopt.io.case import Case, Objective, case_fingerprint
from fleetopt.io.ownership import ALTERNATIVES_TABLES
from fleetopt.io.runfolder import RunKind
from fleetopt.io.solver import SolverOptions
from fleetopt.io.store import ScenarioStore, write_parquet_atomic
from fleetopt.model.build import (
    OBJECTIVE_SCALE,
    LinearModel,
    build_dinkelbach_step,
    build_plan_model,
)
from fleetopt.model.index import ModelIndex, build_index
from fleetopt.model.inputs import ModelData, model_data
from fleetopt.model.measures import fleet_cost_usd, new_racks
from fleetopt.model.mga import (
    Direction,
    direction_objective,
    directions,
    group_shares,
    with_budget,
    work_per_column,
)
from fleetopt.parallel.farm import chunks_of
from fleetopt.pipelines.options import AlternativesAsk, FarmRun
from fleetopt.pipelines.plan import PlanOutcome, plan_case, require_plan
from fleetopt.pipelines.runs import farm_items, run_in_store
from fleetopt.results.alternatives import (
    DIRECTION,
    OPTIMUM,
    PLAN,
    ROW_COLUMNS,
    AlternativeResult,
    AlternativesSummary,
)
from fleetopt.results.summary import finite, summarize
from fleetopt.results.tables import (
    PlanParts,
    clean_solution,
    labelled,
    plan_rows,
    plan_tables,
)
from fleetopt.scenarios.job import for_workers, solve_each
from fleetopt.solve.mathopt import solve_model
from fleetopt.solve.objectives import solve_plan
from fleetopt.solve.result import SOLVED

log = logging.getLogger(__name__)

ROWS = "alternatives"
DIRECTION_GAP = 1e-3  # a direction is solved to a tenth of a share point of the work
TRIES_PER_ALTERNATIVE = 3  # directions tried at most: 3 K
SIGNATURE = "signature"  # a plan's fleet, for telling plans apart (not in the outputs)


@dataclass(frozen=True)
class Reference:
    """What every direction is measured against: the optimum's objective in user units
    (`objective`), its solution, the budget row's bound and the Dinkelbach price of the
    budget (min_cost_per_token; 0 otherwise), its cost and total work in model units."""

    objective: float
    x: np.ndarray
    budget: float
    price_usd_per_token: float
    cost: float
    work: float


@dataclass(frozen=True)
class AlternativesJob:
    """Directions to solve (item i >= 1: `directions[i - 1]`) within the budget of
    `reference`, by `options`; random directions draw from `seed`."""

    case: Case
    options: SolverOptions
    reference: Reference
    directions: tuple[Direction, ...]
    seed: int

    def key(self) -> str:
        return hashlib.sha256(pickle.dumps(self)).hexdigest()[:16]

    def label(self, item: int) -> str:
        return OPTIMUM if item == 0 else self.directions[item - 1].label

    def prepare(self) -> PreparedAlternatives:
        return PreparedAlternatives(self)

    def failed(self, item: int, reason: str) -> PlanParts:
        label = self.label(item)
        row = {PLAN: label, DIRECTION: label, "status": "error", "message": reason}
        return PlanParts(_rows([row]), {})

    @staticmethod
    def combine(parts: list[PlanParts]) -> PlanParts:
        return PlanParts.concat(parts)


class PreparedAlternatives:
    """A job ready on a worker: the case's index, numbers and budgeted model built once;
    each direction changes only the objective."""

    def __init__(self, job: AlternativesJob):
        self.job = job
        self.index = build_index(job.case)
        self.data = model_data(self.index)
        model = budget_model(self.index, job.case, self.data, job.reference)
        self.model = model
        self.work = work_per_column(self.index, self.data, model)
        self.optimum_new = new_racks(self.index, model, job.reference.x)

    def solve_chunk(self, items: list[int], isolate: bool) -> PlanParts:
        return PlanParts.concat(solve_each(items, isolate, self._solve, self.job.failed))

    def _solve(self, item: int) -> PlanParts:
        """Direction `item`: its MILP from the optimum, then the fleet it found re-costed
        (its operations at their best: section 10's LP) and tabulated."""
        job, ref = self.job, self.job.reference
        direction = job.directions[item - 1]
        objective = direction_objective(
            self.index, self.model, self.work, ref.work, ref.cost, direction, job.seed
        )
        model = replace(self.model, objective=objective, objective_offset=0.0)
        found = solve_model(model, job.options, hint=ref.x, absolute_gap=DIRECTION_GAP)
        if found.x is None:
            return job.failed(item, found.message or f"no plan: {found.status.value}")
        fleet = clean_solution(model, found.x)
        gap = abs(found.objective - found.bound) if np.isfinite(found.bound) else np.nan
        return plan_parts(
            self.index, job.case, self.data, job.options, job.label(item), fleet, ref, gap
        )


def budget_model(index: ModelIndex, case: Case, data: ModelData, ref: Reference) -> LinearModel:
    """The case's model with the budget row: cost within (1 + S) of the optimum's, or for
    min_cost_per_token fleet - (1 + S) lambda* served <= 0 (a Dinkelbach step's objective)."""
    if case.objective is Objective.MIN_COST_PER_TOKEN:
        model = build_dinkelbach_step(index, case, data, ref.price_usd_per_token)
    else:
        model = build_plan_model(index, case, data)
    return with_budget(model, ref.budget)


def plan_parts(
    index: ModelIndex,
    case: Case,
    data: ModelData,
    options: SolverOptions,
    label: str,
    fleet: np.ndarray,
    ref: Reference,
    direction_gap: float,
) -> PlanParts:
    """A fleet as a plan: its operations and cost by the LP with the fleet fixed, its row
    (cost against the optimum, distance in racks) and tables labelled `label`."""
    result = solve_plan(index, case, data, options, fixed=fleet)
    if result.x is None:
        said = {PLAN: label, DIRECTION: label, "status": result.status.value}
        return PlanParts(_rows([said | {"message": result.message}]), {})
    summary = summarize(case, index, data, result, options.name)
    figures = summary.figures
    new = new_racks(index, result.model, result.x)
    optimum_new = new_racks(index, result.model, ref.x)
    row: dict[str, str | float | None] = {
        PLAN: label,
        DIRECTION: label,
        "status": summary.status.value,
        "objective": summary.objective,
        "cost_ratio": (summary.objective or np.nan) / ref.objective,
        "distance": float(np.abs(np.round(new) - np.round(optimum_new)).sum()),
        "direction_gap": direction_gap,
        "npv_cost_usd": summary.npv_cost_usd,
        "cost_per_mtok_usd": figures.cost_per_mtok_usd,
        "fleet_cost_usd_per_year": figures.fleet_cost_usd_per_year,
        "penalty_cost_usd_per_year": figures.penalty_cost_usd_per_year,
        "served_tokens_per_s": figures.served_tokens_per_s,
        SIGNATURE: signature(new),
    }
    tables = plan_tables(index, data, result.model, result.x).as_dict()
    tables["shares"] = group_shares(index, data, result.model, result.x)
    return PlanParts(_rows([row]), labelled(PLAN, label, tables))


def signature(new: np.ndarray) -> str:
    """The new racks per (site, rack type, period) of a plan, as a digest: equal fleets,
    equal digests."""
    counts = np.round(np.asarray(new, dtype=float)).astype(np.int64)
    return hashlib.sha256(counts.tobytes()).hexdigest()


def _rows(rows: Sequence[Mapping[str, object]]) -> pd.DataFrame:
    return plan_rows(
        rows, [*ROW_COLUMNS, SIGNATURE], [PLAN, DIRECTION, "status", "message", SIGNATURE]
    )


def alternatives(
    case: Case, out_dir: str | Path, run: FarmRun, ask: AlternativesAsk
) -> AlternativesSummary:
    """The optimum and up to `ask.k` distinct plans within (1 + `ask.slack`) of it, into
    `out_dir` (docs/model.md section 12)."""
    slack, k = ask.slack, ask.k
    seed = case.uncertainty.seed if ask.seed is None else ask.seed
    options = for_workers(case.solver)
    params = {
        "case": case_fingerprint(case),
        "slack": slack,
        "k": k,
        "seed": seed,
        "solver": options.as_params(),
    }
    tables = tuple(
        t for t in ALTERNATIVES_TABLES if case.multi_period or t not in ("orders", "periods")
    )
    store = ScenarioStore(
        out_dir, RunKind.ALTERNATIVES, params, overwrite=run.overwrite, tables=tables, key=DIRECTION
    )

    def work() -> AlternativesSummary:
        optimum = require_plan(plan_case(case, options))
        job = AlternativesJob(case, options, reference_of(optimum, slack), (), seed)
        shares = group_shares(optimum.index, optimum.data, optimum.result.model, optimum.solution)
        job = replace(job, directions=tuple(directions(shares, TRIES_PER_ALTERNATIVE * k)))
        if OPTIMUM not in store.finished():
            fleet = clean_solution(optimum.result.model, optimum.solution)
            parts = plan_parts(
                optimum.index, case, optimum.data, options, OPTIMUM, fleet, job.reference, np.nan
            )
            store.write_chunk(f"{0:09d}", parts.written(ROWS))
        kept, tried = _search(store, job, run, k)
        store.merge()
        return _finish(store, case, slack, k, seed, kept, tried)

    return run_in_store(store, work, AlternativesSummary)


def reference_of(optimum: PlanOutcome, slack: float) -> Reference:
    """The optimum as every direction's reference, and the budget (1 + slack) of it."""
    model, x = optimum.result.model, optimum.solution
    index, data = optimum.index, optimum.data
    objective = float(optimum.summary.objective or np.nan)
    fleet = fleet_cost_usd(index, model, x)
    if optimum.case.objective is Objective.MIN_COST_PER_TOKEN:
        price = (1.0 + slack) * objective / 1e6  # USD per token
        budget, cost = 0.0, fleet * OBJECTIVE_SCALE
    else:
        price, budget = 0.0, (1.0 + slack) * objective * OBJECTIVE_SCALE
        cost = objective * OBJECTIVE_SCALE
    work = float(work_per_column(index, data, model) @ x)
    return Reference(objective, x, budget, price, cost, work)


def _search(
    store: ScenarioStore, job: AlternativesJob, run: FarmRun, k: int
) -> tuple[list[str], int]:
    """Solve directions in order, a round at a time, until `k` give fleets not found
    before (or every direction of the job is tried); the kept directions and how many
    were tried."""
    kept: list[str] = []
    tried = 0
    while len(kept) < k and tried < len(job.directions):
        batch = list(range(tried + 1, min(tried + 1 + k - len(kept), len(job.directions) + 1)))
        farm_items(
            store,
            job,
            batch,
            [job.label(i) for i in batch],
            run.farm,
            lambda parts: parts.written(ROWS),
            lambda left: chunks_of(left, 1),
            RunKind.ALTERNATIVES.value,
            "directions",
        )
        tried = batch[-1]
        rows = store.parts(ROWS, [DIRECTION, "status", SIGNATURE]).set_index(DIRECTION)
        seen = {rows.loc[label, SIGNATURE] for label in (OPTIMUM, *kept)}
        for item in batch:
            row = rows.loc[job.label(item)]
            if len(kept) < k and row["status"] in SOLVED and row[SIGNATURE] not in seen:
                kept.append(job.label(item))
                seen.add(row[SIGNATURE])
        log.info("alternatives: %d of %d found in %d directions", len(kept), k, tried)
    return kept, tried


def _finish(
    store: ScenarioStore, case: Case, slack: float, k: int, seed: int, kept: list[str], tried: int
) -> AlternativesSummary:
    """Keep the optimum and the kept directions' plans in every merged table, named
    optimum, alt-1, alt-2, ... (directions that repeated a plan are dropped); the summary."""
    names = {OPTIMUM: OPTIMUM} | {label: f"alt-{i}" for i, label in enumerate(kept, start=1)}
    solved = pd.read_parquet(store.root / f"{ROWS}.parquet", columns=["status", "message"])
    failed = solved[~solved["status"].isin(SOLVED)]
    for table in store.tables:
        path = store.root / f"{table}.parquet"
        if not path.exists():
            continue
        frame = pd.read_parquet(path)
        frame = frame[frame[PLAN].isin(names)].assign(**{PLAN: lambda f: f[PLAN].map(names)})
        if table == ROWS:
            order = {name: i for i, name in enumerate(names.values())}
            frame = frame.sort_values(PLAN, key=lambda s: s.map(order))
            frame = frame[[c for c in ROW_COLUMNS if c != "npv_cost_usd" or case.multi_period]]
        write_parquet_atomic(path, frame.reset_index(drop=True))
    rows = pd.read_parquet(store.root / f"{ROWS}.parquet")
    found = len(kept)
    said = [] if found == k else [f"{found} distinct alternative(s) of {k} in {tried} directions"]
    if len(failed):
        said.append(f"{len(failed)} direction(s) found no plan: {failed['message'].iloc[0]}")
    message = "; ".join(said)
    return AlternativesSummary(
        case=case.name,
        objective_kind=case.objective.value,
        slack=slack,
        k=k,
        seed=seed,
        periods=list(case.periods) if case.multi_period else None,
        plans=[
            AlternativeResult(
                plan=r[PLAN],
                direction=r[DIRECTION],
                status=r["status"],
                objective=finite(r["objective"]),
                cost_ratio=finite(r["cost_ratio"]),
                distance=finite(r["distance"]),
                direction_gap=finite(r["direction_gap"]),
            )
            for r in rows.to_dict("records")
        ],
        directions_solved=tried,
        directions_repeating=tried - found - len(failed),
        message=message,
    )
