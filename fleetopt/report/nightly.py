"""The report of a nightly run: headline, trend, changes, then its stages' own sections
(robust choice, the stochastic plan when the run has one, the installed fleet, the
expected-value plan)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from fleetopt.core import formats
from fleetopt.report import blocks, figures
from fleetopt.report import statistics as stats
from fleetopt.report.alternatives import alternatives_sections
from fleetopt.report.plan import plan_sections
from fleetopt.report.scenario import robust_sections, scenario_sections
from fleetopt.report.statistics import Run
from fleetopt.report.stochastic import stochastic_sections
from fleetopt.report.whatif import whatif_sections
from fleetopt.results.nightly import (
    METRIC_LABELS,
    CompareResult,
    NightlyRecord,
    StochasticStageResult,
)
from fleetopt.results.stochastic import (
    EXPECTED_VALUE_PLAN,
    ROBUST_CHOICE,
    STOCHASTIC_PLAN,
    method_name,
    shortfall_depth,
)
from fleetopt.results.summary import Summary
from fleetopt.results.text import answer_rule, first_stage_orders

TREND_SERIES = {
    "expected_value_cost_per_mtok_usd": "expected-value plan",
    "robust_mean_cost_per_mtok_usd": "robust choice, mean",
    "robust_p95_cost_per_mtok_usd": "robust choice, p95",
}


def nightly_sections(
    run: Run, scope: blocks.Scope, manifests: list[NightlyRecord]
) -> list[blocks.Section]:
    """A nightly run: headline, trend, what changed, then its stages' own sections."""
    manifest = run.nightly
    assert manifest is not None, "a nightly run's record"
    rob, plan = manifest.results.robust, manifest.results.plan
    assert rob is not None and plan is not None, "a reported nightly run has both stages"
    installed, compare, two_stage = (
        manifest.results.installed,
        manifest.results.compare,
        manifest.results.stochastic,
    )
    cost = rob.cost_per_mtok_usd
    plan_run = run.part("plan")
    levelized = (
        plan_run is not None
        and isinstance(plan_run.summary, Summary)
        and bool(plan_run.summary.periods)
    )
    items = [
        *_answer_cards(run, manifest),
        (
            "expected-value plan, cost per million tokens" + (", levelized" if levelized else ""),
            formats.usd(plan.cost_per_mtok_usd),
            f"{blocks.text(plan.status.value)}, gap {formats.gap(plan.mip_gap)}",
        ),
        (
            "robust choice",
            blocks.text(rob.chosen_plan),
            f"mean {formats.usd(cost.mean)}, p95 {formats.usd(cost.p95)} per Mtok",
        ),
        ("robust choice, P(unmet > 1%)", formats.share(rob.probability_unmet_above_1pct), ""),
    ]
    if two_stage is None:
        items += [
            blocks.estimate_card("value of the stochastic solution", rob.vss),
            blocks.estimate_card("expected value of perfect information", rob.evpi),
        ]
    if installed:
        unmet = installed.probability_unmet_above_1pct
        items.append(
            (
                "installed fleet alone, P(unmet > 1%)",
                formats.share(unmet),
                "no future served" if unmet is None else "",
            )
        )
    if compare is not None and compare.previous_run:
        items.append(
            ("racks changed since the previous run", blocks.text(compare.rack_changes), "")
        )
    else:
        items.append(("racks changed since the previous run", "n/a", "no previous run"))
    validate = manifest.results.validate
    facts_rows = [
        ("case", blocks.text(manifest.case)),
        ("case files sha256", blocks.text(manifest.case_sha256)[:16] + "…"),
        ("run id", blocks.text(manifest.run_id)),
        ("date", blocks.text(manifest.date)),
        ("seed", blocks.text(manifest.seed)),
        *[(k, _param(v)) for k, v in manifest.params.items() if k not in ("case_sha256", "seed")],
        ("fleetopt version", blocks.text(manifest.fleetopt_version)),
        ("warnings", "; ".join(validate.warnings if validate else []) or "none"),
    ]
    points = plan_run.table("operating_points") if plan_run else None
    placement = plan_run.table("placement") if plan_run else None
    sections = [
        blocks.Section(
            "headline",
            "Headline",
            [
                blocks.Block(
                    "Tonight's answer",
                    f"The answer is {answer_rule(manifest)}."
                    + (f" {two_stage.sufficiency()}" if two_stage is not None else "")
                    + " Then the expected-value plan, the robust choice, and whether the"
                    " answer changed since the last run.",
                    html=blocks.cards(items),
                )
            ],
        ),
        blocks.assumptions_section(
            scope,
            "The run",
            "What was planned, with which settings.",
            facts_rows,
            stats.estimate_flags(points, placement=placement),
            "the expected-value plan",
        ),
        _trend_section(stats.nightly_history(manifest, manifests)),
        _changes_section(run, compare),
    ]
    stochastic = run.part("stochastic")
    if two_stage is not None and stochastic is not None:  # the answer's own sections first
        sections += stochastic_sections(stochastic, scope.child("stochastic-", "Hedged plan: "))
    robust = run.part("robust")
    if robust is not None:
        sections += robust_sections(robust, scope.child("robust-", "Robust choice: "))
    whatif_run = run.part("whatif")
    if manifest.results.whatif is not None and whatif_run is not None:
        sections += whatif_sections(whatif_run, scope.child("whatif-", "What-if: "))
    alternatives_run = run.part("alternatives")
    if manifest.results.alternatives is not None and alternatives_run is not None:
        sections += alternatives_sections(
            alternatives_run, scope.child("alternatives-", "Alternatives: ")
        )
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
        blocks.Section(
            "stages",
            "Stages",
            [
                blocks.Block(
                    "Stage status and time",
                    "Which stages ran and how long each took.",
                    html=blocks.table(
                        timings,
                        [
                            ("stage", "stage", str),
                            ("status", "status", blocks.text),
                            ("seconds", "time", formats.seconds),
                        ],
                    ),
                )
            ],
        )
    )
    return sections


def _answer_cards(run: Run, manifest: NightlyRecord) -> list[tuple[str, str, str]]:
    """The hedged plan's cards, first: its orders now, its cost and risk, and what it saves
    over the expected-value plan and the robust choice (paired, same futures, same rule)."""
    two_stage, rob = manifest.results.stochastic, manifest.results.robust
    if two_stage is None or rob is None:
        return []
    orders = first_stage_orders(run.path / "stochastic")
    stage = run.part("stochastic")
    results = stage.table("results") if stage is not None else None
    racks = orders["new_racks"].sum() if orders is not None else two_stage.racks_ordered_now
    capex = orders["capex_usd"].sum(min_count=1) if orders is not None else None
    cards = [
        (
            "hedged plan: racks to order now",
            formats.integer(racks),
            f"capex {formats.usd(capex)}; listed under \N{LEFT DOUBLE QUOTATION MARK}Hedged plan:"
            " Orders to place now\N{RIGHT DOUBLE QUOTATION MARK}",
        ),
        (
            "hedged plan: expected total cost",
            formats.usd_plus_minus(two_stage.objective.value, two_stage.objective.se),
            f"per year over {formats.integer(two_stage.scenarios)} futures, certified gap"
            f" {formats.gap(two_stage.gap)} ({method_name(two_stage.method)})",
        ),
        (
            "hedged plan: P(shortfall)",
            formats.share(two_stage.probability_shortfall),
            "futures in which it misses a minimum served share (and pays for it)"
            + _depth_text(results, STOCHASTIC_PLAN),
        ),
    ]
    robust = two_stage.robust
    # A robust choice that is the expected-value plan gets one card, not two identical ones.
    same = rob.chosen_plan == EXPECTED_VALUE_PLAN
    vss_note = "per year, paired on the same futures (value of the stochastic solution)"
    if robust is not None and same:
        vss_note += (
            "; the expected-value plan is also the robust choice: P(shortfall)"
            f" {formats.share(robust.probability_shortfall)}" + _depth_text(results, ROBUST_CHOICE)
        )
    cards.append(
        (
            "saved over the expected-value plan",
            formats.usd_plus_minus(two_stage.vss.value, two_stage.vss.se),
            vss_note,
        )
    )
    cards.append(_sufficiency_card(two_stage))
    if robust is not None and not same:
        saved = robust.difference
        cards.append(
            (
                "saved over the robust choice",
                formats.usd_plus_minus(saved.value, saved.se),
                f"per year, paired; {blocks.text(rob.chosen_plan)}'s orders now, P(shortfall)"
                f" {formats.share(robust.probability_shortfall)}"
                + _depth_text(results, ROBUST_CHOICE),
            )
        )
    return cards


def _depth_text(results: pd.DataFrame | None, plan: str) -> str:
    """'; when short, by X% of demanded tokens on average, at most Y%' ('' without data)."""
    depth = shortfall_depth(results, plan)
    return f"; {depth.text()}" if depth is not None else ""


def _sufficiency_card(two_stage: StochasticStageResult) -> tuple[str, str, str]:
    """Whether the run's scenarios suffice (the multiple-replication procedure's verdict)."""
    title = f"are {formats.integer(two_stage.scenarios)} scenarios enough?"
    gap = two_stage.replications
    if gap is None:
        why = "with a reliability target" if two_stage.reliability is not None else "asked for"
        return title, "not estimated", f"no replications {why}"
    return (
        title,
        "yes" if gap.suffices else "no",
        f"optimality gap at most {formats.usd(gap.ci_high)} a year"
        f" ({formats.gap(gap.relative)} of the cost; target {formats.share(gap.tolerance)}),"
        f" {formats.share(gap.confidence)} confidence, {gap.replications} batches",
    )


def _param(value: Any) -> str:
    """A run parameter as text: a group of settings as 'key value, ...' (unset and empty
    ones left out), numbers without trailing zeros."""
    if isinstance(value, dict):
        return ", ".join(
            f"{k.replace('_', ' ')} {_param(v)}"
            for k, v in value.items()
            if v is not None and v != []
        )
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return blocks.text(value)


def _trend_section(history: pd.DataFrame) -> blocks.Section:
    if len(history) < 2:
        return blocks.Section(
            "trend",
            "Trend over nightly runs",
            [
                blocks.Block(
                    "Trend over nightly runs",
                    "",
                    html=blocks.note(
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
    hedged = history.dropna(subset=["hedged_total_cost_usd_per_year"])
    answer = []
    if len(hedged):
        answer.append(
            blocks.Block(
                "The hedged plan's expected total cost, run by run",
                "What the answer's orders are expected to cost a year over each run's futures"
                " (fleet and shortfall penalty), in the runs that had the stochastic stage.",
                _run_by_run(
                    hedged.assign(series="hedged plan"),
                    "hedged_total_cost_usd_per_year",
                    "USD per year",
                    formats.usd,
                    "usd",
                ),
            )
        )
    return blocks.Section(
        "trend",
        "Trend over nightly runs",
        [
            *answer,
            blocks.Block(
                "Cost per million tokens, run by run",
                f"How the cost per million tokens has moved over the {runs} successful nightly"
                " run(s) of this case (this run last): a jump means the case or the futures"
                " changed.",
                _run_by_run(long, "usd", "USD per million tokens", formats.usd, "usd"),
            ),
            blocks.Block(
                "Risk of running short, run by run",
                "How often the robust choice leaves more than 1% of demand unmet, run by run.",
                _run_by_run(
                    risk,
                    "robust_probability_unmet_above_1pct",
                    "P(unmet > 1%)",
                    formats.share,
                    "share",
                    y_range=(0, 1.02),
                ),
            ),
        ],
    )


def _run_by_run(
    frame: pd.DataFrame, y: str, label: str, fmt: blocks.Format, axis: str, **more: Any
) -> Any:
    """`y` of each run (a line per `series`) over the runs' times."""
    return figures.lines(
        frame,
        "time",
        y,
        "series",
        x_label="run (UTC)",
        y_label=label,
        fmt=fmt,
        axis=axis,
        x_type="datetime",
        **more,
    )


def _changes_section(run: Run, result: CompareResult | None) -> blocks.Section:
    compare = run.part("compare")
    previous = result.previous_run if result is not None else None
    title = "Changes since the previous run"
    if compare is None or not previous:
        return blocks.Section(
            "changes",
            title,
            [
                blocks.Block(
                    title,
                    "",
                    html=blocks.note("No previous successful run of this case to compare with."),
                )
            ],
        )
    entries = []
    racks = compare.table("racks")
    changes = stats.rack_changes(racks) if racks is not None else pd.DataFrame()
    if len(changes):
        changes["label"] = changes["site"] + " · " + changes["rack_type"]
        if "period" in changes:
            changes["label"] = changes["period"].astype(str) + " · " + changes["label"]
        changes["details"] = [
            f"{formats.integer(a)} → {formats.integer(b)} racks"
            for a, b in zip(changes["count_previous"], changes["count"], strict=True)
        ]
        entries.append(
            blocks.Block(
                "Racks added or removed",
                "What changed in the answer (the hedged plan's racks now, or the robust"
                " choice's) since the previous run: racks added (right) or removed (left) per"
                " site and rack type.",
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
        entries.append(
            blocks.Block("Racks added or removed", "", html=blocks.note("Rack counts unchanged."))
        )
    metrics = compare.table("metrics")
    if metrics is not None:
        rows = []
        for row in metrics.itertuples():
            name, kind = METRIC_LABELS.get(row.metric, (row.metric, "number"))
            write = formats.BY_KIND[kind]
            rows.append(
                {"metric": name, "previous": write(row.previous), "value": write(row.value)}
            )
        entries.append(
            blocks.Block(
                "Figures then and now",
                "The compared figures in the previous run and in this one.",
                html=blocks.table(
                    pd.DataFrame(rows),
                    [
                        ("metric", "figure", str),
                        ("previous", "previous run", str),
                        ("value", "this run", str),
                    ],
                ),
            )
        )
    return blocks.Section("changes", title, entries)
