"""The report of a what-if run: the variants side by side, what each one changes in cost
against what the base's marginal values predict, and the racks each buys differently."""

from __future__ import annotations

import pandas as pd

from fleetopt.report import blocks, figures, formats
from fleetopt.report.statistics import Run
from fleetopt.results.whatif import BASE, VARIANT, WhatifSummary, changed_racks
from fleetopt.results.wording import objective_unit

NAME_COLUMNS: list[tuple[str, str, blocks.Format]] = [("label", "", str), ("what", "variant", str)]
FIGURE_COLUMNS: list[tuple[str, str, blocks.Format]] = [
    ("label", "", str),
    ("status", "status", str),
    ("objective", "objective", formats.usd),
    ("delta_objective", "change", formats.usd),
    ("lp_delta_objective", "LP estimate", formats.usd),
    ("cost_per_mtok_usd", "cost per Mtok", formats.usd),
    ("npv_cost_usd", "cost, horizon", formats.usd),
    ("gap", "gap", formats.gap),
]


def whatif_sections(run: Run, scope: blocks.Scope) -> list[blocks.Section]:
    """Variants side by side; their change against the base; the racks that change."""
    summary = run.summary
    assert isinstance(summary, WhatifSummary), "a what-if run's summary"
    table = pd.DataFrame([vars(v) for v in summary.variants])
    table.insert(0, "label", [BASE, *(f"v{i}" for i in range(1, len(table)))])
    table["what"] = [
        v if not s or s == v else f"{v}: {s}"
        for v, s in zip(table[VARIANT], table["spec"], strict=True)
    ]
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
            " limits alone, with the fleet as bought (empty for other changes).",
            html=blocks.table(
                table, [c for c in FIGURE_COLUMNS if summary.periods or c[0] != "npv_cost_usd"]
            ),
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
                    fmt=formats.usd,
                    axis="usd",
                    details=VARIANT,
                ),
            )
        )
    what, wide = changed_racks(run.path, list(table[VARIANT]))
    wide = wide.set_axis(list(table["label"]), axis=1).reset_index()
    columns: list[tuple[str, str, blocks.Format]] = [
        *((key, key.replace("_", " "), str) for key in wide.columns[: -len(table)]),
        *((label, label, formats.integer) for label in table["label"]),
    ]
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
