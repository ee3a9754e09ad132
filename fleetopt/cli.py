"""The `fleetopt` command line. Exit codes: 0 success, 2 bad input, 1 anything else."""

from __future__ import annotations

import shutil
import sys
import time
from importlib import resources
from pathlib import Path

import click

from fleetopt.case import read_case
from fleetopt.cli_catalog import claims_command, perf_command
from fleetopt.deadline import Deadline
from fleetopt.errors import CaseError, SolverError
from fleetopt.index import build_index
from fleetopt.outcome import plan_case, write_plan
from fleetopt.report import format_plan, format_run
from fleetopt.runs import Criterion, FarmSettings, evaluate, read_plan, robust, sweep, with_seed
from fleetopt.store import RunFolderError

EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1


def example_case_dir() -> Path:
    """The bundled example case folder inside the installed package."""
    return Path(str(resources.files("fleetopt") / "data" / "example"))


class _Group(click.Group):
    """Maps fleetopt's error types to messages and exit codes, with no traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CaseError as err:
            click.echo(f"invalid input ({len(err.problems)} problem(s)):", err=True)
            for problem in err.problems:
                click.echo(f"  {problem}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except RunFolderError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except SolverError as err:
            click.echo(f"solver error: {err}", err=True)
            sys.exit(EXIT_FAILURE)


@click.group(cls=_Group)
@click.version_option(package_name="fleetopt")
def main() -> None:
    """Plan inference rack fleets at the lowest cost per token."""


@main.command()
@click.argument("case_dir", type=click.Path(path_type=Path))
def validate(case_dir: Path) -> None:
    """Check a case folder and report every problem at once."""
    case = read_case(case_dir)
    click.echo(
        f"{case_dir}: valid ({len(case.racks)} rack types, {len(case.sites)} sites,"
        f" {len(case.workloads)} workloads, {len(case.throughput)} throughput rows)"
    )


@main.command()
@click.argument("case_dir", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path))
@click.option("--solver", "solver_name", default=None, help="highs (default) or scip")
@click.option("--time-limit", type=float, default=None, help="seconds")
@click.option("--gap", type=float, default=None, help="relative MIP gap")
@click.option("--threads", type=int, default=None)
@click.option("--seed", type=int, default=None)
def solve(case_dir, out_dir, solver_name, time_limit, gap, threads, seed) -> None:
    """Solve a case and write summary.json and the plan tables to OUT, within the time limit."""
    started = time.monotonic()
    case = read_case(case_dir)
    options = case.solver.with_overrides(
        name=solver_name, time_limit_s=time_limit, relative_gap=gap, threads=threads, seed=seed
    )
    deadline = Deadline.after(options.time_limit_s, hold=True, started=started)
    outcome = plan_case(case, options, deadline=deadline)
    write_plan(outcome, out_dir)
    click.echo(format_plan(out_dir))
    if outcome.result.x is None and outcome.summary["status"] == "error":
        sys.exit(EXIT_FAILURE)


def _farm_options(command):
    """The options every scenario command shares."""
    options = [
        click.option("-n", "--scenarios", "n_scenarios", type=click.IntRange(min=1), default=100),
        click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path)),
        click.option(
            "--address",
            default=None,
            help="Ray cluster to join (default: start a local Ray; 'auto' or RAY_ADDRESS join one)",
        ),
        click.option(
            "--workers",
            type=click.IntRange(min=1),
            default=2,
            help="scenario chunks solved at once",
        ),
        click.option("--seed", type=int, default=None, help="overrides uncertainty.seed"),
        click.option("--chunk", type=click.IntRange(min=1), default=8, help="scenarios per task"),
        click.option(
            "--alpha",
            type=click.FloatRange(0, 1, min_open=True, max_open=True),
            default=0.95,
            help="CVaR level",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _settings(workers, chunk, address, alpha) -> FarmSettings:
    return FarmSettings(workers=workers, chunk=chunk, address=address, alpha=alpha)


@main.command("sweep")
@click.argument("case_dir", type=click.Path(path_type=Path))
@_farm_options
def sweep_command(case_dir, n_scenarios, out_dir, address, workers, seed, chunk, alpha) -> None:
    """Wait and see: the best rack mix in each of N sampled futures."""
    case = with_seed(read_case(case_dir), seed)
    sweep(case, n_scenarios, out_dir, _settings(workers, chunk, address, alpha))
    click.echo(format_run(out_dir))


@main.command("evaluate")
@click.argument("case_dir", type=click.Path(path_type=Path))
@click.option(
    "--plan",
    "plan_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="a `fleetopt solve` run folder",
)
@_farm_options
def evaluate_command(
    case_dir, plan_dir, n_scenarios, out_dir, address, workers, seed, chunk, alpha
) -> None:
    """What a fixed plan costs, and what it leaves unserved, in each of N futures."""
    case = with_seed(read_case(case_dir), seed)
    counts = read_plan(build_index(case), plan_dir)
    evaluate(
        case,
        {plan_dir.name or "plan": counts},
        n_scenarios,
        out_dir,
        _settings(workers, chunk, address, alpha),
    )
    click.echo(format_run(out_dir))


@main.command("robust")
@click.argument("case_dir", type=click.Path(path_type=Path))
@click.option("--criterion", type=click.Choice([c.value for c in Criterion]), default="mean")
@click.option(
    "--candidates",
    type=click.IntRange(min=0),
    default=16,
    help="most frequent sweep plans to compare",
)
@_farm_options
def robust_command(
    case_dir, criterion, candidates, n_scenarios, out_dir, address, workers, seed, chunk, alpha
) -> None:
    """Choose the plan that holds up best across N futures (mean or CVaR of total cost)."""
    case = with_seed(read_case(case_dir), seed)
    robust(
        case,
        n_scenarios,
        out_dir,
        _settings(workers, chunk, address, alpha),
        criterion=Criterion(criterion),
        candidates=candidates,
    )
    click.echo(format_run(out_dir))


@main.command()
@click.argument("out_dir", type=click.Path(path_type=Path))
def init(out_dir: Path) -> None:
    """Write the bundled example case into OUT_DIR."""
    if out_dir.exists() and any(out_dir.iterdir()):
        raise click.UsageError(f"{out_dir} exists and is not empty")
    shutil.copytree(example_case_dir(), out_dir, dirs_exist_ok=True)
    click.echo(
        f"wrote the example case to {out_dir}; try: fleetopt solve {out_dir} --out runs/example"
    )


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
def show(run_dir: Path) -> None:
    """Print a readable summary of a run folder (a solve, or a scenario run)."""
    click.echo(format_run(run_dir))


main.add_command(perf_command, "perf")
main.add_command(claims_command, "claims")

if __name__ == "__main__":
    main()
