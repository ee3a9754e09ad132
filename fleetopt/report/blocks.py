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

from fleetopt.report import figures, formats
from fleetopt.report import statistics as stats
from fleetopt.report.statistics import Run
from fleetopt.results.runs import Estimate, EstimateKind, SampledRun

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


def assumptions_section(
    scope: Scope,
    title: str,
    caption: str,
    rows: Sequence[tuple[str, str]],
    flags: pd.DataFrame | None,
    what: str,
) -> Section:
    """What a run assumed: its facts (`rows`), and which of its figures rest on estimates."""
    return Section(
        scope.key("assumptions"),
        scope.title("Assumptions"),
        [Block(title, caption, html=facts(rows)), estimates_block(flags, what)],
    )


def sample_facts(summary: SampledRun) -> list[tuple[str, str]]:
    """How a scenario run sampled its futures."""
    return [("scenarios", text(summary.scenarios)), ("seed", text(summary.seed))]


def estimates_block(flags: pd.DataFrame | None, what: str) -> Block:
    caption = (
        f"Catalog estimates flagged: per rack type of {what}, how many of the throughput figures"
        " it relies on are estimates (a source starting 'estimate') rather than measured."
    )
    if flags is None:
        return Block("Estimated figures", caption, html=note(ESTIMATE_NOTE))
    columns: list[tuple[str, str, Format]] = [
        ("rack_type", "rack type", str),
        ("operating_points", "operating points used", formats.integer),
        ("estimated", "of which estimates", formats.integer),
    ]
    return Block("Estimated figures", caption, html=table(flags, columns))


def racks_section(mix: pd.DataFrame, scope: Scope, what: str) -> Section:
    columns: list[tuple[str, str, Format]] = [
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


def scenario_cards(head: stats.ScenarioHeadline, extra: Sequence[tuple[str, str, str]] = ()) -> str:
    plan = head.stats
    cost, total = plan.cost_per_mtok_usd, plan.total_cost_usd_per_year
    statuses = ", ".join(f"{k} {v}" for k, v in plan.status_counts.items())
    return cards(
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
