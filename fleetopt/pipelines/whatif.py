"""What-if variants of a case solved side by side on Ray (docs/model.md section 11).

The base and every variant are full plans (`plan_case`: the MILP, the plan tables and the
marginal values), one Ray task each through the scenario farm, one thread per solve, so a
variant's answer is the same whichever worker solves it. The run folder is a resumable
store: a variant solved before an interruption is not solved again.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fleetopt.io.case import Case, Objective, case_fingerprint
from fleetopt.io.edits import BASE, Variant, variant_cases
from fleetopt.io.ownership import WHATIF_TABLES
from fleetopt.io.runfolder import RunKind
from fleetopt.io.solver import SolverOptions
from fleetopt.io.store import ScenarioStore, write_parquet_atomic
from fleetopt.parallel.farm import chunks_of
from fleetopt.pipelines.options import FarmRun
from fleetopt.pipelines.plan import plan_case
from fleetopt.pipelines.runs import farm_items, run_in_store
from fleetopt.results.summary import finite
from fleetopt.results.tables import PlanParts, labelled, plan_rows
from fleetopt.results.whatif import (
    SOLVED_COLUMNS,
    VARIANT,
    VariantResult,
    WhatifSummary,
    variants_table,
)
from fleetopt.scenarios.job import for_workers, solve_each
from fleetopt.solve.deadline import Deadline

log = logging.getLogger(__name__)

ROWS = "variants"


@dataclass(frozen=True)
class WhatifJob:
    """The base and the variants to solve (item i: `names[i]`, `cases[i]`), by `options`."""

    names: tuple[str, ...]
    specs: tuple[str, ...]
    cases: tuple[Case, ...]
    options: SolverOptions

    def key(self) -> str:
        return hashlib.sha256(pickle.dumps(self)).hexdigest()[:16]

    def prepare(self) -> WhatifJob:
        return self  # each variant is a case of its own: nothing to share between them

    def solve_chunk(self, items: list[int], isolate: bool) -> PlanParts:
        return PlanParts.concat(solve_each(items, isolate, self._solve, self.failed))

    def _solve(self, item: int) -> PlanParts:
        """One variant's plan: a full solve with the time limit to itself (not held: a
        worker's solve, as a scenario's; its marginal values' LP has the limit too, after
        it), its tables labelled with its name."""
        limit_s = self.options.time_limit_s
        outcome = plan_case(
            self.cases[item],
            self.options,
            deadline=Deadline.after(limit_s),
            values_limit_s=limit_s,
        )
        summary, figures = outcome.summary, outcome.summary.figures
        row = {
            VARIANT: self.names[item],
            "spec": self.specs[item],
            "status": summary.status.value,
            "objective": summary.objective,
            "npv_cost_usd": summary.npv_cost_usd,
            "cost_per_mtok_usd": figures.cost_per_mtok_usd,
            "gap": summary.mip_gap,
            "fleet_cost_usd_per_year": figures.fleet_cost_usd_per_year,
            "penalty_cost_usd_per_year": figures.penalty_cost_usd_per_year,
            "served_tokens_per_s": figures.served_tokens_per_s,
            "message": summary.diagnosis or (summary.message if not summary.has_plan else ""),
        }
        tables = outcome.tables.as_dict() if outcome.tables is not None else {}
        return PlanParts(_rows([row]), labelled(VARIANT, self.names[item], tables))

    def failed(self, item: int, reason: str) -> PlanParts:
        row = {VARIANT: self.names[item], "spec": self.specs[item], "status": "error"}
        return PlanParts(_rows([row | {"message": reason}]), {})

    @staticmethod
    def combine(parts: list[PlanParts]) -> PlanParts:
        return PlanParts.concat(parts)


def _rows(rows: Sequence[Mapping[str, object]]) -> pd.DataFrame:
    return plan_rows(rows, SOLVED_COLUMNS, [VARIANT, "spec", "status", "message"])


def whatif(
    case: Case, case_dir: str | Path, variants: list[Variant], out_dir: str | Path, run: FarmRun
) -> WhatifSummary:
    """Solve the base and every variant into `out_dir`; a variant that makes the case
    invalid is refused (CaseError, exit 2) before anything is solved or written."""
    cases = variant_cases(case_dir, case, variants)
    options = for_workers(case.solver)
    job = WhatifJob(
        (BASE, *(v.name for v in variants)),
        ("", *(v.spec for v in variants)),
        (case, *cases),
        options,
    )
    params = {
        "case": case_fingerprint(case),
        "variants": [
            [name, spec, case_fingerprint(c)]
            for name, spec, c in zip(job.names, job.specs, job.cases, strict=True)
        ],
        "solver": options.as_params(),
    }
    tables = tuple(t for t in WHATIF_TABLES if case.multi_period or t not in ("orders", "periods"))
    store = ScenarioStore(
        out_dir, RunKind.WHATIF, params, overwrite=run.overwrite, tables=tables, key=VARIANT
    )
    changed = {v.name: [(c.table, c.column) for c in v.changes] for v in variants}

    def work() -> WhatifSummary:
        items = list(range(len(job.names)))
        farm_items(
            store,
            job,
            items,
            job.names,
            run.farm,
            lambda parts: parts.written(ROWS),
            lambda left: chunks_of(left, 1),
            RunKind.WHATIF.value,
            "variants",
        )
        store.merge()
        return _finish(store.root, case, changed)

    return run_in_store(store, work, WhatifSummary)


def _finish(root: Path, case: Case, changed: dict[str, list[tuple[str, str]]]) -> WhatifSummary:
    """variants.parquet completed (changes against the base, the LP's estimate), and the
    run's summary."""
    path = root / f"{ROWS}.parquet"
    rows = pd.read_parquet(path)
    marginal = _optional(root, "marginal_values")
    periods = _optional(root, "periods")
    base_periods = None if periods is None else periods[periods[VARIANT] == BASE]
    per_token = case.objective is Objective.MIN_COST_PER_TOKEN
    table = variants_table(rows, marginal, base_periods, changed, per_token)
    write_parquet_atomic(path, table)  # completed in place, before _SUCCESS
    return WhatifSummary(
        case=case.name,
        objective_kind=case.objective.value,
        periods=list(case.periods) if case.multi_period else None,
        variants=[
            VariantResult(
                variant=r[VARIANT],
                spec=r["spec"],
                status=r["status"],
                objective=finite(r["objective"]),
                delta_objective=finite(r["delta_objective"]),
                lp_delta_objective=finite(r["lp_delta_objective"]),
                npv_cost_usd=finite(r.get("npv_cost_usd", np.nan)),
                cost_per_mtok_usd=finite(r["cost_per_mtok_usd"]),
                gap=finite(r["gap"]),
                message=r["message"],
            )
            for r in table.to_dict("records")
        ],
    )


def _optional(root: Path, name: str) -> pd.DataFrame | None:
    path = root / f"{name}.parquet"
    return pd.read_parquet(path) if path.exists() else None
