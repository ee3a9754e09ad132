"""One case.yaml or command-line value checked against its schema Field (fleetopt.io.schema):
the rule every setting of a case and every override of one goes through."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from fleetopt.core.errors import Problem
from fleetopt.io.schema import Field, FieldType, format_number


class InvalidType:
    """Marks a value that failed its check (the problem is already recorded)."""


INVALID = InvalidType()


def check_field(value: Any, key: str, field: Field, file: str, problems: list[Problem]) -> Any:
    """One case.yaml (or command-line) value checked against its Field; INVALID if bad."""

    def bad(message: str) -> InvalidType:
        problems.append(Problem(file, message, column=key))
        return INVALID

    if value is None:
        return field.default
    if field.type is FieldType.TEXT:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return bad(f"must be text, got {type_name(value)}")
        return str(value)
    if field.type is FieldType.YEARS:
        return _check_years(value, field, bad)
    if field.type is FieldType.CHOICE:
        text = str(value).strip()
        if text.lower() in field.refused:
            return bad(field.refusal)
        if text not in field.choices:
            return bad(f"must be one of {', '.join(field.choices)}; got {value!r}")
        return text
    number = as_number(value)
    if number is None:
        kind = "a whole number" if field.type is FieldType.INTEGER else "a number"
        return bad(f"must be {kind}, got {value!r}")
    if not math.isfinite(number):
        return bad(f"must be a finite number, got {value!r}")
    if field.type is FieldType.INTEGER and not number.is_integer():
        return bad(f"must be a whole number, got {value!r}")
    if field.range is not None and not field.range.contains(number):
        return bad(f"must be {field.range.describe()}, got {format_number(number)}")
    return int(number) if field.type is FieldType.INTEGER else number


def _check_years(
    value: Any, field: Field, bad: Callable[[str], InvalidType]
) -> tuple[int, ...] | InvalidType:
    """A list of whole years, strictly increasing and equally spaced (docs/model.md section 8)."""
    if not isinstance(value, list) or not value:
        return bad(f"must be a list of years such as [2026, 2027, 2028], got {value!r}")
    read = [as_number(v) for v in value]
    wrong = [v for v, x in zip(value, read, strict=True) if x is None or not x.is_integer()]
    if wrong:
        return bad(f"must be whole years; got {', '.join(repr(v) for v in wrong)}")
    numbers = [x for x in read if x is not None]
    assert field.range is not None, "a YEARS field has a range"
    outside = [x for x in numbers if not field.range.contains(x)]
    if outside:
        return bad(
            f"years must be {field.range.describe()}, got "
            + ", ".join(format_number(x) for x in outside)
        )
    steps = np.diff(np.asarray(numbers))
    if (steps <= 0).any():
        return bad(f"must be strictly increasing, got {value!r}")
    if len(set(steps.tolist())) > 1:
        return bad(f"must be equally spaced (the spacing is the period length), got {value!r}")
    return tuple(int(x) for x in numbers)


def as_number(value: Any) -> float | None:
    """A YAML scalar as float, or None. Accepts numeric text such as '1e-6', which YAML 1.1
    reads as a string; refuses booleans, which are never meant as numbers here."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def type_name(value: Any) -> str:
    """How a YAML value's type reads in a message."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)
