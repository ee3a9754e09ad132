"""Ray job entrypoint: the nightly planning pipeline.

    ray job submit --working-dir . -- python jobs/nightly.py --case CASE --out OUT \\
        [--scenarios N] [--run-id ID] [--seed S]

Submitted as a Ray job it joins that cluster (Ray sets RAY_ADDRESS); run directly it
starts an embedded local Ray. Exit codes: 0 success, 2 bad input, 1 any other failure
(the run's manifest.json says why; its partial outputs stay, without _SUCCESS).
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import fleetopt  # noqa: F401
except ModuleNotFoundError:  # submitted with --working-dir but fleetopt not pip-installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import click

from fleetopt.errors import CaseError
from fleetopt.nightly import NightlyParams, format_nightly, run_nightly
from fleetopt.runs import Criterion
from fleetopt.store import RunFolderError


@click.command()
@click.option("--case", "case_dir", required=True, help="case folder")
@click.option("--out", required=True, help="output root: a path or a pyarrow URI (s3://, gs://)")
@click.option("--scenarios", type=click.IntRange(min=1), default=200)
@click.option("--run-id", default=None, help="re-use an id to resume that run")
@click.option("--seed", type=int, default=None, help="overrides uncertainty.seed")
@click.option("--workers", type=click.IntRange(min=1), default=2)
@click.option("--chunk", type=click.IntRange(min=1), default=8)
@click.option("--address", default=None, help="Ray address (default: RAY_ADDRESS or local)")
@click.option("--criterion", type=click.Choice([c.value for c in Criterion]), default="mean")
@click.option("--alpha", type=float, default=0.95)
@click.option("--candidates", type=click.IntRange(min=0), default=16)
def main(**options) -> None:
    """Validate, plan, choose a robust plan, evaluate the installed fleet, compare."""
    params = NightlyParams(**options)
    try:
        run = run_nightly(params)
    except (CaseError, RunFolderError) as err:
        click.echo(f"nightly: invalid input:\n{err}", err=True)
        sys.exit(2)
    except Exception as err:  # recorded in the manifest; say it plainly and fail
        click.echo(f"nightly: failed: {type(err).__name__}: {err}", err=True)
        sys.exit(1)
    click.echo(format_nightly(run))


if __name__ == "__main__":
    main()
