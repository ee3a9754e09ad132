"""`fleetopt export`: every table of a run folder, for a spreadsheet, as a folder of CSV files
or one Excel workbook.

The tables are the run's Parquet files and those of its parts (a nightly run's stages, a
robust run's sweep, evaluate and choice), named by where they lie (`racks`,
`robust.choice.racks`); the resumable state of an unfinished part (`parts/`, `state/`) is
not a result and is left out. Two more tables say what the run is: `summary` (summary.json,
or a nightly run's record of its stages' results, one row per key) and `parameters` (the
run's kind, status and parameters from run.json). A `period` column (a year) is named `year`;
a cell holding a list (a scenario's warnings) is written as JSON; every other value as it
is, at full precision.

A CSV export is a folder (`NAME.csv` per table, and its mark file); a workbook has one
sheet per table (a name of at most 31 characters, as Excel allows). What is written where
follows fleetopt.io.ownership: only new, or fleetopt's own earlier export, unless
`overwrite`; the output is complete or absent.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fleetopt.core.errors import RunFolderError
from fleetopt.io.ownership import (
    EXPORT_MARK_FILE,
    FileKind,
    claim_export_folder,
    claim_file,
)
from fleetopt.io.runfolder import RUN_RECORD, is_complete, read_record
from fleetopt.io.store import replace_folder_atomic, write_csv_atomic, write_file_atomic
from fleetopt.results import yearly
from fleetopt.results.schema import read_json

SKIPPED_FOLDERS = ("parts", "state")  # resumable work, not results
EXCEL_ROWS = 1_048_575  # rows of data an Excel sheet holds under its header
EXCEL_NAME = 31  # characters in a sheet name
SUMMARY, PARAMETERS = "summary", "parameters"


class Format(enum.StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


def run_tables(run_dir: str | Path) -> dict[str, pd.DataFrame]:
    """Every table of a complete run folder, as exported (see the module), in name order:
    the Parquet tables, then `summary` and `parameters`."""
    run = Path(run_dir)
    record = read_record(run)
    if record is None:
        raise RunFolderError(f"{run} is not a fleetopt run folder (no readable {RUN_RECORD})")
    if not is_complete(run):
        raise RunFolderError(f"{run} is an incomplete {record.kind} run: finish or resume it first")
    tables = {name: exported(pd.read_parquet(path)) for name, path in sorted(_parquet_files(run))}
    data = read_json(run / RUN_RECORD)
    summary = run / "summary.json"
    tables[SUMMARY] = _key_values(
        read_json(summary) if summary.exists() else data.get("stages", {})
    )
    parameters = {"kind": record.kind, "status": record.status, **(data.get("params") or {})}
    tables[PARAMETERS] = _key_values(parameters)
    return tables


def _parquet_files(run: Path) -> Iterator[tuple[str, Path]]:
    for path in run.rglob("*.parquet"):
        folders = path.relative_to(run).parts[:-1]
        if any(f in SKIPPED_FOLDERS or f.startswith(".") for f in folders):
            continue
        if path.name.startswith("."):  # a write in progress
            continue
        yield ".".join([*folders, path.stem]), path


def exported(table: pd.DataFrame) -> pd.DataFrame:
    """A table as it is exported: `period` named `year`, cells holding lists (or arrays,
    or mappings) as JSON text."""
    out = table.rename(columns={yearly.PERIOD: "year"})
    for column in out.columns:
        if out[column].dtype == object and out[column].map(_is_nested).any():
            out[column] = out[column].map(_as_json)
    return out


def _is_nested(value: Any) -> bool:
    return isinstance(value, list | tuple | dict | np.ndarray)


def _as_json(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    return json.dumps(value) if _is_nested(value) else value


def _key_values(data: Mapping[str, Any]) -> pd.DataFrame:
    """A JSON object as rows (key, value): nested keys joined by dots, lists as JSON."""
    rows = list(_flatten(data, ""))
    return pd.DataFrame(
        {"key": [k for k, _ in rows], "value": [_cell(v) for _, v in rows]},
        columns=["key", "value"],
    )


def _flatten(data: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for key, value in data.items():
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _cell(value: Any) -> str:
    """A summary value as text (one column of one type): numbers at full precision."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def sheet_names(names: list[str]) -> dict[str, str]:
    """A sheet name per table name: at most 31 characters, none of []:*?/\\, all distinct."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        clean = "".join("_" if c in "[]:*?/\\" else c for c in name)
        sheet, i = clean[:EXCEL_NAME], 1
        while sheet.lower() in taken:
            i += 1
            suffix = f"~{i}"
            sheet = clean[: EXCEL_NAME - len(suffix)] + suffix
        taken.add(sheet.lower())
        out[name] = sheet
    return out


def export_run(
    run_dir: str | Path, out: str | Path, fmt: Format, *, overwrite: bool = False
) -> Path:
    """Write every table of the run in `run_dir` to `out` (a folder of CSV files, or one
    .xlsx workbook); returns `out`. `out` is claimed before anything is read."""
    target = Path(out)
    if fmt is Format.XLSX:
        claim_file(target, FileKind.WORKBOOK, overwrite=overwrite)
        tables = run_tables(run_dir)
        too_long = [f"{n} ({len(t):,d} rows)" for n, t in tables.items() if len(t) > EXCEL_ROWS]
        if too_long:
            raise RunFolderError(
                f"{', '.join(too_long)}: more rows than an Excel sheet holds"
                f" ({EXCEL_ROWS:,d}); nothing was written: export --format csv"
            )
        write_file_atomic(target, lambda tmp: _write_workbook(tmp, tables))
        return target
    whole = claim_export_folder(target, overwrite=overwrite)
    tables = run_tables(run_dir)
    if whole:
        replace_folder_atomic(target, lambda folder: _write_csvs(folder, tables))
    else:
        _write_csvs(target, tables)
    return target


def _write_csvs(folder: Path, tables: Mapping[str, pd.DataFrame]) -> None:
    """`NAME.csv` per table and the mark file listing them, each written atomically."""
    files = [f"{name}.csv" for name in tables]
    for name, table in tables.items():
        write_csv_atomic(folder / f"{name}.csv", table)
    mark = {"generator": FileKind.WORKBOOK.mark, "files": files}
    write_file_atomic(
        folder / EXPORT_MARK_FILE, lambda tmp: tmp.write_text(json.dumps(mark, indent=2) + "\n")
    )


def _write_workbook(path: Path, tables: Mapping[str, pd.DataFrame]) -> None:
    """One sheet per table; the workbook's author and last editor are the export's mark."""
    sheets = sheet_names(list(tables))
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, table in tables.items():
            table.to_excel(writer, sheet_name=sheets[name], index=False)
        properties = writer.book.properties
        properties.creator = properties.lastModifiedBy = FileKind.WORKBOOK.mark
        properties.title = "fleetopt export"


def read_export(path: str | Path) -> dict[str, pd.DataFrame]:
    """An export read back (tests, and anyone checking one): each table by its name."""
    source = Path(path)
    if source.is_dir():
        return {
            csv.stem: pd.read_csv(csv, keep_default_na=False, na_values=[""])
            for csv in sorted(source.glob("*.csv"))
        }
    sheets: dict[str, pd.DataFrame] = pd.read_excel(source, sheet_name=None)
    return sheets
