"""How the report writes numbers: money, shares, rates, with 3 significant digits; a value
that is missing (None, NaN or infinite) is written `n/a` by every format."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

MISSING = "n/a"
_SCALES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def _or_missing(write: Callable[[float], str]) -> Callable[[Any], str]:
    """`write` for a number, MISSING for an absent value."""

    @functools.wraps(write)
    def format_(value: Any) -> str:
        return MISSING if _absent(value) else write(float(value))

    return format_


def _scaled(value: float, digits: int = 3) -> str:
    for scale, suffix in _SCALES:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g}{suffix}"
    return f"{value:.{digits}g}"


@_or_missing
def number(value: float) -> str:
    """1234567 -> '1.23M'; 0.0209 -> '0.0209'."""
    return _scaled(value)


@_or_missing
def usd(value: float) -> str:
    """450454894 -> '$450M'; 0.02091 -> '$0.0209'; -3e6 -> '-$3M'."""
    text = _scaled(abs(value))
    return f"-${text}" if value < 0 else f"${text}"


@_or_missing
def share(value: float) -> str:
    """0.4286 -> '42.9%'."""
    return f"{100.0 * value:.3g}%"


@_or_missing
def integer(value: float) -> str:
    return f"{round(value):,d}"


@_or_missing
def signed_integer(value: float) -> str:
    return f"{round(value):+,d}"


@_or_missing
def gap(value: float) -> str:
    """A relative MIP gap: '5.4e-15', '0.8%'."""
    return f"{value:.2g}" if abs(value) < 1e-3 else share(value)


def usd_plus_minus(mean: Any, se: Any) -> str:
    """'$4.86B ± $3.44B' (the standard error), or the mean alone."""
    return usd(mean) if _absent(se) else f"{usd(mean)} ± {usd(se)}"
