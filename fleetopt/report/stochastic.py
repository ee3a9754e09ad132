"""The report of a two-stage stochastic run: first what to order now, then what the plan is
worth (certified bounds, VSS and EVPI with their intervals), the out-of-sample check, each
scenario's cost, shortfall and recourse, the method's convergence where it iterated, the
first year's racks and the assumptions."""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd

from fleetopt.core import formats
from fleetopt.report import blocks, figures
from fleetopt.report import statistics as stats
from fleetopt.report.statistics import Run
from fleetopt.results import yearly
from fleetopt.results.stochastic import (
    CURVE_DISPLAY,
    EXPECTED_VALUE_PLAN,
    ROBUST_CHOICE,
    STOCHASTIC_PLAN,
    WAIT_AND_SEE_PLAN,
    ReplicationGap,
    StochasticSummary,
    curve_table,
    method_name,
)
from fleetopt.results.text import first_stage_orders

ESTIMATE_COLUMNS: list[tuple[str, str, blocks.Format]] = [
    ("measure", "figure", str),
    ("mean", "value per year", formats.usd),
    ("se", "standard error", formats.usd),
    ("low", "95% interval from", formats.usd),
    ("high", "to", formats.usd),
    ("kind", "what it is", lambda kind: str(kind).replace("_", " ")),
]
# The plans as the headline names them (the run's tables keep the short ids).
PLAN_LABELS: dict[str, str] = {
    STOCHASTIC_PLAN: "hedged plan (stochastic)",
    EXPECTED_VALUE_PLAN: "expected-value plan (the forecast)",
    WAIT_AND_SEE_PLAN: "wait-and-see (knowing each future)",
    ROBUST_CHOICE: "robust choice",
}


def plan_label(plan: str) -> str:
    """A plan's id as the report's headline and cards name it."""
    return PLAN_LABELS.get(plan, plan)


OUT_OF_SAMPLE_COLUMNS: list[tuple[str, str, blocks.Format]] = [
    ("plan", "plan", str),
    ("mean", "mean total cost per year", formats.usd),
    ("low", "95% interval from", formats.usd),
    ("high", "to", formats.usd),
    ("risk", "objective's risk measure", formats.usd),
    ("probability_shortfall", "P(shortfall)", formats.share),
]
REPLICATION_COLUMNS: list[tuple[str, str, blocks.Format]] = [
    ("batch", "batch", formats.integer),
    ("seed", "seed", formats.identifier),
    ("lower_bound", "batch optimum (certified bound)", formats.usd),
    ("batch_objective", "batch's own plan", formats.usd),
    ("plan_cost", "the plan's cost on the batch", formats.usd),
    ("gap", "gap", formats.usd),
]
CONVERGENCE_COLUMNS: list[tuple[str, str, blocks.Format]] = [
    ("iteration", "iteration", formats.integer),
    ("phase", "phase", blocks.text),
    ("lower_bound", "lower bound", formats.usd),
    ("upper_bound", "upper bound", formats.usd),
    ("gap", "gap", formats.gap),
    ("relaxed_objective", "relaxed objective", formats.usd),
    ("spread", "spread", formats.number),
    ("cuts", "cuts", formats.integer),
    ("plans_evaluated", "plans evaluated", formats.integer),
    ("points", "points cut at", formats.integer),
    ("master_seconds", "master", formats.seconds),
    ("elapsed_seconds", "elapsed", formats.seconds),
]


def stochastic_sections(run: Run, scope: blocks.Scope) -> list[blocks.Section]:
    """A stochastic run, its orders first."""
    summary = run.summary
    assert isinstance(summary, StochasticSummary), "a stochastic run's summary"
    name = method_name(summary.method)
    sections = [
        _orders_section(run, scope),
        _headline(summary, name, scope),
        _value_section(summary, scope),
        _out_of_sample_section(run, summary, scope),
    ]
    if summary.shortfall_curve:
        sections.append(_curve_section(summary, scope))
    results = run.table("results")
    if results is not None:
        sections.append(
            blocks.distribution_section(
                results,
                scope,
                [STOCHASTIC_PLAN, EXPECTED_VALUE_PLAN, WAIT_AND_SEE_PLAN],
                [blocks.TOTAL_COST, blocks.SHORTFALL, blocks.RECOURSE, blocks.UNMET],
                "Each scenario's cost, shortfall and recourse",
            )
        )
    history = run.table("convergence")
    iterated = history is not None and len(history) > 1
    if iterated:  # a method that iterated
        assert history is not None
        sections.append(_convergence_section(stats.convergence(history), summary, name, scope))
    racks = run.table("racks")
    if racks is not None:
        sections.append(blocks.racks_section(racks, scope, "the first year"))
    facts_rows = [
        ("case", blocks.text(summary.case)),
        ("method", name + (" (one MILP)" if summary.method == "ef" else "")),
        ("iterations", blocks.text(summary.iterations) if iterated else "none"),
        ("solve time", formats.seconds(summary.solve_seconds)),
        ("scenarios", blocks.text(summary.scenarios)),
        ("seed", blocks.text(summary.seed)),
        ("objective", _risk_text(summary)),
        (
            "reliability target",
            "none: a shortfall is priced, not limited"
            if summary.reliability is None
            else summary.reliability.describe(),
        ),
        (
            "out-of-sample check",
            f"{summary.out_of_sample_scenarios} scenarios, seed {summary.out_of_sample_seed}",
        ),
        (
            "recourse purchases",
            "not allowed"
            if summary.recourse_capex_premium is None
            else f"at a capex premium of {formats.share(summary.recourse_capex_premium)}",
        ),
        ("Ray nodes", blocks.text(summary.nodes)),
        ("solver said", summary.message or "nothing"),
        ("fleetopt version", blocks.text(summary.fleetopt_version)),
    ]
    sections.append(
        blocks.assumptions_section(
            scope,
            "The run",
            "How the plan was found and checked.",
            facts_rows,
            None,
            "the plan",
        )
    )
    return sections


def _risk_text(summary: StochasticSummary) -> str:
    risk = summary.risk
    if risk.measure == "mean":
        return "mean total cost per year"
    return (
        f"(1 - {risk.weight:g}) mean + {risk.weight:g} CVaR at {formats.share(risk.alpha)}"
        " of total cost per year"
    )


def _curve_section(summary: StochasticSummary, scope: blocks.Scope) -> blocks.Section:
    """The cost of reliability: one plan per largest probability of a shortfall allowed."""
    curve = curve_table(summary.shortfall_curve)
    entries = [
        blocks.Block(
            "Cost against the probability of a shortfall",
            "Each point is the extensive form solved with its target P: at most that share of"
            " the run's scenarios short of a minimum served share (or, with a CVaR bound, the"
            " worst P of them short on average by at most the bound); the objective of its"
            " plan, and the probability of a shortfall the plan reaches on these scenarios.",
            figures.lines(
                curve.assign(line="objective").dropna(subset=["objective"]),
                "max_shortfall_probability",
                "objective",
                "line",
                x_label="target P",
                y_label="objective, USD per year",
                fmt=formats.usd,
                axis="usd",
                y_zero=False,
            ),
        ),
        blocks.Block(
            "The curve's points",
            "One plan per target (shortfall_curve.parquet); the objective is the run's"
            f" ({_risk_text(summary)}).",
            html=blocks.table(curve, CURVE_DISPLAY),
            wide=True,
        ),
    ]
    return blocks.Section(scope.key("reliability"), scope.title("The cost of reliability"), entries)


def _orders_section(run: Run, scope: blocks.Scope) -> blocks.Section:
    """The first stage as orders: what to order now, where, by when, at what price."""
    title = "Orders to place now"
    schedule = first_stage_orders(run.path)
    if schedule is None:
        why = "This run records neither its orders nor its racks."
        return blocks.Section(scope.key("orders"), scope.title(title), [blocks.no_data(title, why)])
    total = schedule["capex_usd"].sum(min_count=1) if len(schedule) else 0.0
    caption = (
        "The first stage of the hedged plan: the racks to order before the future is known"
        " (those whose order date falls before the next decision); later racks are decided"
        " year by year as the future unfolds. Racks enter service at the start of the year"
        " given, at that year's price."
        if "period" in schedule
        else "The first stage of the hedged plan: the racks to buy now, before the future is"
        " known, on top of those installed."
    )
    entries = [
        blocks.Block(
            "What to order",
            "The racks the hedged plan orders before the future is known, and what they cost.",
            html=blocks.cards(
                [
                    ("racks to order now", formats.integer(schedule["new_racks"].sum()), ""),
                    ("their capex", formats.usd(total), "at the prices of the years they serve"),
                ]
            ),
        ),
        blocks.Block(
            "The orders",
            caption,
            html=blocks.table(schedule, yearly.ORDER_COLUMNS)
            if len(schedule)
            else blocks.note("The plan orders no new racks now: the installed fleet hedges best."),
            wide=True,
        ),
    ]
    return blocks.Section(scope.key("orders"), scope.title(title), entries)


def _headline(summary: StochasticSummary, name: str, scope: blocks.Scope) -> blocks.Section:
    items = [
        (
            "hedged plan, expected total cost",
            formats.usd_plus_minus(summary.objective.value, summary.objective.se),
            "per year over the run's scenarios (± standard error)",
        ),
        (
            "certified lower bound",
            formats.usd(summary.lower_bound),
            f"no plan does better on these scenarios; gap {formats.gap(summary.gap)}",
        ),
        blocks.estimate_card("value of the stochastic solution", summary.vss),
        blocks.estimate_card("expected value of perfect information", summary.evpi),
        (
            "P(shortfall below a minimum served share)",
            formats.share(summary.probability_shortfall),
            "",
        ),
        ("recourse racks", *summary.recourse_racks()),
        ("status", summary.status.value, f"by {name}"),
    ]
    return blocks.Section(
        scope.key("headline"),
        scope.title("Headline"),
        [
            blocks.Block(
                "What the hedged plan is worth",
                "The plan's expected yearly cost over the sampled futures with its certified"
                " bound, what hedging saves over planning for the forecast (VSS) and what"
                " knowing the future would still save (EVPI).",
                html=blocks.cards(items),
            )
        ],
    )


def _value_section(summary: StochasticSummary, scope: blocks.Scope) -> blocks.Section:
    """RP, EEV, WS, VSS and EVPI with their 95% intervals."""
    table = stats.stochastic_estimates(summary)
    entries = [
        blocks.Block(
            "Bounds and estimates",
            "Each figure over the run's scenarios with its standard error and 95% interval"
            " (VSS and EVPI paired scenario by scenario); the lower bound is certified.",
            html=blocks.table(table, ESTIMATE_COLUMNS),
            wide=True,
        )
    ]
    entries.append(blocks.value_block(summary.vss, summary.evpi))
    return blocks.Section(scope.key("value"), scope.title("Bounds, VSS and EVPI"), entries)


def _out_of_sample_section(
    run: Run, summary: StochasticSummary, scope: blocks.Scope
) -> blocks.Section:
    """The plans on fresh scenarios of another seed."""
    title = "Out-of-sample check"
    checked = stats.out_of_sample(summary)
    if not len(checked):
        why = "The run checked no plan on fresh scenarios."
        return blocks.Section(
            scope.key("out-of-sample"), scope.title(title), [blocks.no_data(title, why)]
        )
    entries = [
        blocks.Block(
            "The plans on fresh futures",
            f"Each plan's yearly total cost on {summary.out_of_sample_scenarios} scenarios it"
            f" was not chosen on (seed {summary.out_of_sample_seed}): a hedged plan that also"
            " does well here was not fitted to its own sample.",
            html=blocks.table(
                checked.assign(plan=checked["plan"].map(plan_label)), OUT_OF_SAMPLE_COLUMNS
            ),
        )
    ]
    fresh = run.table("out_of_sample")
    if fresh is not None and len(stats.ecdf(fresh, blocks.TOTAL_COST.column)):
        named = fresh.assign(plan=fresh["plan"].map(plan_label))
        entries.append(
            blocks.Block(
                "Total cost per year on fresh futures",
                "How each plan's yearly total cost spreads over the fresh scenarios.",
                figures.ecdf_lines(
                    stats.ecdf(named, blocks.TOTAL_COST.column),
                    axis_label=blocks.TOTAL_COST.axis_label,
                    fmt=formats.usd,
                    axis="usd",
                    emphasis=[plan_label(STOCHASTIC_PLAN), plan_label(EXPECTED_VALUE_PLAN)],
                ),
            )
        )
    if summary.replications is not None:
        entries += _replication_blocks(summary.replications)
    return blocks.Section(scope.key("out-of-sample"), scope.title(title), entries)


def _replication_blocks(gap: ReplicationGap) -> list[blocks.Block]:
    """The multiple-replication procedure: the plan's optimality gap, whether N suffices."""
    cards = [
        (
            "optimality gap of the plan, estimate",
            formats.usd_plus_minus(gap.mean, gap.se),
            f"per year (± standard error); {gap.slack()}",
        ),
        (
            f"its one-sided {formats.share(gap.confidence)} upper bound",
            formats.usd(gap.ci_high),
            f"{formats.gap(gap.relative)} of the plan's cost {formats.usd(gap.plan_cost)}",
        ),
        (
            f"are {gap.scenarios} scenarios enough?",
            "yes" if gap.suffices else "no",
            f"yes when the bound is within the target gap {formats.share(gap.tolerance)}",
        ),
    ]
    batches = pd.DataFrame([asdict(b) for b in gap.batches])
    return [
        blocks.Block(
            "How many scenarios are enough",
            f"{gap.replications} independent batches of {gap.scenarios} scenarios of other"
            " seeds, each solved like this run; on each, the plan's cost minus the batch's"
            " certified optimum estimates (from above) how far the plan is from the best plan"
            f" for the true future (Mak, Morton and Wood). {gap.verdict()}",
            html=blocks.cards(cards),
        ),
        blocks.Block(
            "The batches",
            "Each batch's certified optimum, its own plan's objective, the plan's objective on"
            " the same scenarios and their difference (replications.parquet).",
            html=blocks.table(batches, REPLICATION_COLUMNS),
        ),
    ]


def _convergence_section(
    history: pd.DataFrame, summary: StochasticSummary, name: str, scope: blocks.Scope
) -> blocks.Section:
    """The method's bounds and gap per iteration (the rows it recorded)."""
    bounds = stats.bound_lines(history)
    entries = []
    if len(bounds):
        entries.append(
            blocks.Block(
                f"Bounds per iteration of {name}",
                f"{name[0].upper()}{name[1:]}'s certified lower bound and the value of its best"
                " plan (upper bound) on the objective, per iteration: where they meet, the plan"
                f" is proven optimal; it stopped at a gap of {formats.gap(summary.gap)}.",
                figures.lines(
                    bounds,
                    "iteration",
                    "usd",
                    "bound",
                    x_label="iteration",
                    y_label="objective, USD per year",
                    fmt=formats.usd,
                    axis="usd",
                    y_zero=False,
                ),
            )
        )
    entries.append(
        blocks.Block(
            f"{name[0].upper()}{name[1:]}, iteration by iteration",
            "The rows the method recorded (convergence.parquet).",
            html=blocks.table(history, CONVERGENCE_COLUMNS),
            wide=True,
        )
    )
    return blocks.Section(scope.key("convergence"), scope.title(f"Convergence of {name}"), entries)
