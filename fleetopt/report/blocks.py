"""The report's building blocks: blocks and sections, HTML pieces, and the sections that
several run kinds share (racks, distributions over the futures, plans, sites).

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

from fleetopt.core import formats
from fleetopt.report import figures
from fleetopt.report import statistics as stats
from fleetopt.report.statistics import Run
from fleetopt.results import yearly
from fleetopt.results.runs import Estimate, EstimateKind, SampledRun
from fleetopt.solve.result import SOLVED

Format = Callable[[Any], str]


@dataclass
class Block:
    """One figure or table (or a note) with its title and caption; `year`: the year of a
    multi-period run it shows (the page's year selector shows one year at a time)."""

    title: str
    caption: str
    figure: Model | None = None
    html: str = ""
    year: int | None = None
    wide: bool = False  # a table too wide for half the page takes a whole row


@dataclass
class Section:
    """A titled group of blocks; `key` is its HTML id, unique in the page."""

    key: str
    title: str
    blocks: list[Block] = field(default_factory=list)

    @property
    def years(self) -> list[int]:
        """The years its blocks show one at a time (none: every block shows always)."""
        return sorted({b.year for b in self.blocks if b.year is not None})


def per_year(
    table: pd.DataFrame, make: Callable[[int | None, pd.DataFrame], list[Block]]
) -> list[Block]:
    """`make(year, rows)`'s blocks for each year of a multi-period table, each block marked
    with its year and titled with it (never a figure over several years); a table without
    periods gives `make(None, table)`."""
    found = []
    for year, rows in yearly.by_year(table):
        for block in make(year, rows):
            if year is not None:
                block.title, block.year = f"{block.title}, {year}", year
            found.append(block)
    return found


def no_data(title: str, why: str, year: int | None = None) -> Block:
    """A block that says why it has nothing to show."""
    return Block(title, "", html=note(why), year=year)


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


def bullets(items: Sequence[str]) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(item)}</li>" for item in items) + "</ul>"


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


def assumptions_section(
    scope: Scope,
    title: str,
    caption: str,
    rows: Sequence[tuple[str, str]],
    flags: pd.DataFrame | None,
    what: str,
    no_flags: str | None = None,
) -> Section:
    """What a run assumed: its facts (`rows`), and which of its figures rest on estimates
    (`no_flags`: why there are none to flag, when the run records none)."""
    return Section(
        scope.key("assumptions"),
        scope.title("Assumptions"),
        [Block(title, caption, html=facts(rows)), estimates_block(flags, what, no_flags)],
    )


def sample_facts(summary: SampledRun) -> list[tuple[str, str]]:
    """How a scenario run sampled its futures."""
    return [("scenarios", text(summary.scenarios)), ("seed", text(summary.seed))]


def estimates_block(flags: pd.DataFrame | None, what: str, no_flags: str | None = None) -> Block:
    caption = (
        f"Catalog estimates flagged: per rack type of {what}, how many of the throughput figures"
        " it relies on are estimates (a source starting 'estimate') rather than measured."
    )
    if flags is None:
        return Block("Estimated figures", caption, html=note(no_flags or ESTIMATE_NOTE))
    columns: list[tuple[str, str, Format]] = [
        ("rack_type", "rack type", str),
        ("operating_points", "operating points used", formats.integer),
        ("estimated", "of which estimates", formats.integer),
    ]
    return Block("Estimated figures", caption, html=table(flags, columns))


RACK_COLUMNS: list[tuple[str, str, Format]] = [
    ("site", "site", str),
    ("rack_type", "rack type", str),
    ("count", "racks", formats.integer),
    ("installed", "installed", formats.integer),
    ("new", "new", formats.integer),
]


def racks_section(racks: pd.DataFrame, scope: Scope, what: str) -> Section:
    """Racks per site by rack type, and which are installed or new: of each year of a
    schedule on its own (a table with `period`), never summed over the years."""

    def blocks_of(year: int | None, rows: pd.DataFrame) -> list[Block]:
        mix = stats.rack_mix(rows)
        if not len(mix):
            return [no_data(f"Racks per site ({what})", "No racks in service.")]
        when = "in service that year" if year is not None else "in service"
        return [
            Block(
                f"Racks per site ({what})",
                f"What to own where: racks {when} per site by rack type.",
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
                "Which racks are already owned (installed, still in service) and which are"
                " bought" + (" by that year." if year is not None else "."),
                html=table(mix, RACK_COLUMNS),
            ),
        ]

    return Section(scope.key("racks"), scope.title("Rack mix"), per_year(racks, blocks_of))


# --- scenario runs ----------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """A column of scenario results drawn as a distribution over the futures."""

    column: str
    title: str
    axis_label: str
    axis: str  # usd, share or number
    caption: str
    all_zero: str = ""  # said instead of a figure when every solved scenario has 0


COST_PER_MTOK = Metric(
    "cost_per_mtok_usd",
    "Cost per million tokens",
    "USD per million served tokens",
    "usd",
    "How the cost per million tokens spreads over the sampled futures: the further left and"
    " the steeper, the cheaper and the surer.",
)
TOTAL_COST = Metric(
    "total_cost_usd_per_year",
    "Total cost per year",
    "USD per year (fleet + penalty)",
    "usd",
    "How the yearly total cost (fleet plus the penalty for unmet demand) spreads over the"
    " futures: a long right tail is the risk of running short.",
)
UNMET = Metric(
    "unmet_share",
    "Unmet share of demand",
    "share of demanded tokens unserved",
    "share",
    "How much demand goes unserved across the futures: a line that reaches 100% at zero never"
    " runs short.",
    "No solved future leaves any demand unmet.",
)
SHORTFALL = Metric(
    "shortfall_share",
    "Shortfall below the minimum served shares",
    "share of demanded tokens short of the minimum",
    "share",
    "How far the plan falls short of the workloads' minimum served shares across the futures"
    " (priced by the shortfall penalty).",
    "No future falls short of a minimum served share.",
)
RECOURSE = Metric(
    "recourse_racks",
    "Recourse racks bought",
    "racks bought once the future is known",
    "number",
    "How many racks each future buys at short notice (at the recourse premium) on top of the plan.",
    "No future buys recourse racks.",
)
METRICS = (COST_PER_MTOK, TOTAL_COST, UNMET)
AXIS_FORMAT = {"usd": formats.usd, "share": formats.share, "number": formats.number}


def scenario_cards(head: stats.ScenarioHeadline, extra: Sequence[tuple[str, str, str]] = ()) -> str:
    plan = head.stats
    cost, total = plan.cost_per_mtok_usd, plan.total_cost_usd_per_year
    statuses = ", ".join(f"{k} {v}" for k, v in plan.status_counts.items())
    solved = sum(v for k, v in plan.status_counts.items() if k in SOLVED)
    why = (
        note(
            f"No sampled future has a solution with this plan ({statuses}), so it has no cost"
            " to show; each scenario's row in results.parquet says why."
        )
        if not solved
        else ""
    )
    return why + cards(
        [
            *extra,
            ("scenarios", formats.integer(plan.scenarios), statuses),
            (
                "cost per million tokens, mean",
                formats.usd_plus_minus(cost.mean, cost.se),
                f"p95 {formats.usd(cost.p95)}",
            ),
            (
                "total cost per year, mean",
                formats.usd_plus_minus(total.mean, total.se),
                f"CVaR {formats.usd(total.cvar)}",
            ),
            ("P(unmet demand > 1%)", formats.share(plan.probability_unmet_above_1pct), ""),
            ("unmet share of tokens, mean", formats.share(head.unmet_share_mean), ""),
        ]
    )


def estimate_card(label: str, estimate: Estimate) -> tuple[str, str, str]:
    """VSS or EVPI as a card: value ± standard error, per year (and a bound as a bound)."""
    detail = {
        EstimateKind.ESTIMATE: "per year",
        EstimateKind.LOWER_BOUND: "per year, a lower bound",
        EstimateKind.UPPER_BOUND: "per year, an upper bound",
    }
    return label, formats.usd_plus_minus(estimate.value, estimate.se), detail[estimate.kind]


def value_block(vss: Estimate, evpi: Estimate) -> Block:
    """VSS and EVPI with their 95% intervals, drawn (a value the run lacks left out)."""
    value = stats.value_of_information(vss, evpi).dropna(subset=["mean"])
    if not len(value):
        return no_data("VSS and EVPI with 95% intervals", "No scenario gave a value.")
    same_plan = vss.value == 0 and not vss.se  # the plan chosen costs what the forecast's does
    return Block(
        "VSS and EVPI with 95% intervals",
        "What choosing under uncertainty saves over planning for the forecast (VSS), and what"
        " knowing the future would still save (EVPI), per year; an interval that crosses zero"
        " means the sample cannot tell."
        + (
            " The VSS is 0 in every future: the plan chosen costs what the expected-value plan"
            " costs in each (it is that plan, or one as good everywhere)."
            if same_plan
            else ""
        ),
        figures.intervals(
            value,
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


def distribution_section(
    results: pd.DataFrame,
    scope: Scope,
    emphasis: Sequence[str],
    metrics: Sequence[Metric] = METRICS,
    title: str = "Distributions over the futures",
) -> Section:
    """Per metric, the empirical distribution of each plan's solved scenarios; a metric
    the results lack, or that no scenario moves from zero, says so instead."""
    entries = []
    for metric in metrics:
        if metric.column not in results:
            entries.append(no_data(metric.title, "This run does not record it."))
            continue
        points = stats.ecdf(results, metric.column)
        if not len(points):
            entries.append(no_data(metric.title, "No scenario was solved: nothing to plot."))
        elif metric.all_zero and not points["value"].abs().gt(0).any():
            entries.append(no_data(metric.title, metric.all_zero))
        else:
            entries.append(
                Block(
                    metric.title,
                    metric.caption,
                    figures.ecdf_lines(
                        points,
                        axis_label=metric.axis_label,
                        fmt=AXIS_FORMAT[metric.axis],
                        axis=metric.axis,
                        emphasis=emphasis,
                    ),
                )
            )
    return Section(scope.key("distributions"), scope.title(title), entries)


COMPARISON_COLUMNS: list[tuple[str, str, Format]] = [
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
                " count p5/p50/p95"
                + (", in its peak year" if "period" in mix.columns else "")
                + "): a type chosen in nearly every future is a safe buy.",
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
