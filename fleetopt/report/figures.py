"""The report's figures, drawn with Bokeh from the tables `statistics` computes.

Drawing only: every number comes in as a column. Figures are fixed at 620 px wide (within
an A4 or Letter page's printable width at 96 px per inch; two side by side on a laptop),
with no toolbar; hovering a bar, point or line shows its exact values. They draw on a
canvas at the screen's pixel ratio: Bokeh's SVG backend would print crisper but lays out
figures with an outside legend wrongly (bokeh/bokeh#15014, open in Bokeh 3.9).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from bokeh.models import (
    ColumnDataSource,
    FixedTicker,
    HoverTool,
    Legend,
    LegendItem,
    Range1d,
    Span,
)
from bokeh.palettes import Category20_20, Colorblind8
from bokeh.plotting import figure

from fleetopt.core import formats

WIDTH = 620
ROW_PX = 26  # height per bar row
LEGEND_ROW_PX = 21  # height per legend entry
MUTED = "#b8b8b8"
EMPHASIS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")
Formatter = Callable[[float], str]


# Okabe-Ito's colour-blind safe colours (Bokeh's Colorblind8), the pale yellow last.
SAFE = tuple(Colorblind8[i] for i in (0, 1, 3, 5, 4, 6, 2, 7))


def colors(keys: Sequence[str]) -> dict[str, str]:
    """A colour per key, colour-blind safe up to 8 keys."""
    palette = SAFE if len(keys) <= len(SAFE) else Category20_20
    return {key: palette[i % len(palette)] for i, key in enumerate(keys)}


def _contrast(color: str) -> str:
    """Black or white, whichever stands out on `color` (a #rrggbb fill)."""
    red, green, blue = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return "#000000" if 0.299 * red + 0.587 * green + 0.114 * blue > 140 else "#ffffff"


def _figure(height: int, **kw) -> figure:
    fig = figure(
        width=WIDTH,
        height=height,
        toolbar_location=None,
        tools="",
        output_backend="canvas",
        sizing_mode="fixed",
        **kw,
    )
    fig.outline_line_color = None
    fig.axis.major_label_text_font_size = "11px"
    fig.axis.axis_label_text_font_size = "11px"
    fig.axis.axis_label_text_font_style = "normal"
    return fig


def nice_ticks(low: float, high: float, *, whole: bool = False, log: bool = False) -> list[float]:
    """About five round tick values covering [low, high]: steps of 1, 2, 2.5 or 5 times a
    power of ten (whole numbers when `whole`); on a log axis, 1, 2 and 5 times the powers
    of ten inside the range."""
    if log:
        first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
        ticks = [m * 10.0**e for e in range(first, last + 1) for m in (1, 2, 5)]
        inside = [t for t in ticks if low <= t <= high]
        return inside if len(inside) >= 2 else [10.0**e for e in range(first, last + 1)]
    span = high - low if high > low else abs(high) or 1.0
    raw = span / 5
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if whole:
        step = max(1.0, math.ceil(step))
    start = math.floor(low / step + 1e-9) * step
    count = math.ceil((high - start) / step - 1e-9) + 1
    return [round(start + i * step, 12) for i in range(count)]


_TRAILING = re.compile(r"\.?0+(?=[kMBT]?%?$)")
TICK_FORMATS: dict[str, Formatter] = {
    "usd": formats.usd,
    "share": formats.share,
    "number": formats.number,
    "integer": formats.integer,
}


def _plain(text: str) -> str:
    """A label without trailing zeros: '$2.50B' -> '$2.5B', '10.0%' -> '10%'."""
    return _TRAILING.sub("", text) if "." in text else text


def tick_labels(ticks: Sequence[float], kind: str) -> list[str]:
    """The ticks written as the page writes its numbers (fleetopt.core.formats), without
    trailing zeros ('$1B', '$2.5B', '2.25%'); ticks closer than the format can tell apart
    get as many significant digits as keep their labels apart."""
    write = TICK_FORMATS[kind]
    labels = [_plain(write(t)) for t in ticks]
    scale, prefix, suffix = {"usd": (1.0, "$", ""), "share": (100.0, "", "%")}.get(
        kind, (1.0, "", "")
    )
    digits = 4
    while len(set(labels)) < len(labels) and digits < 12:
        digits += 1
        labels = [f"{prefix}{t * scale:.{digits}g}{suffix}" for t in ticks]
    return labels


def _value_axis(
    fig: figure,
    dimension: str,
    kind: str,
    values: Any,
    *,
    zero: bool = True,
    fixed: tuple[float, float] | None = None,
    log: bool = False,
) -> None:
    """The `dimension` ('x' or 'y') axis of `fig` for `values` of `kind` (usd, share,
    number, integer): a fixed range around the values (from zero when `zero`, or `fixed`)
    and round ticks labelled by the page's own formats, so an axis never writes '$1b' or
    the same label twice."""
    if fixed is not None:
        low, high = fixed
    else:
        data = np.asarray(values, dtype=float).ravel()
        data = data[np.isfinite(data) & ((data > 0) if log else True)]
        if zero and not log:
            data = np.append(data, 0.0)
        low, high = (float(data.min()), float(data.max())) if len(data) else (0.0, 1.0)
        if log:
            low, high = low / 1.15, high * 1.15
        else:
            pad = 0.05 * (high - low) if high > low else max(abs(high) * 0.1, 1.0)
            low, high = (low if zero and low == 0 else low - pad), high + pad
    ticks = [t for t in nice_ticks(low, high, whole=kind == "integer", log=log) if low <= t <= high]
    axis = fig.xaxis[0] if dimension == "x" else fig.yaxis[0]
    axis.ticker = FixedTicker(ticks=ticks)
    axis.major_label_overrides = dict(zip(ticks, tick_labels(ticks, kind), strict=True))
    bounds = Range1d(low, high)
    if dimension == "x":
        fig.x_range = bounds
    else:
        fig.y_range = bounds


def _whole_axis(fig: figure, values: np.ndarray) -> None:
    """An x axis of whole numbers written plainly (years: '2026', iterations): a tick at each
    value while there are few, else round whole steps."""
    low, high = int(values.min()), int(values.max())
    ticks = list(range(low, high + 1))
    if len(ticks) > 15:
        ticks = [int(t) for t in nice_ticks(low, high, whole=True) if low <= t <= high]
    fig.xaxis[0].ticker = FixedTicker(ticks=ticks)
    fig.xaxis[0].major_label_overrides = {t: str(t) for t in ticks}
    fig.x_range = Range1d(low - 0.5, high + 0.5)


def _legend_px(items: Sequence[str]) -> int:
    """The height a legend of `items` needs: a figure at least this tall shows all of them."""
    return 40 + LEGEND_ROW_PX * len(items)


def _legend_right(fig: figure, items: list[LegendItem]) -> None:
    legend = Legend(items=items, location="top_left", label_text_font_size="11px")
    legend.click_policy = "hide"
    fig.add_layout(legend, "right")


def _hover(fig: figure, renderers: list, tooltips: list[tuple[str, str]]) -> None:
    fig.add_tools(HoverTool(renderers=renderers, tooltips=tooltips))


def stacked_bars(
    frame: pd.DataFrame,
    category: str,
    stack: str,
    value: str,
    *,
    axis_label: str,
    fmt: Formatter,
    axis: str = "number",
    categories: Sequence[str] | None = None,
    stacks: Sequence[str] | None = None,
    hatch: str | None = None,
    vertical: bool = False,
    stack_colors: dict[str, str] | None = None,
) -> figure:
    """One bar per `category`, split into `stack` segments of `value`; a True in column
    `hatch` draws that segment hatched (e.g. a throughput figure that is an estimate)."""
    categories = [str(c) for c in (categories or pd.unique(frame[category]))]
    stacks = [str(s) for s in (stacks or pd.unique(frame[stack]))]
    palette = stack_colors or colors(stacks)
    data = frame.assign(
        _category=frame[category].astype(str), _stack=frame[stack].astype(str)
    ).copy()
    data["_order"] = data["_stack"].map({s: i for i, s in enumerate(stacks)})
    data = data.sort_values(["_category", "_order"], kind="stable")
    end = data.groupby("_category")[value].cumsum()
    source = ColumnDataSource(
        {
            "category": data["_category"].to_numpy(),
            "stack": data["_stack"].to_numpy(),
            "start": (end - data[value]).to_numpy(dtype=float),
            "end": end.to_numpy(dtype=float),
            "label": [fmt(v) for v in data[value]],
            "color": data["_stack"].map(palette).to_numpy(),
            "hatch_color": data["_stack"].map(palette).map(_contrast).to_numpy(),
            "hatch": (
                np.where(data[hatch].fillna(False).astype(bool), "/", " ")
                if hatch
                else np.full(len(data), " ")
            ),
        }
    )
    glyph: dict[str, object] = {"fill_color": "color", "line_color": "white"}
    glyph |= {"hatch_pattern": "hatch"}
    glyph |= {"hatch_color": "hatch_color", "hatch_alpha": 0.8, "hatch_scale": 8}
    if vertical:
        fig = _figure(320, x_range=categories)
        bars = fig.vbar(x="category", bottom="start", top="end", width=0.7, source=source, **glyph)
        fig.yaxis.axis_label = axis_label
        _value_axis(fig, "y", axis, source.data["end"])
        fig.xgrid.grid_line_color = None
    else:
        fig = _figure(
            max(60 + ROW_PX * len(categories), _legend_px(stacks)), y_range=categories[::-1]
        )
        bars = fig.hbar(y="category", left="start", right="end", height=0.7, source=source, **glyph)
        fig.xaxis.axis_label = axis_label
        _value_axis(fig, "x", axis, source.data["end"])
        fig.ygrid.grid_line_color = None
    items = [
        LegendItem(
            label=s, renderers=[bars], index=int(np.flatnonzero(source.data["stack"] == s)[0])
        )
        for s in stacks
        if (source.data["stack"] == s).any()
    ]
    _legend_right(fig, items)
    _hover(fig, [bars], [("", "@category"), ("", "@stack"), ("", "@label")])
    return fig


def bars(
    frame: pd.DataFrame,
    category: str,
    value: str,
    *,
    axis_label: str,
    fmt: Formatter,
    axis: str = "number",
    color: str | Sequence[str] = EMPHASIS[0],
    details: str | None = None,
    x_range: tuple[float, float] | None = None,
) -> figure:
    """One horizontal bar per `category` (in frame order, first on top); negative values
    extend left of zero. `details` names a column of extra hover text."""
    categories = [str(c) for c in frame[category]]
    source = ColumnDataSource(
        {
            "category": categories,
            "value": frame[value].to_numpy(dtype=float),
            "zero": np.zeros(len(frame)),
            "label": [fmt(v) for v in frame[value]],
            "details": frame[details].astype(str).to_numpy() if details else [""] * len(frame),
            "color": [color] * len(frame) if isinstance(color, str) else list(color),
        }
    )
    fig = _figure(60 + ROW_PX * len(categories), y_range=categories[::-1])
    bar = fig.hbar(
        y="category",
        left="zero",
        right="value",
        height=0.7,
        fill_color="color",
        line_color=None,
        source=source,
    )
    fig.xaxis.axis_label = axis_label
    _value_axis(fig, "x", axis, source.data["value"], fixed=x_range)
    fig.ygrid.grid_line_color = None
    fig.add_layout(Span(location=0, dimension="height", line_color="#666666", line_width=1))
    _hover(fig, [bar], [("", "@category"), ("", "@label"), ("", "@details")])
    return fig


def share_bars(
    frame: pd.DataFrame, category: str, measures: dict[str, str], details: dict[str, str]
) -> figure:
    """Per `category`, one bar per measure (a share; 100% is marked): e.g. per site the
    share of its power cap and of its floor in use. `details` names, per measure, a column
    of hover text."""
    present = {c: label for c, label in measures.items() if c in frame}
    table = frame.melt(
        id_vars=[category], value_vars=list(present), var_name="column", value_name="share"
    ).dropna(subset=["share"])
    rank = {key: i for i, key in enumerate(frame[category].astype(str))}
    table = table.assign(
        _rank=table[category].astype(str).map(rank),
        _measure=table["column"].map(list(present).index),
    ).sort_values(["_rank", "_measure"])
    text = {c: frame.set_index(category)[details[c]].astype(str) for c in present}
    labels = (table[category].astype(str) + " · " + table["column"].map(present)).tolist()
    palette = colors(list(present.values()))
    source = ColumnDataSource(
        {
            "y": labels,
            "zero": np.zeros(len(table)),
            "share": table["share"].to_numpy(dtype=float),
            "label": [formats.share(v) for v in table["share"]],
            "details": [text[c][k] for c, k in zip(table["column"], table[category], strict=True)],
            "color": table["column"].map(present).map(palette).to_numpy(),
        }
    )
    fig = _figure(60 + 20 * len(labels), y_range=labels[::-1])
    bar = fig.hbar(
        y="y",
        left="zero",
        right="share",
        height=0.75,
        fill_color="color",
        line_color=None,
        source=source,
    )
    _value_axis(fig, "x", "share", [], fixed=(0, max(1.05, float(table["share"].max()) * 1.05)))
    fig.xaxis.axis_label = "share of the limit in use"
    fig.ygrid.grid_line_color = None
    fig.add_layout(Span(location=1.0, dimension="height", line_color="#C00000", line_dash="dashed"))
    _hover(fig, [bar], [("", "@y"), ("", "@label"), ("", "@details")])
    return fig


def _log_axis(values: np.ndarray) -> bool:
    values = values[np.isfinite(values)]
    return len(values) > 0 and values.min() > 0 and values.max() / values.min() > 50


def ecdf_lines(
    frame: pd.DataFrame,
    *,
    axis_label: str,
    fmt: Formatter,
    axis: str,
    emphasis: Sequence[str] = (),
) -> figure:
    """Empirical distribution functions (columns plan, value, share), one step line per
    plan; plans in `emphasis` are coloured, the others grey. A logarithmic axis when the
    values span more than a factor of 50."""
    log = _log_axis(frame["value"].to_numpy(dtype=float))
    fig = _figure(300, x_axis_type="log" if log else "linear", y_range=(0, 1.02))
    fig.xaxis.axis_label = axis_label + (" (log scale)" if log else "")
    _value_axis(fig, "x", axis, frame["value"], zero=False, log=log)
    fig.yaxis.axis_label = "share of scenarios at or below"
    _value_axis(fig, "y", "share", [], fixed=(0, 1.02))
    plans = list(pd.unique(frame["plan"]))
    emphasis = list(dict.fromkeys(emphasis))  # a plan named twice is drawn once
    if not emphasis and len(plans) <= len(EMPHASIS):
        emphasis = plans
    ordered = [p for p in plans if p not in emphasis] + [p for p in emphasis if p in plans]
    items, points = [], []
    muted: list = []
    for plan in ordered:
        rows = frame[frame["plan"] == plan]
        source = ColumnDataSource(
            {
                "value": rows["value"].to_numpy(dtype=float),
                "share": rows["share"].to_numpy(dtype=float),
                "label": [fmt(v) for v in rows["value"]],
                "plan": [plan] * len(rows),
            }
        )
        if plan not in emphasis:  # context: a thin grey line, no markers, no hover
            muted.append(
                fig.step("value", "share", mode="after", source=source, color=MUTED, line_width=1)
            )
            continue
        color = EMPHASIS[list(emphasis).index(plan) % len(EMPHASIS)]
        line = fig.step("value", "share", mode="after", source=source, color=color, line_width=2.5)
        dots = fig.scatter("value", "share", source=source, color=color, size=4)
        points.append(dots)
        items.append(LegendItem(label=plan, renderers=[line, dots]))
    if muted:
        items.append(LegendItem(label="other plans", renderers=muted))
    _legend_right(fig, items)
    _hover(fig, points, [("", "@plan"), ("", "@label"), ("at or below", "@share{0%}")])
    return fig


def intervals(
    frame: pd.DataFrame,
    category: str,
    low: str,
    mid: str,
    high: str,
    *,
    axis_label: str,
    fmt: Formatter,
    axis: str,
    reference: float | None = None,
    x_range: tuple[float, float] | None = None,
) -> figure:
    """Per `category`, a line from `low` to `high` with a dot at `mid` (e.g. p5, p50, p95);
    an optional dashed line at `reference` (a cap, zero)."""
    categories = [str(c) for c in frame[category]]
    data = {
        "category": categories,
        "low": frame[low].to_numpy(dtype=float),
        "mid": frame[mid].to_numpy(dtype=float),
        "high": frame[high].to_numpy(dtype=float),
    }
    data |= {f"{k}_label": [fmt(v) for v in data[k]] for k in ("low", "mid", "high")}
    source = ColumnDataSource(data)
    fig = _figure(60 + ROW_PX * len(categories), y_range=categories[::-1])
    fig.segment(
        x0="low",
        x1="high",
        y0="category",
        y1="category",
        source=source,
        line_width=6,
        line_color=EMPHASIS[0],
        line_alpha=0.45,
    )
    dots = fig.scatter("mid", "category", source=source, size=9, color=EMPHASIS[0])
    fig.xaxis.axis_label = axis_label
    reach = [data["low"], data["high"], [reference] if reference is not None else []]
    _value_axis(fig, "x", axis, np.concatenate(reach), zero=False, fixed=x_range)
    fig.ygrid.grid_line_color = None
    if reference is not None:
        fig.add_layout(
            Span(location=reference, dimension="height", line_color="#C00000", line_dash="dashed")
        )
    _hover(
        fig,
        [dots],
        [(f"{low}", "@low_label"), (f"{mid}", "@mid_label"), (f"{high}", "@high_label")],
    )
    return fig


def dots(
    frame: pd.DataFrame,
    category: str,
    series: dict[str, str],
    *,
    axis_label: str,
    fmt: Formatter,
    axis: str,
) -> figure:
    """Per `category` (one row each), a marker per column of `series` on a shared axis:
    e.g. the mean, p95 and CVaR of each candidate plan's total cost."""
    categories = [str(c) for c in frame[category]]
    values = np.concatenate([frame[c].to_numpy(dtype=float) for c in series])
    log = _log_axis(values)
    fig = _figure(
        80 + ROW_PX * len(categories),
        y_range=categories[::-1],
        x_axis_type="log" if log else "linear",
    )
    markers = ("circle", "triangle", "square", "diamond")
    palette = {label: EMPHASIS[i % len(EMPHASIS)] for i, label in enumerate(series.values())}
    items, renderers = [], []
    for i, (column, label) in enumerate(series.items()):
        source = ColumnDataSource(
            {
                "category": categories,
                "value": frame[column].to_numpy(dtype=float),
                "label": [fmt(v) for v in frame[column]],
                "measure": [label] * len(frame),
            }
        )
        glyph = fig.scatter(
            "value",
            "category",
            source=source,
            size=9,
            marker=markers[i % 4],
            color=palette[label],
            alpha=0.85,
        )
        renderers.append(glyph)
        items.append(LegendItem(label=label, renderers=[glyph]))
    fig.xaxis.axis_label = axis_label + (" (log scale)" if log else "")
    _value_axis(fig, "x", axis, values, zero=False, log=log)
    _legend_right(fig, items)
    _hover(fig, renderers, [("", "@category"), ("", "@measure"), ("", "@label")])
    return fig


def lines(
    frame: pd.DataFrame,
    x: str,
    y: str,
    group: str,
    *,
    x_label: str,
    y_label: str,
    fmt: Formatter,
    axis: str,
    x_type: str = "linear",
    dashed: Sequence[str] = (),
    y_range: tuple[float, float] | None = None,
    y_zero: bool = True,
    palette: dict[str, str] | None = None,
    hover: str | None = None,
) -> figure:
    """One line with markers per `group` over `x` (long form: x, y, group); whole-number
    x (iterations, years) ticks at its values (or by whole numbers when there are many).
    The y axis starts at zero when `y_zero`. `palette` may colour groups alike; `hover`
    names a column of hover text (default: the y value, formatted)."""
    fig = _figure(300, x_axis_type=x_type)
    if pd.api.types.is_integer_dtype(frame[x]):
        _whole_axis(fig, frame[x].to_numpy())
    groups = [str(g) for g in pd.unique(frame[group])]
    palette = palette or colors(groups)
    items, renderers = [], []
    for name in groups:
        rows = frame[frame[group].astype(str) == name].sort_values(x)
        xs = rows[x]
        if isinstance(xs.dtype, pd.DatetimeTZDtype):
            xs = xs.dt.tz_convert(None)  # Bokeh takes naive datetimes (here UTC)
        xs = xs.to_numpy()
        source = ColumnDataSource(
            {
                "x": xs,
                "y": rows[y].to_numpy(dtype=float),
                "label": rows[hover].astype(str).tolist() if hover else [fmt(v) for v in rows[y]],
                "x_label": [str(v) for v in rows[x]],
                "group": [name] * len(rows),
            }
        )
        dash = "dashed" if name in dashed else "solid"
        line = fig.line("x", "y", source=source, color=palette[name], line_width=2, line_dash=dash)
        marks = fig.scatter("x", "y", source=source, color=palette[name], size=6)
        renderers.append(marks)
        items.append(LegendItem(label=name, renderers=[line, marks]))
    fig.xaxis.axis_label = x_label
    fig.yaxis.axis_label = y_label
    _value_axis(fig, "y", axis, frame[y], zero=y_zero, fixed=y_range)
    _legend_right(fig, items)
    _hover(fig, renderers, [("", "@group"), ("", "@x_label"), ("", "@label")])
    return fig
