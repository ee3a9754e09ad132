"""A nightly run's record (run.json), typed: its stages, each stage's result, and which earlier
runs it is compared with (docs/nightly.md).

`STAGES` lists the stages once, in the order they run, with the type of each one's result;
the pipeline, `fleetopt show` and the report all go through it. A stage added later (a
hedged answer, replications) is one entry here and one function in the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from fleetopt.io.runfolder import RunStatus
from fleetopt.results.runs import Distribution, Estimate
from fleetopt.results.schema import SCHEMA_VERSION, VERSION_KEY, from_json
from fleetopt.solve.result import SolveStatus

T = TypeVar("T")


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
    """The two-stage plan over the run's scenarios."""

    status: SolveStatus
    method: str
    objective: Estimate
    lower_bound: float | None
    gap: float | None
    vss: Estimate
    evpi: Estimate


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


REPORT_STAGE = "report"  # last: it reads every other stage's output
STAGES: dict[str, type] = {  # in the order they run
    "validate": ValidateResult,
    "plan": PlanStageResult,
    "robust": RobustStageResult,
    "stochastic": StochasticStageResult,  # only when asked for
    "installed": InstalledStageResult,  # None: nothing installed, nothing to evaluate
    "compare": CompareResult,
    REPORT_STAGE: ReportResult,
}


@dataclass(frozen=True)
class StageRecord:
    """A stage as the run record keeps it: status, seconds, and its typed result."""

    status: str
    seconds: float | None = None
    result: Any = None

    @property
    def succeeded(self) -> bool:
        return self.status == RunStatus.SUCCEEDED


@dataclass(frozen=True)
class NightlyRecord:
    """run.json of a nightly run."""

    run_id: str
    status: str
    case: str | None = None
    case_sha256: str | None = None
    date: str | None = None
    seed: int | None = None
    started_at: str | None = None
    finished_at: str | None = None
    fleetopt_version: str | None = None
    reason: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    request: dict[str, Any] = field(default_factory=dict)
    ray_resources: dict[str, float] = field(default_factory=dict)
    stages: dict[str, StageRecord] = field(default_factory=dict)
    schema_version: int = 1
    path: str | None = None  # where it was found (earlier runs), not in the file

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NightlyRecord:
        """The record of a run.json (a stage's result typed by `STAGES`)."""
        stages = {
            name: StageRecord(
                status=str(stage.get("status", "")),
                seconds=stage.get("seconds"),
                result=_result(name, stage.get("result")),
            )
            for name, stage in (data.get("stages") or {}).items()
        }
        plain = {k: v for k, v in data.items() if k not in ("stages", "kind", VERSION_KEY)}
        record: NightlyRecord = from_json(cls, plain)
        return replace(record, stages=stages, schema_version=data.get(VERSION_KEY, 1))

    def result(self, stage: str, kind: type[T]) -> T | None:
        """A finished stage's result, of type `kind` (None when it did not run or has none)."""
        record = self.stages.get(stage)
        if record is None or record.result is None:
            return None
        assert isinstance(record.result, kind), (stage, type(record.result))
        return record.result

    @property
    def plan(self) -> PlanStageResult | None:
        return self.result("plan", PlanStageResult)

    @property
    def robust(self) -> RobustStageResult | None:
        return self.result("robust", RobustStageResult)

    @property
    def stochastic(self) -> StochasticStageResult | None:
        return self.result("stochastic", StochasticStageResult)

    @property
    def installed(self) -> InstalledStageResult | None:
        return self.result("installed", InstalledStageResult)

    @property
    def compare(self) -> CompareResult | None:
        return self.result("compare", CompareResult)

    @property
    def validate(self) -> ValidateResult | None:
        return self.result("validate", ValidateResult)

    @property
    def report(self) -> ReportResult | None:
        return self.result(REPORT_STAGE, ReportResult)

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


def _result(stage: str, data: Any) -> Any:
    if data is None or stage not in STAGES:
        return data
    return from_json(STAGES[stage], data)


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


def nightly_metrics(record: NightlyRecord) -> dict[str, float | None]:
    """The figures a nightly run is compared on, from its stage results."""
    plan, robust = record.plan, record.robust
    assert plan is not None and robust is not None, "a compared run has a plan and a robust stage"
    return {
        "expected_value_cost_per_mtok_usd": plan.cost_per_mtok_usd,
        "robust_mean_cost_per_mtok_usd": robust.cost_per_mtok_usd.mean,
        "robust_p95_cost_per_mtok_usd": robust.cost_per_mtok_usd.p95,
        "robust_cvar_total_cost_usd_per_year": robust.total_cost_usd_per_year.cvar,
        "robust_probability_unmet_above_1pct": robust.probability_unmet_above_1pct,
    }
