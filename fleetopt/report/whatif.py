"""The report of a what-if run: the variants side by side, what each one changes in cost
against what the base's marginal values predict, and the racks each buys differently."""

from __future__ import annotations

from fleetopt.core import formats
from fleetopt.report import blocks, figures
from fleetopt.report.statistics import Run
from fleetopt.results.summary import objective_unit
from fleetopt.results.whatif import (
    VARIANT,
    WhatifSummary,
    changed_racks_table,
    figure_columns,
    variants_frame,
)

NAME_COLUMNS: list[tuple[str, str, blocks.Format]] = [("label", "", str), ("what", "variant", str)]


def whatif_sections(run: Run, scope: blocks.Scope) -> list[blocks.Section]:
    """Variants side by side; their change against the base; the racks that change."""
    summary = run.summary
    assert isinstance(summary, WhatifSummary), "a what-if run's summary"
    table = variants_frame(summary)
    unit = objective_unit(summary.objective_kind, bool(summary.periods))
    entries = [
        blocks.Block(
            "The variants",
            "Each variant is the case with these values changed (FILE:ROW:COLUMN=VALUE),"
            " solved in full: the racks are bought again.",
            html=blocks.table(table, NAME_COLUMNS),
        ),
        blocks.Block(
            "Their figures",
            f"Objective in {unit}. 'change' is a variant's objective minus the base's; 'LP"
            " estimate' is what the base plan's marginal values predict for a change of"
            " limits alone, with the fleet as bought (n/a for other changes).",
            html=blocks.table(table, figure_columns(summary)),
        ),
    ]
    changes = table.iloc[1:].dropna(subset=["delta_objective"])
    if len(changes):
        entries.append(
            blocks.Block(
                "Change against the base",
                "What each variant saves (left of zero) or costs (right) against the base,"
                f" in {unit}.",
                figures.bars(
                    changes,
                    "label",
                    "delta_objective",
                    axis_label=f"change, {unit}",
                    fmt=formats.usd_change,
                    axis="usd",
                    details=VARIANT,
                ),
            )
        )
    what, wide, columns = changed_racks_table(run.path, table)
    entries.append(
        blocks.Block(
            "Racks bought differently",
            f"Where a variant buys other racks than the base ({what}): every row where some"
            " variant differs.",
            html=blocks.table(wide, columns)
            if len(wide)
            else blocks.note("Every variant buys the base's racks."),
        )
    )
    return [blocks.Section(scope.key("variants"), scope.title("What-if variants"), entries)]
