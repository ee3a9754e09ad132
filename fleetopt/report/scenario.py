"""The report of a scenario run: sweep and evaluate; robust selection."""

from __future__ import annotations

from fleetopt.core import formats
from fleetopt.report import blocks, figures
from fleetopt.report import statistics as stats
from fleetopt.report.statistics import Run
from fleetopt.results.runs import RobustSummary, ScenarioSummary


def scenario_sections(run: Run, scope: blocks.Scope) -> list[blocks.Section]:
    """A sweep or evaluate run: headline, distributions, plans, rack types, site use."""
    summary = run.summary
    assert isinstance(summary, ScenarioSummary), "a sweep or evaluate run's summary"
    results = run.table("results")
    plans = summary.plans
    main = next(iter(plans), None)
    head = stats.scenario_headline(plans[main], results, main) if main else None
    facts_rows = [
        ("case", blocks.text(summary.case)),
        ("run kind", blocks.text(summary.kind)),
        *blocks.sample_facts(summary),
        ("CVaR level alpha", blocks.text(summary.alpha)),
        ("scenarios that ended in error", blocks.text(summary.errors)),
    ]
    headline = [
        blocks.Block(
            f"Plan {main}" if main else "No plan",
            "The plan's cost and shortfall over the sampled futures: mean (± its standard error)"
            " and tail (p95, CVaR).",
            html=blocks.scenario_cards(head)
            if head
            else blocks.note("This run holds no plan results."),
        )
    ]
    sections = [
        blocks.Section(scope.key("headline"), scope.title("Headline"), headline),
        blocks.assumptions_section(
            scope, "The run", "What was sampled, and how.", facts_rows, None, "the plan"
        ),
    ]
    if results is not None:
        sections.append(blocks.distribution_section(results, scope, [main] if main else []))
        sections.append(
            blocks.Section(
                scope.key("plans"),
                scope.title("Plans"),
                [blocks.plans_block(stats.plan_comparison(plans, results))],
            )
        )
    if summary.kind == "sweep":
        section = blocks.rack_types_section(run, scope)
        if section is not None:
            sections.append(section)
    elif main is not None:
        mix = run.table("mix")
        if mix is not None and len(mix):
            first = mix[mix["plan"] == main]
            first = first[first["scenario"] == first["scenario"].min()]
            sections.append(blocks.racks_section(first, scope, f"plan {main}"))
    section = blocks.sites_section(run.table("sites"), main, scope)
    if section is not None:
        sections.append(section)
    return sections


def robust_sections(run: Run, scope: blocks.Scope) -> list[blocks.Section]:
    """A robust selection: the choice, candidates side by side, VSS and EVPI, and the
    sweep's and evaluation's figures."""
    summary = run.summary
    assert isinstance(summary, RobustSummary), "a robust run's summary"
    chosen = summary.chosen_plan
    evaluation = run.part("evaluate")
    results = evaluation.table("results") if evaluation else None
    candidates = summary.candidates
    head = stats.scenario_headline(summary.chosen, results, chosen)
    extra = [
        ("chosen plan", blocks.text(chosen), f"by {summary.rule}"),
        blocks.estimate_card("value of the stochastic solution", summary.vss),
        blocks.estimate_card("expected value of perfect information", summary.evpi),
    ]
    choice = run.part("choice")
    chosen_racks = choice.table("racks") if choice else None
    points = choice.table("operating_points") if choice else None
    facts_rows = [
        ("case", blocks.text(summary.case)),
        *blocks.sample_facts(summary),
        ("criterion", blocks.text(summary.criterion)),
        ("CVaR level alpha", blocks.text(summary.alpha)),
        ("candidate plans", blocks.text(len(candidates))),
        ("scenario errors (sweep, evaluate)", f"{summary.sweep_errors}, {summary.evaluate_errors}"),
    ]
    sections = [
        blocks.Section(
            scope.key("headline"),
            scope.title("Headline"),
            [
                blocks.Block(
                    "The chosen plan",
                    "The plan that holds up best over the sampled futures, what it costs (mean ±"
                    " standard error, tail), and what choosing under uncertainty is worth.",
                    html=blocks.scenario_cards(head, extra),
                )
            ],
        ),
        blocks.assumptions_section(
            scope,
            "The run",
            "What was sampled, and how the plan was chosen.",
            facts_rows,
            stats.estimate_flags(points, racks=chosen_racks),
            "the chosen plan",
        ),
    ]
    comparison = stats.plan_comparison(candidates, results, summary.scores)
    comparison["label"] = [f"{p} (chosen)" if p == chosen else p for p in comparison["plan"]]
    entries = [
        blocks.Block(
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
        blocks.plans_block(comparison),
    ]
    sections.append(
        blocks.Section(scope.key("candidates"), scope.title("Candidate plans"), entries)
    )
    if results is not None:
        emphasis = [p for p in (chosen, "expected-value") if p]
        sections.append(blocks.distribution_section(results, scope, emphasis))
    sections.append(
        blocks.Section(
            scope.key("value"),
            scope.title("Value of the stochastic solution and of perfect information"),
            [blocks.value_block(summary.vss, summary.evpi)],
        )
    )
    sweep = run.part("sweep")
    section = blocks.rack_types_section(sweep, scope) if sweep else None
    if section is not None:
        sections.append(section)
    if chosen_racks is not None:
        sections.append(blocks.racks_section(chosen_racks, scope, f"plan {chosen}"))
    section = blocks.sites_section(evaluation.table("sites") if evaluation else None, chosen, scope)
    if section is not None:
        sections.append(section)
    return sections
