"""Readable text for a run folder (`fleetopt show`): the report's figures and tables as
text, every number written by fleetopt.core.formats.

A multi-period plan is shown year by year (its cash out, order schedule and power against
the caps per year, then each year's fleet; `year` picks one), never summed over years; a
stochastic run opens with the orders to place now.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from fleetopt.core import formats
from fleetopt.core.errors import RunFolderError
from fleetopt.io.runfolder import RUN_RECORD, RunKind, is_complete, read_record
from fleetopt.results import alternatives as alt
from fleetopt.results import whatif, yearly
from fleetopt.results.marginal import binding_limit_lines
from fleetopt.results.nightly import METRIC_LABELS, NightlyRecord, StochasticStageResult
from fleetopt.results.read import nightly_record, run_summary
from fleetopt.results.runs import (
    Distribution,
    Estimate,
    EstimateKind,
    RobustSummary,
    ScenarioSummary,
    robust_rule,
)
from fleetopt.results.stochastic import (
    CURVE_DISPLAY,
    EXPECTED_VALUE_PLAN,
    ROBUST_CHOICE,
    STOCHASTIC_PLAN,
    ReplicationGap,
    StochasticSummary,
    curve_table,
    method_name,
    shortfall_depth,
)
from fleetopt.results.summary import Summary, objective_unit
from fleetopt.solve.result import SolveStatus


def text_table(
    frame: pd.DataFrame, columns: Sequence[yearly.Column], indent: str = "  "
) -> list[str]:
    """`columns` (column, header, format) of `frame` as aligned lines: text to the left,
    numbers to the right."""
    present = [(c, h, f) for c, h, f in columns if c in frame]
    cells = [[h for _, h, _ in present]]
    cells += [[f(row[c]) for c, _, f in present] for _, row in frame.iterrows()]
    widths = [max(len(row[i]) for row in cells) for i in range(len(present))]
    left = [f in yearly.TEXT_FORMATS for _, _, f in present]
    return [
        indent
        + "  ".join(
            cell.ljust(w) if is_text else cell.rjust(w)
            for cell, w, is_text in zip(row, widths, left, strict=True)
        ).rstrip()
        for row in cells
    ]


# --- plans ------------------------------------------------------------------------------


def format_plan(run_dir: str | Path, year: int | None = None) -> str:
    """A plan: its headline figures (levelized over a schedule's years, and said so), then a
    schedule's years (cash out, orders with their order-by dates, power against the caps),
    then the fleet per site of each year (only `year`, when given)."""
    run = Path(run_dir)
    summary = Summary.read(run)
    fig = summary.figures
    lines = [
        f"case {summary.case}: {summary.status}"
        f" (objective {summary.objective_kind}, solver {summary.solver},"
        f" gap {formats.gap(summary.mip_gap)},"
        f" build {formats.seconds(summary.build_seconds)},"
        f" solve {formats.seconds(summary.solve_seconds)})",
    ]
    if summary.message and summary.status is not SolveStatus.OPTIMAL:
        lines.append(f"  solver says: {summary.message}")
    if summary.diagnosis:
        lines.append("  why:")
        lines += [f"    {part}" for part in summary.diagnosis.split("; ")]
    if not summary.has_plan:
        lines.append(f"  no plan: fleetopt solve exits {int(summary.exit_code)}")
        lines += [f"  warning: {w}" for w in summary.warnings]
        return "\n".join(lines)
    years = summary.periods or []
    level = ", levelized" if years else ""
    workloads = pd.read_parquet(run / "workloads.parquet")
    if years:
        lines.append(
            f"  years {years[0]}-{years[-1]}: figures marked levelized are discounted averages"
            " over the years; each year follows on its own"
        )
    heads = [
        ("cost per million tokens" + level, formats.usd(fig.cost_per_mtok_usd)),
        ("tokens per joule" + level, formats.number(fig.tokens_per_joule)),
        ("served tokens per second" + level, formats.number(fig.served_tokens_per_s)),
        (
            "fleet cost per year" + level,
            f"{formats.usd(fig.fleet_cost_usd_per_year)}"
            f" = capex {formats.usd(fig.capex_cost_usd_per_year)} (annualised)"
            f" + opex {formats.usd(fig.opex_cost_usd_per_year)}"
            f" + energy {formats.usd(fig.energy_cost_usd_per_year)}",
        ),
        ("unmet-demand penalty" + level, formats.usd(fig.penalty_cost_usd_per_year)),
        (
            "unmet share of tokens" + (f", {years[0]}-{years[-1]}" if years else ""),
            formats.share(yearly.unmet_share(workloads)),
        ),
    ]
    if years:
        heads.append(
            (
                "cost over the horizon",
                f"{formats.usd(summary.npv_cost_usd)} (fleet + penalty, discounted to {years[0]})",
            )
        )
    width = max(len(label) for label, _ in heads)
    lines += [f"  {label:<{width}}  {value}" for label, value in heads]
    tables = {
        name: pd.read_parquet(run / f"{name}.parquet")
        for name in ("racks", "sites", "placement", "workloads")
    }
    if years:
        lines += _years_lines(run, tables)
    limits = run / "marginal_values.parquet"
    values = pd.read_parquet(limits) if limits.exists() else None
    for period, fleet in _by_year(tables):
        if year is not None and period != year:
            continue
        if period is not None:
            lines.append(f"\n== {period} ==")
        lines += _fleet_lines(*fleet)
        if values is not None:
            lines += binding_limit_lines(values, period)
    lines += [f"\nwarning: {w}" for w in summary.warnings]
    return "\n".join(lines)


def _by_year(
    tables: dict[str, pd.DataFrame],
) -> list[tuple[int | None, tuple[pd.DataFrame, ...]]]:
    """Each year's racks, sites, placement and workloads (one entry without periods)."""
    names = ("racks", "sites", "placement", "workloads")
    found = yearly.years(tables["sites"])
    if not found:
        return [(None, tuple(tables[n] for n in names))]
    return [(y, tuple(tables[n][tables[n][yearly.PERIOD] == y] for n in names)) for y in found]


def _years_lines(run: Path, tables: dict[str, pd.DataFrame]) -> list[str]:
    """Cash out per year, the order schedule, and each site's power against each year's cap."""
    orders = pd.read_parquet(run / "orders.parquet")
    periods = pd.read_parquet(run / "periods.parquet")
    cash = yearly.cash_out(orders, periods, tables["workloads"])
    lines = [
        "\nyear by year (cash out: the capex of the racks entering service that year, at that"
        " year's price, + opex + energy; fleet cost: capex annualised):"
    ]
    lines += text_table(cash, yearly.CASH_COLUMNS)
    schedule = yearly.order_schedule(orders)
    lines.append(
        "\norder schedule (racks enter service at the start of the year; order them by the"
        " date given):"
    )
    lines += text_table(schedule, yearly.ORDER_COLUMNS) if len(schedule) else ["  no new racks"]
    use = yearly.power_use(tables["sites"])
    use["cell"] = [
        f"{formats.mw(p)}/{formats.mw(c)} ({formats.share(s)})"
        for p, c, s in zip(use["power_mw"], use["power_cap_mw"], use["power_share"], strict=True)
    ]
    grid = use.pivot(index="site", columns=yearly.PERIOD, values="cell")
    grid = grid.reindex(pd.unique(use["site"])).reset_index()
    columns: list[yearly.Column] = [("site", "site", str)]
    columns += [(y, str(y), str) for y in grid.columns if y != "site"]
    lines.append("\npower used / cap per year (facility MW at full load, share of the cap):")
    return lines + text_table(grid, columns)


def _fleet_lines(
    racks: pd.DataFrame, sites: pd.DataFrame, placement: pd.DataFrame, workloads: pd.DataFrame
) -> list[str]:
    """Per site: power against its cap, floor use, and each rack type's count and work;
    then the workloads left short."""
    lines = []
    for site in sites.itertuples():
        share = site.power_mw / site.power_cap_mw if site.power_cap_mw else None
        floor = (
            f" of {formats.integer(site.max_slots)}"
            if pd.notna(site.max_slots) and site.max_slots != float("inf")
            else ""
        )
        lines.append(
            f"site {site.site}: {formats.mw(site.power_mw)} of"
            f" {formats.megawatts(site.power_cap_mw)} ({formats.share(share)}), average draw"
            f" {formats.megawatts(site.avg_facility_mw)}, {formats.integer(site.slots)} slots"
            + floor
        )
        for rack in racks[racks["site"] == site.site].itertuples():
            uses = placement[
                (placement["site"] == site.site) & (placement["rack_type"] == rack.rack_type)
            ]
            work = ", ".join(
                f"{p.workload}/{p.phase} {formats.number(p.racks)}"
                for p in uses.sort_values("racks", ascending=False).itertuples()
            )
            lines.append(
                f"  {rack.rack_type:<18} {rack.count:>6,d} racks ({rack.installed:,d} installed,"
                f" {rack.count - rack.installed:,d} new)" + (f": {work}" if work else ": idle")
            )
    short = workloads[workloads["unmet_share"] > 1e-6]
    lines.append(
        "unmet demand: "
        + (
            ", ".join(f"{w.workload} {formats.share(w.unmet_share)}" for w in short.itertuples())
            if len(short)
            else "none"
        )
    )
    return lines


# --- scenario runs ----------------------------------------------------------------------


def _dist_line(label: str, dist: Distribution) -> str:
    se = "" if formats.absent(dist.se) else f" ± {formats.usd(dist.se)}"
    return (
        f"  {label:<26} mean {formats.usd(dist.mean)}{se}, p5 {formats.usd(dist.p5)},"
        f" p50 {formats.usd(dist.p50)}, p95 {formats.usd(dist.p95)},"
        f" CVaR {formats.usd(dist.cvar)}"
    )


BOUND_WORDS = {
    EstimateKind.ESTIMATE: "",
    EstimateKind.LOWER_BOUND: " (a lower bound)",
    EstimateKind.UPPER_BOUND: " (an upper bound)",
}


def _estimate(label: str, estimate: Estimate) -> str:
    """'value of ... $1.20M ± $300.0k per year (a lower bound)' ('n/a' where unknown)."""
    value = formats.usd_plus_minus(estimate.value, estimate.se)
    return f"  {label} {value} per year{BOUND_WORDS[estimate.kind]}"


def format_scenarios(summary: ScenarioSummary | RobustSummary) -> str:
    """A sweep, evaluate or robust run: distributions per plan, rack and site use."""
    lines = [
        f"{summary.kind} of case {summary.case}: {summary.scenarios} scenarios, seed"
        f" {summary.seed}, CVaR at alpha {summary.alpha}"
    ]
    if isinstance(summary, RobustSummary):
        lines += [
            f"  chosen plan: {summary.chosen_plan} (by {summary.rule})",
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
            f"  P(unmet demand > 1%)       {formats.share(stats.probability_unmet_above_1pct)}",
        ]
    if isinstance(summary, ScenarioSummary) and summary.rack_types:
        left_out = summary.rack_types_left_out or 0
        note = f"; {left_out} unsolved scenario(s) left out" if left_out else ""
        lines.append(
            "\nrack types in the best mix (share of solved scenarios; total count"
            f" p5/p50/p95{note}):"
        )
        lines += [
            f"  {rack:<18} {formats.share(r.share_of_scenarios):>7}   {formats.integer(r.p5)}"
            f" / {formats.integer(r.p50)} / {formats.integer(r.p95)}"
            for rack, r in summary.rack_types.items()
        ]
    if isinstance(summary, ScenarioSummary) and summary.sites:
        lines.append("\nsite power-cap utilisation p5/p50/p95:")
        lines += [
            f"  {site:<18} {formats.share(u.p5)} / {formats.share(u.p50)} / {formats.share(u.p95)}"
            for site, u in summary.sites.items()
        ]
    return "\n".join(lines)


# --- what-if and alternatives runs -----------------------------------------------------

SHOWN_CHANGES = 24  # rows of racks bought differently `fleetopt show` lists


def _objective(kind: str, periods: list[int] | None) -> str:
    """'objective min_cost, USD per year, levelized'."""
    return f"objective {kind}, {objective_unit(kind, bool(periods))}"


def format_whatif(run_dir: str | Path) -> str:
    """A what-if run: the variants' changes, their figures side by side (base first), then
    the racks they buy differently from the base (a schedule's orders each year)."""
    run = Path(run_dir)
    summary = whatif.WhatifSummary.read(run)
    variants = whatif.variants_frame(summary)
    lines = [
        f"what-if run of case {summary.case}: {len(variants) - 1} variant(s) and the base"
        f" ({_objective(summary.objective_kind, summary.periods)})",
    ]
    lines += [f"  {v.label} = {v.what}" for v in variants.iloc[1:].itertuples()]
    lines.append(
        "\nfigures (change: against the base, re-solved; LP estimate: what the base's marginal"
        " values predict for a change of limits alone):"
    )
    lines += text_table(variants, whatif.figure_columns(summary))
    lines += [f"  {v.label}: {v.message}" for v in variants.itertuples() if v.message]
    what, changed, columns = whatif.changed_racks_table(run, variants)
    lines.append(f"\nracks bought differently ({what}):")
    if not len(changed):
        return "\n".join([*lines, "  none: every variant buys the base's racks"])
    lines += text_table(changed.head(SHOWN_CHANGES), columns)
    if len(changed) > SHOWN_CHANGES:
        lines.append(f"  ... and {len(changed) - SHOWN_CHANGES} more")
    return "\n".join(lines)


def format_alternatives(run_dir: str | Path) -> str:
    """An alternatives run: the plans (cost against the optimum, racks bought differently),
    then the mix of each: every group's share of the work."""
    run = Path(run_dir)
    summary = alt.AlternativesSummary.read(run)
    plans = alt.plans_frame(summary)
    lines = [
        f"alternatives of case {summary.case}: {len(plans) - 1} plan(s) within"
        f" {formats.share(summary.slack)} of the optimum"
        f" ({_objective(summary.objective_kind, summary.periods)});"
        f" {summary.directions_solved} direction(s) solved, {summary.directions_repeating}"
        " gave a plan found already",
    ]
    if summary.message:
        lines.append(f"  {summary.message}")
    lines += text_table(plans, alt.PLAN_COLUMNS)
    names = list(plans[alt.PLAN])
    wide = alt.shares_wide(pd.read_parquet(run / "shares.parquet"), names).reset_index()
    over = ", levelized over the years" if summary.periods else ""
    lines.append(f"\nmix: each group's share of the tokens the fleet processes{over}:")
    columns: list[yearly.Column] = [("group", "group", str)]
    columns += [(name, name, formats.share) for name in names]
    return "\n".join(lines + text_table(wide, columns))


# --- stochastic runs --------------------------------------------------------------------


def format_stochastic(run_dir: str | Path, summary: StochasticSummary) -> str:
    """A stochastic run: the orders to place now first, then the plan's value with its
    certified bound, VSS and EVPI with their 95% intervals, the out-of-sample check and the
    spread of each scenario's cost, shortfall and recourse."""
    run, s = Path(run_dir), summary
    name = method_name(s.method)
    lines = [
        f"stochastic plan of case {s.case} ({name}, {s.scenarios} scenarios, seed {s.seed},"
        f" {s.risk.measure} total cost): {s.status}"
    ]
    schedule = first_stage_orders(run)
    if schedule is None:
        lines.append("\norders to place now: this run does not record them")
    else:
        lines.append(
            f"\norders to place now ({formats.integer(schedule['new_racks'].sum())} racks,"
            f" capex {formats.usd(schedule['capex_usd'].sum(min_count=1))}):"
        )
        lines += text_table(schedule, yearly.ORDER_COLUMNS) if len(schedule) else ["  none"]
    lines.append("\nper year, over the run's scenarios (± standard error, 95% interval):")
    estimates = [
        ("hedged plan (RP)", s.objective),
        ("expected-value plan (EEV)", s.ev_objective),
        ("wait and see (WS)", s.wait_and_see),
        ("value of the stochastic solution", s.vss),
        ("expected value of perfect information", s.evpi),
        *(
            (f"saving over the {name} plan (paired)", compared.difference)
            for name, compared in s.compared.items()
        ),
    ]
    lines += [
        f"  {label:<38} {formats.usd_plus_minus(e.value, e.se)}"
        + ("" if e.value is None or e.se is None else f"  {_interval(e)}")
        for label, e in estimates
    ]
    lines.append(
        f"  {'certified lower bound':<38} {formats.usd(s.lower_bound)} (gap {formats.gap(s.gap)})"
    )
    if s.reliability is not None:
        lines.append(f"  reliability target: {s.reliability.describe()}")
    recourse, meaning = s.recourse_racks()
    lines.append(
        f"  P(shortfall below a minimum served share) {formats.share(s.probability_shortfall)};"
        f" recourse racks: {recourse} ({meaning})"
    )
    lines.append(
        f"\nout of sample ({s.out_of_sample_scenarios} scenarios, seed"
        f" {s.out_of_sample_seed}), total cost per year:"
    )
    for plan, oos in s.out_of_sample.items():
        lines.append(
            f"  {plan:<16} mean {formats.usd(oos.mean)}, 95% interval"
            f" {formats.usd_interval(oos.ci95_low, oos.ci95_high)}"
        )
    if s.replications is not None:
        lines += _replication_lines(s.replications)
    results_path = run / "results.parquet"
    if results_path.exists():
        lines += _spread_lines(pd.read_parquet(results_path))
    if s.shortfall_curve:
        lines.append("\nthe cost of reliability, one plan per target P:")
        lines += text_table(curve_table(s.shortfall_curve), CURVE_DISPLAY)
    history = run / "convergence.parquet"
    rows = len(pd.read_parquet(history)) if history.exists() else 0
    if rows > 1:
        lines.append(f"\n{name}: {s.iterations} iterations, {formats.seconds(s.solve_seconds)}")
    else:
        lines.append(f"\n{name}: solved in {formats.seconds(s.solve_seconds)}")
    if s.message and s.status is not SolveStatus.OPTIMAL:
        lines.append(f"  {s.message}")
    return "\n".join(lines)


REPLICATION_TEXT_COLUMNS: list[yearly.Column] = [
    ("batch", "batch", formats.integer),
    ("seed", "seed", formats.identifier),
    ("lower_bound", "batch optimum (bound)", formats.usd),
    ("plan_cost", "plan's cost", formats.usd),
    ("gap", "gap", formats.usd),
]


def _replication_lines(gap: ReplicationGap) -> list[str]:
    """The multiple-replication procedure: the gap estimate, its bound, the verdict and
    the batches."""
    batches = pd.DataFrame([asdict(b) for b in gap.batches])
    return [
        f"\noptimality gap of the plan, {gap.replications} batches of {gap.scenarios}"
        " scenarios of other seeds (multiple-replication procedure), per year:",
        f"  {'gap estimate':<38} {formats.usd_plus_minus(gap.mean, gap.se)} ({gap.slack()})",
        f"  {'one-sided ' + formats.share(gap.confidence) + ' upper bound':<38}"
        f" {formats.usd(gap.ci_high)} ({formats.gap(gap.relative)} of the plan's cost"
        f" {formats.usd(gap.plan_cost)})",
        f"  {gap.verdict()}",
        *text_table(batches, REPLICATION_TEXT_COLUMNS),
    ]


def _interval(estimate: Estimate) -> str:
    assert estimate.value is not None and estimate.se is not None
    half = 1.959963984540054 * estimate.se
    return formats.usd_interval(estimate.value - half, estimate.value + half)


SPREAD = (
    ("total_cost_usd_per_year", "total cost per year", formats.usd),
    ("shortfall_share", "shortfall share", formats.share),
    ("recourse_racks", "recourse racks", formats.number),
)


def _spread_lines(results: pd.DataFrame) -> list[str]:
    """p5 / p50 / p95 over the solved scenarios, per plan, of cost, shortfall and recourse."""
    solved = results[results["status"].isin([s.value for s in SolveStatus if s.has_plan])]
    lines = ["\neach scenario, p5 / p50 / p95 over the run's scenarios:"]
    for column, label, write in SPREAD:
        if column not in solved:
            continue
        for plan, rows in solved.groupby("plan", sort=False):
            q = rows[column].quantile([0.05, 0.5, 0.95]).tolist()
            lines.append(f"  {label:<20} {plan:<16} " + " / ".join(write(v) for v in q))
    return lines


def first_stage_orders(run_dir: str | Path) -> pd.DataFrame | None:
    """A stochastic run's orders placed now (orders.parquet) as an order schedule; from its
    first year's racks where a run wrote no orders (no prices then); None with neither."""
    run = Path(run_dir)
    if (run / "orders.parquet").exists():
        return yearly.order_schedule(pd.read_parquet(run / "orders.parquet"))
    if not (run / "racks.parquet").exists():
        return None
    _, first = next(yearly.by_year(pd.read_parquet(run / "racks.parquet")))
    new = first.assign(new_racks=first["count"] - first["installed"], capex_usd_each=float("nan"))
    return yearly.order_schedule(new)


# --- any run ----------------------------------------------------------------------------


def format_run(run_dir: str | Path, year: int | None = None) -> str:
    """Whatever kind of run folder this is, in readable form; an incomplete run says so.
    `year`: a multi-period plan's fleet in that year only."""
    run = Path(run_dir)
    record = read_record(run)
    if record is None:
        raise RunFolderError(f"{run} is not a fleetopt run folder (no {RUN_RECORD})")
    if not is_complete(run):
        reason = f": {record.reason}" if record.reason else ""
        return f"{run}: incomplete {record.kind} run, {record.status}{reason}"
    if record.kind == RunKind.PLAN:
        return format_plan(run, year)
    if record.kind == RunKind.NIGHTLY:
        return format_nightly(run)
    if record.kind == RunKind.WHATIF:
        return format_whatif(run)
    if record.kind == RunKind.ALTERNATIVES:
        return format_alternatives(run)
    summary = run_summary(run, record.kind)
    if isinstance(summary, StochasticSummary):
        return format_stochastic(run, summary)
    assert isinstance(summary, ScenarioSummary | RobustSummary)
    return format_scenarios(summary)


def answer_rule(record: NightlyRecord) -> str:
    """Which plan is a nightly run's answer, and the rule that chose it."""
    params, two_stage = record.params, record.results.stochastic
    alpha = params.get("alpha")
    measure = (
        f"CVaR at {alpha:.0%} of total cost"
        if params.get("criterion") == "cvar"
        else "mean total cost"
    )
    priced = " (fleet + shortfall penalty)" if params.get("shortfall", False) else ""
    scenarios = params.get("scenarios")
    if two_stage is not None:
        target = two_stage.reliability
        held = f", with {target.describe()}" if target is not None else ""
        return (
            f"the hedged plan (two-stage stochastic program, {method_name(two_stage.method)}):"
            f" the orders now of least {measure}{priced} over {scenarios} futures{held}, each"
            f" future's later decisions its own; certified within {formats.gap(two_stage.gap)}"
            " of the best possible"
        )
    robust = record.results.robust
    chosen = robust.chosen_plan if robust is not None else "none"
    rule = robust_rule(params.get("criterion"), alpha, params.get("shortfall", False))
    return (
        f"the robust choice {chosen}: of the expected-value plan and the sweep's most frequent"
        f" plans, the one with {rule} over {scenarios} futures"
    )


def saving(difference: Estimate) -> str:
    """A paired difference (other plan - hedged plan) as 'saves $X +- $Y/year' (or 'costs
    ... more', within the gap, when negative)."""
    value, se = difference.value, difference.se
    if value is not None and value < 0:
        return f"costs {formats.usd_plus_minus(-value, se)}/year more"
    return f"saves {formats.usd_plus_minus(value, se)}/year"


def hedging_saves(
    two_stage: StochasticStageResult, robust_plan: str, results: pd.DataFrame | None = None
) -> list[str]:
    """What the hedged plan saves over the expected-value plan and the robust choice, each
    paired on the same futures under the same shortfall rule (`results`: the stochastic
    stage's, for how deep the robust choice's shortfalls go). A robust choice that is the
    expected-value plan is said once, not as a second, identical saving."""
    lines = [
        f"{saving(two_stage.vss)} over the expected-value plan (value of the stochastic solution)"
    ]
    if two_stage.robust is not None:
        depth = shortfall_depth(results, ROBUST_CHOICE)
        probability = formats.share(two_stage.robust.probability_shortfall)
        about = f"its orders now, P(shortfall) {probability}"
        about += f"; {depth.text()}" if depth is not None else ""
        if robust_plan == EXPECTED_VALUE_PLAN:
            lines.append(f"the expected-value plan is also the robust choice ({about})")
        else:
            lines.append(
                f"{saving(two_stage.robust.difference)} over the robust choice {robust_plan} "
                f"({about})"
            )
    lines.append("(same futures, same shortfall rule, paired future by future)")
    return lines


def format_nightly(run_dir: str | Path, location: str | None = None) -> str:
    """A nightly run folder in short: plans, risk, what changed, stage timings.

    `location` names where the run lives when that is not `run_dir` (a URI output).
    """
    run = Path(run_dir)
    m = nightly_record(run)
    plan, rob = m.results.plan, m.results.robust
    assert plan is not None and rob is not None, "a complete nightly run has both stages"
    cost = rob.cost_per_mtok_usd
    lines = [
        f"nightly run {m.run_id} of case {m.case}: {m.status}",
        f"  output: {location or run}",
        f"  answer: {answer_rule(m)}",
    ]
    two_stage = m.results.stochastic
    if two_stage:
        cost_now = formats.usd_plus_minus(two_stage.objective.value, two_stage.objective.se)
        results_file = run / "stochastic" / "results.parquet"
        results = pd.read_parquet(results_file) if results_file.exists() else None
        depth = shortfall_depth(results, STOCHASTIC_PLAN)
        lines.append(
            f"    expected total cost {cost_now}/year, P(shortfall)"
            f" {formats.share(two_stage.probability_shortfall)}"
            + (f" ({depth.text()})" if depth is not None else "")
        )
        lines += [f"    {line}" for line in hedging_saves(two_stage, rob.chosen_plan, results)]
        lines.append(f"    {two_stage.sufficiency()}")
        orders = first_stage_orders(run / "stochastic")
        if orders is not None and len(orders):
            lines.append(
                f"    orders to place now ({formats.integer(orders['new_racks'].sum())} racks,"
                f" capex {formats.usd(orders['capex_usd'].sum(min_count=1))}):"
            )
            lines += text_table(orders, yearly.ORDER_COLUMNS, indent="    ")
    lines += [
        f"  expected-value plan: {formats.usd(plan.cost_per_mtok_usd)} per million tokens"
        + (", levelized" if (run / "plan" / "orders.parquet").exists() else ""),
        f"  robust choice {rob.chosen_plan}: mean {formats.usd(cost.mean)},"
        f" p95 {formats.usd(cost.p95)} per million tokens;"
        f" P(unmet > 1%) {formats.share(rob.probability_unmet_above_1pct)}",
    ]
    if not two_stage:
        lines.append(
            f"  value of the stochastic solution {formats.usd(rob.vss.value)}/year"
            f"{BOUND_WORDS[rob.vss.kind]}, EVPI {formats.usd(rob.evpi.value)}/year"
            f"{BOUND_WORDS[rob.evpi.kind]}"
        )
    asked = m.results.whatif
    if asked:
        lines.append(f"  what-if: {len(asked.variants) - 1} variant(s), change per variant:")
        lines += [
            f"    {v.variant}: {v.status}, {formats.usd_change(v.delta_objective)}"
            for v in asked.variants[1:]
        ]
    found = m.results.alternatives
    if found:
        lines.append(
            f"  alternatives: {len(found.plans) - 1} plan(s) found in"
            f" {found.directions_solved} direction(s): "
            + ", ".join(
                f"{p.plan} {formats.share(p.cost_ratio - 1)} above the optimum"
                for p in found.plans[1:]
                if p.cost_ratio is not None
            )
        )
    installed = m.results.installed
    if installed:
        unmet_alone = installed.probability_unmet_above_1pct
        share = "n/a (no scenario solved)" if unmet_alone is None else formats.share(unmet_alone)
        lines.append(f"  installed fleet alone: P(unmet > 1%) {share}")
    compare = m.results.compare
    if compare is not None and compare.previous_run:
        lines.append(f"  since {compare.previous_run}:")
        racks = pd.read_parquet(run / "compare" / "racks.parquet")
        lines += [
            f"    {'' if getattr(r, 'period', None) is None else f'{r.period} '}{r.site}"
            f" {r.rack_type}: {r.count_previous} -> {r.count} racks"
            for r in racks[racks["change"] != 0].itertuples()
        ] or ["    rack counts unchanged"]
        metrics = pd.read_parquet(run / "compare" / "metrics.parquet")
        for r in metrics.dropna().itertuples():
            label, kind = METRIC_LABELS.get(r.metric, (r.metric, "number"))
            if r.change != 0:
                write = formats.BY_KIND[kind]
                lines.append(f"    {label}: {write(r.previous)} -> {write(r.value)}")
    else:
        lines.append("  no previous successful run of this case to compare with")
    report = m.results.report
    if report:
        lines.append(f"  report: {location or run}/{report.file}")
    seconds = ", ".join(
        f"{name} {formats.seconds(stage.seconds)}" for name, stage in m.stages.items()
    )
    lines.append("  stage times: " + seconds)
    return "\n".join(lines)
