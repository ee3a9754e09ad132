"""What the report shows for each run kind: each kind's sections are in its own module
(plan, scenario, stochastic, nightly), their shared pieces in `blocks`."""

from __future__ import annotations

from fleetopt.io.runfolder import RunKind
from fleetopt.report import figures
from fleetopt.report import statistics as stats
from fleetopt.report.blocks import Scope, Section
from fleetopt.report.nightly import nightly_sections
from fleetopt.report.plan import plan_sections
from fleetopt.report.scenario import robust_sections, scenario_sections
from fleetopt.report.statistics import Run
from fleetopt.report.stochastic import stochastic_sections
from fleetopt.results.nightly import NightlyRecord

SECTIONS = {
    RunKind.PLAN: plan_sections,
    RunKind.SWEEP: scenario_sections,
    RunKind.EVALUATE: scenario_sections,
    RunKind.ROBUST: robust_sections,
    RunKind.STOCHASTIC: stochastic_sections,
}


def sections_for(run: Run, manifests: list[NightlyRecord] | None = None) -> list[Section]:
    """The sections of a run's report, by run kind."""
    scope = Scope(figures.colors(stats.rack_types(run)))
    if run.kind == RunKind.NIGHTLY:
        found = stats.sibling_manifests(run.path) if manifests is None else manifests
        return nightly_sections(run, scope, found)
    return SECTIONS[RunKind(run.kind)](run, scope)
