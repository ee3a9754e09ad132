"""The report of a two-stage stochastic run: bounds, convergence, the plan, distributions."""

from __future__ import annotations

from fleetopt.report import figures, formats
from fleetopt.report import statistics as stats
from fleetopt.report.blocks import (
    Block,
    Scope,
    Section,
    distribution_section,
    facts,
    racks_section,
    text,
)
from fleetopt.report.statistics import Run
from fleetopt.results.stochastic import StochasticSummary


def stochastic_sections(run: Run, scope: Scope) -> list[Section]:
    """A stochastic run: what it reached, convergence, the plan's racks, distributions."""
    summary = run.summary
    assert isinstance(summary, StochasticSummary), "a stochastic run's summary"
    facts_rows = [
        ("case", text(summary.case)),
        ("status", text(summary.status.value)),
        ("objective", text(summary.objective.value)),
        ("gap", text(summary.gap)),
        ("iterations", text(summary.iterations)),
    ]
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
                        "Progressive hedging's lower and upper bounds on the expected cost:"
                        " where they meet, the plan is proven optimal.",
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
        sections.append(racks_section(stats.rack_mix(racks), scope, "the plan"))
    results = run.table("results")
    if results is not None:
        sections.append(distribution_section(results, scope, []))
    return sections
