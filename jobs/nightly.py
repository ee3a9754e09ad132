"""Ray job entrypoint: the nightly planning pipeline.

    ray job submit --working-dir . -- python jobs/nightly.py --case CASE --out OUT \\
        [--scenarios N] [--run-id ID] [--seed S] [--overwrite] [-q | -v | -vv]
        [--stochastic auto|ef|ph|benders|none [--gap G] [--replications R] ...]
        [--whatif FILE] [--alternatives K [--alternatives-slack S]]

Submitted as a Ray job it joins that cluster (Ray sets RAY_ADDRESS); run directly it
starts an embedded local Ray. It runs supervised (fleetopt.cli.supervise): a driver that Ray
stops hard still leaves a run record marked failed and a last line saying so. Exit codes
are the CLI's (docs/architecture.md, "Failures"): 0 success, 1 a failure (the run record says
why; partial outputs stay, without _SUCCESS), 2 bad input (nothing was run), 3 a case with no
feasible plan on its forecast, 130/143 interrupted by SIGINT/SIGTERM (re-run the same
command to resume).
"""

from __future__ import annotations

import datetime as dt
import sys
import uuid
from pathlib import Path

try:
    import fleetopt  # noqa: F401
except ModuleNotFoundError:  # submitted with --working-dir but fleetopt not pip-installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import click

from fleetopt.cli.main import HANDLED, report_error
from fleetopt.cli.options import (
    planner_stage_options,
    robust_options,
    scenario_options,
    stochastic_stage_options,
    verbosity_option,
)
from fleetopt.cli.supervise import run_supervised, supervised
from fleetopt.core import defaults, interrupts, logs
from fleetopt.io.runfolder import check_run_id
from fleetopt.pipelines.nightly import NightlyParams, Output, run_nightly
from fleetopt.pipelines.options import (
    AlternativesAsk,
    RobustOptions,
    ScenarioOptions,
    StochasticSettings,
)
from fleetopt.results.text import format_nightly


@click.command()
@click.option("--case", "case_dir", required=True, help="case folder")
@click.option("--out", required=True, help="output root: a path or a pyarrow URI (s3://, gs://)")
@click.option("--run-id", default=None, help="re-use an id to resume that run")
@robust_options(shortfall_default=True)
@stochastic_stage_options()
@planner_stage_options()
@scenario_options(default_scenarios=defaults.NIGHTLY_SCENARIOS)
@verbosity_option()
def main(
    case_dir: str,
    out: str,
    run_id: str | None,
    choice: RobustOptions,
    stochastic: StochasticSettings | None,
    planner_stages: tuple[str | None, AlternativesAsk | None],
    run: ScenarioOptions,
    verbosity: int,
    quiet: bool,
) -> None:
    """Validate, plan, choose a robust plan, evaluate the installed fleet, compare (and,
    when asked, the two-stage plan, what-if variants and near-optimal alternatives)."""
    interrupts.install()
    logs.configure(verbosity, quiet)
    try:
        generated = f"{dt.datetime.now(dt.UTC):%H%M%S}-{uuid.uuid4().hex[:6]}"
        run_id = check_run_id(generated if run_id is None else run_id)
        if not supervised():
            pinned = [] if any(a.startswith("--run-id") for a in sys.argv) else ["--run-id", run_id]
            sys.exit(run_supervised(_run_folder(out, run_id), pinned))
        whatif, alternatives = planner_stages
        params = NightlyParams(case_dir, out, run_id, run, choice, stochastic, whatif, alternatives)
        nightly = run_nightly(params)
    except HANDLED as err:
        sys.exit(report_error(err))
    except Exception as err:  # recorded in the run record; say it plainly and fail
        click.echo(f"nightly: failed: {type(err).__name__}: {err}", err=True)
        sys.exit(1)
    click.echo(format_nightly(nightly.dir, nightly.remote))


def _run_folder(out: str, run_id: str) -> Path:
    """Where the supervised run keeps its record (a local OUT only; a URI is staged)."""
    output = Output(out)
    date = output.find_run(run_id) if output.local else None
    return Path(output.path(date or f"{dt.datetime.now(dt.UTC):%Y-%m-%d}", run_id))


if __name__ == "__main__":
    main()
