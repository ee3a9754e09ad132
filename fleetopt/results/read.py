"""A run folder's summary, typed by its kind: what `fleetopt show` and the report read."""

from __future__ import annotations

import os
from pathlib import Path

from fleetopt.io.runfolder import RUN_RECORD, RunKind
from fleetopt.results.nightly import NightlyRecord
from fleetopt.results.runs import RobustSummary, ScenarioSummary
from fleetopt.results.schema import read_json, read_summary
from fleetopt.results.stochastic import StochasticSummary
from fleetopt.results.summary import Summary

RunSummary = Summary | ScenarioSummary | RobustSummary | StochasticSummary
SUMMARY_TYPES: dict[RunKind, type[RunSummary]] = {
    RunKind.SWEEP: ScenarioSummary,
    RunKind.EVALUATE: ScenarioSummary,
    RunKind.ROBUST: RobustSummary,
    RunKind.STOCHASTIC: StochasticSummary,
}


def run_summary(folder: str | os.PathLike[str], kind: str) -> RunSummary:
    """summary.json of a complete run folder of `kind` (not a nightly run: its record is
    its summary, `nightly_record`)."""
    if kind == RunKind.PLAN:
        return Summary.read(folder)
    return read_summary(folder, SUMMARY_TYPES[RunKind(kind)])


def nightly_record(folder: str | os.PathLike[str]) -> NightlyRecord:
    """run.json of a nightly run folder, typed."""
    return NightlyRecord.from_json(read_json(Path(folder) / RUN_RECORD))
