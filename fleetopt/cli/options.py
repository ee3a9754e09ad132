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
from fleetopt.model.risk import Risk
from fleetopt.parallel.farm import CHUNK_SHARE, MAX_CHUNK
from fleetopt.pipelines.runs import Criterion
from fleetopt.pipelines.stochastic import Method, StochasticSettings
from fleetopt.solve.benders import Cuts


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
TARGET_GAP = _number(FieldType.NUMBER, 0.01, 0, 1, low_open=True, high_open=True)
RISK_WEIGHT = _number(FieldType.NUMBER, 1.0, 0, 1)
ITERATIONS = _number(FieldType.INTEGER, 100, 1, 100_000)
RUN_TIME_LIMIT = FieldParam(SOLVER_FIELDS["time_limit_s"])
OUT_OF_SAMPLE = _number(FieldType.INTEGER, 100, 2, 10_000_000)

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


def stochastic_stage_option() -> Decorator:
    """The nightly run's optional stochastic stage, by method."""
    return click.option(
        "--stochastic",
        type=click.Choice([m.value for m in Method]),
        default=None,
        help="also solve the two-stage stochastic program, by this method",
    )


def shortfall_option() -> Decorator:
    """Pay for a shortfall below min_served_share instead of failing (evaluate, robust)."""
    return click.option(
        "--shortfall",
        is_flag=True,
        help="a plan that cannot meet a min_served_share pays shortfall_penalty_usd_per_mtok"
        " for the share it misses, instead of being infeasible in that scenario",
    )


def stochastic_options() -> Decorator:
    """How the two-stage program is solved and checked (stochastic, nightly)."""
    default = StochasticSettings()
    return _stack(
        [
            click.option(
                "--method",
                type=click.Choice([m.value for m in Method]),
                default=default.method.value,
                show_default=True,
                help="ef: one extensive-form MILP; ph: progressive hedging; benders: the"
                " L-shaped method; auto: by size (ef, or benders beyond its limit)",
            ),
            click.option(
                "--cuts",
                type=click.Choice([c.value for c in Cuts]),
                default=default.cuts.value,
                show_default=True,
                help="benders: one cut per scenario (multi) or one aggregated (single, mean only)",
            ),
            click.option(
                "--risk",
                type=click.Choice(["mean", "cvar"]),
                default="mean",
                show_default=True,
                help="minimize mean total cost, or (1 - L) mean + L CVaR at --alpha",
            ),
            click.option(
                "--risk-weight",
                type=RISK_WEIGHT,
                default=1.0,
                show_default=True,
                help="L, the weight of CVaR with --risk cvar",
            ),
            click.option(
                "--gap",
                "target_gap",
                type=TARGET_GAP,
                default=default.gap,
                show_default=True,
                help="stop at this certified relative gap",
            ),
            click.option(
                "--max-iterations",
                type=ITERATIONS,
                default=default.max_iterations,
                show_default=True,
                help="progressive hedging iterations (Benders rounds) at most",
            ),
            click.option(
                "--time-limit",
                "run_time_limit",
                type=RUN_TIME_LIMIT,
                default=default.time_limit_s,
                show_default=True,
                help="seconds for the extensive form, or between PH iterations (Benders rounds)",
            ),
            click.option(
                "--out-of-sample",
                type=OUT_OF_SAMPLE,
                default=default.out_of_sample,
                show_default=True,
                help="fresh scenarios to check the plans on",
            ),
            click.option(
                "--out-of-sample-seed",
                type=FieldParam(UNCERTAINTY_FIELDS["seed"]),
                default=None,
                help="their seed (default: the run's seed + 1)",
            ),
        ]
    )


def stochastic_settings(
    method: str,
    risk: str,
    risk_weight: float,
    alpha: float,
    target_gap: float,
    max_iterations: int,
    run_time_limit: float,
    out_of_sample: int,
    out_of_sample_seed: int | None,
    cuts: str,
) -> StochasticSettings:
    """The settings the stochastic options describe (--risk mean ignores --risk-weight)."""
    if cuts == Cuts.SINGLE and risk == "cvar":
        raise click.UsageError("--cuts single needs --risk mean (CVaR needs a cut per scenario)")
    return StochasticSettings(
        method=Method(method),
        risk=Risk(weight=risk_weight if risk == "cvar" else 0.0, alpha=alpha),
        gap=target_gap,
        max_iterations=max_iterations,
        time_limit_s=run_time_limit,
        out_of_sample=out_of_sample,
        out_of_sample_seed=out_of_sample_seed,
        cuts=Cuts(cuts),
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
