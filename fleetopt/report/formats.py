"""How the report writes numbers: money, shares, rates, with 3 significant digits."""

from __future__ import annotations

import math
from typing import Any

MISSING = "n/a"
_SCALES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def number(value: Any, digits: int = 3) -> str:
    """1234567 -> '1.23M'; 0.0209 -> '0.0209'."""
    if _absent(value):
        return MISSING
    value = float(value)
    for scale, suffix in _SCALES:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g}{suffix}"
    return f"{value:.{digits}g}"


def usd(value: Any) -> str:
    """450454894 -> '$450M'; 0.02091 -> '$0.0209'; -3e6 -> '-$3M'."""
    if _absent(value):
        return MISSING
    text = number(abs(float(value)))
    return f"-${text}" if float(value) < 0 else f"${text}"


def share(value: Any) -> str:
    """0.4286 -> '42.9%'."""
    if _absent(value):
        return MISSING
    return f"{100.0 * float(value):.3g}%"


def integer(value: Any) -> str:
    if _absent(value):
        return MISSING
    return f"{round(float(value)):,d}"


def signed_integer(value: Any) -> str:
    if _absent(value):
        return MISSING
    return f"{round(float(value)):+,d}"


def gap(value: Any) -> str:
    """A relative MIP gap: '5.4e-15', '0.8%'."""
    if _absent(value):
        return MISSING
    return f"{float(value):.2g}" if abs(float(value)) < 1e-3 else share(value)


def usd_plus_minus(mean: Any, se: Any) -> str:
    """'$4.86B ± $3.44B' (the standard error), or the mean alone."""
    return usd(mean) if _absent(se) else f"{usd(mean)} ± {usd(se)}"
