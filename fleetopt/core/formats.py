"""How fleetopt writes numbers for people: `fleetopt show`, `compare` and the report use these
and only these, so a figure reads the same everywhere.

Money and magnitudes scale by k, M, B, T with at most four significant digits: two decimals
below 100 ($1.19B, $12.35M, $3.50), one from 100 up ($124.5M, 217.7), three significant
digits below 1 ($0.0257). Shares are percentages with two decimals below 10% (2.31%) and one
above (42.9%); a tiny positive share is `<0.01%`. A missing value (None, NaN, infinite) is
written `n/a` by every format.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

MISSING = "n/a"
_SCALES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"), (1.0, ""))
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def absent(value: Any) -> bool:
    """None, NaN or infinite: a value no format writes as a number."""
    if value is None:
        return True
    try:
        return not math.isfinite(float(value))
    except (TypeError, ValueError):
        return True


def _or_missing(write: Callable[[float], str]) -> Callable[[Any], str]:
    """`write` for a number, MISSING for an absent value."""

    @functools.wraps(write)
    def format_(value: Any) -> str:
        return MISSING if absent(value) else write(float(value))

    return format_


def _mantissa(value: float) -> str:
    """|value| (>= 0) with at most four significant digits (see the module's rule)."""
    if value < 0.9995:
        if value >= 1e-4:
            return f"{value:#.3g}"  # keeps a trailing zero: 0.0330
        return f"{value:.8f}".rstrip("0") if value >= 1e-6 else "0"  # never 1e-05
    return f"{value:.1f}" if round(value, 2) >= 100 else f"{value:.2f}"


def magnitude(value: float) -> str:
    """|value| scaled by k, M, B, T: 1469029030 -> '1.47B', 0.0257 -> '0.0257'."""
    size = abs(value)
    for i, (scale, suffix) in enumerate(_SCALES):
        if size >= scale or scale == 1.0:
            text = _mantissa(size / scale)
            if text.startswith("1000") and i > 0:  # 999.996k rounds up: write 1.00M
                bigger, bigger_suffix = _SCALES[i - 1]
                return _mantissa(max(size / bigger, 1.0)) + bigger_suffix
            return text + suffix
    raise AssertionError("unreachable: the last scale takes every value")


def _signed(value: float, text: str, plus: bool) -> str:
    """`text` (of |value|) with its sign: '-' when negative, '+' when positive and `plus`;
    none where it reads zero (never '-$0')."""
    if text.strip("$0. p%") == "":
        return text
    if value < 0:
        return "-" + text
    return "+" + text if plus else text


@_or_missing
def usd(value: float) -> str:
    """1190468196 -> '$1.19B'; 124526045 -> '$124.5M'; 0.0257 -> '$0.0257'; -3e6 -> '-$3.00M'."""
    return _signed(value, "$" + magnitude(value), plus=False)


@_or_missing
def usd_change(value: float) -> str:
    """A difference of money: '+$1.20M', '-$3.00M', '$0'."""
    return _signed(value, "$" + magnitude(value), plus=True)


@_or_missing
def number_change(value: float) -> str:
    """A difference of magnitudes: '+1.20M', '-3.50', '0'."""
    return _signed(value, magnitude(value), plus=True)


@_or_missing
def mw_change(value: float) -> str:
    """A difference of megawatts: '+20.00', '-1,000'."""
    return _signed(value, mw(abs(value)), plus=True)


@_or_missing
def number(value: float) -> str:
    """1469029030 -> '1.47B'; 65.711 -> '65.71'; 0.0209 -> '0.0209'."""
    return _signed(value, magnitude(value), plus=False)


def _percent(value: float) -> str:
    points = abs(100.0 * value)
    if points == 0:
        return "0%"
    if points < 0.005:
        return "<0.01%"
    return f"{points:.2f}%" if points < 10 else f"{points:.1f}%"


@_or_missing
def share(value: float) -> str:
    """0.02312 -> '2.31%'; 0.4286 -> '42.9%'; 1.0 -> '100.0%'; 1e-7 -> '<0.01%'."""
    return _signed(value, _percent(value), plus=False)


@_or_missing
def share_change(value: float) -> str:
    """A difference of shares, in percentage points: '+0.50 pp', '-12.3 pp'."""
    return _signed(value, _percent(value).removesuffix("%") + " pp", plus=True)


@_or_missing
def integer(value: float) -> str:
    """1234.4 -> '1,234'."""
    return f"{round(value):,d}"


@_or_missing
def identifier(value: float) -> str:
    """A whole number that names something (a seed), without separators: 3781808289.0 ->
    '3781808289'."""
    return f"{round(value):d}"


@_or_missing
def signed_integer(value: float) -> str:
    """12 -> '+12'; -3 -> '-3'; 0 -> '0'."""
    return f"{round(value):+,d}" if round(value) else "0"


@_or_missing
def gap(value: float) -> str:
    """A relative gap between bounds, as a share: '0.14%', '<0.01%', '0%'."""
    return share(max(value, 0.0))


@_or_missing
def mw(value: float) -> str:
    """Megawatts without the unit, never scaled: 65.711 -> '65.71', 1000 -> '1,000'."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    text = _mantissa(abs(value))
    if "." in text and abs(value) < 0.9995:  # a fraction of a MW: no padding zeros, 0.007
        text = text.rstrip("0").rstrip(".")
    return _signed(value, text, plus=False)


@_or_missing
def megawatts(value: float) -> str:
    """65.711 -> '65.71 MW'; 1000 -> '1,000 MW'."""
    return f"{mw(value)} MW"


@_or_missing
def seconds(value: float) -> str:
    """12.345 -> '12.3 s'; 754 -> '12 min 34 s'."""
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


@_or_missing
def year(value: float) -> str:
    """2026 -> '2026'."""
    return f"{round(value):d}"


@_or_missing
def month_year(value: float) -> str:
    """A date as a fractional year (an order-by date: period - lead time): 2026.5 ->
    'Jul 2026', 2027.0 -> 'Jan 2027'."""
    whole = math.floor(value + 1e-9)
    month = min(11, max(0, round((value - whole) * 12)))
    return f"{_MONTHS[month]} {whole}"


def usd_plus_minus(mean: Any, se: Any) -> str:
    """'$4.86B ± $3.44B' (the standard error), or the mean alone."""
    return usd(mean) if absent(se) else f"{usd(mean)} ± {usd(se)}"


def usd_interval(low: Any, high: Any) -> str:
    """'[$1.20M, $3.40M]'."""
    return f"[{usd(low)}, {usd(high)}]"


# A kind of figure (as fleetopt.results.compare and the report name them) and how it is
# written, and how a difference of two of them is.
BY_KIND: dict[str, Callable[[Any], str]] = {
    "usd": usd,
    "share": share,
    "number": number,
    "integer": integer,
}
CHANGE_BY_KIND: dict[str, Callable[[Any], str]] = {
    "usd": usd_change,
    "share": share_change,
    "number": number_change,
    "integer": signed_integer,
}
