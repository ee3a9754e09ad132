"""Two runs side by side (`fleetopt compare`, and the nightly run's compare stage): what
changed in the headline figures, in the orders (per year, site and rack type) and in each
site's power headroom. The runs must be of the same kind; their cases may differ (a what-if:
the same case with one change).

Each run kind gives its headline figures, its orders (a plan: the racks entering service,
per year; a stochastic run: the orders placed now; a robust or nightly run: the chosen
plan's racks; a what-if or alternatives run: none, its figures are each variant's or plan's
objective) and, where it has one plan's sites, the power headroom (cap less power at
full load, MW). Numbers are written by fleetopt.core.formats, as in `fleetopt show`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fleetopt.core import formats
from fleetopt.core.errors import RunFolderError
from fleetopt.io.runfolder import RUN_RECORD, RunKind, is_complete, read_record
from fleetopt.results import yearly
from fleetopt.results.alternatives import AlternativesSummary
from fleetopt.results.nightly import METRIC_LABELS, NightlyRecord, nightly_metrics
from fleetopt.results.read import nightly_record, run_summary
from fleetopt.results.runs import RobustSummary, ScenarioSummary
from fleetopt.results.schema import to_json
from fleetopt.results.stochastic import StochasticSummary
from fleetopt.results.summary import Summary
from fleetopt.results.text import text_table
from fleetopt.results.whatif import WhatifSummary

KEYS = (yearly.PERIOD, "site", "rack_type")


@dataclass(frozen=True)
class Figure:
    """A headline figure of a run: its label, value and how it is written."""

    name: str
    label: str
    value: float | None
    kind: str = "usd"  # usd, share, number or integer


@dataclass(frozen=True)
class FigureChange:
    """A headline figure in run A and in run B."""

    name: str
    label: str
    kind: str
    a: float | None
    b: float | None

    @property
    def change(self) -> float | None:
        if self.a is None or self.b is None:
            return None
        return self.b - self.a

    @property
    def changed(self) -> bool:
        if self.a is None or self.b is None:
            return (self.a is None) != (self.b is None)
        return not math.isclose(self.a, self.b, rel_tol=1e-9, abs_tol=1e-12)


@dataclass(frozen=True)
class CountChange:
    """Racks of one (year,) site and rack type in run A and in run B."""

    period: int | None
    site: str
    rack_type: str
    a: int
    b: int

    @property
    def change(self) -> int:
        return self.b - self.a


@dataclass(frozen=True)
class HeadroomChange:
    """A site's power headroom (cap less power at full load, MW) in run A and in run B."""

    period: int | None
    site: str
    a_mw: float | None
    b_mw: float | None

    @property
    def change_mw(self) -> float | None:
        if self.a_mw is None or self.b_mw is None:
            return None
        return self.b_mw - self.a_mw


@dataclass(frozen=True)
class Comparison:
    """What changed from run A to run B (orders and headroom: the rows that changed)."""

    kind: str
    a: str
    b: str
    case_a: str
    case_b: str
    figures: list[FigureChange]
    orders_of: str  # what the orders are, in words
    orders: list[CountChange] | None  # None: the kind has no orders
    headroom: list[HeadroomChange] | None  # None: the kind has no one plan's sites

    @property
    def changed(self) -> bool:
        return (
            any(f.changed for f in self.figures)
            or bool(self.orders)
            or any(h.change_mw for h in self.headroom or [])
        )

    def to_json(self) -> dict[str, Any]:
        """JSON of the comparison, each change computed (`--json`)."""
        data: dict[str, Any] = to_json(self)
        data["changed"] = self.changed
        for row, figure in zip(data["figures"], self.figures, strict=True):
            row["change"], row["changed"] = figure.change, figure.changed
        for rows, items, key in (
            (data["orders"], self.orders, "change"),
            (data["headroom"], self.headroom, "change_mw"),
        ):
            for row, item in zip(rows or [], items or [], strict=True):
                row[key] = to_json(getattr(item, key))
        return data


# --- the tables compared ----------------------------------------------------------------


def count_changes(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Counts per ((period,) site, rack_type) of two runs side by side: `count_previous` (A),
    `count` (B) and `change` (B - A), a row missing from one run counting 0; tables whose
    keys differ (a schedule and a plan without periods) share only site and rack type."""
    keys = [k for k in KEYS if k in a.columns and k in b.columns]
    a, b = (t.groupby(keys, as_index=False)["count"].sum() for t in (a, b))
    both = b.merge(a, on=keys, how="outer", suffixes=("", "_previous")).fillna(0)
    both = both.astype({"count": np.int64, "count_previous": np.int64})
    both["change"] = both["count"] - both["count_previous"]
    return both[[*keys, "count_previous", "count", "change"]].sort_values(keys, ignore_index=True)


def figure_changes(a: list[Figure], b: list[Figure]) -> list[FigureChange]:
    """Each figure of either run, in A's order then B's own."""
    by_name = {f.name: f for f in b}
    names = [f.name for f in a] + [f.name for f in b if f.name not in {g.name for g in a}]
    first = {f.name: f for f in a}
    out = []
    for name in names:
        known = first.get(name) or by_name[name]
        out.append(
            FigureChange(
                name,
                known.label,
                known.kind,
                _value(first.get(name)),
                _value(by_name.get(name)),
            )
        )
    return out


def _value(figure: Figure | None) -> float | None:
    if figure is None or formats.absent(figure.value):
        return None
    return float(figure.value)  # type: ignore[arg-type]


# --- what each run kind gives ------------------------------------------------------------


@dataclass(frozen=True)
class RunView:
    """A run as compared: its case, headline figures, orders and sites."""

    kind: str
    case: str
    figures: list[Figure]
    orders_of: str
    orders: pd.DataFrame | None  # (period,) site, rack_type, count
    sites: pd.DataFrame | None  # (period,) site, power_mw, power_cap_mw


def plan_figures(summary: Summary) -> list[Figure]:
    """A plan's headline figures (levelized over a schedule's years)."""
    fig = summary.figures
    level = ", levelized" if summary.periods else ""
    figures = [
        Figure("cost_per_mtok_usd", "cost per million tokens" + level, fig.cost_per_mtok_usd),
        Figure(
            "fleet_cost_usd_per_year", "fleet cost per year" + level, fig.fleet_cost_usd_per_year
        ),
        Figure(
            "capex_cost_usd_per_year",
            "capex per year (annualised)" + level,
            fig.capex_cost_usd_per_year,
        ),
        Figure("opex_cost_usd_per_year", "opex per year" + level, fig.opex_cost_usd_per_year),
        Figure("energy_cost_usd_per_year", "energy per year" + level, fig.energy_cost_usd_per_year),
        Figure(
            "penalty_cost_usd_per_year",
            "unmet-demand penalty per year" + level,
            fig.penalty_cost_usd_per_year,
        ),
        Figure(
            "served_tokens_per_s",
            "served tokens per second" + level,
            fig.served_tokens_per_s,
            "number",
        ),
        Figure("tokens_per_joule", "tokens per joule" + level, fig.tokens_per_joule, "number"),
    ]
    if summary.periods:
        figures.append(Figure("npv_cost_usd", "cost over the horizon", summary.npv_cost_usd))
    return figures


def _plan_orders(run: Path) -> pd.DataFrame:
    """A plan's orders: new racks per (year,) site and rack type."""
    if (run / "orders.parquet").exists():
        orders = pd.read_parquet(run / "orders.parquet")
        return orders.rename(columns={"new_racks": "count"})
    racks = pd.read_parquet(run / "racks.parquet")
    return racks.assign(count=racks["count"] - racks["installed"])


def _racks(path: Path) -> pd.DataFrame:
    """A chosen plan's racks (period,) site, rack_type, count."""
    return pd.read_parquet(path).drop(columns="installed", errors="ignore")


def _view(run: Path) -> RunView:
    record = read_record(run)
    if record is None:
        raise RunFolderError(f"{run} is not a fleetopt run folder (no {RUN_RECORD})")
    if not is_complete(run):
        raise RunFolderError(f"{run} is an incomplete {record.kind} run: finish or resume it first")
    kind = record.kind
    if kind == RunKind.NIGHTLY:
        return _nightly_view(run, nightly_record(run))
    summary = run_summary(run, kind)
    if isinstance(summary, Summary):
        return RunView(
            kind,
            summary.case,
            plan_figures(summary),
            "new racks entering service",
            _plan_orders(run) if summary.has_plan else None,
            pd.read_parquet(run / "sites.parquet") if summary.has_plan else None,
        )
    if isinstance(summary, StochasticSummary):
        s = summary
        figures = [
            Figure("objective", "hedged plan, expected total cost per year", s.objective.value),
            Figure("lower_bound", "certified lower bound", s.lower_bound),
            Figure("gap", "gap", s.gap, "share"),
            Figure("ev_objective", "expected-value plan (EEV)", s.ev_objective.value),
            Figure("wait_and_see", "wait and see (WS)", s.wait_and_see.value),
            Figure("vss", "value of the stochastic solution", s.vss.value),
            Figure("evpi", "expected value of perfect information", s.evpi.value),
            Figure("probability_shortfall", "P(shortfall)", s.probability_shortfall, "share"),
        ]
        orders = _plan_orders(run) if (run / "orders.parquet").exists() else None
        return RunView(kind, s.case, figures, "racks ordered now", orders, None)
    if isinstance(summary, RobustSummary):
        chosen = summary.chosen
        figures = [
            *_plan_stats_figures("chosen plan", chosen),
            Figure("vss", "value of the stochastic solution", summary.vss.value),
            Figure("evpi", "expected value of perfect information", summary.evpi.value),
        ]
        racks = run / "choice" / "racks.parquet"
        orders = _racks(racks) if racks.exists() else None
        return RunView(kind, summary.case, figures, "racks of the chosen plan", orders, None)
    if isinstance(summary, WhatifSummary):
        figures = [
            Figure(f"{v.variant}.objective", f"{v.variant}: objective", v.objective)
            for v in summary.variants
        ]
        return RunView(kind, summary.case, figures, "", None, None)
    if isinstance(summary, AlternativesSummary):
        figures = [
            Figure(f"{p.plan}.objective", f"{p.plan} ({p.direction}): objective", p.objective)
            for p in summary.plans
        ]
        return RunView(kind, summary.case, figures, "", None, None)
    assert isinstance(summary, ScenarioSummary)
    figures = [f for plan, stats in summary.plans.items() for f in _plan_stats_figures(plan, stats)]
    return RunView(kind, summary.case, figures, "", None, None)


def _plan_stats_figures(plan: str, stats: Any) -> list[Figure]:
    return [
        Figure(
            f"{plan}.cost_per_mtok_mean",
            f"{plan}: cost per million tokens, mean",
            stats.cost_per_mtok_usd.mean,
        ),
        Figure(
            f"{plan}.cost_per_mtok_p95",
            f"{plan}: cost per million tokens, p95",
            stats.cost_per_mtok_usd.p95,
        ),
        Figure(
            f"{plan}.total_cost_mean",
            f"{plan}: total cost per year, mean",
            stats.total_cost_usd_per_year.mean,
        ),
        Figure(
            f"{plan}.total_cost_cvar",
            f"{plan}: total cost per year, CVaR",
            stats.total_cost_usd_per_year.cvar,
        ),
        Figure(
            f"{plan}.p_unmet_above_1pct",
            f"{plan}: P(unmet > 1%)",
            stats.probability_unmet_above_1pct,
            "share",
        ),
    ]


def nightly_figures(record: NightlyRecord) -> list[Figure]:
    """The figures nightly runs are compared on (fleetopt.results.nightly.nightly_metrics)."""
    return [
        Figure(name, METRIC_LABELS[name][0], value, METRIC_LABELS[name][1])
        for name, value in nightly_metrics(record).items()
    ]


def _nightly_view(run: Path, record: NightlyRecord) -> RunView:
    hedged = record.results.stochastic is not None
    racks = run / ("stochastic/racks.parquet" if hedged else "robust/choice/racks.parquet")
    sites = run / "plan" / "sites.parquet"
    return RunView(
        RunKind.NIGHTLY,
        record.case or "",
        nightly_figures(record),
        "racks of the hedged plan, now" if hedged else "racks of the robust choice",
        _racks(racks) if racks.exists() else None,
        pd.read_parquet(sites) if sites.exists() else None,
    )


# --- the comparison ---------------------------------------------------------------------


def compare_runs(run_a: str | Path, run_b: str | Path) -> Comparison:
    """What changed from run A to run B; refused (RunFolderError, exit 2) for runs of
    different kinds, or a folder that is not a complete run."""
    a, b = _view(Path(run_a)), _view(Path(run_b))
    if a.kind != b.kind:
        raise RunFolderError(
            f"{run_a} is a {a.kind} run and {run_b} a {b.kind} run: compare needs two runs of"
            " the same kind"
        )
    orders = None
    if a.orders is not None and b.orders is not None:
        table = count_changes(a.orders, b.orders)
        orders = [
            CountChange(
                _period(r),
                str(r["site"]),
                str(r["rack_type"]),
                int(r["count_previous"]),
                int(r["count"]),
            )
            for _, r in table[table["change"] != 0].iterrows()
        ]
    headroom = None
    if a.sites is not None and b.sites is not None:
        headroom = headroom_changes(a.sites, b.sites)
    return Comparison(
        a.kind,
        str(run_a),
        str(run_b),
        a.case,
        b.case,
        figure_changes(a.figures, b.figures),
        a.orders_of,
        orders,
        headroom,
    )


def _period(row: pd.Series) -> int | None:
    return int(row[yearly.PERIOD]) if yearly.PERIOD in row.index else None


def headroom_changes(a: pd.DataFrame, b: pd.DataFrame) -> list[HeadroomChange]:
    """Each (year and) site whose power headroom differs between the two runs."""
    keys = [k for k in (yearly.PERIOD, "site") if k in a.columns and k in b.columns]
    left, right = (yearly.power_use(t)[[*keys, "headroom_mw"]] for t in (a, b))
    both = right.merge(left, on=keys, how="outer", suffixes=("", "_a"))
    out = []
    for _, row in both.sort_values(keys).iterrows():
        before, after = _number(row["headroom_mw_a"]), _number(row["headroom_mw"])
        if before is not None and after is not None and math.isclose(before, after, abs_tol=1e-9):
            continue
        out.append(HeadroomChange(_period(row), str(row["site"]), before, after))
    return out


def _number(value: Any) -> float | None:
    return None if formats.absent(value) else float(value)


def format_comparison(c: Comparison) -> str:
    """The comparison as text, numbers as `fleetopt show` writes them."""
    cases = c.case_a if c.case_a == c.case_b else f"{c.case_a} -> {c.case_b}"
    lines = [f"compare {c.kind} runs (case {cases}): A {c.a}, B {c.b}"]
    if not c.changed:
        lines.append("no change: the headline figures, orders and power headroom are the same")
    rows = pd.DataFrame(
        [
            {
                "figure": f.label,
                "a": formats.BY_KIND[f.kind](f.a),
                "b": formats.BY_KIND[f.kind](f.b),
                "change": formats.CHANGE_BY_KIND[f.kind](f.change) if f.changed else "",
            }
            for f in c.figures
        ]
    )
    lines.append("\nheadline figures:")
    lines += text_table(
        rows,
        [
            ("figure", "figure", str),
            ("a", "A", _right),
            ("b", "B", _right),
            ("change", "change", _right),
        ],
    )
    if c.orders is not None:
        lines += _changes(
            f"{c.orders_of}, per (year,) site and rack type",
            [
                {
                    "period": o.period,
                    "site": o.site,
                    "rack_type": o.rack_type,
                    "a": formats.integer(o.a),
                    "b": formats.integer(o.b),
                    "change": formats.signed_integer(o.change),
                }
                for o in c.orders
            ],
        )
    if c.headroom is not None:
        lines += _changes(
            "power headroom (cap less power at full load, MW)",
            [
                {
                    "period": h.period,
                    "site": h.site,
                    "a": formats.mw(h.a_mw),
                    "b": formats.mw(h.b_mw),
                    "change": formats.mw_change(h.change_mw),
                }
                for h in c.headroom
            ],
        )
    return "\n".join(lines)


def _right(value: Any) -> str:
    """A cell already written, right-aligned (a number)."""
    return str(value)


CHANGE_COLUMNS: list[yearly.Column] = [
    (yearly.PERIOD, "year", formats.year),
    ("site", "site", str),
    ("rack_type", "rack type", str),
    ("a", "A", _right),
    ("b", "B", _right),
    ("change", "change", _right),
]


def _changes(title: str, rows: list[dict[str, Any]]) -> list[str]:
    """The rows that changed (their keys; A, B and the change already written) under
    `title`, or 'no change'; without periods, no year column."""
    if not rows:
        return [f"\n{title}:", "  no change"]
    table = pd.DataFrame(rows)
    if table[yearly.PERIOD].isna().all():
        table = table.drop(columns=yearly.PERIOD)
    return [f"\n{title}:", *text_table(table, CHANGE_COLUMNS)]
