"""The report of an alternatives run: the plans nearly as cheap as the optimum, what each
costs against it, and its mix (each vendor's or rack type's share of the work)."""

from __future__ import annotations

from fleetopt.core import formats
from fleetopt.model.mga import RACK_GROUP
from fleetopt.report import blocks, figures
from fleetopt.report.statistics import Run
from fleetopt.results.alternatives import (
    PLAN,
    PLAN_COLUMNS,
    AlternativesSummary,
    plans_frame,
    shares_wide,
)
from fleetopt.results.summary import objective_unit


def alternatives_sections(run: Run, scope: blocks.Scope) -> list[blocks.Section]:
    """The plans and their mixes."""
    summary = run.summary
    assert isinstance(summary, AlternativesSummary), "an alternatives run's summary"
    plans = plans_frame(summary)
    names = list(plans[PLAN])
    unit = objective_unit(summary.objective_kind, bool(summary.periods))
    note = f" {summary.message}." if summary.message else ""
    entries = [
        blocks.Block(
            "The plans",
            f"The optimum and plans whose objective ({unit}) is within"
            f" {formats.share(summary.slack)} of it, each found by pushing one vendor's (or rack"
            " type's) share of the work down or up, or a random direction, then costed with its"
            " operations at their best."
            f" {summary.directions_solved} directions solved,"
            f" {summary.directions_repeating} gave a plan found already.{note}",
            html=blocks.table(plans, PLAN_COLUMNS),
        )
    ]
    shares = run.table("shares")
    if shares is not None:
        long = shares[shares["share"] > 0]
        groups = list(dict.fromkeys(shares["group"]))
        racks = {g: g.removeprefix(RACK_GROUP) for g in groups}
        same = all(g.startswith(RACK_GROUP) and r in scope.rack_colors for g, r in racks.items())
        entries.append(
            blocks.Block(
                "Their mixes",
                "Each group's share of the tokens the fleet processes, per plan: what a planner"
                " would buy instead, nearly as cheaply.",
                figures.stacked_bars(
                    long,
                    PLAN,
                    "group",
                    "share",
                    axis_label="share of the work",
                    fmt=formats.share,
                    axis="share",
                    categories=names,
                    stack_colors={g: scope.rack_colors[r] for g, r in racks.items()}
                    if same
                    else None,
                ),
            )
        )
        wide = shares_wide(shares, names).reset_index()
        columns: list[tuple[str, str, blocks.Format]] = [
            ("group", "group", str),
            *((name, name, formats.share) for name in names),
        ]
        entries.append(
            blocks.Block(
                "Shares side by side",
                "The same shares as numbers, the optimum first.",
                html=blocks.table(wide, columns),
            )
        )
    return [
        blocks.Section(scope.key("alternatives"), scope.title("Near-optimal alternatives"), entries)
    ]
