"""Command-line options shared by the `fleetopt` CLI and the Ray job entrypoints.

One definition per option: its flag, type, range, default and help. Solver and seed options
take their ranges from the case format (fleetopt.io.schema), so a value refused in case.yaml is
refused on the command line too, before anything runs (click's usage error, exit 2).

Options come in groups, and each group reaches the command as the one object it describes
(fleetopt.pipelines.options), built here once: `run` (ScenarioOptions), `choice`
(RobustOptions), `settings` or `stochastic` (StochasticSettings), as dbt's flags.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from fleetopt.core import defaults
from fleetopt.io.edits import Variant, variants_of
from fleetopt.io.schema import (
    SOLVER_FIELDS,
    UNCERTAINTY_FIELDS,
    Field,
    FieldType,
    Range,
    format_number,
)
from fleetopt.model.reliability import ReliabilityTarget
from fleetopt.model.risk import MEAN, Risk
from fleetopt.parallel.farm import CHUNK_SHARE, MAX_CHUNK
from fleetopt.pipelines.options import (
    AlternativesAsk,
    Criterion,
    FarmRun,
    FarmSettings,
    Method,
    RobustOptions,
    ScenarioOptions,
    StochasticSettings,
)
from fleetopt.solve.benders import Cuts
from fleetopt.solve.hedging import HedgingSettings


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


class OutPath(click.Path):
    """An output path: a Path, never an empty string (which would mean the working folder)."""

    def __init__(self) -> None:
        super().__init__(path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        if isinstance(value, str) and not value.strip():
            self.fail("is empty: give a path", param, ctx)
        return super().convert(value, param, ctx)


OUT_PATH = OutPath()


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
PROBABILITY = _number(FieldType.NUMBER, None, 0, 1)
SHARE = _number(FieldType.NUMBER, None, 0, 1)


class NumberList(click.ParamType):
    """Comma-separated numbers, each checked by `number`: ascending, without repeats."""

    def __init__(self, number: FieldParam):
        self.number = number
        self.name = f"{number.name},..."

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        if isinstance(value, tuple):
            return value
        parts = [part.strip() for part in str(value).split(",")]
        if not all(parts):
            self.fail(f"{value!r} is not a comma-separated list of numbers", param, ctx)
        return tuple(sorted({self.number.convert(part, param, ctx) for part in parts}))


REPLICATIONS = _number(FieldType.INTEGER, 0, 0, 1_000)

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _option(flags: str | tuple[str, ...], kind: Any, default: Any, help: str) -> Decorator:
    """One option: its flag (or flags and name), type, default (shown where there is one)
    and help."""
    decls = (flags,) if isinstance(flags, str) else flags
    shown = default is not None
    return click.option(*decls, type=kind, default=default, show_default=shown, help=help)


def _collect(name: str, build: Callable[..., Any], options: Sequence[Any]) -> Decorator:
    """`options` on the command, whose values reach it as one object `name` = build(...)."""

    def probe() -> None: ...

    for option in options:
        option(probe)
    names = [param.name for param in getattr(probe, "__click_params__", [])]

    def apply(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            values = {key: kwargs.pop(key) for key in names}
            return command(*args, **{name: build(**values)}, **kwargs)

        return _stack(options)(wrapper)

    return apply


SEED = FieldParam(UNCERTAINTY_FIELDS["seed"])
CHUNK_HELP = (
    f"scenarios per task; {defaults.AUTO}: each chunk 1/({CHUNK_SHARE} x workers)"
    f" of the scenarios left, 1 to {MAX_CHUNK}"
)
RAY_HELP = "Ray cluster to join (default: RAY_ADDRESS, else an embedded local Ray)"
OVERWRITE_HELP = "start afresh when the output holds a run of the same kind with other parameters"


def scenario_options(default_scenarios: int = defaults.SCENARIOS) -> Decorator:
    """The options every scenario run takes (sweep, evaluate, robust, stochastic, nightly),
    as `run` (ScenarioOptions)."""
    options = [
        _option(
            ("-n", "--scenarios", "n_scenarios"), SCENARIOS, default_scenarios, "scenarios to solve"
        ),
        _option("--address", None, None, RAY_HELP),
        _option("--workers", WORKERS, defaults.WORKERS, "scenario chunks solved at once"),
        _option("--seed", SEED, None, "overrides uncertainty.seed"),
        _option("--chunk", CHUNK, defaults.CHUNK, CHUNK_HELP),
        click.option("--overwrite", is_flag=True, help=OVERWRITE_HELP),
    ]

    def build(
        n_scenarios: int,
        address: str | None,
        workers: int,
        seed: int | None,
        chunk: int | str,
        overwrite: bool,
    ) -> ScenarioOptions:
        return ScenarioOptions(n_scenarios, seed, FarmSettings(workers, chunk, address), overwrite)

    return _collect("run", build, options)


def farm_options() -> Decorator:
    """The options of a farmed run that samples no futures (whatif, alternatives), as `run`
    (FarmRun): one plan per task."""
    options = [
        _option("--address", None, None, RAY_HELP),
        _option("--workers", WORKERS, defaults.WORKERS, "plans solved at once"),
        click.option("--overwrite", is_flag=True, help=OVERWRITE_HELP),
    ]

    def build(address: str | None, workers: int, overwrite: bool) -> FarmRun:
        return FarmRun(FarmSettings(workers, 1, address), overwrite)

    return _collect("run", build, options)


SLACK = _number(FieldType.NUMBER, 0.05, 0, 10, low_open=True)
ALTERNATIVES = _number(FieldType.INTEGER, 4, 1, 100)


def alternatives_options() -> Decorator:
    """How many near-optimal plans, how near (alternatives), as `ask` (AlternativesAsk)."""
    options = [
        _option("--slack", SLACK, 0.05, "S: plans within (1 + S) of the optimum's objective"),
        _option(("-k", "k"), ALTERNATIVES, 4, "alternatives to find"),
        _option("--seed", SEED, None, "seed of the random directions (default: uncertainty.seed)"),
    ]
    return _collect("ask", AlternativesAsk, options)


def planner_stage_options() -> Decorator:
    """The nightly run's optional what-if and alternatives stages, as `whatif` (a file of
    variants) and `alternatives` (AlternativesAsk, None when not asked for)."""
    options = [
        click.option(
            "--whatif",
            type=click.Path(dir_okay=False, path_type=str),
            default=None,
            help="also solve the what-if variants of this file (NAME=SPEC;SPEC or SPEC a line)",
        ),
        _option("--alternatives", ALTERNATIVES, None, "also find K near-optimal alternatives"),
        _option("--alternatives-slack", SLACK, 0.05, "their slack S over the optimum"),
    ]

    def build(
        whatif: str | None, alternatives: int | None, alternatives_slack: float
    ) -> tuple[str | None, AlternativesAsk | None]:
        ask = None if alternatives is None else AlternativesAsk(alternatives_slack, alternatives)
        return whatif, ask

    return _collect("planner_stages", build, options)


def variant_options() -> Decorator:
    """What-if variants (docs/model.md section 11), as `variants` (a list of Variant)."""
    options = [
        click.option(
            "--change",
            "changes",
            multiple=True,
            help="FILE:ROW:COLUMN=VALUE, one variant each (VALUE: 120, +20, -10%, x1.5)",
        ),
        click.option(
            "--variant",
            "groups",
            multiple=True,
            help="NAME=SPEC;SPEC: several changes as one variant",
        ),
    ]

    def build(changes: tuple[str, ...], groups: tuple[str, ...]) -> list[Variant]:
        return variants_of(changes, groups)

    return _collect("variants", build, options)


def alpha_option() -> Decorator:
    """--alpha: the CVaR level (of the reported distributions; of a risk measure below)."""
    return _option("--alpha", ALPHA, defaults.ALPHA, "CVaR level")


def verbosity_option() -> Decorator:
    """-v: what fleetopt and Ray do, on stderr; -vv: debug detail; -q: no progress either
    (fleetopt.core.logs)."""
    return _stack(
        [
            click.option(
                "-v",
                "--verbose",
                "verbosity",
                count=True,
                help="log what runs to stderr, Ray's messages too (-vv: debug detail)",
            ),
            click.option(
                "-q",
                "--quiet",
                is_flag=True,
                help="no progress bar or lines (warnings and errors still show)",
            ),
        ]
    )


def shortfall_option(*, default: bool = False) -> Decorator:
    """Pay for a shortfall below min_served_share instead of failing: a flag of evaluate and
    robust; on by default in the nightly run, where `--no-shortfall` turns it off."""
    flags = "--shortfall/--no-shortfall" if default else "--shortfall"
    return click.option(
        flags,
        is_flag=True,
        default=default,
        show_default=default,
        help="a plan that cannot meet a min_served_share pays shortfall_penalty_usd_per_mtok"
        " for the share it misses, instead of being infeasible in that scenario",
    )


CRITERIA = click.Choice([c.value for c in Criterion])
METHODS = click.Choice([m.value for m in Method])


def robust_options(*, shortfall_default: bool = False) -> Decorator:
    """How robust selection chooses (robust; nightly, shortfall priced by default), as
    `choice`."""
    options = [
        _option(
            "--criterion", CRITERIA, "mean", "rank candidate plans by mean or CVaR of total cost"
        ),
        _option(
            "--candidates", CANDIDATES, defaults.CANDIDATES, "most frequent sweep plans to compare"
        ),
        alpha_option(),
        shortfall_option(default=shortfall_default),
    ]

    def build(criterion: str, **rest: Any) -> RobustOptions:
        return RobustOptions(criterion=Criterion(criterion), **rest)

    return _collect("choice", build, options)


def _stopping_options() -> list[Decorator]:
    """When the two-stage program stops, the out-of-sample check, and Benders' cuts."""
    default, stop = StochasticSettings(), HedgingSettings()
    return [
        _option(
            ("--gap", "target_gap"), TARGET_GAP, stop.gap, "stop at this certified relative gap"
        ),
        _option(
            "--max-iterations",
            ITERATIONS,
            stop.max_iterations,
            "progressive hedging iterations (Benders rounds) at most",
        ),
        _option(
            ("--time-limit", "run_time_limit"),
            RUN_TIME_LIMIT,
            stop.time_limit_s,
            "seconds for the extensive form, or between PH iterations (Benders rounds)",
        ),
        _option(
            "--out-of-sample",
            OUT_OF_SAMPLE,
            default.out_of_sample,
            "fresh scenarios to check the plans on",
        ),
        _option("--out-of-sample-seed", SEED, None, "their seed (default: the run's seed + 1)"),
        _option(
            "--cuts",
            click.Choice([c.value for c in Cuts]),
            default.cuts.value,
            "benders: one cut per scenario (multi) or one aggregated (single, mean only)",
        ),
    ]


def reliability_options() -> list[Decorator]:
    """A reliability target of the two-stage program and its cost curve (docs/model.md
    section 9, "Reliability targets"): options for any command whose StochasticSettings
    `_settings` builds (they reach it as keyword arguments)."""
    return [
        _option(
            "--max-shortfall-probability",
            PROBABILITY,
            None,
            "at most this share of the scenarios may fall short of a min_served_share"
            " (a chance constraint; extensive form only)",
        ),
        _option(
            "--shortfall-cvar",
            SHARE,
            None,
            "instead: the CVaR at level 1 - P of the shortfall share at most this"
            " (with --max-shortfall-probability P or --shortfall-curve)",
        ),
        _option(
            "--shortfall-curve",
            NumberList(PROBABILITY),
            None,
            "also solve one plan per shortfall probability listed (e.g. 0,0.01,0.05,0.1),"
            " in parallel: the cost of reliability (shortfall_curve.parquet)",
        ),
    ]


def reliability_targets(
    max_shortfall_probability: float | None,
    shortfall_cvar: float | None,
    shortfall_curve: tuple[float, ...] | None,
) -> tuple[ReliabilityTarget | None, tuple[ReliabilityTarget, ...]]:
    """The run's target and the curve's, from the options (--shortfall-cvar alone is a
    usage error: it bounds the CVaR at a level P given by the others)."""
    curve = shortfall_curve or ()
    if shortfall_cvar is not None and max_shortfall_probability is None and not curve:
        raise click.UsageError(
            "--shortfall-cvar needs --max-shortfall-probability or --shortfall-curve"
        )
    target = (
        None
        if max_shortfall_probability is None
        else ReliabilityTarget(max_shortfall_probability, shortfall_cvar)
    )
    return target, tuple(ReliabilityTarget(p, shortfall_cvar) for p in curve)


REPLICATIONS_HELP = (
    "also estimate the plan's optimality gap with a 95% interval from R independent"
    " batches of N scenarios (0: off; at least 2), to tell whether N scenarios suffice"
)


def replications_option() -> Decorator:
    """--replications R: the multiple-replication procedure's batches (stochastic; a group's
    `build` passes `replications` to _settings, which refuses R = 1)."""
    return _option(
        "--replications", REPLICATIONS, StochasticSettings().replications, REPLICATIONS_HELP
    )


def nightly_replications_option() -> Decorator:
    """The nightly's --replications: unset means the nightly default, or 0 with a
    reliability target (docs/nightly.md, "Are N futures enough?")."""
    return _option(
        "--replications",
        REPLICATIONS,
        None,
        f"{REPLICATIONS_HELP}; default {defaults.NIGHTLY_REPLICATIONS}, or 0 with a"
        " reliability target",
    )


def nightly_replications(replications: int | None, max_shortfall_probability: float | None) -> int:
    """The nightly stage's batches: as given, else the nightly default without a reliability
    target (the procedure compares priced programs) and 0 with one."""
    if replications is not None:
        return replications
    return 0 if max_shortfall_probability is not None else defaults.NIGHTLY_REPLICATIONS


def _settings(
    method: str,
    risk: Risk,
    target_gap: float,
    max_iterations: int,
    run_time_limit: float,
    out_of_sample: int,
    out_of_sample_seed: int | None,
    cuts: str,
    max_shortfall_probability: float | None = None,
    shortfall_cvar: float | None = None,
    shortfall_curve: tuple[float, ...] | None = None,
    replications: int = 0,
) -> StochasticSettings:
    target, curve = reliability_targets(max_shortfall_probability, shortfall_cvar, shortfall_curve)
    if replications == 1:
        raise click.UsageError(
            "--replications 1 gives no interval (no standard error from one batch):"
            " use 0 (off) or at least 2"
        )
    return StochasticSettings(
        method=Method(method),
        risk=risk,
        stop=HedgingSettings(target_gap, max_iterations, run_time_limit),
        out_of_sample=out_of_sample,
        out_of_sample_seed=out_of_sample_seed,
        cuts=Cuts(cuts),
        reliability=target,
        shortfall_curve=curve,
        replications=replications,
    )


def stochastic_options() -> Decorator:
    """How the two-stage program is solved and checked (stochastic), as `settings`."""
    method = StochasticSettings().method.value
    options = [
        _option(
            "--method",
            METHODS,
            method,
            "ef: one extensive-form MILP; ph: progressive hedging; benders: the L-shaped"
            " method; auto: by size (ef, or benders beyond its limit)",
        ),
        _option(
            "--risk",
            click.Choice(["mean", "cvar"]),
            "mean",
            "minimize mean total cost, or (1 - L) mean + L CVaR at --alpha",
        ),
        _option("--risk-weight", RISK_WEIGHT, 1.0, "L, the weight of CVaR with --risk cvar"),
        alpha_option(),
        *_stopping_options(),
        *reliability_options(),
        replications_option(),
    ]

    def build(risk: str, risk_weight: float, alpha: float, **rest: Any) -> StochasticSettings:
        """--risk mean ignores --risk-weight; aggregated cuts need the mean."""
        if risk == "cvar" and rest["cuts"] == Cuts.SINGLE:
            raise click.UsageError(
                "--cuts single needs --risk mean (CVaR needs a cut per scenario)"
            )
        weight = risk_weight if risk == "cvar" else 0.0
        return _settings(risk=Risk(weight=weight, alpha=alpha), **rest)

    return _collect("settings", build, options)


NO_STAGE = "none"


def stochastic_stage_options() -> Decorator:
    """The nightly run's stochastic stage, its answer (docs/nightly.md): its method (`auto`
    by default; `none` leaves the stage out) and the stochastic command's stopping options
    (its risk measure is robust selection's criterion), as `stochastic`."""
    options = [
        _option(
            ("--stochastic", "method"),
            click.Choice([*METHODS.choices, NO_STAGE]),
            StochasticSettings().method.value,
            "how to solve the two-stage program whose plan is the run's answer"
            f" ({NO_STAGE}: no stochastic stage, the robust choice answers)",
        ),
        *_stopping_options(),
        *reliability_options(),
        nightly_replications_option(),
    ]

    def build(method: str, replications: int | None, **rest: Any) -> StochasticSettings | None:
        if method == NO_STAGE:
            return None
        batches = nightly_replications(replications, rest["max_shortfall_probability"])
        return _settings(method=method, risk=MEAN, replications=batches, **rest)

    return _collect("stochastic", build, options)


def solver_options() -> Decorator:
    """Overrides of case.yaml's `solver` section (solve)."""
    return _stack(
        [
            _option(("--solver", "solver_name"), None, None, "highs (default) or scip"),
            _option(
                "--time-limit",
                FieldParam(SOLVER_FIELDS["time_limit_s"]),
                None,
                "seconds of wall clock for the whole solve",
            ),
            _option(
                "--gap",
                FieldParam(SOLVER_FIELDS["relative_gap"]),
                None,
                "relative MIP gap at which to stop",
            ),
            click.option("--threads", type=FieldParam(SOLVER_FIELDS["threads"]), default=None),
            _option("--seed", FieldParam(SOLVER_FIELDS["seed"]), None, "solver random seed"),
        ]
    )


def _stack(options: Sequence[Any]) -> Decorator:
    def apply(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            command = option(command)
        return command

    return apply
