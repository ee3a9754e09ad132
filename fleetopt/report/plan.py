"""The report of a plan: headline, assumptions, costs, power, racks, placement, periods."""

from __future__ import annotations

import pandas as pd

from fleetopt.report import blocks, figures, formats
from fleetopt.report import statistics as stats
from fleetopt.report.statistics import Run
from fleetopt.results.summary import Figures, Summary


def plan_sections(run: Run, scope: blocks.Scope) -> list[blocks.Section]:
    """A plan: headline, assumptions, costs, power, racks, placement (and periods)."""
    summary = run.summary
    assert isinstance(summary, Summary), "a plan folder's summary"
    workloads = run.table("workloads")
    head = summary.figures
    status = f"gap {formats.gap(summary.mip_gap)}, solver {blocks.text(summary.solver)}"
    sections = [
        blocks.Section(
            scope.key("headline"),
            scope.title("Headline"),
            [
                blocks.Block(
                    "The plan in numbers",
                    "What the plan costs per year and per million served tokens, how much demand"
                    " it leaves unmet, and how sure the solver is of it (status and MIP gap).",
                    html=blocks.cards(
                        [
                            ("cost per million tokens", formats.usd(head.cost_per_mtok_usd), ""),
                            ("tokens per joule", formats.number(head.tokens_per_joule), ""),
                            (
                                "served tokens per second",
                                formats.number(head.served_tokens_per_s),
                                "",
                            ),
                            (
                                "fleet cost per year",
                                formats.usd(head.fleet_cost_usd_per_year),
                                f"capex {formats.usd(head.capex_cost_usd_per_year)} + opex"
                                f" {formats.usd(head.opex_cost_usd_per_year)} + energy"
                                f" {formats.usd(head.energy_cost_usd_per_year)}",
                            ),
                            (
                                "unmet-demand penalty per year",
                                formats.usd(head.penalty_cost_usd_per_year),
                                "",
                            ),
                            (
                                "unmet share of tokens",
                                formats.share(stats.unmet_share(workloads)),
                                "",
                            ),
                            ("status", blocks.text(summary.status.value), status),
                        ]
                    ),
                )
            ],
        ),
    ]
    placement = stats.last_period(run.table("placement"))
    points = run.table("operating_points")
    assumptions = [
        ("case", blocks.text(summary.case)),
        ("objective", blocks.text(summary.objective_kind)),
        ("solver", blocks.text(summary.solver)),
        ("fleetopt version", blocks.text(summary.fleetopt_version)),
        ("warnings", "; ".join(summary.warnings) or "none"),
    ]
    sections.append(
        blocks.assumptions_section(
            scope,
            "The case",
            "What the plan was solved for, and what the case warned about.",
            assumptions,
            stats.estimate_flags(points, placement=placement),
            "the plan",
        )
    )
    if head.fleet_cost_usd_per_year is None:
        sections[0].blocks.append(
            blocks.Block(
                "No plan", "", html=blocks.note(f"The solver found no plan: {summary.message}")
            )
        )
        return sections
    sections += _cost_sections(run, head, scope)
    sites = stats.last_period(run.table("sites"))
    if sites is not None:
        sections.append(_power_section(sites, scope))
    racks = run.table("racks")
    if racks is not None:
        sections.append(
            blocks.racks_section(stats.rack_mix(stats.last_period(racks)), scope, "the plan")
        )
    if placement is not None:
        sections.append(_placement_section(placement, points, workloads, scope))
    values = run.table("marginal_values")
    if values is not None:
        sections.append(limits_section(values, scope))
    sections += multi_period_sections(run, scope)
    return sections


SHOWN_LIMITS = 30  # binding rows the report lists; marginal_values.parquet has them all
LIMIT_COLUMNS: list[tuple[str, str, blocks.Format]] = [
    ("family", "limit", str),
    ("where", "where", str),
    ("limit", "value of the limit", formats.number),
    ("marginal_usd_per_year", "worth per year", formats.usd),
    ("unit", "of one more", str),
]


def limits_section(values: pd.DataFrame, scope: blocks.Scope) -> blocks.Section:
    """The binding limits of a plan, largest value first (docs/model.md section 10)."""
    binding = stats.binding_limits(values)
    caption = (
        "The limits the plan runs into and what one more unit of each is worth per year, for"
        " operations with the fleet as bought (the LP with the plan's racks fixed): power"
        " per MW facility, SLO capacity per rack, a minimum served share per point. Floor,"
        " supply and delivery limits are worth 0 there: only buying other racks uses them,"
        " which `fleetopt whatif` prices by re-solving."
    )
    shown = binding.head(SHOWN_LIMITS)
    more = len(binding) - len(shown)
    html = blocks.table(shown, LIMIT_COLUMNS) if len(shown) else ""
    if more > 0:
        html += blocks.note(f"{more} more binding rows in marginal_values.parquet.")
    if not len(shown):
        html = blocks.note("No limit binds: the plan has slack everywhere.")
    return blocks.Section(
        scope.key("limits"),
        scope.title("Binding limits"),
        [blocks.Block("What the binding limits are worth", caption, html=html)],
    )


def _cost_sections(run: Run, head: Figures, scope: blocks.Scope) -> list[blocks.Section]:
    entries = []
    parts = stats.cost_parts(head)
    if parts is not None:
        entries.append(
            blocks.Block(
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
        entries.append(
            blocks.Block(
                "Yearly cost per site",
                "",
                html=blocks.note("This run's sites table has no cost columns: no split per site."),
            )
        )
    else:
        entries.append(
            blocks.Block(
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
    return [blocks.Section(scope.key("costs"), scope.title("Cost breakdown"), entries)]


def _power_section(sites: pd.DataFrame, scope: blocks.Scope) -> blocks.Section:
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
    columns: list[tuple[str, str, blocks.Format]] = [
        ("site", "site", str),
        ("power_mw", "power at full load, MW", formats.number),
        ("power_cap_mw", "cap, MW", formats.number),
        ("power_share", "of cap", formats.share),
        ("avg_facility_mw", "average draw, MW", formats.number),
        ("slots", "floor slots", formats.integer),
        ("max_slots", "slot limit", formats.integer),
    ]
    return blocks.Section(
        scope.key("power"),
        scope.title("Power and floor"),
        [
            blocks.Block(
                "Power and floor use per site",
                "How close each site is to its limits: the powered racks' facility power at full"
                " load as a share of the cap, and floor slots as a share of the limit (none where"
                " the floor is unlimited); the dashed line is 100%.",
                figures.share_bars(use, "site", measures, details),
            ),
            blocks.Block(
                "Power per site",
                "The same in MW: a site at its cap cannot take another rack.",
                html=blocks.table(use, columns),
            ),
        ],
    )


def _placement_section(
    placement: pd.DataFrame,
    points: pd.DataFrame | None,
    workloads: pd.DataFrame | None,
    scope: blocks.Scope,
) -> blocks.Section:
    used = stats.placement_by_rack(placement, points)
    used["workload_phase"] = used["workload"] + " · " + used["phase"]
    hatched = (
        "; hatched segments rest on an estimated throughput figure" if points is not None else ""
    )
    entries = [
        blocks.Block(
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
        columns: list[tuple[str, str, blocks.Format]] = [
            ("workload", "workload", str),
            ("demand_tokens_per_s", "demand, tokens/s", formats.number),
            ("served_share", "served", formats.share),
            ("unmet_share", "unmet", formats.share),
            ("penalty_cost_usd_per_year", "penalty per year", formats.usd),
        ]
        entries.append(
            blocks.Block(
                "Service per workload",
                "How much of each workload's demand is served, and what the unmet part costs.",
                html=blocks.table(service, columns),
            )
        )
    return blocks.Section(scope.key("placement"), scope.title("Placement"), entries)


def multi_period_sections(run: Run, scope: blocks.Scope) -> list[blocks.Section]:
    """Order schedule, racks in service and power ramps of a multi-period plan."""
    racks, sites, orders = run.table("racks"), run.table("sites"), run.table("orders")
    if not (stats.is_multi_period(racks) or orders is not None):
        return []
    entries = []
    if orders is not None:
        entries.append(
            _by_year(
                "Order schedule",
                "New racks entering service each year by rack type, over all sites; each"
                " is ordered its lead time earlier (orders.parquet: order_by_year).",
                stats.order_schedule(orders),
                "new_racks",
                "new racks",
                scope,
            )
        )
    if stats.is_multi_period(racks):
        entries.append(
            _by_year(
                "Racks in service",
                "The fleet over time: racks in service each year by rack type, over all sites.",
                stats.racks_in_service(racks),
                "count",
                "racks in service",
                scope,
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
        entries.append(
            blocks.Block(
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
    return [blocks.Section(scope.key("periods"), scope.title("Over the years"), entries)]


def _by_year(
    title: str, caption: str, table: pd.DataFrame, value: str, label: str, scope: blocks.Scope
) -> blocks.Block:
    """Racks per year (`value` of `table`), stacked by rack type."""
    bars = figures.stacked_bars(
        table,
        "year",
        "rack_type",
        value,
        axis_label=label,
        fmt=formats.integer,
        axis="integer",
        vertical=True,
        stack_colors=scope.rack_colors,
    )
    return blocks.Block(title, caption, bars)
