"""A nightly run's record (run.json), typed: its stages, each stage's result, and which earlier
runs it is compared with (docs/nightly.md).

`StageResults` lists the stages once, in the order they run, with the type of each one's
result (`STAGES`: their names); the pipeline, `fleetopt show` and the report all go through it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from fleetopt.io.runfolder import RunStatus
from fleetopt.results.alternatives import AlternativeResult
from fleetopt.results.runs import Distribution, Estimate
from fleetopt.results.schema import SCHEMA_VERSION, VERSION_KEY, from_json
from fleetopt.results.stochastic import PlanComparison, Reliability, ReplicationGap
from fleetopt.results.whatif import VariantResult
from fleetopt.solve.result import SolveStatus


@dataclass(frozen=True)
class ValidateResult:
    warnings: list[str]


@dataclass(frozen=True)
class PlanStageResult:
    """The expected-value plan."""

    status: SolveStatus
    objective: float | None
    cost_per_mtok_usd: float | None
    mip_gap: float | None


@dataclass(frozen=True)
class RobustStageResult:
    """The robust choice over the run's scenarios (its VSS and EVPI are bounds)."""

    chosen_plan: str
    cost_per_mtok_usd: Distribution
    total_cost_usd_per_year: Distribution
    probability_unmet_above_1pct: float | None
    vss: Estimate
    evpi: Estimate


@dataclass(frozen=True)
class StochasticStageResult:
    """The two-stage plan over the run's scenarios: the run's answer (its orders now), what it
    costs, and what it saves over the expected-value plan (`vss`) and the robust choice
    (`robust.difference`), each paired on the same futures under the same shortfall rule."""

    status: SolveStatus
    method: str
    objective: Estimate
    lower_bound: float | None
    gap: float | None
    vss: Estimate
    evpi: Estimate
    scenarios: int | None = None
    probability_shortfall: float | None = None
    racks_ordered_now: int | None = None
    capex_ordered_now_usd: float | None = None
    robust: PlanComparison | None = None
    reliability: Reliability | None = None  # the target the plan was held to, if any
    replications: ReplicationGap | None = None  # whether the scenarios suffice, if estimated

    def sufficiency(self) -> str:
        """Whether the run's scenarios suffice, in one sentence: the replications' verdict,
        or why it was not estimated."""
        if self.replications is not None:
            return self.replications.verdict()
        why = (
            "the replications' gap needs the priced program, not a reliability target"
            if self.reliability is not None
            else "no replications were asked for (--replications 0)"
        )
        return f"Whether {self.scenarios} scenarios suffice was not estimated: {why}."


@dataclass(frozen=True)
class WhatifStageResult:
    """The what-if variants of the run's case (docs/model.md section 11), the base first."""

    variants: list[VariantResult]


@dataclass(frozen=True)
class AlternativesStageResult:
    """The optimum and the near-optimal alternatives found (docs/model.md section 12)."""

    plans: list[AlternativeResult]
    directions_solved: int


@dataclass(frozen=True)
class InstalledStageResult:
    """The installed fleet alone, over the run's scenarios."""

    total_cost_usd_per_year: Distribution
    probability_unmet_above_1pct: float | None


@dataclass(frozen=True)
class CompareResult:
    previous_run: str | None
    rack_changes: int


@dataclass(frozen=True)
class ReportResult:
    file: str
    bytes: int


@dataclass(frozen=True)
class StageResults:
    """Each stage's result, the stages in the order they run: their one listing (`STAGES`).

    None for a stage that has not finished, for `stochastic`, `whatif` and `alternatives`
    when they were not asked for, and `installed` when nothing is installed. A stage added
    later (a hedged answer, replications) is one field here and one function in the
    pipeline.
    """

    validate: ValidateResult | None
    plan: PlanStageResult | None
    robust: RobustStageResult | None
    stochastic: StochasticStageResult | None
    whatif: WhatifStageResult | None
    alternatives: AlternativesStageResult | None
    installed: InstalledStageResult | None
    compare: CompareResult | None
    report: ReportResult | None  # last: it reads every other stage's output


def _no_results() -> StageResults:
    return from_json(StageResults, {})


STAGES = tuple(f.name for f in fields(StageResults))
REPORT_STAGE = "report"


@dataclass(frozen=True)
class StageRecord:
    """A stage as the run record keeps it: its status and seconds."""

    status: str
    seconds: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == RunStatus.SUCCEEDED


@dataclass(frozen=True)
class NightlyRecord:
    """run.json of a nightly run: its identity, its outcome, when and where it ran, and its
    stages (`stages`: status and seconds; `results`: what each one found)."""

    run_id: str
    case: str | None = None
    case_sha256: str | None = None
    seed: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    status: str = ""
    reason: str | None = None
    stages: dict[str, StageRecord] = field(default_factory=dict)
    results: StageResults = field(default_factory=_no_results)
    date: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    request: dict[str, Any] = field(default_factory=dict)
    fleetopt_version: str | None = None
    ray_resources: dict[str, float] = field(default_factory=dict)
    schema_version: int = 1
    path: str | None = None  # where it was found (earlier runs), not in the file

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NightlyRecord:
        """The record of a run.json, each stage's result typed by `StageResults` (a record
        of another schema version keeps its stages' results unread: it is not compared)."""
        stages = data.get("stages") or {}
        plain = {k: v for k, v in data.items() if k not in ("stages", "kind", VERSION_KEY)}
        record: NightlyRecord = from_json(cls, plain)
        version = data.get(VERSION_KEY, 1)
        found = {name: stage.get("result") for name, stage in stages.items()}
        return replace(
            record,
            stages={
                name: StageRecord(str(stage.get("status", "")), stage.get("seconds"))
                for name, stage in stages.items()
            },
            results=from_json(StageResults, found if version == SCHEMA_VERSION else {}),
            schema_version=version,
        )

    def stage_times(self) -> list[tuple[str, str, float | None]]:
        """(stage, status, seconds) in run order; the report stage only once it has
        finished (while it runs it is writing the very report that lists them)."""
        return [
            (name, stage.status, stage.seconds)
            for name, stage in self.stages.items()
            if not (name == REPORT_STAGE and stage.status == RunStatus.RUNNING)
        ]

    @property
    def report_pending(self) -> bool:
        """A run writing its own report: every other stage done, the report running."""
        others = [s.succeeded for n, s in self.stages.items() if n != REPORT_STAGE]
        return self.status == RunStatus.RUNNING and REPORT_STAGE in self.stages and all(others)


def earlier_runs(current: NightlyRecord, records: list[NightlyRecord]) -> list[NightlyRecord]:
    """The runs a nightly run is compared with: earlier successful runs of the same case,
    written with this schema (oldest first, by finish time)."""
    same = [
        r
        for r in records
        if r.status == RunStatus.SUCCEEDED
        and r.case == current.case
        and r.run_id != current.run_id
        and r.schema_version == SCHEMA_VERSION
    ]
    return sorted(same, key=lambda r: r.finished_at or "")


# The figures nightly runs are compared on: their labels and kinds (fleetopt.core.formats).
METRIC_LABELS = {
    "expected_value_cost_per_mtok_usd": ("expected-value plan, cost per million tokens", "usd"),
    "robust_mean_cost_per_mtok_usd": ("robust choice, mean cost per million tokens", "usd"),
    "robust_p95_cost_per_mtok_usd": ("robust choice, p95 cost per million tokens", "usd"),
    "robust_cvar_total_cost_usd_per_year": ("robust choice, CVaR of total cost", "usd"),
    "robust_probability_unmet_above_1pct": ("robust choice, P(unmet > 1%)", "share"),
    "hedged_total_cost_usd_per_year": ("hedged plan, expected total cost per year", "usd"),
    "hedged_probability_shortfall": ("hedged plan, P(shortfall)", "share"),
    "hedged_racks_ordered_now": ("hedged plan, racks to order now", "integer"),
}


def nightly_metrics(record: NightlyRecord) -> dict[str, float | None]:
    """The figures a nightly run is compared on, from its stage results (the hedged plan's
    None in a run without the stochastic stage)."""
    plan, robust = record.results.plan, record.results.robust
    assert plan is not None and robust is not None, "a compared run has a plan and a robust stage"
    hedged = record.results.stochastic
    return {
        "expected_value_cost_per_mtok_usd": plan.cost_per_mtok_usd,
        "robust_mean_cost_per_mtok_usd": robust.cost_per_mtok_usd.mean,
        "robust_p95_cost_per_mtok_usd": robust.cost_per_mtok_usd.p95,
        "robust_cvar_total_cost_usd_per_year": robust.total_cost_usd_per_year.cvar,
        "robust_probability_unmet_above_1pct": robust.probability_unmet_above_1pct,
        "hedged_total_cost_usd_per_year": hedged.objective.value if hedged else None,
        "hedged_probability_shortfall": hedged.probability_shortfall if hedged else None,
        "hedged_racks_ordered_now": hedged.racks_ordered_now if hedged else None,
    }
