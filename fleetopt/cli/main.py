"""The `fleetopt` command line.

Exit codes (errors.ExitCode, the failure table of docs/architecture.md): 0 success, 1 a
solver or infrastructure failure, 2 bad input (a bad case, option, file or output location;
nothing was run), 3 a case with no feasible plan on its forecast (every command that plans
it: `solve` writes its folder with the `diagnosis`, the others fail before any scenario
runs, their run record saying why), 130 interrupted by SIGINT, 143 by SIGTERM. Commands
that start Ray run supervised (fleetopt.cli.supervise), so that even a run whose Ray
cluster dies under it ends with one line saying so and a run record marked failed.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import click

from fleetopt.cli.catalog import claims_command, perf_command
from fleetopt.cli.options import (
    OUT_PATH,
    alpha_option,
    robust_options,
    scenario_options,
    shortfall_option,
    solver_options,
    stochastic_options,
    verbosity_option,
)
from fleetopt.cli.supervise import end_output, run_supervised, supervised
from fleetopt.core import interrupts, logs
from fleetopt.core.errors import (
    CaseError,
    ExitCode,
    InfeasibleError,
    RunError,
    RunFolderError,
    SolverError,
)
from fleetopt.io.case import Case, read_case
from fleetopt.io.runfolder import RunKind, check_run_files, claimed
from fleetopt.model.index import build_index
from fleetopt.pipelines.options import RobustOptions, ScenarioOptions, StochasticSettings
from fleetopt.pipelines.plan import plan_case, write_plan
from fleetopt.pipelines.runs import evaluate, read_plan, robust, sweep
from fleetopt.pipelines.stochastic import stochastic
from fleetopt.results.compare import compare_runs, format_comparison
from fleetopt.results.export import Format as ExportFormat
from fleetopt.results.export import export_run
from fleetopt.results.summary import plan_warnings
from fleetopt.results.text import format_plan, format_run
from fleetopt.solve.deadline import Deadline


def example_case_dir() -> Path:
    """The bundled example case folder inside the installed package."""
    return Path(str(resources.files("fleetopt") / "data" / "example"))


SAID = (  # error type, how its line starts, exit code (docs/architecture.md, "Failures")
    (RunFolderError, "error", ExitCode.BAD_INPUT),
    (InfeasibleError, "infeasible", ExitCode.INFEASIBLE),
    (SolverError, "solver error", ExitCode.FAILURE),
    (RunError, "failed", ExitCode.FAILURE),  # after SolverError, its subclass
)


def report_error(err: BaseException) -> ExitCode:
    """Say what went wrong in a line or a list, with no traceback; return the exit code.

    Shared by the CLI and the Ray job entrypoints. Anything not listed here is a bug and
    keeps its traceback.
    """
    if isinstance(err, CaseError):
        click.echo(f"invalid input ({len(err.problems)} problem(s)):", err=True)
        for problem in err.problems:
            click.echo(f"  {problem}", err=True)
        return ExitCode.BAD_INPUT
    for kind, prefix, code in SAID:
        if isinstance(err, kind):
            click.echo(f"{prefix}: {err}", err=True)
            return code
    if isinstance(err, KeyboardInterrupt):
        click.echo(
            f"fleetopt: {interrupts.failure_reason(err)}; a run folder it was writing is "
            "incomplete and recorded as failed (nothing complete was changed); run the same "
            "command again to resume",
            err=True,
        )
        end_output()  # the line above stays the last (Ray would print its retries after it)
        return interrupts.exit_code(err)
    if isinstance(err, OSError):  # reads and writes of fleetopt's own say which they were
        where = f"{err.filename}: " if err.filename else ""
        click.echo(f"error: {where}{err.strerror or err}", err=True)
        return ExitCode.BAD_INPUT
    raise err


HANDLED = (CaseError, RunFolderError, InfeasibleError, RunError, KeyboardInterrupt, OSError)


class _Group(click.Group):
    """Maps fleetopt's error types to messages and exit codes, with no traceback."""

    def invoke(self, ctx: click.Context):
        interrupts.install()
        try:
            return super().invoke(ctx)
        except HANDLED as err:
            sys.exit(report_error(err))


@click.group(cls=_Group)
@click.version_option(package_name="fleetopt")
@verbosity_option()
def main(verbosity: int, quiet: bool) -> None:
    """Plan inference rack fleets at the lowest cost per token."""
    logs.configure(verbosity, quiet)


OUT = click.option("--out", "out_dir", required=True, type=OUT_PATH)
PLAN = click.option(
    "--plan",
    "plan_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="a `fleetopt solve` run folder",
)


@main.command()
@click.argument("case_dir", type=click.Path(path_type=Path))
def validate(case_dir: Path) -> None:
    """Check a case folder and report every problem at once."""
    case = read_case(case_dir)
    years = f", periods {case.periods[0]}-{case.periods[-1]}" if case.multi_period else ""
    click.echo(
        f"{case_dir}: valid ({len(case.racks)} rack types, {len(case.sites)} sites,"
        f" {len(case.workloads)} workloads, {len(case.throughput)} throughput rows{years})"
    )
    for warning in plan_warnings(build_index(case), case):
        click.echo(f"warning: {warning}")


@main.command()
@click.argument("case_dir", type=click.Path(path_type=Path))
@OUT
@solver_options()
def solve(case_dir, out_dir, solver_name, time_limit, gap, threads, seed) -> None:
    """Solve a case and write summary.json and the plan tables to OUT, within the time limit.

    An infeasible case exits 3, with why in summary.json (`diagnosis`) and on the screen.
    """
    started = time.monotonic()
    case = read_case(case_dir)
    options = case.solver.with_overrides(
        name=solver_name, time_limit_s=time_limit, relative_gap=gap, threads=threads, seed=seed
    )
    deadline = Deadline.after(options.time_limit_s, hold=True, started=started)
    with claimed(out_dir, RunKind.PLAN):  # checked and locked before the solve, held to the end
        outcome = plan_case(case, options, deadline=deadline)
        write_plan(outcome, out_dir)
    click.echo(format_plan(out_dir))
    if outcome.summary.exit_code:
        sys.exit(outcome.summary.exit_code)


def scenario_command(
    name: str, kind: RunKind, *options: Any
) -> Callable[[Callable[..., None]], Any]:
    """A command over sampled futures: CASE_DIR and `options` (in the order --help lists
    them, the scenario options among them). It runs supervised (fleetopt.cli.supervise) on
    the case read and seeded, into OUT claimed as a run of `kind` (checked and locked
    before any solve, held to the end), then shows the run folder it wrote (`out_dir`)."""

    def apply(work: Callable[..., None]) -> Any:
        @functools.wraps(work)
        def command(case_dir: Path, **given: Any) -> None:
            out_dir, run = given["out_dir"], given["run"]
            if not supervised():
                sys.exit(run_supervised(out_dir))
            case = run.seeded(read_case(case_dir))
            with claimed(out_dir, kind):
                work(case, **given)
            click.echo(format_run(out_dir))

        for option in reversed(options):
            command = option(command)
        command = click.argument("case_dir", type=click.Path(path_type=Path))(command)
        return main.command(name)(command)

    return apply


@scenario_command("sweep", RunKind.SWEEP, OUT, scenario_options(), alpha_option())
def sweep_command(case: Case, out_dir: Path, run: ScenarioOptions, alpha: float) -> None:
    """Wait and see: the best rack mix in each of N sampled futures."""
    sweep(case, out_dir, run, alpha=alpha)


@scenario_command(
    "evaluate",
    RunKind.EVALUATE,
    PLAN,
    OUT,
    shortfall_option(),
    scenario_options(),
    alpha_option(),
)
def evaluate_command(
    case: Case, plan_dir: Path, out_dir: Path, shortfall: bool, run: ScenarioOptions, alpha: float
) -> None:
    """What a fixed plan costs, and what it leaves unserved, in each of N futures."""
    plans = {plan_dir.name or "plan": read_plan(build_index(case), plan_dir)}
    evaluate(case, plans, out_dir, run, alpha=alpha, shortfall=shortfall)


@scenario_command("robust", RunKind.ROBUST, OUT, robust_options(), scenario_options())
def robust_command(case: Case, out_dir: Path, choice: RobustOptions, run: ScenarioOptions) -> None:
    """Choose the plan that holds up best across N futures (mean or CVaR of total cost)."""
    robust(case, out_dir, run, choice)


@scenario_command("stochastic", RunKind.STOCHASTIC, OUT, stochastic_options(), scenario_options())
def stochastic_command(
    case: Case, out_dir: Path, settings: StochasticSettings, run: ScenarioOptions
) -> None:
    """The plan that hedges best across N futures, with a certified bound, VSS and EVPI."""
    stochastic(case, out_dir, run, settings)


@main.command()
@click.argument("out_dir", type=OUT_PATH)
def init(out_dir: Path) -> None:
    """Write the bundled example case into OUT_DIR (a new or empty folder)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise RunFolderError(f"{out_dir} is a file, not a folder; nothing was changed")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise RunFolderError(
            f"{out_dir} exists and is not empty; nothing was changed: choose a new folder"
        )
    target = out_dir.resolve()
    # A new folder is copied beside its place and renamed into it; an empty one (the
    # working directory, say) keeps its identity and gets the files moved in.
    target.parent.mkdir(parents=True, exist_ok=True)
    inside = target.exists()
    tmp = (target if inside else target.parent) / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        shutil.copytree(example_case_dir(), tmp)
        if inside:
            for entry in tmp.iterdir():
                os.replace(entry, target / entry.name)
        else:
            os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    click.echo(
        f"wrote the example case to {out_dir}; try: fleetopt solve {out_dir} --out runs/example"
    )


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--year",
    type=int,
    default=None,
    help="a multi-period plan: show the fleet of this year only (default: every year)",
)
def show(run_dir: Path, year: int | None) -> None:
    """Print a readable summary of a run folder (any kind)."""
    check_run_files(run_dir)
    click.echo(format_run(run_dir, year))


@main.command()
@click.argument("run_a", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("run_b", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print the comparison as JSON")
def compare(run_a: Path, run_b: Path, as_json: bool) -> None:
    """What changed from run A to run B (two runs of one kind; their cases may differ):
    headline figures, orders per year, site and rack type, and power headroom."""
    for folder in (run_a, run_b):
        check_run_files(folder)
    comparison = compare_runs(run_a, run_b)
    if as_json:
        click.echo(json.dumps(comparison.to_json(), indent=2))
    else:
        click.echo(format_comparison(comparison))


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in ExportFormat]),
    default=ExportFormat.CSV.value,
    show_default=True,
    help="csv: a folder of CSV files, one a table; xlsx: one Excel workbook, one sheet a table",
)
@click.option("--out", "out", required=True, type=OUT_PATH, help="the folder or workbook to write")
@click.option(
    "--overwrite",
    is_flag=True,
    help="write OUT even if it is not an earlier fleetopt export (a folder keeps its other files)",
)
def export(run_dir: Path, fmt: str, out: Path, overwrite: bool) -> None:
    """Write every table of a run folder (any kind) for a spreadsheet, with its summary and
    parameters."""
    check_run_files(run_dir)
    path = export_run(run_dir, out, ExportFormat(fmt), overwrite=overwrite)
    click.echo(f"wrote {path}")


@main.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_file",
    type=OUT_PATH,
    default=None,
    help="HTML file to write (default RUN_DIR/report.html); only an earlier fleetopt report is"
    " replaced, unless --overwrite",
)
@click.option("--overwrite", is_flag=True, help="replace OUT even if it is not a fleetopt report")
def report_command(run_dir: Path, out_file: Path | None, overwrite: bool) -> None:
    """Write one self-contained HTML page of figures for a run folder (any kind)."""
    from fleetopt.report.page import write_report  # Bokeh: imported only when reporting

    check_run_files(run_dir)
    path = write_report(run_dir, out_file, overwrite=overwrite)
    click.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


main.add_command(perf_command, "perf")
main.add_command(claims_command, "claims")

if __name__ == "__main__":
    main()
