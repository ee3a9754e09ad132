"""The nightly planning pipeline: validate, plan, robust selection, the two-stage stochastic
plan (the run's answer: the hedged orders), installed fleet, compare, report; what-if
variants and near-optimal alternatives when asked. Shortfalls below a min_served_share are
priced throughout (robust selection, the stochastic plan, the installed fleet), so every plan
is judged by one rule in every future; `stochastic=None` leaves the stage out and the robust
choice answers (docs/nightly.md).

A run lives in `OUT/YYYY-MM-DD/RUN_ID/` with one folder per stage, a run record `run.json`
(case hash, versions, seed, parameters, Ray resources, stage timings, status
`running|succeeded|failed` and why) and `_SUCCESS`, written last. Re-running a run id
(on any later day: the run is found by its id) skips finished stages, and inside the
scenario stages, finished chunks.

OUT may be a local path or any filesystem URI pyarrow understands (s3://, gs://,
file://). Stages always run in a local folder; for a URI, the run is first pulled from
OUT (to resume) and each finished stage, and the manifest at every change, is pushed
back, `_SUCCESS` last. A run therefore never looks complete at OUT before it is.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.fs as pafs

from fleetopt import __version__
from fleetopt.core import defaults, formats
from fleetopt.core.errors import RunFolderError
from fleetopt.core.interrupts import failure_reason
from fleetopt.io.case import Case, case_digest, read_case
from fleetopt.io.edits import read_variants_file, variant_cases
from fleetopt.io.ownership import RUN_OUTPUTS
from fleetopt.io.runfolder import (
    RUN_RECORD,
    SUCCESS_MARKER,
    Claim,
    RunKind,
    RunStatus,
    check_run_id,
    claim_output,
    is_complete,
    normalized,
    release_output,
    write_success,
)
from fleetopt.io.schema import CASE_FILES
from fleetopt.io.store import write_json_atomic
from fleetopt.model.costs import check_shortfall_priced
from fleetopt.model.index import build_index
from fleetopt.parallel.farm import connect
from fleetopt.parallel.progress import announce
from fleetopt.pipelines.alternatives import alternatives
from fleetopt.pipelines.options import (
    AlternativesAsk,
    FarmRun,
    Method,
    RobustOptions,
    ScenarioOptions,
    StochasticSettings,
)
from fleetopt.pipelines.plan import plan_case, require_plan, write_plan
from fleetopt.pipelines.runs import evaluate, plan_counts, robust
from fleetopt.pipelines.stochastic import check_settings, stochastic
from fleetopt.pipelines.whatif import whatif
from fleetopt.report.page import REPORT_FILE, write_report
from fleetopt.results.compare import count_changes, figure_changes, nightly_figures
from fleetopt.results.nightly import (
    STAGES,
    AlternativesStageResult,
    CompareResult,
    InstalledStageResult,
    NightlyRecord,
    PlanStageResult,
    ReportResult,
    RobustStageResult,
    StochasticStageResult,
    ValidateResult,
    WhatifStageResult,
    earlier_runs,
)
from fleetopt.results.schema import SCHEMA_VERSION, VERSION_KEY, to_json
from fleetopt.results.stochastic import ROBUST_CHOICE
from fleetopt.results.text import first_stage_orders


@dataclass(frozen=True)
class NightlyParams:
    """What a nightly run was asked to do (recorded in its run record as `request`): the
    scenario, robust and stochastic options, each the same object its command takes. The
    stochastic stage runs unless `stochastic` is None (its risk: robust selection's
    criterion, `stochastic_settings`; by default with the replications that tell whether
    the scenarios suffice); robust selection prices shortfalls unless told not to."""

    case_dir: str
    out: str
    run_id: str | None = None
    run: ScenarioOptions = field(
        default_factory=lambda: ScenarioOptions(scenarios=defaults.NIGHTLY_SCENARIOS)
    )
    robust: RobustOptions = field(default_factory=lambda: RobustOptions(shortfall=True))
    stochastic: StochasticSettings | None = field(
        default_factory=lambda: StochasticSettings(replications=defaults.NIGHTLY_REPLICATIONS)
    )
    whatif: str | None = None  # a file of what-if variants, one a line
    alternatives: AlternativesAsk | None = None

    def identity(self, case_sha256: str) -> dict[str, Any]:
        """What the run's results depend on: the case's files and the scenario settings
        (and the what-if variants and alternatives asked for, where they are).

        Not where it runs (workers, address) nor where the case or the output lie.
        """
        identity = {
            "case_sha256": case_sha256,
            "scenarios": self.run.scenarios,
            "seed": self.run.seed,
            "criterion": self.robust.criterion.value,
            "alpha": self.robust.alpha,
            "candidates": self.robust.candidates,
            "shortfall": self.robust.shortfall,
            "stochastic": None if self.stochastic is None else self.stochastic_identity(),
        }
        if self.whatif is not None:
            identity["whatif"] = [[v.name, v.spec] for v in read_variants_file(self.whatif)]
        if self.alternatives is not None:
            identity["alternatives"] = to_json(self.alternatives)
        return identity

    def stochastic_identity(self) -> str | dict[str, Any]:
        """The stochastic stage in the run's identity: its method while every other setting
        is the default (as records of earlier runs say), else all its settings."""
        assert self.stochastic is not None
        if replace(self.stochastic, method=Method.AUTO) == StochasticSettings():
            return self.stochastic.method.value
        settings: dict[str, Any] = to_json(self.stochastic_settings())
        return settings

    def stochastic_settings(self) -> StochasticSettings | None:
        """The stochastic stage's settings, its risk measure robust selection's criterion
        (the mean, or CVaR at alpha: L = 1), so both rank plans alike."""
        if self.stochastic is None:
            return None
        return replace(self.stochastic, risk=self.robust.risk)


class Output:
    """OUT as a pyarrow filesystem plus a base path on it."""

    def __init__(self, out: str):
        self.uri = out
        if "://" in out:
            self.fs, self.base = pafs.FileSystem.from_uri(out)
        else:
            self.fs, self.base = pafs.LocalFileSystem(), str(Path(out).resolve())
        # Any URI, file:// included, goes through the staged copy: one code path for all.
        self.local = "://" not in out

    def path(self, *parts: str) -> str:
        return "/".join([self.base.rstrip("/"), *parts])

    def find_run(self, run_id: str) -> str | None:
        """The date folder holding `run_id`, if a run of that id exists already."""
        for date in self._dirs(self.base):
            if self.exists(self.path(date, run_id, RUN_RECORD)):
                return date
        return None

    def manifests(self) -> list[NightlyRecord]:
        """Every nightly run record under OUT, with where it was found (`path`)."""
        found = []
        for date in self._dirs(self.base):
            for run in self._dirs(self.path(date)):
                path = self.path(date, run, RUN_RECORD)
                if self.exists(path):
                    with self.fs.open_input_stream(path) as f:
                        data = json.loads(f.read())
                    if data.get("kind") == RunKind.NIGHTLY:
                        record = NightlyRecord.from_json(data)
                        found.append(replace(record, path=self.path(date, run)))
        return found

    def pull(self, remote: str, local: Path) -> None:
        if self.exists(remote):
            pafs.copy_files(
                remote,
                str(local),
                source_filesystem=self.fs,
                destination_filesystem=pafs.LocalFileSystem(),
            )

    def push(self, local: Path, remote: str) -> None:
        if local.is_dir():
            for sub in [local, *(p for p in local.rglob("*") if p.is_dir())]:
                self.fs.create_dir(
                    f"{remote}/{sub.relative_to(local).as_posix()}".rstrip("/."), recursive=True
                )
            pafs.copy_files(
                str(local),
                remote,
                source_filesystem=pafs.LocalFileSystem(),
                destination_filesystem=self.fs,
            )
        else:
            self.fs.create_dir(remote.rsplit("/", 1)[0], recursive=True)
            with self.fs.open_output_stream(remote) as out:
                out.write(local.read_bytes())

    def check_root(self) -> None:
        """OUT holds date folders of nightly runs: a file, a case folder or a run folder
        (of any kind: a nightly run's own folder is OUT/DATE/RUN_ID) is refused untouched."""
        where = self.uri
        if self.exists(self.base) and not self._is_dir(self.base):
            raise RunFolderError(f"{where} is a file, not a folder; nothing was changed")
        if self.exists(self.path(RUN_RECORD)):
            raise RunFolderError(
                f"{where} is a fleetopt run folder, not a nightly output root (it holds"
                " DATE/RUN_ID folders); nothing was changed: choose another --out"
            )
        if any(self.exists(self.path(name)) for name in CASE_FILES):
            raise RunFolderError(
                f"{where} is a case folder; nothing was changed: give the nightly runs a folder"
                " of their own"
            )

    def remove_outputs(self, remote: str) -> None:
        """Delete a nightly run's own outputs at `remote` (fleetopt.io.ownership), nothing else."""
        own = RUN_OUTPUTS[RunKind.NIGHTLY.value]
        selector = pafs.FileSelector(remote, allow_not_found=True)
        for info in self.fs.get_file_info(selector):
            if info.base_name not in own:
                continue
            if info.type == pafs.FileType.Directory:
                self.fs.delete_dir(info.path)
            else:
                self.fs.delete_file(info.path)

    def _is_dir(self, path: str) -> bool:
        return self.fs.get_file_info(path).type == pafs.FileType.Directory

    def _dirs(self, path: str) -> list[str]:
        info = self.fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
        return sorted(i.base_name for i in info if i.type == pafs.FileType.Directory)

    def exists(self, path: str) -> bool:
        return self.fs.get_file_info(path).type != pafs.FileType.NotFound


class NightlyRun:
    """One run folder: its manifest, its stages, and where it is mirrored."""

    def __init__(self, params: NightlyParams, now: dt.datetime | None = None):
        self.params = params
        self.output = Output(params.out)
        self.output.check_root()
        now = now or dt.datetime.now(dt.UTC)
        generated = f"{now:%H%M%S}-{uuid.uuid4().hex[:6]}"
        self.run_id = check_run_id(generated if params.run_id is None else params.run_id)
        self.identity = normalized(params.identity(case_digest(params.case_dir)))
        self.date = self.output.find_run(self.run_id) or f"{now:%Y-%m-%d}"
        self.remote = self.output.path(self.date, self.run_id)
        if self.output.local:
            self.dir = Path(self.remote)
            self._scratch = None
        else:
            self._scratch = Path(tempfile.mkdtemp(prefix="fleetopt-nightly-"))
            self.dir = self._scratch / self.run_id
            self.output.pull(self.remote, self.dir)
        claim = claim_output(
            self.dir, RunKind.NIGHTLY, self.identity, overwrite=params.run.overwrite
        )
        if claim is Claim.FRESH and not self.output.local:
            self.output.remove_outputs(self.remote)  # a nightly run of ours, --overwrite given
        today = f"{now:%Y-%m-%d}"
        if claim is Claim.FRESH and self.date != today:  # a run started afresh is today's
            self.date, self.remote = today, self.output.path(today, self.run_id)
            if self.output.local:
                self._move_claim(Path(self.remote))
        path = self.dir / RUN_RECORD
        self.manifest = json.loads(path.read_text()) if path.exists() else {"stages": {}}

    def _move_claim(self, folder: Path) -> None:
        """Claim `folder` instead of the (emptied) run folder of an earlier day."""
        release_output(self.dir)
        with contextlib.suppress(OSError):
            self.dir.rmdir()  # when empty: files of the user's there stay, and the folder
        self.dir = folder
        claim_output(self.dir, RunKind.NIGHTLY, self.identity)

    def done(self, stage: str) -> bool:
        return self.manifest["stages"].get(stage, {}).get("status") == RunStatus.SUCCEEDED

    def save(self, **fields) -> None:
        self.manifest.update(fields)
        write_json_atomic(self.dir / RUN_RECORD, self.manifest)
        if not self.output.local:
            self.output.push(self.dir / RUN_RECORD, f"{self.remote}/{RUN_RECORD}")

    @property
    def record(self) -> NightlyRecord:
        """The run record as it stands, typed."""
        return NightlyRecord.from_json(self.manifest)

    def stage(self, name: str, work: Callable[[Path], Any]) -> None:
        """Run a stage (one of results.nightly.STAGES) into its folder unless a previous
        attempt finished it; its typed result goes into the run record."""
        assert name in STAGES, f"unknown nightly stage {name!r}"
        if self.done(name):
            announce(f"stage {name}: done in an earlier attempt")
            return
        announce(f"stage {name}: started")
        started = time.perf_counter()
        self.manifest["stages"][name] = {"status": RunStatus.RUNNING.value}
        self.save()
        result = work(self.dir / name)
        self.manifest["stages"][name] = {
            "status": RunStatus.SUCCEEDED.value,
            "seconds": round(time.perf_counter() - started, 3),
            "result": to_json(result),
        }
        if not self.output.local and (self.dir / name).exists():
            self.output.push(self.dir / name, f"{self.remote}/{name}")
        self.save()
        announce(
            f"stage {name}: finished in {formats.seconds(self.manifest['stages'][name]['seconds'])}"
        )

    def succeed(self) -> None:
        self.save(status=RunStatus.SUCCEEDED.value, finished_at=_now())
        write_success(self.dir)
        if not self.output.local:
            self.output.push(self.dir / SUCCESS_MARKER, f"{self.remote}/{SUCCESS_MARKER}")

    def release(self) -> None:
        """End the claim on the run folder (and its lock)."""
        release_output(self.dir)

    def cleanup(self) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def run_nightly(params: NightlyParams) -> NightlyRun:
    """Run (or resume) the whole pipeline; raises on failure after recording it. The run
    folder stays claimed (locked: one writer) until the run ends."""
    run = NightlyRun(params)
    try:
        _run_stages(run, params)
    finally:
        run.release()
    return run


def _run_stages(run: NightlyRun, params: NightlyParams) -> None:
    """Every stage not finished yet, then `_SUCCESS`."""
    if is_complete(run.dir):
        return
    run.save(
        kind=RunKind.NIGHTLY.value,
        status=RunStatus.RUNNING.value,
        params=run.identity,
        run_id=run.run_id,
        date=run.date,
        started_at=run.manifest.get("started_at") or _now(),
        fleetopt_version=__version__,
        request=to_json(params),
        reason=None,
        **{VERSION_KEY: SCHEMA_VERSION},
    )
    scenarios = replace(params.run, overwrite=False)  # the stages' own runs resume
    try:
        case = params.run.seeded(read_case(params.case_dir))
        stochastic_settings = params.stochastic_settings()
        if stochastic_settings is not None:  # before any stage runs a scenario
            check_settings(case, stochastic_settings)
        elif params.robust.shortfall:
            check_shortfall_priced(case)
        variants = read_variants_file(params.whatif) if params.whatif is not None else None
        if variants is not None:
            variant_cases(params.case_dir, case, variants)  # every variant valid, first
        farm = params.run.farm
        run.save(
            case=case.name,
            case_sha256=case_digest(params.case_dir),
            seed=case.uncertainty.seed,
            ray_resources=connect(farm.address, farm.workers),
        )
        run.stage("validate", lambda d: ValidateResult(list(build_index(case).warnings)))
        run.stage("plan", lambda d: _plan_stage(case, d))
        run.stage("robust", lambda d: _robust_stage(case, d, scenarios, params.robust))
        if stochastic_settings is not None:
            run.stage(
                "stochastic",
                lambda d: _stochastic_stage(case, d, scenarios, stochastic_settings, run.dir),
            )
        farmed = FarmRun(params.run.farm)
        if variants is not None:
            run.stage(
                "whatif",
                lambda d: WhatifStageResult(
                    whatif(case, params.case_dir, variants, d, farmed).variants
                ),
            )
        ask = params.alternatives
        if ask is not None:
            run.stage("alternatives", lambda d: _alternatives_stage(case, d, farmed, ask))
        run.stage("installed", lambda d: _installed_stage(case, d, scenarios, params.robust))
        run.stage("compare", lambda d: _compare_stage(run, d))
        run.stage("report", lambda d: _report_stage(run))
    except BaseException as err:
        run.save(status=RunStatus.FAILED.value, reason=failure_reason(err), finished_at=_now())
        raise
    run.succeed()


def _plan_stage(case: Case, folder: Path) -> PlanStageResult:
    """The expected-value plan, written as a plan folder; without a plan the run fails
    (exit 3 for an infeasible case), before any scenario runs."""
    outcome = plan_case(case)
    write_plan(outcome, folder)
    s = require_plan(outcome).summary
    return PlanStageResult(s.status, s.objective, s.figures.cost_per_mtok_usd, s.mip_gap)


def _robust_stage(
    case: Case, folder: Path, run: ScenarioOptions, choice: RobustOptions
) -> RobustStageResult:
    summary = robust(case, folder, run, choice)
    chosen = summary.chosen
    return RobustStageResult(
        chosen_plan=summary.chosen_plan,
        cost_per_mtok_usd=chosen.cost_per_mtok_usd,
        total_cost_usd_per_year=chosen.total_cost_usd_per_year,
        probability_unmet_above_1pct=chosen.probability_unmet_above_1pct,
        vss=summary.vss,
        evpi=summary.evpi,
    )


def _stochastic_stage(
    case: Case, folder: Path, run: ScenarioOptions, settings: StochasticSettings, run_dir: Path
) -> StochasticStageResult:
    """The two-stage plan, on the robust stage's scenarios and by its criterion, with the
    robust choice's orders now evaluated beside it in the same futures (paired)."""
    index = build_index(case)
    racks = pd.read_parquet(run_dir / "robust" / "choice" / "racks.parquet")
    robust_counts = plan_counts(index, racks, "robust/choice/racks.parquet")
    s = stochastic(case, folder, run, settings, {ROBUST_CHOICE: robust_counts})
    orders = first_stage_orders(folder)
    capex = None if orders is None else orders["capex_usd"].sum(min_count=1)
    return StochasticStageResult(
        s.status,
        s.method,
        s.objective,
        s.lower_bound,
        s.gap,
        s.vss,
        s.evpi,
        scenarios=s.scenarios,
        probability_shortfall=s.probability_shortfall,
        racks_ordered_now=None if orders is None else int(orders["new_racks"].sum()),
        capex_ordered_now_usd=None if capex is None or pd.isna(capex) else float(capex),
        robust=s.compared[ROBUST_CHOICE],
        reliability=s.reliability,
        replications=s.replications,
    )


def _alternatives_stage(
    case: Case, folder: Path, run: FarmRun, ask: AlternativesAsk
) -> AlternativesStageResult:
    found = alternatives(case, folder, run, ask)
    return AlternativesStageResult(found.plans, found.directions_solved)


def _installed_stage(
    case: Case, folder: Path, run: ScenarioOptions, choice: RobustOptions
) -> InstalledStageResult | None:
    index = build_index(case)
    installed = index.sr["installed"].to_numpy()
    if not installed.any():
        return None  # nothing owned yet: nothing to evaluate
    summary = evaluate(
        case,
        {"installed": installed},
        folder,
        run,
        alpha=choice.alpha,
        shortfall=choice.shortfall,
    )
    stats = summary.plans["installed"]
    return InstalledStageResult(stats.total_cost_usd_per_year, stats.probability_unmet_above_1pct)


def _compare_stage(run: NightlyRun, folder: Path) -> CompareResult:
    """What changed since the previous successful run of the same case: the answer's racks
    (the hedged plan's racks now, or the robust choice's schedule in a run without the
    stochastic stage) and the compared figures (fleetopt.results.compare, as `fleetopt
    compare`). Racks of a previous run whose answer was of the other kind are not compared."""
    current_record = run.record
    earlier = earlier_runs(current_record, run.output.manifests())
    previous = earlier[-1] if earlier else None
    current = _racks(run.dir, current_record)
    before = None
    if previous and previous.path and _answer(previous) == _answer(current_record):
        before = _racks_remote(run.output, previous.path, previous)
    if before is None or set(current.columns) != set(before.columns):  # none, or not comparable
        before = current.iloc[0:0]
    racks = count_changes(before, current)
    figures = figure_changes(
        nightly_figures(previous) if previous else [], nightly_figures(current_record)
    )
    metrics = pd.DataFrame(
        {
            "metric": [f.name for f in figures],
            "value": [f.b for f in figures],
            "previous": [f.a for f in figures],
            "change": [f.change for f in figures],
        }
    ).astype({"value": float, "previous": float, "change": float})
    folder.mkdir(parents=True, exist_ok=True)
    racks.to_parquet(folder / "racks.parquet", index=False)
    metrics.to_parquet(folder / "metrics.parquet", index=False)
    return CompareResult(
        previous_run=previous.path if previous else None,
        rack_changes=int((racks["change"] != 0).sum()),
    )


def _report_stage(run: NightlyRun) -> ReportResult:
    """report.html in the run folder: last, as it reads every other stage's output."""
    path = write_report(run.dir, complete=False, manifests=run.output.manifests())
    if not run.output.local:
        run.output.push(path, f"{run.remote}/{REPORT_FILE}")
    return ReportResult(REPORT_FILE, path.stat().st_size)


def _answer(record: NightlyRecord) -> str:
    """Where a run's answer lies: its hedged plan's racks, or its robust choice's."""
    if record.results.stochastic is not None:
        return "stochastic/racks.parquet"
    return "robust/choice/racks.parquet"


def _racks(run_dir: Path, record: NightlyRecord) -> pd.DataFrame:
    return _plan_counts(pd.read_parquet(run_dir / _answer(record)))


def _racks_remote(output: Output, run_path: str, record: NightlyRecord) -> pd.DataFrame:
    with output.fs.open_input_file(f"{run_path}/{_answer(record)}") as f:
        return _plan_counts(pd.read_parquet(f))


def _plan_counts(racks: pd.DataFrame) -> pd.DataFrame:
    """A chosen plan's counts: (period,) site, rack_type, count (period in a schedule)."""
    return racks.drop(columns="installed")
