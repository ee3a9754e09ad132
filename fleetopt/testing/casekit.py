"""Writing small case folders for tests: rows as lists of dicts, None for a blank cell.

    case_dir = write_case(tmp_path, racks=[rack(rack_type="a", power_kw=50)], ...)

Every table defaults to one minimal valid row (RACK, SITE, WORKLOAD, DECODE/PREFILL), so
a test only spells out what it is about. The `rack`, `site`, ... helpers return a default
row with some values changed; a value of OMIT drops that column from the row.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from fleetopt.io.schema import (
    INSTALLED,
    RACKS,
    SITE_PERIODS,
    SITES,
    THROUGHPUT,
    WORKLOAD_PERIODS,
    WORKLOADS,
    TableSpec,
)

Row = Mapping[str, Any]
OMIT = object()  # a row value that leaves the column out of that row

RACK: dict[str, Any] = {
    "rack_type": "r1",
    "kind": "gpu",
    "capex_usd": 3_000_000,
    "lifetime_years": 5,
    "power_kw": 120,
}
SITE: dict[str, Any] = {
    "site": "s1",
    "region": "eu",
    "power_cap_mw": 10,
    "energy_usd_per_mwh": 80,
}
WORKLOAD: dict[str, Any] = {
    "workload": "w1",
    "model": "m1",
    "prefill_tokens_per_s": 1000,
    "decode_tokens_per_s": 500,
}
PREFILL: dict[str, Any] = {
    "rack_type": "r1",
    "model": "m1",
    "phase": "prefill",
    "tokens_per_s": 100_000,
}
DECODE: dict[str, Any] = {
    "rack_type": "r1",
    "model": "m1",
    "phase": "decode",
    "tokens_per_s": 20_000,
    "user_tps": 50,
}
CONFIG: dict[str, Any] = {"name": "test", "objective": "min_cost"}

_SPECS: dict[str, TableSpec] = {
    "racks": RACKS,
    "sites": SITES,
    "workloads": WORKLOADS,
    "throughput": THROUGHPUT,
    "installed": INSTALLED,
    "site_periods": SITE_PERIODS,
    "workload_periods": WORKLOAD_PERIODS,
}


def _with(base: Row, changes: Mapping[str, Any]) -> dict[str, Any]:
    row = {**base, **changes}
    return {k: v for k, v in row.items() if v is not OMIT}


def rack(**changes: Any) -> dict[str, Any]:
    """RACK with some values changed (OMIT drops a column)."""
    return _with(RACK, changes)


def site(**changes: Any) -> dict[str, Any]:
    """SITE with some values changed (OMIT drops a column)."""
    return _with(SITE, changes)


def workload(**changes: Any) -> dict[str, Any]:
    """WORKLOAD with some values changed (OMIT drops a column)."""
    return _with(WORKLOAD, changes)


def prefill(**changes: Any) -> dict[str, Any]:
    """A prefill throughput row (PREFILL) with some values changed."""
    return _with(PREFILL, changes)


def decode(**changes: Any) -> dict[str, Any]:
    """A decode throughput row (DECODE) with some values changed."""
    return _with(DECODE, changes)


def write_case(
    tmp_path: Path,
    racks: Sequence[Row] | None = None,
    sites: Sequence[Row] | None = None,
    workloads: Sequence[Row] | None = None,
    throughput: Sequence[Row] | None = None,
    installed: Sequence[Row] | None = None,
    config: Mapping[str, Any] | None = None,
    *,
    site_periods: Sequence[Row] | None = None,
    workload_periods: Sequence[Row] | None = None,
    name: str = "case",
    parquet: Sequence[str] = (),
    config_text: str | None = None,
) -> Path:
    """Write a case folder `tmp_path/name` and return its path.

    Tables left as None get one default row (installed, site_periods and workload_periods:
    no file). An empty list writes a
    header with the table's required columns and no rows. Columns are the union of the
    rows' keys in first-seen order; a missing key or None is a blank cell. `config` is
    merged over CONFIG at the top level (a None value removes the key); `config_text`
    replaces case.yaml verbatim. Stems in `parquet` are written as .parquet, not .csv.
    """
    folder = Path(tmp_path) / name
    folder.mkdir(parents=True, exist_ok=True)
    tables = {
        "racks": [RACK] if racks is None else racks,
        "sites": [SITE] if sites is None else sites,
        "workloads": [WORKLOAD] if workloads is None else workloads,
        "throughput": [PREFILL, DECODE] if throughput is None else throughput,
        "installed": installed,
        "site_periods": site_periods,
        "workload_periods": workload_periods,
    }
    for stem, rows in tables.items():
        if rows is None:
            continue
        write_table(folder, stem, rows, parquet=stem in parquet)
    if config_text is not None:
        (folder / "case.yaml").write_text(config_text, encoding="utf-8")
    else:
        merged = {k: v for k, v in {**CONFIG, **(config or {})}.items() if v is not None}
        (folder / "case.yaml").write_text(yaml.safe_dump(merged, sort_keys=False), "utf-8")
    return folder


def write_table(folder: Path, stem: str, rows: Sequence[Row], *, parquet: bool = False) -> Path:
    """Write one table as `stem.csv` (or `stem.parquet`); returns the file's path."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    if not rows and stem in _SPECS:
        columns = [c.name for c in _SPECS[stem].columns if c.required]
    if parquet:
        path = folder / f"{stem}.parquet"
        frame = pd.DataFrame([{c: row.get(c) for c in columns} for row in rows], columns=columns)
        frame.to_parquet(path, index=False)
        return path
    path = folder / f"{stem}.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else row[c] for c in columns])
    return path
