"""`fleetopt perf` and `fleetopt claims`: the catalog's performance model on the command line.

The main CLI registers these with `main.add_command(perf_command, "perf")` and
`main.add_command(claims_command, "claims")`.
"""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from fleetopt.claims import ClaimConditions, claims_table, format_claims
from fleetopt.perf import (
    CATALOG_DIR,
    estimate_throughput,
    load_catalog,
    merge_measured,
    select,
    write_throughput,
)


def _catalog_option(func):
    """--catalog DIR, defaulting to the bundled catalog."""
    return click.option(
        "--catalog",
        "catalog_dir",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        default=None,
        help="catalog folder (racks.csv, specs.csv, models.csv); default: the bundled one",
    )(func)


def _check_names(kind: str, asked: tuple[str, ...], known: pd.Series) -> None:
    """Refuse names the catalog does not have (a typo must not silently print nothing)."""
    unknown = sorted(set(asked) - set(known))
    if unknown:
        raise click.BadParameter(
            f"unknown {kind}(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )


@click.command("perf")
@_catalog_option
@click.option("--model", "models", multiple=True, help="model id (repeatable); default: all")
@click.option("--rack-type", "rack_types", multiple=True, help="rack type (repeatable)")
@click.option(
    "--measured",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV of measured throughput rows; they replace the estimated curve they cover",
)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="write rows to this CSV"
)
def perf_command(
    catalog_dir: Path | None,
    models: tuple[str, ...],
    rack_types: tuple[str, ...],
    measured: Path | None,
    out: Path | None,
) -> None:
    """Estimate throughput.csv rows for the catalog's rack types and models."""
    cat = load_catalog(catalog_dir or CATALOG_DIR)
    _check_names("model", models, cat.models["model"])
    _check_names("rack type", rack_types, cat.specs["rack_type"])
    specs = select(cat.specs, rack_types=rack_types)
    model_rows = select(cat.models, models=models)
    rows = estimate_throughput(specs, model_rows)
    if measured is not None:
        meas = select(pd.read_csv(measured), rack_types=rack_types, models=models)
        rows = merge_measured(rows, meas)
    if out is not None:
        write_throughput(rows, out)
        click.echo(f"wrote {len(rows)} throughput rows to {out}")
        return
    if rows.empty:
        click.echo("no throughput rows: the selected models fit no instance on these rack types")
        return
    shown = rows.drop(columns="source").copy()
    shown["tokens_per_s"] = shown["tokens_per_s"].map("{:,.0f}".format)
    click.echo(shown.to_string(index=False, na_rep=""))


@click.command("claims")
@_catalog_option
@click.option("--model", default=ClaimConditions.model, show_default=True)
@click.option(
    "--interactive-user-tps",
    type=float,
    default=ClaimConditions.interactive_user_tps,
    show_default=True,
    help="per-user decode SLO for the per-MW and cost claims",
)
@click.option(
    "--agentic-user-tps",
    type=float,
    default=ClaimConditions.agentic_user_tps,
    show_default=True,
    help="per-user decode SLO for the disaggregation claim",
)
@click.option(
    "--energy-usd-per-mwh",
    type=float,
    default=ClaimConditions.energy_usd_per_mwh,
    show_default=True,
)
@click.option("--pue", type=float, default=ClaimConditions.pue, show_default=True)
def claims_command(
    catalog_dir: Path | None,
    model: str,
    interactive_user_tps: float,
    agentic_user_tps: float,
    energy_usd_per_mwh: float,
    pue: float,
) -> None:
    """The seeds' headline claims next to fleetopt's figures from the catalog."""
    cat = load_catalog(catalog_dir or CATALOG_DIR)
    _check_names("model", (model,), cat.models["model"])
    conditions = ClaimConditions(
        model=model,
        interactive_user_tps=interactive_user_tps,
        agentic_user_tps=agentic_user_tps,
        energy_usd_per_mwh=energy_usd_per_mwh,
        pue=pue,
    )
    click.echo(format_claims(claims_table(cat, conditions)), nl=False)
