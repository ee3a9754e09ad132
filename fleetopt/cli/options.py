"""Command-line options shared by the `fleetopt` CLI and the Ray job entrypoints.

One definition per option: its flag, type, range, default and help. Solver and seed options
take their ranges from the case format (fleetopt.io.schema), so a value refused in case.yaml is
refused on the command line too, before anything runs (click's usage error, exit 2).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import click

from fleetopt.core import defaults
from fleetopt.io.schema import (
    SOLVER_FIELDS,
    UNCERTAINTY_FIELDS,
    Field,
    FieldType,
    Range,
    format_number,
)
from fleetopt.parallel.farm import CHUNK_SHARE, MAX_CHUNK
from fleetopt.pipelines.runs import Criterion


class FieldParam(click.ParamType):
    """A number checked against a schema Field: finite, whole where it must be, in range."""

    def __init__(self, field: Field):
        self.field = field
        self.name = "integer" if field.type is FieldType.INTEGER else "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        else:
            try:
                number = float(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if self.field.type is FieldType.INTEGER and not number.is_integer():
            self.fail(f"{value!r} is not a whole number", param, ctx)
        rule = self.field.range
        if rule is not None and not rule.contains(number):
            self.fail(f"must be {rule.describe()}, got {format_number(number)}", param, ctx)
        return int(number) if self.field.type is FieldType.INTEGER else number


class AutoOr(click.ParamType):
    """`auto`, or a number the wrapped FieldParam accepts."""

    def __init__(self, number: FieldParam):
        self.number = number
        self.name = f"{defaults.AUTO}|{number.name}"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        if isinstance(value, str) and value.strip().lower() == defaults.AUTO:
            return defaults.AUTO
        return self.number.convert(value, param, ctx)


def _number(type_: FieldType, default: Any, low: float, high: float, **open_: bool) -> FieldParam:
    return FieldParam(Field(type_, default, Range(low, high, **open_)))


SCENARIOS = _number(FieldType.INTEGER, defaults.SCENARIOS, 1, 10_000_000)
WORKERS = _number(FieldType.INTEGER, defaults.WORKERS, 1, 4096)
CHUNK = AutoOr(_number(FieldType.INTEGER, None, 1, 1_000_000))
ALPHA = _number(FieldType.NUMBER, defaults.ALPHA, 0, 1, low_open=True, high_open=True)
CANDIDATES = _number(FieldType.INTEGER, defaults.CANDIDATES, 0, 1000)

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def scenario_options(default_scenarios: int = defaults.SCENARIOS) -> Decorator:
    """The options every scenario run takes (sweep, evaluate, robust, nightly)."""
    options = [
        click.option(
            "-n",
            "--scenarios",
            "n_scenarios",
            type=SCENARIOS,
            default=default_scenarios,
            show_default=True,
            help="scenarios to solve",
        ),
        click.option(
            "--address",
            default=None,
            help="Ray cluster to join (default: RAY_ADDRESS, else an embedded local Ray)",
        ),
        click.option(
            "--workers",
            type=WORKERS,
            default=defaults.WORKERS,
            show_default=True,
            help="scenario chunks solved at once",
        ),
        click.option(
            "--seed",
            type=FieldParam(UNCERTAINTY_FIELDS["seed"]),
            default=None,
            help="overrides uncertainty.seed",
        ),
        click.option(
            "--chunk",
            type=CHUNK,
            default=defaults.CHUNK,
            show_default=True,
            help=(
                f"scenarios per task; {defaults.AUTO}: each chunk 1/({CHUNK_SHARE} x workers)"
                f" of the scenarios left, 1 to {MAX_CHUNK}"
            ),
        ),
        click.option(
            "--alpha", type=ALPHA, default=defaults.ALPHA, show_default=True, help="CVaR level"
        ),
        click.option(
            "--overwrite",
            is_flag=True,
            help="start afresh when the output holds a run of the same kind with other parameters",
        ),
    ]
    return _stack(options)


def verbosity_option() -> Decorator:
    """-v: progress lines on stderr; -vv: debug detail (fleetopt.core.logs)."""
    return click.option(
        "-v",
        "--verbose",
        "verbosity",
        count=True,
        help="log progress to stderr (-vv: debug detail)",
    )


def robust_options() -> Decorator:
    """How robust selection chooses (robust, nightly)."""
    return _stack(
        [
            click.option(
                "--criterion",
                type=click.Choice([c.value for c in Criterion]),
                default="mean",
                show_default=True,
                help="rank candidate plans by mean or CVaR of total cost",
            ),
            click.option(
                "--candidates",
                type=CANDIDATES,
                default=defaults.CANDIDATES,
                show_default=True,
                help="most frequent sweep plans to compare",
            ),
        ]
    )


def solver_options() -> Decorator:
    """Overrides of case.yaml's `solver` section (solve)."""
    return _stack(
        [
            click.option("--solver", "solver_name", default=None, help="highs (default) or scip"),
            click.option(
                "--time-limit",
                type=FieldParam(SOLVER_FIELDS["time_limit_s"]),
                default=None,
                help="seconds of wall clock for the whole solve",
            ),
            click.option(
                "--gap",
                type=FieldParam(SOLVER_FIELDS["relative_gap"]),
                default=None,
                help="relative MIP gap at which to stop",
            ),
            click.option("--threads", type=FieldParam(SOLVER_FIELDS["threads"]), default=None),
            click.option(
                "--seed",
                type=FieldParam(SOLVER_FIELDS["seed"]),
                default=None,
                help="solver random seed",
            ),
        ]
    )


def _stack(options: list[Decorator]) -> Decorator:
    def apply(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            command = option(command)
        return command

    return apply
