"""How `fleetopt show` writes money and other numbers: one definition each, 'n/a' for a
value that is missing or not finite."""

from __future__ import annotations

import math


def known(value: float | None) -> bool:
    """Whether `value` is a finite number."""
    return value is not None and math.isfinite(value)


def money(usd: float | None) -> str:
    """$1.23B, $4.50M, $12.00k, $12.34, $0.02091; 'n/a' when unknown."""
    if usd is None or not known(usd):
        return "n/a"
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(usd) >= scale:
            return f"${usd / scale:,.2f}{suffix}"
    return f"${usd:,.2f}" if abs(usd) >= 10 else f"${usd:.4g}"


def num(value: float | None, fmt: str = "{:,.3g}") -> str:
    """`value` as `fmt` writes it; 'n/a' when unknown."""
    return fmt.format(value) if known(value) else "n/a"


def objective_unit(objective_kind: str, multi_period: bool) -> str:
    """What a case's objective is measured in (docs/model.md sections 4 and 8)."""
    if objective_kind == "min_cost_per_token":
        return "USD per million tokens"
    return "USD per year, levelized" if multi_period else "USD per year"
