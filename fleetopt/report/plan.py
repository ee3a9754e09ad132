"""The report of a plan: headline, the years (cash, cost per token, orders, power against the
caps), costs, power, racks, placement, assumptions.

A multi-period plan's per-site, per-rack and per-workload figures are drawn for each year
on its own (the page's year selector), never summed over the years; the headline says
which of its figures are levelized over the years.
"""

from __future__ import annotations

import pandas as pd

from fleetopt.core import formats
from fleetopt.report import blocks, figures
from fleetopt.report import statistics as stats
from fleetopt.report.statistics import Run
from fleetopt.results import yearly
from fleetopt.results.summary import Summary


def plan_sections(run: Run, scope: blocks.Scope) -> list[blocks.Section]:
    """A plan: headline, the years, costs, power, racks, placement, assumptions."""
    summary = run.summary
    assert isinstance(summary, Summary), "a plan folder's summary"
    sections = [_headline(run, summary, scope)]
    placement, points = run.table("placement"), run.table("operating_points")
    assumptions = blocks.assumptions_section(
        scope,
        "The case",
        "What the plan was solved for, and what the case warned about.",
        [
            ("case", blocks.text(summary.case)),
            ("objective", blocks.text(summary.objective_kind)),
            ("solver", blocks.text(summary.solver)),
            ("years", _span(summary.periods) if summary.periods else "one steady-state year"),
            ("fleetopt version", blocks.text(summary.fleetopt_version)),
            ("warnings", "; ".join(summary.warnings) or "none"),
        ],
        stats.estimate_flags(points, placement=placement) if summary.has_plan else None,
        "the plan",
        None if summary.has_plan else "There is no plan, so no throughput figure is used.",
    )
    if not summary.has_plan:
        return [*sections, assumptions]
    if summary.periods:
        sections.append(_years_section(run, scope))
    sections.append(_cost_section(run, summary, scope))
    sites, racks, workloads = run.table("sites"), run.table("racks"), run.table("workloads")
    if sites is not None:
        sections.append(_power_section(sites, scope))
    if racks is not None:
        sections.append(blocks.racks_section(racks, scope, "the plan"))
    if placement is not None:
        sections.append(_placement_section(placement, points, workloads, scope))
    return [*sections, assumptions]


def _span(years: list[int]) -> str:
    return f"{years[0]}–{years[-1]}"


# --- headline ---------------------------------------------------------------------------


def _headline(run: Run, summary: Summary, scope: blocks.Scope) -> blocks.Section:
    """The plan in numbers; levelized figures labelled so; no plan: why, and the exit code."""
    head = summary.figures
    status = f"gap {formats.gap(summary.mip_gap)}, solver {blocks.text(summary.solver)}"
    status_card = (
        "status",
        blocks.text(summary.status.value),
        status if summary.has_plan else f"fleetopt solve exits {int(summary.exit_code)}",
    )
    if not summary.has_plan:
        why = summary.diagnosis.split("; ") if summary.diagnosis else []
        said = summary.message or "nothing"
        content = blocks.cards([status_card]) + (
            blocks.bullets(why)
            if why
            else blocks.note(f"The solver found no plan and gave no diagnosis (it said: {said}).")
        )
        return blocks.Section(
            scope.key("headline"),
            scope.title("Headline"),
            [
                blocks.Block(
                    "No plan: why",
                    "The case has no plan that meets its limits on the forecast; the rows that"
                    " cannot all hold, as the diagnosis found them (docs/model.md section 7).",
                    html=content,
                )
            ],
        )
    years = summary.periods
    level = ", levelized" if years else ""
    over = f"{_span(years)}, discounted average" if years else ""
    workloads = run.table("workloads")
    items = [
        ("cost per million tokens" + level, formats.usd(head.cost_per_mtok_usd), over),
        ("tokens per joule" + level, formats.number(head.tokens_per_joule), over),
        ("served tokens per second" + level, formats.number(head.served_tokens_per_s), over),
        (
            "fleet cost per year" + level,
            formats.usd(head.fleet_cost_usd_per_year),
            f"capex {formats.usd(head.capex_cost_usd_per_year)} (annualised) + opex"
            f" {formats.usd(head.opex_cost_usd_per_year)} + energy"
            f" {formats.usd(head.energy_cost_usd_per_year)}",
        ),
        ("unmet-demand penalty per year" + level, formats.usd(head.penalty_cost_usd_per_year), ""),
        (
            "unmet share of tokens" + (f", {_span(years)}" if years else ""),
            formats.share(None if workloads is None else yearly.unmet_share(workloads)),
            "of all the years' demand" if years else "",
        ),
        status_card,
    ]
    orders = run.table("orders")
    if years:
        items.insert(
            5,
            (
                "cost over the horizon",
                formats.usd(summary.npv_cost_usd),
                f"fleet + penalty, discounted to {years[0]}",
            ),
        )
    if years and orders is not None:
        now = orders[orders["order_by_year"] < years[0] + 1]
        items.insert(
            0,
            (
                f"to order before {years[0] + 1}",
                f"{formats.integer(now['new_racks'].sum())} racks",
                f"capex {formats.usd((now['new_racks'] * now['capex_usd_each']).sum())};"
                " the order schedule below",
            ),
        )
    caption = (
        "What the plan costs per year and per million served tokens, how much demand it leaves"
        " unmet, and how sure the solver is of it (status and MIP gap)."
    )
    if years:
        caption += (
            f" Figures marked levelized are discounted averages over {_span(years)}"
            " (docs/model.md section 8); the sections below show each year on its own."
        )
    return blocks.Section(
        scope.key("headline"),
        scope.title("Headline"),
        [blocks.Block("The plan in numbers", caption, html=blocks.cards(items))],
    )


# --- the years --------------------------------------------------------------------------


def _years_section(run: Run, scope: blocks.Scope) -> blocks.Section:
    """A schedule year by year: cash out, cost per million tokens, the orders with their
    order-by dates, racks, and each site's power against its own cap."""
    orders, periods = run.table("orders"), run.table("periods")
    racks, sites, workloads = run.table("racks"), run.table("sites"), run.table("workloads")
    entries = []
    if periods is None:
        entries.append(blocks.no_data("Cash out per year", "This run has no periods table."))
    else:
        cash = yearly.cash_out(orders, periods, workloads)
        entries += [
            blocks.Block(
                "Cash out per year",
                "The money paid out each year: the price of the racks that enter service that"
                " year (counted in that year, at that year's price; each is ordered by the"
                " date in the order schedule), plus opex and energy of the fleet in service."
                " Installed racks add no capex; the penalty for unmet demand is a price, not a"
                " payment, and is left out.",
                figures.stacked_bars(
                    stats.cash_parts(cash),
                    "year",
                    "part",
                    "usd",
                    axis_label="USD paid in the year",
                    fmt=formats.usd,
                    axis="usd",
                    vertical=True,
                ),
            ),
            blocks.Block(
                "Costs per year",
                "Each year's cash out beside its annualised fleet cost (capex spread over the"
                " racks' lifetimes: what the levelized headline averages), the penalty for"
                " unmet demand, the cost per million served tokens and the unmet share.",
                html=blocks.table(cash, yearly.CASH_COLUMNS),
                wide=True,
            ),
            blocks.Block(
                "Cost per million tokens per year",
                "Annualised fleet cost over served tokens, year by year: the levelized headline"
                " figure is their discounted average.",
                figures.lines(
                    cash.assign(series="cost per Mtok", year=cash["period"]),
                    "year",
                    "cost_per_mtok_usd",
                    "series",
                    x_label="year",
                    y_label="USD per million served tokens",
                    fmt=formats.usd,
                    axis="usd",
                ),
            ),
        ]
    if orders is not None:
        schedule = yearly.order_schedule(orders)
        entries.append(
            blocks.Block(
                "Order schedule",
                "Every order, in the order it must be placed: the racks enter service at the"
                " start of the year given and are ordered their lead time earlier (order by),"
                " at the price of the year they enter service.",
                html=blocks.table(schedule, yearly.ORDER_COLUMNS)
                if len(schedule)
                else blocks.note("The plan orders no new racks."),
                wide=True,
            )
        )
        by_type = stats.orders_by_type(orders)
        if len(by_type):
            entries.append(
                _by_year(
                    "New racks per year",
                    "New racks entering service each year by rack type, over all sites.",
                    by_type,
                    "new_racks",
                    "new racks",
                    scope,
                )
            )
    if racks is not None and yearly.years(racks):
        entries.append(
            _by_year(
                "Racks in service per year",
                "The fleet over time: racks in service each year by rack type, over all sites.",
                stats.racks_in_service(racks),
                "count",
                "racks in service",
                scope,
            )
        )
    if sites is not None and yearly.years(sites):
        entries += _power_by_year(sites)
    return blocks.Section(scope.key("periods"), scope.title("Year by year"), entries)


def _power_by_year(sites: pd.DataFrame) -> list[blocks.Block]:
    """Each site's power against its own cap per year: shares (every site on its own
    scale), and the MW."""
    use = yearly.power_use(sites).rename(columns={"period": "year"})
    use["text"] = [
        f"{formats.megawatts(p)} of {formats.megawatts(c)} ({formats.share(s)})"
        for p, c, s in zip(use["power_mw"], use["power_cap_mw"], use["power_share"], strict=True)
    ]
    use["cell"] = [
        f"{formats.mw(p)} / {formats.mw(c)} ({formats.share(s)})"
        for p, c, s in zip(use["power_mw"], use["power_cap_mw"], use["power_share"], strict=True)
    ]
    high = max(1.05, float(use["power_share"].max()) * 1.05)
    mw = use.pivot(index="site", columns="year", values="cell").reindex(pd.unique(use["site"]))
    columns: list[tuple[str, str, blocks.Format]] = [("site", "site", str)]
    columns += [(str(y), str(y), str) for y in mw.columns]
    mw.columns = [str(y) for y in mw.columns]
    return [
        blocks.Block(
            "Power used against the cap, per site",
            "Each site's facility power at full load as a share of that year's cap, so a"
            " 20 MW site reads as clearly as a 1,000 MW one; at 100% the site is full"
            " (hover: the MW).",
            figures.lines(
                use,
                "year",
                "power_share",
                "site",
                x_label="year",
                y_label="share of the site's power cap",
                fmt=formats.share,
                axis="share",
                y_range=(0, high),
                hover="text",
            ),
        ),
        blocks.Block(
            "Power per site and year",
            "Facility power at full load / the cap, MW (the share of the cap in use), each year.",
            html=blocks.table(mw.reset_index(), columns),
        ),
    ]


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


# --- costs, power, placement ------------------------------------------------------------


def _cost_section(run: Run, summary: Summary, scope: blocks.Scope) -> blocks.Section:
    """Cost by part (levelized over a schedule's years), and per site (each year)."""
    level = ", levelized" if summary.periods else ""
    entries = []
    parts = stats.cost_parts(summary.figures)
    if parts is not None:
        entries.append(
            blocks.Block(
                "Yearly cost by part" + level,
                "Where the money goes: capex (annualised), opex, energy, and the penalty that"
                " prices the demand left unmet"
                + (" (discounted averages over the years)." if level else "."),
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
    sites = run.table("sites")

    def per_site(year: int | None, rows: pd.DataFrame) -> list[blocks.Block]:
        by_site = stats.cost_by_site(rows)
        if by_site is None:
            why = "This run's sites table has no cost columns: no split per site."
            return [blocks.no_data("Yearly cost per site", why)]
        return [
            blocks.Block(
                "Yearly cost per site",
                "Which sites carry the cost, and whether it is hardware (capex annualised,"
                " opex) or energy; the penalty belongs to no site.",
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
        ]

    if sites is not None:
        entries += blocks.per_year(sites, per_site)
    return blocks.Section(scope.key("costs"), scope.title("Cost breakdown"), entries)


def _power_section(sites: pd.DataFrame, scope: blocks.Scope) -> blocks.Section:
    def blocks_of(year: int | None, rows: pd.DataFrame) -> list[blocks.Block]:
        use = stats.power_use(rows)
        use["power_text"] = [
            f"{formats.megawatts(p)} of {formats.megawatts(c)}, average draw {formats.megawatts(a)}"
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
            ("power_mw", "power at full load, MW", formats.mw),
            ("power_cap_mw", "cap, MW", formats.mw),
            ("power_share", "of cap", formats.share),
            ("headroom_mw", "headroom, MW", formats.mw),
            ("avg_facility_mw", "average draw, MW", formats.mw),
            ("slots", "floor slots", formats.integer),
            ("max_slots", "slot limit", _limit),
        ]
        return [
            blocks.Block(
                "Power and floor use per site",
                "How close each site is to its limits: the powered racks' facility power at"
                " full load as a share of the cap, and floor slots as a share of the limit"
                " (none where the floor is unlimited); the dashed line is 100%.",
                figures.share_bars(use, "site", measures, details),
            ),
            blocks.Block(
                "Power per site",
                "The same in MW: a site at its cap cannot take another rack.",
                html=blocks.table(use, columns),
            ),
        ]

    return blocks.Section(
        scope.key("power"), scope.title("Power and floor"), blocks.per_year(sites, blocks_of)
    )


def _limit(slots: object) -> str:
    """A site's floor limit: its slots, or 'none' where the floor is unlimited."""
    return "none" if formats.absent(slots) else formats.integer(slots)


SERVICE_COLUMNS: list[tuple[str, str, blocks.Format]] = [
    ("workload", "workload", str),
    ("demand_tokens_per_s", "demand, tokens/s", formats.number),
    ("served_share", "served", formats.share),
    ("unmet_share", "unmet", formats.share),
    ("penalty_cost_usd_per_year", "penalty per year", formats.usd),
]


def _placement_section(
    placement: pd.DataFrame,
    points: pd.DataFrame | None,
    workloads: pd.DataFrame | None,
    scope: blocks.Scope,
) -> blocks.Section:
    hatched = (
        "; hatched segments rest on an estimated throughput figure" if points is not None else ""
    )
    service = (
        dict(yearly.by_year(stats.workload_service(workloads))) if workloads is not None else {}
    )

    def blocks_of(year: int | None, rows: pd.DataFrame) -> list[blocks.Block]:
        entries = []
        if len(rows):
            used = stats.placement_by_rack(rows, points)
            used["workload_phase"] = used["workload"] + " · " + used["phase"]
            entries.append(
                blocks.Block(
                    "Placement of each workload phase",
                    "What runs where: rack-equivalents busy on each workload's prefill and"
                    f" decode, by rack type{hatched}.",
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
            )
        else:
            entries.append(blocks.no_data("Placement of each workload phase", "Nothing runs."))
        if year in service:
            entries.append(
                blocks.Block(
                    "Service per workload",
                    "How much of each workload's demand is served, and what the unmet part"
                    " costs per year.",
                    html=blocks.table(service[year], SERVICE_COLUMNS),
                )
            )
        return entries

    return blocks.Section(
        scope.key("placement"), scope.title("Placement"), blocks.per_year(placement, blocks_of)
    )
