"""Readable text for a run folder (`fleetopt show`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from fleetopt.core.errors import RunFolderError
from fleetopt.io.runfolder import RUN_RECORD, RunKind, is_complete, read_record
from fleetopt.results.alternatives import format_alternatives
from fleetopt.results.marginal import binding_limit_lines
from fleetopt.results.read import nightly_record, run_summary
from fleetopt.results.runs import Distribution, Estimate, RobustSummary, ScenarioSummary
from fleetopt.results.stochastic import StochasticSummary, format_stochastic
from fleetopt.results.summary import Summary
from fleetopt.results.whatif import format_whatif
from fleetopt.results.wording import known as _known
from fleetopt.results.wording import money as _money
from fleetopt.results.wording import num as _num
from fleetopt.solve.result import SolveStatus


def format_plan(run_dir: str | Path) -> str:
    """The plan per site (a schedule: the orders year by year), power used against the
    caps, and the headline figures."""
    run = Path(run_dir)
    summary = Summary.read(run)
    fig = summary.figures
    lines = [
        f"case {summary.case}: {summary.status}"
        f" (objective {summary.objective_kind}, solver {summary.solver},"
        f" gap {_num(summary.mip_gap, '{:.2e}')},"
        f" build {summary.build_seconds:.2f} s, solve {summary.solve_seconds:.2f} s)",
    ]
    if summary.message and summary.status is not SolveStatus.OPTIMAL:
        lines.append(f"  solver says: {summary.message}")
    if summary.diagnosis:
        lines.append("  why:")
        lines += [f"    {part}" for part in summary.diagnosis.split("; ")]
    if not summary.has_plan:
        lines += [f"  warning: {w}" for w in summary.warnings]
        return "\n".join(lines)
    if summary.periods:
        lines.append(
            f"  periods {summary.periods[0]}-{summary.periods[-1]}: figures per year, levelized"
            f" (discounted average); cost over the horizon {_money(summary.npv_cost_usd)}"
            f" at {summary.periods[0]} value"
        )
    lines += [
        f"  cost per million tokens  {_money(fig.cost_per_mtok_usd)}",
        f"  tokens per joule         {_num(fig.tokens_per_joule)}",
        f"  served tokens per second {_num(fig.served_tokens_per_s, '{:,.0f}')}",
        f"  fleet cost per year      {_money(fig.fleet_cost_usd_per_year)}"
        f" = capex {_money(fig.capex_cost_usd_per_year)}"
        f" + opex {_money(fig.opex_cost_usd_per_year)}"
        f" + energy {_money(fig.energy_cost_usd_per_year)}",
        f"  unmet-demand penalty     {_money(fig.penalty_cost_usd_per_year)}",
    ]
    racks = pd.read_parquet(run / "racks.parquet")
    sites = pd.read_parquet(run / "sites.parquet")
    placement = pd.read_parquet(run / "placement.parquet")
    workloads = pd.read_parquet(run / "workloads.parquet")
    if summary.periods:
        lines += _schedule_lines(run, summary.periods, racks, sites)
        last = summary.periods[-1]
        lines.append(f"\nthe fleet in {last}:")
        racks, sites, placement, workloads = (
            t[t["period"] == last] for t in (racks, sites, placement, workloads)
        )
    lines += _site_lines(racks, sites, placement)
    short = workloads[workloads["unmet_share"] > 1e-6]
    if len(short):
        lines.append("\nunmet demand:")
        lines += [
            f"  {_when(w)}{w.workload}: {w.unmet_share:.1%} unmet" for w in short.itertuples()
        ]
    values = run / "marginal_values.parquet"
    if values.exists():
        lines += binding_limit_lines(pd.read_parquet(values))
    lines += [f"\nwarning: {w}" for w in summary.warnings]
    return "\n".join(lines)


def _schedule_lines(
    run: Path, periods: list[int], racks: pd.DataFrame, sites: pd.DataFrame
) -> list[str]:
    """The order schedule year by year, and each site's power against each year's cap."""
    orders = pd.read_parquet(run / "orders.parquet")
    totals = pd.read_parquet(run / "periods.parquet").set_index("period")
    lines = ["\norder schedule (racks entering service; order by the year given):"]
    for year in periods:
        here = orders[orders["period"] == year]
        in_service = int(racks.loc[racks["period"] == year, "count"].sum())
        cost = totals.loc[year]
        lines.append(
            f"  {year}: {int(here['new_racks'].sum()):,d} new, {in_service:,d} in service;"
            f" {_money(cost['fleet_cost_usd_per_year'])}/year fleet,"
            f" {_money(cost['cost_per_mtok_usd'])} per million tokens"
        )
        lines += [
            f"    order by {f'{o.order_by_year:g}:':<7} {o.new_racks:>5,d} x {o.rack_type:<16}"
            f" at {o.site} ({_money(o.capex_usd_each)} each)"
            for o in here.sort_values(["order_by_year", "site", "rack_type"]).itertuples()
        ]
    lines.append("\npower used / cap per year (facility MW):")
    width = max(len(str(s)) for s in sites["site"])
    lines.append("  " + " " * width + "".join(f"{year:>16}" for year in periods))
    for site, rows in sites.groupby("site", sort=False):
        by_year = rows.set_index("period")
        cells = [
            f"{by_year.loc[y, 'power_mw']:,.1f}/{by_year.loc[y, 'power_cap_mw']:,.1f}"
            for y in periods
        ]
        lines.append(f"  {site:<{width}}" + "".join(f"{c:>16}" for c in cells))
    return lines


def _site_lines(racks: pd.DataFrame, sites: pd.DataFrame, placement: pd.DataFrame) -> list[str]:
    """Per site: power against its cap, floor use, and each rack type's count and work."""
    lines = []
    for site in sites.itertuples():
        share = site.power_mw / site.power_cap_mw if site.power_cap_mw else float("nan")
        lines.append(
            f"\nsite {site.site}: {site.power_mw:,.1f} of {site.power_cap_mw:,.1f} MW"
            f" ({share:.0%}), average draw {site.avg_facility_mw:,.1f} MW,"
            f" {site.slots:,.0f} slots"
            + (
                f" of {site.max_slots:,.0f}"
                if pd.notna(site.max_slots) and site.max_slots != float("inf")
                else ""
            )
        )
        here = racks[racks["site"] == site.site]
        for rack in here.itertuples():
            new = rack.count - rack.installed
            uses = placement[
                (placement["site"] == site.site) & (placement["rack_type"] == rack.rack_type)
            ]
            work = ", ".join(
                f"{p.workload}/{p.phase} {p.racks:,.1f}"
                for p in uses.sort_values("racks", ascending=False).itertuples()
            )
            lines.append(
                f"  {rack.rack_type:<18} {rack.count:>6,d} racks ({rack.installed:,d} installed,"
                f" {new:,d} new)" + (f": {work}" if work else ": idle")
            )
    return lines


def _when(row: Any) -> str:
    """'2027 ' for a row of a schedule (a table with a period column), '' otherwise."""
    period = getattr(row, "period", None)
    return "" if period is None else f"{period} "


def _dist_line(label: str, dist: Distribution, money: bool = True) -> str:
    fmt = _money if money else (lambda v: _num(v))
    se = f" ± {fmt(dist.se)}" if _known(dist.se) else ""
    return (
        f"  {label:<26} mean {fmt(dist.mean)}{se}, p5 {fmt(dist.p5)},"
        f" p50 {fmt(dist.p50)}, p95 {fmt(dist.p95)}, CVaR {fmt(dist.cvar)}"
    )


def _estimate(label: str, estimate: Estimate) -> str:
    """'value of ... $1.2M ± $0.3M per year' ('n/a' where unknown)."""
    return f"  {label} {_money(estimate.value)} ± {_money(estimate.se)} per year"


def format_scenarios(summary: ScenarioSummary | RobustSummary) -> str:
    """A sweep, evaluate or robust run: distributions per plan, rack and site use."""
    lines = [
        f"{summary.kind} of case {summary.case}: {summary.scenarios} scenarios, seed"
        f" {summary.seed}, CVaR at alpha {summary.alpha}"
    ]
    if isinstance(summary, RobustSummary):
        lines += [
            f"  chosen plan: {summary.chosen_plan} (by {summary.criterion} total cost)",
            _estimate("value of the stochastic solution", summary.vss),
            _estimate("expected value of perfect information", summary.evpi),
        ]
        plans = summary.candidates
    else:
        plans = summary.plans
        if summary.errors:
            lines.append(f"  {summary.errors} scenario(s) ended in error: see results.parquet")
    for plan, stats in plans.items():
        statuses = ", ".join(f"{k} {v}" for k, v in stats.status_counts.items())
        lines += [
            f"\nplan {plan} ({statuses})",
            _dist_line("cost per million tokens", stats.cost_per_mtok_usd),
            _dist_line("total cost per year", stats.total_cost_usd_per_year),
            f"  P(unmet demand > 1%)       {_num(stats.probability_unmet_above_1pct, '{:.1%}')}",
        ]
    if isinstance(summary, ScenarioSummary) and summary.rack_types:
        left_out = summary.rack_types_left_out or 0
        note = f"; {left_out} unsolved scenario(s) left out" if left_out else ""
        lines.append(
            "\nrack types in the best mix (share of solved scenarios; total count"
            f" p5/p50/p95{note}):"
        )
        lines += [
            f"  {rack:<18} {r.share_of_scenarios:6.1%}   {r.p5:,.0f} / {r.p50:,.0f} / {r.p95:,.0f}"
            for rack, r in summary.rack_types.items()
        ]
    if isinstance(summary, ScenarioSummary) and summary.sites:
        lines.append("\nsite power-cap utilisation p5/p50/p95:")
        lines += [
            f"  {site:<18} {u.p5:.0%} / {u.p50:.0%} / {u.p95:.0%}"
            for site, u in summary.sites.items()
        ]
    return "\n".join(lines)


def format_run(run_dir: str | Path) -> str:
    """Whatever kind of run folder this is, in readable form; an incomplete run says so."""
    run = Path(run_dir)
    record = read_record(run)
    if record is None:
        raise RunFolderError(f"{run} is not a fleetopt run folder (no {RUN_RECORD})")
    if not is_complete(run):
        reason = f": {record.reason}" if record.reason else ""
        return f"{run}: incomplete {record.kind} run, {record.status}{reason}"
    if record.kind == RunKind.PLAN:
        return format_plan(run)
    if record.kind == RunKind.NIGHTLY:
        return format_nightly(run)
    if record.kind == RunKind.WHATIF:
        return format_whatif(run)
    if record.kind == RunKind.ALTERNATIVES:
        return format_alternatives(run)
    summary = run_summary(run, record.kind)
    if isinstance(summary, StochasticSummary):
        return format_stochastic(summary)
    assert isinstance(summary, ScenarioSummary | RobustSummary)
    return format_scenarios(summary)


def _usd(value: float | None, fmt: str = "{:,.0f}") -> str:
    """'$1,234' (as `fmt` writes it), 'n/a' when unknown."""
    return "$" + fmt.format(value) if _known(value) else "n/a"


def format_nightly(run_dir: str | Path, location: str | None = None) -> str:
    """A nightly run folder in short: plans, risk, what changed, stage timings.

    `location` names where the run lives when that is not `run_dir` (a URI output).
    """
    run = Path(run_dir)
    m = nightly_record(run)
    plan, rob = m.results.plan, m.results.robust
    assert plan is not None and rob is not None, "a complete nightly run has both stages"
    cost = rob.cost_per_mtok_usd
    unmet = _num(rob.probability_unmet_above_1pct, "{:.1%}")
    lines = [
        f"nightly run {m.run_id} of case {m.case}: {m.status}",
        f"  output: {location or run}",
        f"  expected-value plan: {_usd(plan.cost_per_mtok_usd, '{:.4g}')} per million tokens",
        f"  robust choice {rob.chosen_plan}: mean {_usd(cost.mean, '{:.4g}')},"
        f" p95 {_usd(cost.p95, '{:.4g}')} per million tokens; P(unmet > 1%) {unmet}",
        f"  value of the stochastic solution {_usd(rob.vss.value)}/year,"
        f" EVPI {_usd(rob.evpi.value)}/year",
    ]
    two_stage = m.results.stochastic
    if two_stage:
        gap = "n/a" if two_stage.gap is None else f"{two_stage.gap:.2%}"
        lines.append(
            f"  stochastic plan ({two_stage.method}): {_usd(two_stage.objective.value)}/year,"
            f" certified gap {gap}, VSS {_usd(two_stage.vss.value)}/year,"
            f" EVPI {_usd(two_stage.evpi.value)}/year"
        )
    whatif = m.results.whatif
    if whatif:
        lines.append(f"  what-if: {len(whatif.variants) - 1} variant(s), change per variant:")
        lines += [
            f"    {v.variant}: {v.status}, {_money(v.delta_objective)}" for v in whatif.variants[1:]
        ]
    found = m.results.alternatives
    if found:
        lines.append(
            f"  alternatives: {len(found.plans) - 1} plan(s) found in"
            f" {found.directions_solved} direction(s): "
            + ", ".join(f"{p.plan} x{_num(p.cost_ratio, '{:.4f}')}" for p in found.plans[1:])
        )
    installed = m.results.installed
    if installed:
        unmet_alone = installed.probability_unmet_above_1pct
        share = "n/a (no scenario solved)" if unmet_alone is None else f"{unmet_alone:.1%}"
        lines.append(f"  installed fleet alone: P(unmet > 1%) {share}")
    compare = m.results.compare
    if compare is not None and compare.previous_run:
        lines.append(f"  since {compare.previous_run}:")
        racks = pd.read_parquet(run / "compare" / "racks.parquet")
        lines += [
            f"    {_when(r)}{r.site} {r.rack_type}: {r.count_previous} -> {r.count} racks"
            for r in racks[racks["change"] != 0].itertuples()
        ] or ["    rack counts unchanged"]
        metrics = pd.read_parquet(run / "compare" / "metrics.parquet")
        lines += [
            f"    {r.metric}: {r.previous:.4g} -> {r.value:.4g}"
            for r in metrics.dropna().itertuples()
            if r.change != 0
        ]
    else:
        lines.append("  no previous successful run of this case to compare with")
    report = m.results.report
    if report:
        lines.append(f"  report: {location or run}/{report.file}")
    seconds = ", ".join(f"{name} {stage.seconds}" for name, stage in m.stages.items())
    lines.append("  stage seconds: " + seconds)
    return "\n".join(lines)
