"""`fleetopt perf` and `fleetopt claims`: the catalog's performance model on the command line.

The main CLI registers these with `main.add_command(perf_command, "perf")` and
`main.add_command(claims_command, "claims")`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import click
import pandas as pd

from fleetopt.catalog.calibration import report as calibration_report
from fleetopt.catalog.claims import ClaimConditions, claims_table, format_claims
from fleetopt.catalog.measured import load_measured, rows_at
from fleetopt.catalog.operating_point import answer
from fleetopt.catalog.perf import (
    CATALOG_DIR,
    Catalog,
    load_catalog,
    max_user_tps,
    merge_measured,
    select,
    served_variants,
    write_throughput,
)
from fleetopt.cli.options import OUT_PATH, FieldParam
from fleetopt.core.errors import CaseError, Problem
from fleetopt.io.case import read_table_file
from fleetopt.io.ownership import FileKind, claim_file
from fleetopt.io.schema import (
    PRECISIONS,
    SERVING_KEY,
    SITES,
    THROUGHPUT,
    WORKLOADS,
    Field,
    FieldType,
    TableSpec,
)


def _column_param(table: TableSpec, column: str) -> FieldParam:
    """A number option with the range of a case table's column (docs/case-format.md)."""
    return FieldParam(Field(FieldType.NUMBER, None, table.column(column).range))


USER_TPS = _column_param(THROUGHPUT, "user_tps")


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
    "--workloads",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="a case's workloads.csv: rows at each workload's model, isl, osl and precision",
)
@click.option(
    "--out",
    type=OUT_PATH,
    help="write rows to this CSV (new, or an earlier `fleetopt perf --out`, unless --overwrite)",
)
@click.option("--overwrite", is_flag=True, help="replace --out even if fleetopt did not write it")
@click.option(
    "--calibration",
    is_flag=True,
    help="print the model's error against every measured point, by source",
)
@click.option("--isl", type=click.IntRange(min=1), help="query: input tokens per request")
@click.option("--osl", type=click.IntRange(min=1), help="query: output tokens per request")
@click.option(
    "--user-tps",
    type=USER_TPS,
    help="query: per-user decode tokens/s to meet (default: the most throughput)",
)
@click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    help="query: the weights' format served (default: the model's own)",
)
@click.option("--json", "as_json", is_flag=True, help="query: print one JSON object")
def perf_command(
    catalog_dir: Path | None,
    models: tuple[str, ...],
    rack_types: tuple[str, ...],
    measured: Path | None,
    workloads: Path | None,
    out: Path | None,
    overwrite: bool,
    calibration: bool,
    isl: int | None,
    osl: int | None,
    user_tps: float | None,
    precision: str | None,
    as_json: bool,
) -> None:
    """throughput.csv rows for the catalog's rack types and models.

    The calibrated model's estimates, with the catalog's measured curves (measured.csv)
    where they exist and the rows of --measured on top. With --workloads, the rows of
    every workload's serving key (model, isl, osl, precision), for that case's
    throughput.csv.

    With --calibration, print the calibration report. With --isl and --osl (one
    --rack-type, one --model), print the throughput per GPU and per rack at those lengths:
    the best measured point when one matches, else the model's estimate; --out then writes
    the rack type's rows at those lengths.
    """
    folder = catalog_dir or CATALOG_DIR
    cat = load_catalog(folder)
    _check_names("model", models, cat.models["model"])
    _check_names("rack type", rack_types, cat.specs["rack_type"])
    query = isl is not None or osl is not None or user_tps is not None or as_json
    if calibration:
        if out is not None or workloads is not None or query:
            raise click.UsageError(
                "--calibration prints the calibration report; --out, --workloads and the "
                "query options (--isl, --osl, --user-tps, --json) do not apply to it"
            )
        click.echo(calibration_report(), nl=False)
        return
    if query and workloads is not None:
        raise click.UsageError("--workloads writes rows for a case; a query takes --isl/--osl")
    if not query and precision is not None:
        raise click.UsageError("--precision belongs to a query (--isl/--osl)")
    if workloads is not None and models:
        raise click.UsageError("--workloads takes its models from the file; drop --model")
    if out is not None:
        claim_file(out, FileKind.THROUGHPUT, overwrite=overwrite)  # before any work
    table = load_measured(folder / "measured.csv")
    if query:
        key = _query(cat, table, rack_types, models, isl, osl, user_tps, precision or "", as_json)
        if out is None:
            return
        keys = pd.DataFrame([key])
    else:
        keys = _workload_keys(workloads, cat) if workloads is not None else None
    rows = rows_at(_selected(cat, rack_types, models, keys), table, keys)
    if measured is not None:
        meas = select(read_table_file(measured, THROUGHPUT), rack_types=rack_types, models=models)
        rows = merge_measured(rows, meas)
    if out is not None:
        write_throughput(rows, out, mark=FileKind.THROUGHPUT)
        click.echo(f"wrote {len(rows)} throughput rows to {out}")
        return
    if rows.empty:
        click.echo("no throughput rows: the selected models fit no instance on these rack types")
        return
    shown = rows.drop(columns="source").copy()
    shown["tokens_per_s"] = shown["tokens_per_s"].map("{:,.0f}".format)
    click.echo(shown.to_string(index=False, na_rep=""))


def _selected(cat: Catalog, rack_types, models, keys: pd.DataFrame | None) -> Catalog:
    """The catalog restricted to the asked rack types and models (a workloads file's models
    when it gives them)."""
    wanted = tuple(keys["model"].unique()) if keys is not None else models
    return Catalog(
        racks=cat.racks,
        specs=select(cat.specs, rack_types=rack_types),
        models=select(cat.models, models=wanted),
        throughput=cat.throughput,
    )


def _workload_keys(path: Path, cat: Catalog) -> pd.DataFrame:
    """The serving keys (model, isl, osl, precision) of a case's workloads.csv, read and
    checked as a case reads it, and then: models the catalog has, isl and osl together
    (every problem of these at once, exit 2)."""
    table = read_table_file(path, WORKLOADS)
    known = set(cat.models["model"])
    problems = [
        Problem(str(path), f"unknown model {name!r}; known: {sorted(known)}", i, column="model")
        for i, name in enumerate(table["model"], start=1)
        if name not in known
    ]
    problems += [
        Problem(str(path), "isl and osl go together: give both or neither", i, column="osl")
        for i, alone in enumerate(table["isl"].isna() != table["osl"].isna(), start=1)
        if alone
    ]
    if problems:
        raise CaseError(problems)
    return table[list(SERVING_KEY)].drop_duplicates(ignore_index=True)


def _query(
    cat: Catalog,
    table: pd.DataFrame,
    rack_types: tuple[str, ...],
    models: tuple[str, ...],
    isl: int | None,
    osl: int | None,
    user_tps: float | None,
    precision: str,
    as_json: bool,
) -> dict:
    """`fleetopt perf --rack-type R --model M --isl I --osl O [--user-tps U] [--precision P]
    [--json]`; returns the query's serving key (for --out)."""
    if len(rack_types) != 1 or len(models) != 1 or isl is None or osl is None:
        raise click.UsageError(
            "a query needs exactly one --rack-type, one --model, --isl and --osl; "
            f"rack types: {', '.join(sorted(cat.specs['rack_type']))}; "
            f"models: {', '.join(sorted(cat.models['model']))}"
        )
    rack_type, model = rack_types[0], models[0]
    result = answer(cat.specs, cat.models, table, rack_type, model, isl, osl, user_tps, precision)
    if result is None:
        raise click.UsageError(_unreachable(cat, rack_type, model, isl, osl, user_tps, precision))
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo("\n".join(f"{k}: {v}" for k, v in result.items()))
    return {"model": model, "isl": float(isl), "osl": float(osl), "precision": precision}


def _unreachable(
    cat: Catalog, rack_type: str, model: str, isl: int, osl: int, user_tps, precision: str
) -> str:
    """Why a query has no answer: the model does not fit, or the speed is out of reach."""
    keys = pd.DataFrame([{"model": model, "isl": isl, "osl": osl, "precision": precision}])
    variant = served_variants(cat.models, keys).drop(columns="model")
    fastest = max_user_tps(
        cat.specs[cat.specs["rack_type"] == rack_type],
        variant.rename(columns={"variant": "model"}),
    )
    if fastest.empty:
        return f"{model} fits no instance of {rack_type} at {isl}/{osl} tokens"
    top = float(fastest["max_user_tps"].iloc[0])
    return (
        f"no operating point of {rack_type} on {model} at {isl}/{osl} tokens reaches "
        f"{user_tps:g} tokens/s per user; valid --user-tps: (0, {math.floor(top * 100) / 100:g}]"
    )


@click.command("claims")
@_catalog_option
@click.option("--model", default=ClaimConditions.model, show_default=True)
@click.option(
    "--interactive-user-tps",
    type=USER_TPS,
    default=ClaimConditions.interactive_user_tps,
    show_default=True,
    help="per-user decode SLO for the per-MW and cost claims",
)
@click.option(
    "--agentic-user-tps",
    type=USER_TPS,
    default=ClaimConditions.agentic_user_tps,
    show_default=True,
    help="per-user decode SLO for the disaggregation claim",
)
@click.option(
    "--energy-usd-per-mwh",
    type=_column_param(SITES, "energy_usd_per_mwh"),
    default=ClaimConditions.energy_usd_per_mwh,
    show_default=True,
)
@click.option(
    "--pue",
    type=_column_param(SITES, "pue"),
    default=ClaimConditions.pue,
    show_default=True,
)
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
