"""The report of a two-stage stochastic run: bounds, convergence, the plan, distributions."""

from __future__ import annotations

from fleetopt.report import blocks, figures, formats
from fleetopt.report import statistics as stats
from fleetopt.report.statistics import Run
from fleetopt.results.stochastic import StochasticSummary


def stochastic_sections(run: Run, scope: blocks.Scope) -> list[blocks.Section]:
    """A stochastic run: what it reached, convergence, the plan's racks, distributions."""
    summary = run.summary
    assert isinstance(summary, StochasticSummary), "a stochastic run's summary"
    facts_rows = [
        ("case", blocks.text(summary.case)),
        ("status", blocks.text(summary.status.value)),
        ("objective", blocks.text(summary.objective.value)),
        ("gap", blocks.text(summary.gap)),
        ("iterations", blocks.text(summary.iterations)),
    ]
    sections = [
        blocks.Section(
            scope.key("headline"),
            scope.title("Headline"),
            [
                blocks.Block(
                    "The run", "What the stochastic program reached.", html=blocks.facts(facts_rows)
                )
            ],
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
            blocks.Section(
                scope.key("convergence"),
                scope.title("Convergence"),
                [
                    blocks.Block(
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
                    blocks.Block(
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
        sections.append(blocks.racks_section(stats.rack_mix(racks), scope, "the plan"))
    results = run.table("results")
    if results is not None:
        sections.append(blocks.distribution_section(results, scope, []))
    return sections
