"""What the report shows for each run kind: sections of figures and tables, each with a
one-line caption saying what to read from it.

Every number comes from `statistics`, every figure from `figures`; a section whose tables
the run does not hold says so instead of drawing nothing.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from bokeh.model import Model

from fleetopt.report import figures, formats
from fleetopt.report import statistics as stats
from fleetopt.report.statistics import Run

Format = Callable[[Any], str]


@dataclass
class Block:
    """One figure or table (or a note) with its title and caption."""

    title: str
    caption: str
    figure: Model | None = None
    html: str = ""


@dataclass
class Section:
    """A titled group of blocks; `key` is its HTML id, unique in the page."""

    key: str
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass(frozen=True)
class Scope:
    """Where sections go: an id prefix and a title prefix (a nightly run's stages each get
    their own), and the page-wide colour of each rack type."""

    rack_colors: dict[str, str]
    prefix: str = ""
    label: str = ""

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def title(self, name: str) -> str:
        return f"{self.label}{name}"

    def child(self, prefix: str, label: str) -> Scope:
        return Scope(self.rack_colors, prefix, label)


# --- HTML pieces ------------------------------------------------------------------------


def table(frame: pd.DataFrame, columns: Sequence[tuple[str, str, Format]]) -> str:
    """An HTML table of `columns` (column, header, format) of `frame`, values escaped."""
    present = [(c, h, f) for c, h, f in columns if c in frame]
    head = "".join(f"<th>{html.escape(h)}</th>" for _, h, _ in present)
    body = []
    for _, row in frame.iterrows():
        cells = "".join(
            f'<td class="{"txt" if f in (str, text) else "num"}">{html.escape(f(row[c]))}</td>'
            for c, _, f in present
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def cards(items: Sequence[tuple[str, str, str]]) -> str:
    """Headline figures: (label, value, detail) as a grid of cards."""
    out = []
    for label, value, detail in items:
        small = f"<small>{html.escape(detail)}</small>" if detail else ""
        out.append(
            f'<div class="card"><dt>{html.escape(label)}</dt>'
            f"<dd>{html.escape(value)}{small}</dd></div>"
        )
    return f'<dl class="cards">{"".join(out)}</dl>'


def facts(items: Sequence[tuple[str, str]]) -> str:
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in items)
    return f'<table class="facts"><tbody>{rows}</tbody></table>'


def note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def text(value: Any) -> str:
    return (
        formats.MISSING
        if value is None or (isinstance(value, float) and pd.isna(value))
        else str(value)
    )


# --- plans ------------------------------------------------------------------------------

ESTIMATE_NOTE = (
    "This run does not record the operating points its figures rest on (scenario runs, and "
    "plans written before the report existed), so estimates cannot be flagged here."
)


def estimates_block(flags: pd.DataFrame | None, what: str) -> Block:
    caption = (
        f"Catalog estimates flagged: per rack type of {what}, how many of the throughput figures"
        " it relies on are estimates (a source starting 'estimate') rather than measured."
    )
    if flags is None:
        return Block("Estimated figures", caption, html=note(ESTIMATE_NOTE))
    columns = [
        ("rack_type", "rack type", str),
        ("operating_points", "operating points used", formats.integer),
        ("estimated", "of which estimates", formats.integer),
    ]
    return Block("Estimated figures", caption, html=table(flags, columns))


def plan_sections(run: Run, scope: Scope) -> list[Section]:
    """A plan: headline, assumptions, costs, power, racks, placement (and periods)."""
    summary = run.summary
    workloads = run.table("workloads")
    head = stats.plan_headline(summary, workloads)
    status = f"gap {formats.gap(head['mip_gap'])}, solver {text(summary.get('solver'))}"
    sections = [
        Section(
            scope.key("headline"),
            scope.title("Headline"),
            [
                Block(
                    "The plan in numbers",
                    "What the plan costs per year and per million served tokens, how much demand"
                    " it leaves unmet, and how sure the solver is of it (status and MIP gap).",
                    html=cards(
                        [
                            ("cost per million tokens", formats.usd(head["cost_per_mtok_usd"]), ""),
                            ("tokens per joule", formats.number(head["tokens_per_joule"]), ""),
                            (
                                "served tokens per second",
                                formats.number(head["served_tokens_per_s"]),
                                "",
                            ),
                            (
                                "fleet cost per year",
                                formats.usd(head["fleet_cost_usd_per_year"]),
                                f"capex {formats.usd(head['capex_cost_usd_per_year'])} + opex"
                                f" {formats.usd(head['opex_cost_usd_per_year'])} + energy"
                                f" {formats.usd(head['energy_cost_usd_per_year'])}",
                            ),
                            (
                                "unmet-demand penalty per year",
                                formats.usd(head["penalty_cost_usd_per_year"]),
                                "",
                            ),
                            ("unmet share of tokens", formats.share(head["unmet_share"]), ""),
                            ("status", text(head["status"]), status),
                        ]
                    ),
                )
            ],
        ),
    ]
    placement = stats.last_period(run.table("placement"))
    points = run.table("operating_points")
    assumptions = [
        ("case", text(summary.get("case"))),
        ("objective", text(summary.get("objective_kind"))),
        ("solver", text(summary.get("solver"))),
        ("fleetopt version", text(summary.get("fleetopt_version"))),
        ("warnings", "; ".join(summary.get("warnings") or []) or "none"),
    ]
    sections.append(
        Section(
            scope.key("assumptions"),
            scope.title("Assumptions"),
            [
                Block(
                    "The case",
                    "What the plan was solved for, and what the case warned about.",
                    html=facts(assumptions),
                ),
                estimates_block(stats.estimate_flags(points, placement=placement), "the plan"),
            ],
        )
    )
    if head["fleet_cost_usd_per_year"] is None:
        sections[0].blocks.append(
            Block("No plan", "", html=note(f"The solver found no plan: {summary.get('message')}"))
        )
        return sections
    sections += _cost_sections(run, scope)
    sites = stats.last_period(run.table("sites"))
    if sites is not None:
        sections.append(_power_section(sites, scope))
    racks = run.table("racks")
    if racks is not None:
        sections.append(_racks_section(stats.rack_mix(stats.last_period(racks)), scope, "the plan"))
    if placement is not None:
        sections.append(_placement_section(placement, points, workloads, scope))
    sections += multi_period_sections(run, scope)
    return sections


def _cost_sections(run: Run, scope: Scope) -> list[Section]:
    blocks = []
    parts = stats.cost_parts(run.summary)
    if parts is not None:
        blocks.append(
            Block(
                "Yearly cost by part",
                "Where the money goes: capex (annualised), opex, energy, and the penalty that"
                " prices the demand left unmet.",
                figures.bars(
                    parts,
                    "part",
                    "usd_per_year",
                    axis_label="USD per year",
                    fmt=formats.usd,
                    axis="usd",
                ),
            )
        )
    by_site = stats.cost_by_site(stats.last_period(run.table("sites")))
    if by_site is None:
        blocks.append(
            Block(
                "Yearly cost per site",
                "",
                html=note("This run's sites table has no cost columns: no split per site."),
            )
        )
    else:
        blocks.append(
            Block(
                "Yearly cost per site",
                "Which sites carry the cost, and whether it is hardware (capex, opex) or energy;"
                " the penalty belongs to no site.",
                figures.stacked_bars(
                    by_site,
                    "site",
                    "part",
                    "usd_per_year",
                    axis_label="USD per year",
                    fmt=formats.usd,
                    axis="usd",
                ),
            )
        )
    return [Section(scope.key("costs"), scope.title("Cost breakdown"), blocks)]


def _power_section(sites: pd.DataFrame, scope: Scope) -> Section:
    use = stats.power_use(sites)
    use["power_text"] = [
        f"{formats.number(p)} of {formats.number(c)} MW, average draw {formats.number(a)} MW"
        for p, c, a in zip(
            use["power_mw"], use["power_cap_mw"], use["avg_facility_mw"], strict=True
        )
    ]
    measures = {"power_share": "power cap"}
    details = {"power_share": "power_text"}
    if "floor_share" in use:
        use["floor_text"] = [
            f"{formats.integer(s)} of {formats.integer(m)} slots"
            for s, m in zip(use["slots"], use["max_slots"], strict=True)
        ]
        measures["floor_share"] = "floor slots"
        details["floor_share"] = "floor_text"
    columns = [
        ("site", "site", str),
        ("power_mw", "power at full load, MW", formats.number),
        ("power_cap_mw", "cap, MW", formats.number),
        ("power_share", "of cap", formats.share),
        ("avg_facility_mw", "average draw, MW", formats.number),
        ("slots", "floor slots", formats.integer),
        ("max_slots", "slot limit", formats.integer),
    ]
    return Section(
        scope.key("power"),
        scope.title("Power and floor"),
        [
            Block(
                "Power and floor use per site",
                "How close each site is to its limits: the powered racks' facility power at full"
                " load as a share of the cap, and floor slots as a share of the limit (none where"
                " the floor is unlimited); the dashed line is 100%.",
                figures.share_bars(use, "site", measures, details),
            ),
            Block(
                "Power per site",
                "The same in MW: a site at its cap cannot take another rack.",
                html=table(use, columns),
            ),
        ],
    )


def _racks_section(mix: pd.DataFrame, scope: Scope, what: str) -> Section:
    columns = [
        ("site", "site", str),
        ("rack_type", "rack type", str),
        ("count", "racks", formats.integer),
        ("installed", "installed", formats.integer),
        ("new", "new", formats.integer),
    ]
    return Section(
        scope.key("racks"),
        scope.title("Rack mix"),
        [
            Block(
                f"Racks per site ({what})",
                "What to buy where: racks per site by rack type.",
                figures.stacked_bars(
                    mix,
                    "site",
                    "rack_type",
                    "count",
                    axis_label="racks",
                    fmt=formats.integer,
                    axis="integer",
                    stack_colors=scope.rack_colors,
                ),
            ),
            Block(
                "Installed and new",
                "Which racks are already owned and which are to be bought.",
                html=table(mix, columns),
            ),
        ],
    )


def _placement_section(
    placement: pd.DataFrame,
    points: pd.DataFrame | None,
    workloads: pd.DataFrame | None,
    scope: Scope,
) -> Section:
    used = stats.placement_by_rack(placement, points)
    used["workload_phase"] = used["workload"] + " · " + used["phase"]
    hatched = (
        "; hatched segments rest on an estimated throughput figure" if points is not None else ""
    )
    blocks = [
        Block(
            "Placement of each workload phase",
            "What runs where: rack-equivalents busy on each workload's prefill and decode, by"
            f" rack type{hatched}.",
            figures.stacked_bars(
                used,
                "workload_phase",
                "rack_type",
                "racks",
                axis_label="busy rack-equivalents",
                fmt=formats.number,
                hatch="estimate",
                stack_colors=scope.rack_colors,
            ),
        )
    ]
    if workloads is not None:
        service = stats.workload_service(stats.last_period(workloads))
        columns = [
            ("workload", "workload", str),
            ("demand_tokens_per_s", "demand, tokens/s", formats.number),
            ("served_share", "served", formats.share),
            ("unmet_share", "unmet", formats.share),
            ("penalty_cost_usd_per_year", "penalty per year", formats.usd),
        ]
        blocks.append(
            Block(
                "Service per workload",
                "How much of each workload's demand is served, and what the unmet part costs.",
                html=table(service, columns),
            )
        )
    return Section(scope.key("placement"), scope.title("Placement"), blocks)


def multi_period_sections(run: Run, scope: Scope) -> list[Section]:
    """Order schedule, racks in service and power ramps of a multi-period plan."""
    racks, sites, orders = run.table("racks"), run.table("sites"), run.table("orders")
    if not (stats.is_multi_period(racks) or orders is not None):
        return []
    blocks = []
    if orders is not None:
        blocks.append(
            Block(
                "Order schedule",
                "New racks entering service each year by rack type, over all sites; each"
                " is ordered its lead time earlier (orders.parquet: order_by_year).",
                figures.stacked_bars(
                    stats.order_schedule(orders),
                    "year",
                    "rack_type",
                    "new_racks",
                    axis_label="new racks",
                    fmt=formats.integer,
                    axis="integer",
                    vertical=True,
                    stack_colors=scope.rack_colors,
                ),
            )
        )
    if stats.is_multi_period(racks):
        blocks.append(
            Block(
                "Racks in service",
                "The fleet over time: racks in service each year by rack type, over all sites.",
                figures.stacked_bars(
                    stats.racks_in_service(racks),
                    "year",
                    "rack_type",
                    "count",
                    axis_label="racks in service",
                    fmt=formats.integer,
                    axis="integer",
                    vertical=True,
                    stack_colors=scope.rack_colors,
                ),
            )
        )
    if stats.is_multi_period(sites):
        ramp = stats.power_ramp(sites)
        site_colors = figures.colors(list(ramp["site"].unique()))
        long = pd.concat(
            [
                ramp.assign(series=ramp["site"], mw=ramp["power_mw"]),
                ramp.assign(series=ramp["site"] + " cap", mw=ramp["power_cap_mw"]),
            ]
        )
        blocks.append(
            Block(
                "Power ramps",
                "Each site's facility power at full load per year (solid) against its cap"
                " (dashed): where the lines meet, the site is full that year.",
                figures.lines(
                    long,
                    "year",
                    "mw",
                    "series",
                    x_label="year",
                    y_label="MW",
                    fmt=formats.number,
                    axis="number",
                    dashed=[f"{s} cap" for s in site_colors],
                    palette=site_colors | {f"{s} cap": c for s, c in site_colors.items()},
                ),
            )
        )
    return [Section(scope.key("periods"), scope.title("Over the years"), blocks)]


# --- scenario runs ----------------------------------------------------------------------

METRICS = (
    ("cost_per_mtok_usd", "Cost per million tokens", "USD per million served tokens", "usd"),
    ("total_cost_usd_per_year", "Total cost per year", "USD per year (fleet + penalty)", "usd"),
    ("unmet_share", "Unmet share of demand", "share of demanded tokens unserved", "share"),
)
METRIC_CAPTIONS = {
    "cost_per_mtok_usd": "How the cost per million tokens spreads over the sampled futures:"
    " the further left and the steeper, the cheaper and the surer.",
    "total_cost_usd_per_year": "How the yearly total cost (fleet plus the penalty for unmet"
    " demand) spreads over the futures: a long right tail is the risk of running short.",
    "unmet_share": "How much demand goes unserved across the futures: a line that reaches"
    " 100% at zero never runs short.",
}
AXIS_FORMAT = {"usd": formats.usd, "share": formats.share}


def scenario_cards(head: dict[str, Any], extra: Sequence[tuple[str, str, str]] = ()) -> str:
    cost, total = head["cost_per_mtok_usd"], head["total_cost_usd_per_year"]
    statuses = ", ".join(f"{k} {v}" for k, v in head["status_counts"].items())
    return cards(
        [
            *extra,
            ("scenarios", formats.integer(head["scenarios"]), statuses),
            (
                "cost per million tokens, mean",
                formats.usd_plus_minus(cost.get("mean"), cost.get("se")),
                f"p95 {formats.usd(cost.get('p95'))}",
            ),
            (
                "total cost per year, mean",
                formats.usd_plus_minus(total.get("mean"), total.get("se")),
                f"CVaR {formats.usd(total.get('cvar'))}",
            ),
            ("P(unmet demand > 1%)", formats.share(head["p_unmet_above_1pct"]), ""),
            ("unmet share of tokens, mean", formats.share(head["unmet_share_mean"]), ""),
        ]
    )


def distribution_section(results: pd.DataFrame, scope: Scope, emphasis: Sequence[str]) -> Section:
    blocks = []
    for metric, title, axis_label, axis in METRICS:
        points = stats.ecdf(results, metric)
        if not len(points):
            blocks.append(Block(title, "", html=note("No scenario was solved: nothing to plot.")))
            continue
        blocks.append(
            Block(
                title,
                METRIC_CAPTIONS[metric],
                figures.ecdf_lines(
                    points,
                    axis_label=axis_label,
                    fmt=AXIS_FORMAT[axis],
                    axis=axis,
                    emphasis=emphasis,
                ),
            )
        )
    return Section(
        scope.key("distributions"), scope.title("Distributions over the futures"), blocks
    )


COMPARISON_COLUMNS = [
    ("plan", "plan", str),
    ("cost_per_mtok_usd_mean", "cost/Mtok mean", formats.usd),
    ("cost_per_mtok_usd_p95", "cost/Mtok p95", formats.usd),
    ("total_cost_usd_per_year_mean", "total cost mean", formats.usd),
    ("total_cost_usd_per_year_cvar", "total cost CVaR", formats.usd),
    ("unsolved_share", "unservable", formats.share),
    ("p_unmet_above_1pct", "P(unmet > 1%)", formats.share),
]


def plans_block(comparison: pd.DataFrame) -> Block:
    return Block(
        "Plans over the futures",
        "Each plan's cost per million tokens (mean, p95) and yearly total cost (mean, CVaR), the"
        " share of futures it cannot serve at all, and how often it leaves more than 1% unmet.",
        html=table(comparison, COMPARISON_COLUMNS),
    )


def rack_types_section(sweep: Run, scope: Scope) -> Section | None:
    mix, results = sweep.table("mix"), sweep.table("results")
    if mix is None or results is None:
        return None
    frequency = stats.rack_type_frequency(mix, results)
    frequency["details"] = [
        f"count p5/p50/p95: {formats.integer(a)} / {formats.integer(b)} / {formats.integer(c)}"
        for a, b, c in zip(frequency["p5"], frequency["p50"], frequency["p95"], strict=True)
    ]
    return Section(
        scope.key("rack-types"),
        scope.title("Rack types chosen"),
        [
            Block(
                "How often each rack type is in the best mix",
                "Share of the solved futures whose best rack mix holds each type (hover: its"
                " count p5/p50/p95): a type chosen in nearly every future is a safe buy.",
                figures.bars(
                    frequency,
                    "rack_type",
                    "share_of_scenarios",
                    axis_label="share of solved scenarios",
                    fmt=formats.share,
                    axis="share",
                    details="details",
                    x_range=(0, 1.05),
                ),
            )
        ],
    )


def sites_section(sites: pd.DataFrame | None, plan: str | None, scope: Scope) -> Section | None:
    if sites is None or not len(sites):
        return None
    use = stats.site_utilisation(sites, plan)
    high = max(1.05, float(use["p95"].max()) * 1.05)
    which = f" of plan {plan}" if plan else ""
    return Section(
        scope.key("sites"),
        scope.title("Power caps over the futures"),
        [
            Block(
                f"Share of each site's power cap in use{which}",
                "How close each site runs to its power cap across the futures: p5 to p95, the dot"
                " at the median; the dashed line is the cap.",
                figures.intervals(
                    use,
                    "site",
                    "p5",
                    "p50",
                    "p95",
                    axis_label="share of the power cap",
                    fmt=formats.share,
                    axis="share",
                    reference=1.0,
                    x_range=(0, high),
                ),
            )
        ],
    )


def scenario_sections(run: Run, scope: Scope) -> list[Section]:
    """A sweep or evaluate run: headline, distributions, plans, rack types, site use."""
    summary = run.summary
    results = run.table("results")
    plans = summary.get("plans") or {}
    main = next(iter(plans), None)
    head = stats.scenario_headline(plans.get(main, {}), results, main) if main else None
    facts_rows = [
        ("case", text(summary.get("case"))),
        ("run kind", text(summary.get("kind"))),
        ("scenarios", text(summary.get("scenarios"))),
        ("seed", text(summary.get("seed"))),
        ("CVaR level alpha", text(summary.get("alpha"))),
        ("scenarios that ended in error", text(summary.get("errors"))),
    ]
    headline = [
        Block(
            f"Plan {main}" if main else "No plan",
            "The plan's cost and shortfall over the sampled futures: mean (± its standard error)"
            " and tail (p95, CVaR).",
            html=scenario_cards(head) if head else note("This run holds no plan results."),
        )
    ]
    sections = [
        Section(scope.key("headline"), scope.title("Headline"), headline),
        Section(
            scope.key("assumptions"),
            scope.title("Assumptions"),
            [
                Block("The run", "What was sampled, and how.", html=facts(facts_rows)),
                estimates_block(None, "the plan"),
            ],
        ),
    ]
    if results is not None:
        sections.append(distribution_section(results, scope, [main] if main else []))
        sections.append(
            Section(
                scope.key("plans"),
                scope.title("Plans"),
                [plans_block(stats.plan_comparison(plans, results))],
            )
        )
    if summary.get("kind") == "sweep":
        section = rack_types_section(run, scope)
        if section is not None:
            sections.append(section)
    elif main is not None:
        mix = run.table("mix")
        if mix is not None and len(mix):
            first = mix[mix["plan"] == main]
            first = first[first["scenario"] == first["scenario"].min()]
            sections.append(_racks_section(stats.rack_mix(first), scope, f"plan {main}"))
    section = sites_section(run.table("sites"), main, scope)
    if section is not None:
        sections.append(section)
    return sections


def robust_sections(run: Run, scope: Scope) -> list[Section]:
    """A robust selection: the choice, candidates side by side, VSS and EVPI, and the
    sweep's and evaluation's figures."""
    summary = run.summary
    chosen = summary.get("chosen_plan")
    evaluation = run.part("evaluate")
    results = evaluation.table("results") if evaluation else None
    candidates = summary.get("candidates") or {}
    head = stats.scenario_headline(candidates.get(chosen, {}), results, chosen)
    value = stats.value_of_information(summary)
    vss, evpi = value.iloc[0], value.iloc[1]
    extra = [
        ("chosen plan", text(chosen), f"by {text(summary.get('criterion'))} total cost"),
        (
            "value of the stochastic solution",
            formats.usd_plus_minus(vss["mean"], vss["se"]),
            "per year",
        ),
        (
            "expected value of perfect information",
            formats.usd_plus_minus(evpi["mean"], evpi["se"]),
            "per year",
        ),
    ]
    choice = run.part("choice")
    chosen_racks = choice.table("racks") if choice else None
    points = choice.table("operating_points") if choice else None
    facts_rows = [
        ("case", text(summary.get("case"))),
        ("scenarios", text(summary.get("scenarios"))),
        ("seed", text(summary.get("seed"))),
        ("criterion", text(summary.get("criterion"))),
        ("CVaR level alpha", text(summary.get("alpha"))),
        ("candidate plans", text(len(candidates))),
        (
            "scenario errors (sweep, evaluate)",
            f"{summary.get('sweep_errors')}, {summary.get('evaluate_errors')}",
        ),
    ]
    sections = [
        Section(
            scope.key("headline"),
            scope.title("Headline"),
            [
                Block(
                    "The chosen plan",
                    "The plan that holds up best over the sampled futures, what it costs (mean ±"
                    " standard error, tail), and what choosing under uncertainty is worth.",
                    html=scenario_cards(head, extra),
                )
            ],
        ),
        Section(
            scope.key("assumptions"),
            scope.title("Assumptions"),
            [
                Block(
                    "The run",
                    "What was sampled, and how the plan was chosen.",
                    html=facts(facts_rows),
                ),
                estimates_block(
                    stats.estimate_flags(points, racks=chosen_racks), "the chosen plan"
                ),
            ],
        ),
    ]
    comparison = stats.plan_comparison(candidates, results, summary.get("scores"))
    comparison["label"] = [f"{p} (chosen)" if p == chosen else p for p in comparison["plan"]]
    blocks = [
        Block(
            "Candidate plans side by side",
            "Every candidate on the same futures: mean, p95 and CVaR of yearly total cost over"
            " the futures it can serve (lower is better); the choice goes to the plan that fails"
            " in the fewest futures (table: unservable), then the lowest score; it is marked.",
            figures.dots(
                comparison,
                "label",
                {
                    "total_cost_usd_per_year_mean": "mean",
                    "total_cost_usd_per_year_p95": "p95",
                    "total_cost_usd_per_year_cvar": "CVaR",
                },
                axis_label="total cost, USD per year",
                fmt=formats.usd,
                axis="usd",
            ),
        ),
        plans_block(comparison),
    ]
    sections.append(Section(scope.key("candidates"), scope.title("Candidate plans"), blocks))
    if results is not None:
        emphasis = [p for p in (chosen, "expected-value") if p]
        sections.append(distribution_section(results, scope, emphasis))
    sections.append(
        Section(
            scope.key("value"),
            scope.title("Value of the stochastic solution and of perfect information"),
            [
                Block(
                    "VSS and EVPI with 95% intervals",
                    "What choosing under uncertainty saves over planning for the forecast (VSS),"
                    " and what knowing the future would still save (EVPI), per year; an interval"
                    " that crosses zero means the sample cannot tell.",
                    figures.intervals(
                        value.dropna(subset=["mean"]),
                        "measure",
                        "low",
                        "mean",
                        "high",
                        axis_label="USD per year",
                        fmt=formats.usd,
                        axis="usd",
                        reference=0.0,
                    ),
                )
            ],
        )
    )
    sweep = run.part("sweep")
    section = rack_types_section(sweep, scope) if sweep else None
    if section is not None:
        sections.append(section)
    if chosen_racks is not None:
        sections.append(_racks_section(stats.rack_mix(chosen_racks), scope, f"plan {chosen}"))
    section = sites_section(evaluation.table("sites") if evaluation else None, chosen, scope)
    if section is not None:
        sections.append(section)
    return sections


# --- stochastic runs --------------------------------------------------------------------


def stochastic_sections(run: Run, scope: Scope) -> list[Section]:
    """A stochastic run (EF, PH or Benders): convergence, the plan's racks, distributions."""
    summary = run.summary
    keys = ("status", "objective", "gap", "iterations")
    facts_rows = [(k, text(summary.get(k))) for k in ("case", *keys) if k in summary]
    sections = [
        Section(
            scope.key("headline"),
            scope.title("Headline"),
            [Block("The run", "What the stochastic program reached.", html=facts(facts_rows))],
        )
    ]
    table_ = run.table("convergence")
    if table_ is not None:
        bounds = stats.convergence(table_)
        # Benders' first rounds bound below zero, which says nothing (costs are not negative).
        bounds = bounds[(bounds["upper_bound"] < float("inf")) & (bounds["lower_bound"] >= 0)]
        long = bounds.melt(
            id_vars="iteration",
            value_vars=["lower_bound", "upper_bound"],
            var_name="bound",
            value_name="usd",
        )
        long["bound"] = long["bound"].str.replace("_", " ")
        sections.append(
            Section(
                scope.key("convergence"),
                scope.title("Convergence"),
                [
                    Block(
                        "Bounds per iteration",
                        "The method's certified lower and upper bounds on the objective, per"
                        " iteration (Benders: per round): where they meet, the plan is proven"
                        " optimal.",
                        figures.lines(
                            long,
                            "iteration",
                            "usd",
                            "bound",
                            x_label="iteration",
                            y_label="expected cost, USD per year",
                            fmt=formats.usd,
                            axis="usd",
                        ),
                    ),
                    Block(
                        "Gap per iteration",
                        "The relative gap between the bounds: how far from proven the plan"
                        " still is at each iteration.",
                        figures.lines(
                            bounds.assign(series="gap"),
                            "iteration",
                            "gap",
                            "series",
                            x_label="iteration",
                            y_label="relative gap",
                            fmt=formats.share,
                            axis="share",
                        ),
                    ),
                ],
            )
        )
    racks = run.table("racks")
    if racks is not None:
        sections.append(_racks_section(stats.rack_mix(racks), scope, "the plan"))
    results = run.table("results")
    if results is not None:
        sections.append(distribution_section(results, scope, []))
    return sections


# --- nightly runs -----------------------------------------------------------------------

TREND_SERIES = {
    "expected_value_cost_per_mtok_usd": "expected-value plan",
    "robust_mean_cost_per_mtok_usd": "robust choice, mean",
    "robust_p95_cost_per_mtok_usd": "robust choice, p95",
}
METRIC_LABELS = {
    "expected_value_cost_per_mtok_usd": ("expected-value plan, cost per Mtok", formats.usd),
    "robust_mean_cost_per_mtok_usd": ("robust choice, mean cost per Mtok", formats.usd),
    "robust_p95_cost_per_mtok_usd": ("robust choice, p95 cost per Mtok", formats.usd),
    "robust_cvar_total_cost_usd_per_year": ("robust choice, CVaR of total cost", formats.usd),
    "robust_probability_unmet_above_1pct": ("robust choice, P(unmet > 1%)", formats.share),
}


def nightly_sections(run: Run, scope: Scope, manifests: list[dict[str, Any]]) -> list[Section]:
    """A nightly run: headline, trend, what changed, then its stages' own sections."""
    manifest = run.record
    stages = manifest.get("stages", {})
    rob = (stages.get("robust") or {}).get("result") or {}
    plan = (stages.get("plan") or {}).get("result") or {}
    installed = (stages.get("installed") or {}).get("result")
    compare = (stages.get("compare") or {}).get("result") or {}
    cost = rob.get("cost_per_mtok_usd") or {}
    vss, evpi = rob.get("vss_usd_per_year") or {}, rob.get("evpi_usd_per_year") or {}
    items = [
        (
            "expected-value plan, cost per million tokens",
            formats.usd(plan.get("cost_per_mtok_usd")),
            f"{text(plan.get('status'))}, gap {formats.gap(plan.get('mip_gap'))}",
        ),
        (
            "robust choice",
            text(rob.get("chosen_plan")),
            f"mean {formats.usd(cost.get('mean'))}, p95 {formats.usd(cost.get('p95'))} per Mtok",
        ),
        (
            "robust choice, P(unmet > 1%)",
            formats.share(rob.get("probability_unmet_above_1pct")),
            "",
        ),
        (
            "value of the stochastic solution",
            formats.usd_plus_minus(vss.get("mean"), vss.get("se")),
            "per year",
        ),
        (
            "expected value of perfect information",
            formats.usd_plus_minus(evpi.get("mean"), evpi.get("se")),
            "per year",
        ),
    ]
    if installed:
        items.append(
            (
                "installed fleet alone, P(unmet > 1%)",
                formats.share(installed.get("probability_unmet_above_1pct")),
                "no future served" if installed.get("probability_unmet_above_1pct") is None else "",
            )
        )
    if compare.get("previous_run"):
        items.append(("racks changed since the previous run", text(compare["rack_changes"]), ""))
    else:
        items.append(("racks changed since the previous run", "n/a", "no previous run"))
    validate = (stages.get("validate") or {}).get("result") or {}
    facts_rows = [
        ("case", text(manifest.get("case"))),
        ("case files sha256", text(manifest.get("case_sha256"))[:16] + "…"),
        ("run id", text(manifest.get("run_id"))),
        ("date", text(manifest.get("date"))),
        ("seed", text(manifest.get("seed"))),
        *[
            (k, text(v))
            for k, v in (manifest.get("params") or {}).items()
            if k not in ("case_sha256", "seed")
        ],
        ("fleetopt version", text(manifest.get("fleetopt_version"))),
        ("warnings", "; ".join(validate.get("warnings") or []) or "none"),
    ]
    plan_run = run.part("plan")
    points = plan_run.table("operating_points") if plan_run else None
    placement = plan_run.table("placement") if plan_run else None
    sections = [
        Section(
            "headline",
            "Headline",
            [
                Block(
                    "Tonight's answer",
                    "The expected-value plan, the plan chosen to hold up over the sampled futures,"
                    " what the choice is worth, and whether it changed since the last run.",
                    html=cards(items),
                )
            ],
        ),
        Section(
            "assumptions",
            "Assumptions",
            [
                Block("The run", "What was planned, with which settings.", html=facts(facts_rows)),
                estimates_block(
                    stats.estimate_flags(points, placement=placement), "the expected-value plan"
                ),
            ],
        ),
        _trend_section(stats.nightly_history(manifest, manifests)),
        _changes_section(run),
    ]
    robust = run.part("robust")
    if robust is not None:
        sections += robust_sections(robust, scope.child("robust-", "Robust choice: "))
    installed_run = run.part("installed")
    if installed and installed_run is not None and installed_run.table("results") is not None:
        sections += [
            s
            for s in scenario_sections(
                installed_run, scope.child("installed-", "Installed fleet alone: ")
            )
            if s.key in ("installed-headline", "installed-sites")
        ]
    if plan_run is not None:
        sections += plan_sections(plan_run, scope.child("plan-", "Expected-value plan: "))
    timings = stats.nightly_stages(manifest)
    sections.append(
        Section(
            "stages",
            "Stages",
            [
                Block(
                    "Stage status and time",
                    "Which stages ran and how long each took.",
                    html=table(
                        timings,
                        [
                            ("stage", "stage", str),
                            ("status", "status", text),
                            ("seconds", "seconds", formats.number),
                        ],
                    ),
                )
            ],
        )
    )
    return sections


def _trend_section(history: pd.DataFrame) -> Section:
    if len(history) < 2:
        return Section(
            "trend",
            "Trend over nightly runs",
            [
                Block(
                    "Trend over nightly runs",
                    "",
                    html=note(
                        "This is the first successful nightly run of this case: the trend"
                        " starts with the next one."
                    ),
                )
            ],
        )
    long = history.melt(
        id_vars=["run_id", "time"],
        value_vars=list(TREND_SERIES),
        var_name="series",
        value_name="usd",
    )
    long["series"] = long["series"].map(TREND_SERIES)
    risk = history.assign(series="robust choice")
    runs = len(history)
    return Section(
        "trend",
        "Trend over nightly runs",
        [
            Block(
                "Cost per million tokens, run by run",
                f"How the cost per million tokens has moved over the {runs} successful nightly"
                " run(s) of this case (this run last): a jump means the case or the futures"
                " changed.",
                figures.lines(
                    long,
                    "time",
                    "usd",
                    "series",
                    x_label="run (UTC)",
                    y_label="USD per million tokens",
                    fmt=formats.usd,
                    axis="usd",
                    x_type="datetime",
                ),
            ),
            Block(
                "Risk of running short, run by run",
                "How often the robust choice leaves more than 1% of demand unmet, run by run.",
                figures.lines(
                    risk,
                    "time",
                    "robust_probability_unmet_above_1pct",
                    "series",
                    x_label="run (UTC)",
                    y_label="P(unmet > 1%)",
                    fmt=formats.share,
                    axis="share",
                    x_type="datetime",
                    y_range=(0, 1.02),
                ),
            ),
        ],
    )


def _changes_section(run: Run) -> Section:
    compare = run.part("compare")
    previous = ((run.record.get("stages", {}).get("compare") or {}).get("result") or {}).get(
        "previous_run"
    )
    title = "Changes since the previous run"
    if compare is None or not previous:
        return Section(
            "changes",
            title,
            [
                Block(
                    title, "", html=note("No previous successful run of this case to compare with.")
                )
            ],
        )
    blocks = []
    racks = compare.table("racks")
    changes = stats.rack_changes(racks) if racks is not None else pd.DataFrame()
    if len(changes):
        changes["label"] = changes["site"] + " · " + changes["rack_type"]
        changes["details"] = [
            f"{formats.integer(a)} → {formats.integer(b)} racks"
            for a, b in zip(changes["count_previous"], changes["count"], strict=True)
        ]
        blocks.append(
            Block(
                "Racks added or removed",
                "What changed in the robust choice since the previous run: racks added (right)"
                " or removed (left) per site and rack type.",
                figures.bars(
                    changes,
                    "label",
                    "change",
                    axis_label="racks, change",
                    axis="integer",
                    fmt=formats.signed_integer,
                    details="details",
                    color=[
                        figures.EMPHASIS[2] if c > 0 else figures.EMPHASIS[1]
                        for c in changes["change"]
                    ],
                ),
            )
        )
    else:
        blocks.append(Block("Racks added or removed", "", html=note("Rack counts unchanged.")))
    metrics = compare.table("metrics")
    if metrics is not None:
        rows = []
        for row in metrics.itertuples():
            name, fmt = METRIC_LABELS.get(row.metric, (row.metric, formats.number))
            rows.append({"metric": name, "previous": fmt(row.previous), "value": fmt(row.value)})
        blocks.append(
            Block(
                "Figures then and now",
                "The compared figures in the previous run and in this one.",
                html=table(
                    pd.DataFrame(rows),
                    [
                        ("metric", "figure", str),
                        ("previous", "previous run", str),
                        ("value", "this run", str),
                    ],
                ),
            )
        )
    return Section("changes", title, blocks)


# --- dispatch ---------------------------------------------------------------------------


def sections_for(run: Run, manifests: list[dict[str, Any]] | None = None) -> list[Section]:
    """The sections of a run's report, by run kind."""
    scope = Scope(figures.colors(stats.rack_types(run)))
    if run.kind == "plan":
        return plan_sections(run, scope)
    if run.kind in ("sweep", "evaluate"):
        return scenario_sections(run, scope)
    if run.kind == "robust":
        return robust_sections(run, scope)
    if run.kind == "stochastic":
        return stochastic_sections(run, scope)
    if run.kind == "nightly":
        found = stats.sibling_manifests(run.path) if manifests is None else manifests
        return nightly_sections(run, scope, found)
    raise ValueError(f"no report sections for run kind {run.kind!r}")
