"""Reading a case folder into a typed, validated `Case` (docs/model.md section 1).

This is the one place inputs are checked: every table comes out with exact dtypes and
defaults filled, so model code never re-checks. Problems are collected across all files
and raised together in one `CaseError`, each pointing at a file, row, column and value.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from fleetopt.core.errors import CaseError, Problem
from fleetopt.io.fields import INVALID, check_field, type_name
from fleetopt.io.schema import (
    ALL_REGIONS,
    CASE_FIELDS,
    CASE_FILE,
    CASE_FILES,
    DEMAND,
    DEMAND_COLUMNS,
    INSTALLED,
    PERIOD_COLUMNS,
    PERIOD_TABLES,
    RACKS,
    REGION_LIST,
    REGION_SEPARATOR,
    SERVING_KEY,
    SITE_PERIODS,
    SITES,
    SOLVER_FIELDS,
    TABLE_FORMATS,
    TABLES,
    THROUGHPUT,
    UNCERTAINTY_ATTRS,
    WORKLOAD_PERIODS,
    WORKLOADS,
    Column,
    ColumnType,
    FromCase,
    Objective,
    SolverName,
    TableSpec,
    format_number,
)
from fleetopt.io.solver import SolverOptions

__all__ = [
    "Case",
    "Objective",
    "Uncertainty",
    "case_digest",
    "case_fingerprint",
    "case_warnings",
    "demand_factors",
    "read_case",
    "read_table_file",
]


@dataclass(frozen=True)
class Uncertainty:
    """Scenario draws (docs/model.md section 5); omitted parts draw nothing."""

    seed: int = 0
    growth_median: float = 1.0
    growth_sigma: float = 0.0
    workload_sigma: float = 0.0
    energy_sigma: float = 0.0
    power_cap_probability: float = 0.0
    power_cap_derate: float = 0.0
    supply_probability: float = 0.0
    supply_cut: float = 0.0
    throughput_sigma: float = 0.0  # default of racks.csv throughput_sigma (filled there)


@dataclass(frozen=True, eq=False)
class Case:
    """A validated case: run parameters and typed tables with defaults filled.

    Tables keep their file's row order with index 0..n-1. String columns hold Python str in
    object dtype, numbers float64 (integer columns too, whole, with inf for unlimited and
    -inf for an `available_from` left blank), liquid_cooling bool; workloads has an extra
    `region_list` tuple column (() means `*`). `periods` are the years of a multi-period
    case (docs/model.md section 8), () for one steady-state year; site_periods values left blank
    are NaN (the site's own).
    """

    name: str
    objective: Objective
    discount_rate: float
    unmet_penalty_usd_per_mtok: float
    max_utilization: float
    periods: tuple[int, ...]
    solver: SolverOptions
    uncertainty: Uncertainty
    racks: pd.DataFrame
    sites: pd.DataFrame
    workloads: pd.DataFrame
    throughput: pd.DataFrame
    installed: pd.DataFrame
    site_periods: pd.DataFrame
    workload_periods: pd.DataFrame
    shortfall_penalty_usd_per_mtok: float | None = None  # None: 10x each unmet penalty
    recourse_capex_premium: float | None = None  # None: no recourse purchases

    @property
    def multi_period(self) -> bool:
        """Whether the case plans an order schedule over `periods` (docs/model.md section 8)."""
        return bool(self.periods)

    def replace(self, **changes: Any) -> Case:
        """A copy with some fields changed (dataclasses.replace; not re-validated)."""
        return dataclasses.replace(self, **changes)


# --- reading the folder -----------------------------------------------------------------


def read_case(path: str | os.PathLike[str]) -> Case:
    """Read and validate the case folder at `path`; raises CaseError with every problem."""
    folder = Path(path)
    problems: list[Problem] = []
    _check_folder(folder, problems)
    if problems:
        raise CaseError(problems)

    config, invalid = _read_config(folder, problems)
    tables: dict[str, pd.DataFrame | None] = {}
    files: dict[str, str] = {}
    for spec in TABLES:
        files[spec.stem], tables[spec.stem] = _read_table(folder, spec, config, problems)
    _check_references(tables, files, problems)
    _check_regions(tables, files, problems)
    _check_serving_keys(tables, files, problems)
    _check_installed_cooling(tables, files, problems)
    _check_installed_fits(tables, files, problems)
    if "periods" not in invalid:  # else the rules that depend on periods would all fire
        _check_periods(config, tables, files, problems)
        _check_demand(config, tables, files, problems)
    _check_objective(config, tables, problems)
    _check_shortfall_penalty(config, tables, problems)
    if problems:
        raise CaseError(sorted(problems, key=_problem_order))

    solver = SolverOptions(
        name=SolverName(config["solver.name"]),
        **{k: config[f"solver.{k}"] for k in SOLVER_FIELDS if k != "name"},
    )
    uncertainty = Uncertainty(
        **{attr: config[f"uncertainty.{key}"] for key, attr in UNCERTAINTY_ATTRS.items()}
    )
    return Case(
        name=config["name"] if config["name"] is not None else folder.resolve().name,
        objective=Objective(config["objective"]),
        discount_rate=config["discount_rate"],
        unmet_penalty_usd_per_mtok=config["unmet_penalty_usd_per_mtok"],
        max_utilization=config["max_utilization"],
        periods=config["periods"] or (),
        solver=solver,
        uncertainty=uncertainty,
        racks=tables["racks"],
        sites=tables["sites"],
        workloads=tables["workloads"],
        throughput=tables["throughput"],
        installed=tables["installed"],
        site_periods=tables["site_periods"],
        workload_periods=tables["workload_periods"],
        shortfall_penalty_usd_per_mtok=config["shortfall_penalty_usd_per_mtok"],
        recourse_capex_premium=config["recourse.capex_premium"],
    )


def read_table_file(path: str | os.PathLike[str], spec: TableSpec) -> pd.DataFrame:
    """One table file (CSV or Parquet), outside a case, read and checked by `spec` as a case
    table is (case.yaml defaults; no references to other tables); raises CaseError."""
    file = Path(path)
    problems: list[Problem] = []
    config = {key: field.default for key, field in CASE_FIELDS.items()}
    read = _read_parquet_text if file.suffix == ".parquet" else _read_csv_text
    raw = read(file, str(file), problems)
    table = None if raw is None else _parse_table(raw, spec, str(file), config, problems)
    if problems or table is None:
        raise CaseError(problems)
    return table


def case_digest(path: str | os.PathLike[str]) -> str:
    """sha256 (hex) over the case files, sorted by name, for run manifests.

    Each file contributes its name, its size and its bytes, so renaming a file or moving
    bytes between files changes the digest. Only case files count (case.yaml and the
    table files); other files in the folder (notes, outputs) do not.
    """
    folder = Path(path)
    problems: list[Problem] = []
    _check_folder(folder, problems)
    if problems:
        raise CaseError(problems)
    digest = hashlib.sha256()
    for name in sorted(n for n in CASE_FILES if (folder / n).is_file()):
        try:
            data = (folder / name).read_bytes()
        except OSError as exc:
            raise CaseError([Problem(name, f"cannot read: {exc.strerror or exc}")]) from None
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def case_fingerprint(case: Case) -> str:
    """sha256 (hex) of a case's content: its parameters and every table, cell by cell.

    Two cases with the same fingerprint solve identically; a run records it so that a case
    edited since (or built in memory, with no folder) is never taken for the one it ran.
    """
    digest = hashlib.sha256()
    scalars = {
        f.name: getattr(case, f.name)
        for f in dataclasses.fields(case)
        if not isinstance(getattr(case, f.name), pd.DataFrame)
    }
    digest.update(repr(sorted(scalars.items())).encode())
    for field in dataclasses.fields(case):
        table = getattr(case, field.name)
        if isinstance(table, pd.DataFrame):
            digest.update(f"{field.name}\0{list(table.columns)}\0{len(table)}\0".encode())
            digest.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def case_warnings(case: Case) -> list[str]:
    """What a planner should look at that is not an error: racks no site can take or no
    period can take new, odd throughput curves."""
    return _fits_no_site(case) + _never_available(case) + _dominated_decode_points(case)


def _fits_no_site(case: Case) -> list[str]:
    """Rack types no site can hold: their cooling, floor slots or power (one rack at the
    site's PUE against its largest cap in any period) fit nowhere; the model never buys
    them."""
    racks, sites = case.racks, case.sites
    caps = case.site_periods.groupby("site")["power_cap_mw"].max()
    cap_mw = np.fmax(sites["power_cap_mw"].to_numpy(), sites["site"].map(caps).to_numpy(float))
    cooled = (racks["cooling"].to_numpy() != "liquid")[:, None] | sites["liquid_cooling"].to_numpy(
        dtype=bool
    )[None, :]
    room = racks["slots"].to_numpy()[:, None] <= sites["max_slots"].to_numpy()[None, :]
    rack_mw = racks["power_kw"].to_numpy()[:, None] * sites["pue"].to_numpy()[None, :] / 1000
    powered = rack_mw <= cap_mw[None, :]
    lines = []
    for r in np.flatnonzero(~(cooled & room & powered).any(axis=1)):
        why = (
            "it is liquid-cooled and no site has liquid_cooling"
            if not cooled[r].any()
            else "one rack needs more floor slots or power than any site whose cooling fits it has"
        )
        lines.append(
            f"rack type {racks['rack_type'].iloc[r]}: fits no site ({why}); the plan never uses it"
        )
    return lines


def _never_available(case: Case) -> list[str]:
    """Rack types no period of a multi-period case can take new (window or lead time)."""
    if not case.multi_period:
        return []
    years = np.asarray(case.periods, dtype=float)
    racks = case.racks
    open_years = (
        (years[None, :] >= racks["available_from"].to_numpy()[:, None])
        & (years[None, :] <= racks["available_until"].to_numpy()[:, None])
        & (years[None, :] >= years[0] + racks["lead_time_years"].to_numpy()[:, None])
    )
    never = racks.loc[~open_years.any(axis=1), "rack_type"]
    return [
        f"rack type {rack}: no period from {case.periods[0]} to {case.periods[-1]} lets a new "
        "one enter service (availability window and lead time); only installed racks serve"
        for rack in never
    ]


MAX_CURVE_WARNINGS = 10


def _dominated_decode_points(case: Case) -> list[str]:
    """Decode rows beaten by a faster point of the same curve (more tokens/s at a higher
    per-user speed).

    On one system, serving users faster means smaller batches and fewer tokens per rack, so
    such a row is usually a typo (swapped columns, a unit slip). It is a warning, not an
    error: curves measured with different parallel layouts can cross, and the model is
    well defined either way (each SLO takes the best point at or above it, so the beaten
    row is never used).
    """
    rows = case.throughput.reset_index(drop=True)
    keyed = pd.concat(
        [rows[["rack_type", "phase", "tokens_per_s", "user_tps"]], serving_keys(rows)], axis=1
    )
    curve_key = ["rack_type", *SERVING_KEY]
    decode = keyed[keyed["phase"] == "decode"]
    decode = decode.sort_values([*curve_key, "user_tps"], ascending=[True] * 5 + [False])
    faster_best = decode.groupby(curve_key, sort=False)["tokens_per_s"].cummax()
    faster_best = faster_best.groupby([decode[c] for c in curve_key]).shift(1)
    beaten = decode[faster_best > decode["tokens_per_s"]].sort_index()
    lines = [
        f"{THROUGHPUT.stem}.csv row {i + 1} ({r.rack_type}, {r.model}, decode at {r.user_tps:g}"
        f" tokens/s per user): {r.tokens_per_s:,.6g} tokens/s is beaten by a faster point of the"
        " same curve; a faster per-user speed should not give more throughput on the same"
        " system, so check the row (the model never uses it)"
        for i, r in zip(beaten.index, beaten.itertuples(), strict=True)
    ]
    if len(lines) > MAX_CURVE_WARNINGS:
        more = len(lines) - MAX_CURVE_WARNINGS
        lines = [*lines[:MAX_CURVE_WARNINGS], f"... and {more} more decode rows beaten likewise"]
    return lines


_FILE_ORDER = {CASE_FILE: 0} | {
    f"{t.stem}.{fmt}": i for i, t in enumerate(TABLES, start=1) for fmt in TABLE_FORMATS
}


def _problem_order(problem: Problem) -> tuple[int, int]:
    """Problems grouped by file (case.yaml, then tables in docs/model.md order), then by row."""
    return _FILE_ORDER.get(problem.file, len(_FILE_ORDER)), problem.row or 0


def _check_folder(folder: Path, problems: list[Problem]) -> None:
    """The case folder must exist and be a folder."""
    if not folder.exists():
        problems.append(Problem(str(folder), "case folder not found"))
    elif not folder.is_dir():
        problems.append(Problem(str(folder), "not a folder; a case is a folder of files"))


# --- case.yaml --------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, which plain YAML silently lets win last."""


def _construct_mapping(
    loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False
) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first on line {seen[key]})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_config(folder: Path, problems: list[Problem]) -> tuple[dict[str, Any], set[str]]:
    """case.yaml as {dotted key: checked value}, defaults filled; bad values get defaults
    and are named in the second result."""
    config = {key: field.default for key, field in CASE_FIELDS.items()}
    invalid: set[str] = set()
    path = folder / CASE_FILE
    if not path.is_file():
        problems.append(Problem(CASE_FILE, "missing required file"))
        return config, invalid
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)
    except OSError as exc:
        problems.append(Problem(CASE_FILE, f"cannot read: {exc.strerror or exc}"))
        return config, invalid
    except UnicodeDecodeError as exc:
        problems.append(Problem(CASE_FILE, f"not UTF-8 text: {exc.reason}"))
        return config, invalid
    except yaml.YAMLError as exc:
        problems.append(Problem(CASE_FILE, _yaml_error_message(exc)))
        return config, invalid
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append(
            Problem(CASE_FILE, f"must be a mapping of keys to values, got {type_name(data)}")
        )
        return config, invalid
    for key, value in _flatten(data, "", problems).items():
        checked = check_field(value, key, CASE_FIELDS[key], CASE_FILE, problems)
        if checked is INVALID:
            invalid.add(key)
        else:
            config[key] = checked
    return config, invalid


def _yaml_error_message(exc: yaml.YAMLError) -> str:
    """'invalid YAML at line 3, column 7: <what the parser says>'."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    what = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return f"invalid YAML: {what}"
    return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {what}"


def _flatten(data: Mapping[Any, Any], prefix: str, problems: list[Problem]) -> dict[str, Any]:
    """Leaf values by dotted key; unknown keys and misplaced scalars become problems."""
    leaves: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = f"{prefix}{raw_key}"
        if key in CASE_FIELDS:
            leaves[key] = value
            continue
        children = sorted(
            {k[len(key) + 1 :].split(".")[0] for k in CASE_FIELDS if k.startswith(f"{key}.")}
        )
        if not children:
            siblings = sorted(
                {k[len(prefix) :].split(".")[0] for k in CASE_FIELDS if k.startswith(prefix)}
            )
            problems.append(
                Problem(
                    CASE_FILE, f"unknown key; expected one of {', '.join(siblings)}", column=key
                )
            )
        elif value is None:
            continue  # an empty section: all defaults
        elif not isinstance(value, dict):
            problems.append(
                Problem(
                    CASE_FILE,
                    f"must be a mapping with keys {', '.join(children)}, got {type_name(value)}",
                    column=key,
                )
            )
        else:
            leaves.update(_flatten(value, f"{key}.", problems))
    return leaves


# --- tables -----------------------------------------------------------------------------


def _read_table(
    folder: Path, spec: TableSpec, config: Mapping[str, Any], problems: list[Problem]
) -> tuple[str, pd.DataFrame | None]:
    """Find, read and parse one table: its file name, and the table or None if unusable."""
    found = [
        f"{spec.stem}.{fmt}" for fmt in TABLE_FORMATS if (folder / f"{spec.stem}.{fmt}").is_file()
    ]
    if len(found) > 1:
        problems.append(
            Problem(found[0], f"both {' and '.join(found)} exist; keep only one of them")
        )
        return found[0], None
    if not found:
        if spec.required:
            problems.append(
                Problem(f"{spec.stem}.csv", f"missing required file (or {spec.stem}.parquet)")
            )
            return f"{spec.stem}.csv", None
        return f"{spec.stem}.csv", _empty_table(spec)
    file = found[0]
    path = folder / file
    read = _read_parquet_text if file.endswith(".parquet") else _read_csv_text
    raw = read(path, file, problems)
    if raw is None:
        return file, None
    return file, _parse_table(raw, spec, file, config, problems)


def _read_csv_text(path: Path, file: str, problems: list[Problem]) -> pd.DataFrame | None:
    """A CSV as a frame of stripped str cells with a header checked for duplicates."""
    try:
        grid = pd.read_csv(
            path,
            header=None,
            dtype=str,
            keep_default_na=False,
            encoding="utf-8-sig",
            skiprows=_comment_lines(path),
            # pandas < 3's C parser ends a cell at a NUL byte, hiding it from the check that
            # names it; the python parser keeps it.
            engine="python" if b"\0" in path.read_bytes() else "c",
        )
    except OSError as exc:
        problems.append(Problem(file, f"cannot read: {exc.strerror or exc}"))
        return None
    except pd.errors.EmptyDataError:
        problems.append(Problem(file, "file is empty; expected a header line with column names"))
        return None
    except pd.errors.ParserError as exc:
        problems.append(Problem(file, f"cannot parse CSV: {str(exc).strip()}"))
        return None
    except UnicodeDecodeError as exc:
        problems.append(Problem(file, f"not UTF-8 text: {exc.reason} at byte {exc.start}"))
        return None
    header = [str(h).strip() for h in grid.iloc[0]]
    body = grid.iloc[1:].reset_index(drop=True)
    body.columns = range(len(header))
    return _text_frame(body, header, file, problems)


def _comment_lines(path: Path) -> int:
    """Lines before the header that start with '#': comments (fleetopt perf marks its output
    with one). Unreadable: 0 (the read that follows says why)."""
    count = 0
    try:
        with path.open("rb") as f:
            for line in f:
                if not line.removeprefix(b"\xef\xbb\xbf" if count == 0 else b"").startswith(b"#"):
                    break
                count += 1
    except OSError:
        return 0
    return count


def _read_parquet_text(path: Path, file: str, problems: list[Problem]) -> pd.DataFrame | None:
    """A Parquet file turned into the same text cells a CSV gives, so one parser serves both."""
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types for a bad file
        problems.append(Problem(file, f"cannot read Parquet: {exc}"))
        return None
    header = [str(c).strip() for c in frame.columns]
    body = pd.DataFrame({i: frame.iloc[:, i].map(_cell_text) for i in range(frame.shape[1])})
    return _text_frame(body.reset_index(drop=True), header, file, problems)


def _cell_text(value: Any) -> str:
    """A Parquet cell as CSV text: missing -> '', floats exact (repr), bools 'true'/'false'."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return repr(float(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def _text_frame(
    body: pd.DataFrame, header: list[str], file: str, problems: list[Problem]
) -> pd.DataFrame | None:
    """Name the columns, refusing duplicate or blank names; cells as stripped object str."""
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if not name:
            problems.append(Problem(file, f"header column {position} has no name"))
        elif name in seen:
            problems.append(Problem(file, "column appears twice in the header", column=name))
        seen.add(name)
    if len(seen) != len(header) or "" in seen:
        return None
    text = {
        name: body.iloc[:, i].astype(str).str.strip().astype(object)
        for i, name in enumerate(header)
    }
    return pd.DataFrame(text, index=pd.RangeIndex(len(body)))


def _empty_table(spec: TableSpec) -> pd.DataFrame:
    """A table with no rows but the spec's columns and dtypes."""
    return pd.DataFrame({c.name: pd.Series([], dtype=_dtype(c)) for c in spec.columns})


def _dtype(column: Column) -> Any:
    if column.type is ColumnType.BOOL:
        return bool
    if column.type in (ColumnType.FLOAT, ColumnType.INT):
        return np.float64
    return object


class _TableCheck:
    """Parses one table's text cells column by column, recording problems by row."""

    def __init__(self, raw: pd.DataFrame, spec: TableSpec, file: str, problems: list[Problem]):
        self.raw = raw
        self.spec = spec
        self.file = file
        self.problems = problems
        self.bad: dict[str | None, pd.Series] = {}  # column -> rows with a problem there
        ids = [raw[c] for c in spec.row_id if c in raw.columns]
        self.row_ids = (
            [
                ", ".join(f"{c}={v}" for c, v in zip(spec.row_id, values, strict=False) if v)
                for values in zip(*ids, strict=True)
            ]
            if ids
            else [""] * len(raw)
        )

    def bad_rows(self, column: str | None) -> pd.Series:
        """Rows with a problem reported in `column` so far."""
        return self.bad.get(column, pd.Series(False, index=self.raw.index))

    def report(self, mask: pd.Series, column: str | None, message: Callable[[int], str]) -> None:
        """One Problem per row where `mask` holds; `message(i)` words it for row i."""
        mask = mask.fillna(False).astype(bool)
        self.bad[column] = self.bad_rows(column) | mask
        for i in np.flatnonzero(mask.to_numpy()):
            self.problems.append(
                Problem(self.file, message(int(i)), int(i) + 1, self.row_ids[i] or None, column)
            )


def _parse_table(
    raw: pd.DataFrame,
    spec: TableSpec,
    file: str,
    config: Mapping[str, Any],
    problems: list[Problem],
) -> pd.DataFrame | None:
    """Text cells -> typed columns in spec order; None when the table is unusable."""
    known = set(spec.names)
    unknown = [c for c in raw.columns if c not in known]
    for name in unknown:
        problems.append(
            Problem(file, f"unknown column; expected one of {', '.join(spec.names)}", column=name)
        )
    missing = [c.name for c in spec.columns if c.required and c.name not in raw.columns]
    for name in missing:
        problems.append(Problem(file, "missing required column", column=name))
    if unknown or missing:
        return None
    if raw.empty and not spec.allow_empty:
        problems.append(Problem(file, "no rows: the table has a header but no data"))
        return None

    check = _TableCheck(raw, spec, file, problems)
    parsed: dict[str, pd.Series] = {}
    for column in spec.columns:
        parsed[column.name] = _parse_column(column, raw, check, config)
    for column in spec.columns:
        if column.type is ColumnType.REGIONS:  # the tuple column goes last, after docs/model.md's
            parsed[REGION_LIST] = _region_lists(parsed[column.name], check, column.name)
    for column in spec.columns:
        if column.required_when is not None:
            _apply_required_when(column, parsed, raw, check)
    table = pd.DataFrame(parsed, index=pd.RangeIndex(len(raw)))
    _check_unique(table, spec, check)
    return table


def _parse_column(
    column: Column, raw: pd.DataFrame, check: _TableCheck, config: Mapping[str, Any]
) -> pd.Series:
    """One column's cells typed, defaults filled, bad cells reported."""
    name = column.name
    default = column.default
    if isinstance(default, FromCase):
        default = config[default.key]
    cells = pd.Series("", index=raw.index, dtype=object) if name not in raw.columns else raw[name]
    blank = cells == ""
    if column.required:
        check.report(blank, name, lambda i: "must not be blank")

    if column.type in (ColumnType.STR, ColumnType.REGIONS):
        hidden = cells.map(_hidden_character)
        check.report(
            hidden != "",
            name,
            lambda i: (
                f"holds an invisible or control character ({hidden.iloc[i]}) in"
                f" {cells.iloc[i]!r}: names are compared as written, so it would make a different"
                " name that looks the same; remove it"
            ),
        )
    if column.type is ColumnType.STR:
        return cells.where(~blank, "" if default is None else default).astype(object)
    if column.type is ColumnType.REGIONS:
        return cells.where(~blank, default).astype(object)
    if column.type is ColumnType.CHOICE:
        wrong = ~blank & ~cells.isin(column.choices)
        check.report(
            wrong,
            name,
            lambda i: f"must be one of {', '.join(column.choices)}; got {cells.iloc[i]!r}",
        )
        filled = cells.where(~blank, "" if default is None else default)
        return filled.where(~wrong, "").astype(object)
    if column.type is ColumnType.BOOL:
        lowered = cells.str.lower()
        true = lowered.isin(("true", "yes", "1"))
        false = lowered.isin(("false", "no", "0"))
        wrong = ~blank & ~true & ~false
        check.report(wrong, name, lambda i: f"must be true or false, got {cells.iloc[i]!r}")
        return (true | (blank & bool(default))).astype(bool)
    return _parse_number(column, cells, blank, default, check)


HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _hidden_character(text: str) -> str:
    """'U+200B' for the first control, format (zero-width), private or unassigned
    character of `text`; '' when it has none."""
    for char in text:
        if unicodedata.category(char) in HIDDEN_CATEGORIES:
            return f"U+{ord(char):04X}"
    return ""


def _parse_number(
    column: Column, cells: pd.Series, blank: pd.Series, default: Any, check: _TableCheck
) -> pd.Series:
    """A FLOAT or INT column as float64; blank -> default (inf = unlimited, NaN = none)."""
    name = column.name
    values = pd.to_numeric(cells.where(~blank), errors="coerce").astype(np.float64)
    not_number = ~blank & values.isna()
    check.report(not_number, name, lambda i: f"must be a number, got {cells.iloc[i]!r}")
    unlimited_ok = default == math.inf
    infinite = values.isin((math.inf, -math.inf)) & ~(unlimited_ok & (values == math.inf))
    check.report(infinite, name, lambda i: f"must be a finite number, got {cells.iloc[i]!r}")
    ok = ~blank & ~not_number & ~infinite
    if column.type is ColumnType.INT:
        fractional = ok & (values != math.inf) & (values != np.floor(values))
        check.report(fractional, name, lambda i: f"must be a whole number, got {cells.iloc[i]!r}")
        ok &= ~fractional
    if column.range is not None:
        rule = column.range
        inside = pd.Series(True, index=values.index)
        if rule.low is not None:
            inside &= values > rule.low if rule.low_open else values >= rule.low
        if rule.high is not None:
            inside &= values < rule.high if rule.high_open else values <= rule.high
        inside |= unlimited_ok & (values == math.inf)  # `inf`: unlimited, as blank is
        check.report(
            ok & ~inside,
            name,
            lambda i: f"must be {rule.describe()}, got {format_number(values.iloc[i])}",
        )
    fill = np.nan if default is None else float(default)
    return values.where(~blank, fill).astype(np.float64)


def _region_lists(regions: pd.Series, check: _TableCheck, name: str) -> pd.Series:
    """`*` -> (), `a; b` -> ('a', 'b'); empty names and `*` inside a list are problems."""
    star = regions == ALL_REGIONS
    parts = regions.map(
        lambda text: (
            () if text == ALL_REGIONS else tuple(p.strip() for p in text.split(REGION_SEPARATOR))
        )
    )
    empty_part = ~star & parts.map(lambda names: "" in names)
    check.report(
        empty_part,
        name,
        lambda i: f"has an empty region name in {regions.iloc[i]!r}; write `*` or a;b;c",
    )
    starred = ~star & parts.map(lambda names: ALL_REGIONS in names)
    check.report(
        starred, name, lambda i: f"`*` stands alone (all regions), got {regions.iloc[i]!r}"
    )
    regions.update(parts[~star].map(REGION_SEPARATOR.join))
    return pd.Series(list(parts), index=regions.index, dtype=object)


def _apply_required_when(
    column: Column, parsed: dict[str, pd.Series], raw: pd.DataFrame, check: _TableCheck
) -> None:
    """Required where the condition holds (reported), dropped (NaN) on the other rows."""
    other, value = column.required_when  # type: ignore[misc]
    applies = parsed[other] == value
    values = parsed[column.name]
    if column.name not in raw.columns:
        if applies.any():
            check.problems.append(
                Problem(
                    check.file,
                    f"missing column, required for {other} {value} rows",
                    column=column.name,
                )
            )
            check.bad[column.name] = check.bad_rows(column.name) | applies
    else:
        check.report(
            applies & (raw[column.name] == ""),
            column.name,
            lambda i: f"must not be blank on a {value} row",
        )
    parsed[column.name] = values.where(applies, np.nan)


def _check_unique(table: pd.DataFrame, spec: TableSpec, check: _TableCheck) -> None:
    """No two rows without other problems may agree on all of spec.unique."""
    if not spec.unique:
        return
    bad = pd.Series(False, index=table.index)
    for name in spec.unique:
        bad |= check.bad_rows(name)
    good = table[~bad]
    repeated = good.duplicated(subset=list(spec.unique), keep="first")
    if not repeated.any():
        return
    first_row = good.groupby(list(spec.unique), dropna=False, sort=False).ngroup()
    first_index = {g: idx for idx, g in zip(good.index[::-1], first_row[::-1], strict=True)}
    mask = pd.Series(False, index=table.index)
    mask[repeated[repeated].index] = True
    if len(spec.unique) == 1:
        key = spec.unique[0]
        check.report(
            mask,
            key,
            lambda i: (
                f"duplicate {key} {table[key].iloc[i]!r}, first on row "
                f"{first_index[first_row[i]] + 1}"
            ),
        )
    else:
        check.report(
            mask,
            None,
            lambda i: (
                f"duplicate of row {first_index[first_row[i]] + 1}: same {', '.join(spec.unique)}"
            ),
        )


# --- checks across tables ---------------------------------------------------------------


def _check_references(
    tables: Mapping[str, pd.DataFrame | None], files: Mapping[str, str], problems: list[Problem]
) -> None:
    """Every reference of TableSpec.references must resolve (when both tables were read)."""
    for spec in TABLES:
        table = tables[spec.stem]
        if table is None:
            continue
        for ref in spec.references:
            target = tables[ref.table]
            if target is None:
                continue
            values = table[ref.column]
            unknown = ~values.isin(set(target[ref.target])) & (values != "")
            check = _checker_for(table, spec, files, problems)

            def says(i: int, values: pd.Series = values, message: str = ref.message) -> str:
                return message.format(value=values.iloc[i])

            check.report(unknown, ref.column, says)


def _not_blank_with(given: str, i: int) -> str:
    """The problem of a row that gives `given` (isl or osl) without the other."""
    return f"must not be blank when {given} is given (isl and osl go together)"


def _check_serving_keys(
    tables: Mapping[str, pd.DataFrame | None], files: Mapping[str, str], problems: list[Problem]
) -> None:
    """isl and osl go together; a workload's model, lengths and precision have throughput rows.

    A workload is served by the throughput rows of its model with the same isl, osl and
    precision (blank matching blank), so a 32k-context workload never takes the figures of
    rows measured or estimated at another length (docs/model.md section 1).
    """
    for spec in (WORKLOADS, THROUGHPUT):
        table = tables[spec.stem]
        if table is None:
            continue
        check = _checker_for(table, spec, files, problems)
        for blank, given in (("osl", "isl"), ("isl", "osl")):
            check.report(
                table[given].notna() & table[blank].isna(), blank, partial(_not_blank_with, given)
            )
    workloads, throughput = tables["workloads"], tables["throughput"]
    if workloads is None or throughput is None:
        return
    served = serving_keys(throughput).drop_duplicates()
    keys = serving_keys(workloads)
    found = keys.merge(served, how="left", indicator=True)["_merge"] == "both"
    modelled = workloads["model"].isin(set(throughput["model"]))
    # A row whose key itself is wrong (already reported) is not looked up.
    wrong = {
        p.row
        for p in problems
        if p.file == files["workloads"]
        and p.column in ("isl", "osl", "precision")
        and p.row is not None
    }
    keyed = ~np.isin(np.arange(1, len(workloads) + 1), list(wrong))
    check = _checker_for(workloads, WORKLOADS, files, problems)
    check.report(
        pd.Series(modelled.to_numpy() & ~found.to_numpy() & keyed, index=workloads.index),
        "model",
        lambda i: (
            f"no row in throughput.csv for model {workloads['model'].iloc[i]!r} at "
            f"{_serving_text(workloads.iloc[i])}: a workload uses the rows with its own isl, osl "
            "and precision"
        ),
    )


def serving_keys(table: pd.DataFrame) -> pd.DataFrame:
    """The SERVING_KEY columns of a workloads or throughput table, blank lengths as 0 and
    blank precision as '' (so that blank matches blank in a merge); a table without the
    optional columns (a case built in memory) has them blank."""
    return pd.DataFrame(
        {
            "model": table["model"].to_numpy(),
            "isl": table["isl"].fillna(0.0).to_numpy() if "isl" in table else 0.0,
            "osl": table["osl"].fillna(0.0).to_numpy() if "osl" in table else 0.0,
            "precision": table["precision"].fillna("").to_numpy() if "precision" in table else "",
        },
        columns=list(SERVING_KEY),
    )


def _serving_text(row: pd.Series) -> str:
    """'isl 32768, osl 1024, precision fp4' of a row, blank parts said as such."""
    lengths = (
        f"isl {format_number(row['isl'])}, osl {format_number(row['osl'])}"
        if pd.notna(row["isl"])
        else "blank isl/osl"
    )
    return f"{lengths}, precision {row['precision'] or 'blank'}"


def _check_regions(
    tables: Mapping[str, pd.DataFrame | None], files: Mapping[str, str], problems: list[Problem]
) -> None:
    """Workload regions must each be the region of some site; site regions are plain names."""
    sites, workloads = tables["sites"], tables["workloads"]
    if sites is not None:
        check = _checker_for(sites, SITES, files, problems)
        odd = sites["region"].str.contains(REGION_SEPARATOR, regex=False) | (
            sites["region"] == ALL_REGIONS
        )
        check.report(
            odd,
            "region",
            lambda i: f"must be one region name (no ';', not '*'), got {sites['region'].iloc[i]!r}",
        )
    if sites is None or workloads is None:
        return
    known = set(sites["region"])
    unknown = workloads[REGION_LIST].map(lambda names: [n for n in names if n and n not in known])
    check = _checker_for(workloads, WORKLOADS, files, problems)
    check.report(
        unknown.map(bool),
        "regions",
        lambda i: (
            f"no site in sites.csv is in region{'s' if len(unknown.iloc[i]) > 1 else ''} "
            + ", ".join(repr(name) for name in unknown.iloc[i])
        ),
    )


def _check_installed_cooling(
    tables: Mapping[str, pd.DataFrame | None], files: Mapping[str, str], problems: list[Problem]
) -> None:
    """Installed liquid-cooled racks must stand at a liquid-cooled site (else n[s, r] has no
    variable to hold them, docs/model.md section 3)."""
    installed, racks, sites = tables["installed"], tables["racks"], tables["sites"]
    if installed is None or racks is None or sites is None or installed.empty:
        return
    liquid_rack = installed["rack_type"].map(
        dict(zip(racks["rack_type"], racks["cooling"] == "liquid", strict=True))
    )
    liquid_site = installed["site"].map(
        dict(zip(sites["site"], sites["liquid_cooling"], strict=True))
    )
    wrong = (liquid_rack == True) & (liquid_site == False) & (installed["count"] > 0)  # noqa: E712
    check = _checker_for(installed, INSTALLED, files, problems)
    check.report(
        wrong,
        None,
        lambda i: (
            f"rack type {installed['rack_type'].iloc[i]!r} is liquid-cooled but site "
            f"{installed['site'].iloc[i]!r} has no liquid_cooling"
        ),
    )


def _check_installed_fits(
    tables: Mapping[str, pd.DataFrame | None], files: Mapping[str, str], problems: list[Problem]
) -> None:
    """Racks already installed must fit: their slots within each site's max_slots, their
    count within each rack type's max_count (installed racks stay, docs/model.md section 1, so
    otherwise no plan exists)."""
    installed, racks, sites = tables["installed"], tables["racks"], tables["sites"]
    if installed is None or racks is None or sites is None:
        return
    installed = installed[installed["count"] > 0]
    slots = installed["rack_type"].map(dict(zip(racks["rack_type"], racks["slots"], strict=True)))
    rows = installed.index.to_series() + 1
    on_site = pd.DataFrame({"slots": installed["count"] * slots, "rows": rows}).groupby(
        installed["site"]
    )
    of_type = pd.DataFrame({"count": installed["count"], "rows": rows}).groupby(
        installed["rack_type"]
    )
    taken = sites["site"].map(on_site["slots"].sum()).fillna(0.0)
    owned = racks["rack_type"].map(of_type["count"].sum()).fillna(0.0)
    site_rows = sites["site"].map(on_site["rows"].agg(_row_list))
    rack_rows = racks["rack_type"].map(of_type["rows"].agg(_row_list))
    installed_file = files["installed"]
    _checker_for(sites, SITES, files, problems).report(
        taken > sites["max_slots"],
        "max_slots",
        lambda i: (
            f"{format_number(sites['max_slots'].iloc[i])} slots, but the racks installed here"
            f" take {format_number(taken.iloc[i])} ({installed_file} {site_rows.iloc[i]})"
        ),
    )
    _checker_for(racks, RACKS, files, problems).report(
        owned > racks["max_count"],
        "max_count",
        lambda i: (
            f"{format_number(racks['max_count'].iloc[i])}, but {format_number(owned.iloc[i])}"
            f" of this rack type are installed ({installed_file} {rack_rows.iloc[i]})"
        ),
    )


def _row_list(rows: pd.Series) -> str:
    """'row 3' or 'rows 1, 4'."""
    return f"row{'s' if len(rows) > 1 else ''} {', '.join(str(r) for r in rows)}"


def _check_periods(
    config: Mapping[str, Any],
    tables: Mapping[str, pd.DataFrame | None],
    files: Mapping[str, str],
    problems: list[Problem],
) -> None:
    """Multi-period inputs need `periods`; with them, every named period is one of them,
    availability windows are not reversed, and installed racks serve in the first period."""
    periods = config["periods"]
    if periods is None:
        specs = {spec.stem: spec for spec in TABLES}
        for stem, columns in PERIOD_COLUMNS.items():
            table = tables[stem]
            if table is None:
                continue
            check = _checker_for(table, specs[stem], files, problems)
            for name in columns:
                default = specs[stem].column(name).default

                def needs(i: int, table: pd.DataFrame = table, name: str = name) -> str:
                    return (
                        f"{format_number(table[name].iloc[i])} needs `periods` in case.yaml "
                        "(a case without periods is one steady-state year); leave it blank"
                    )

                check.report(table[name] != default, name, needs)
        for stem in PERIOD_TABLES:
            table = tables[stem]
            if table is not None and len(table):
                problems.append(
                    Problem(
                        files[stem],
                        "needs `periods` in case.yaml (a case without periods is one "
                        "steady-state year); remove the file or add periods",
                    )
                )
        return
    listed = ", ".join(map(str, periods))
    for spec in (SITE_PERIODS, WORKLOAD_PERIODS):
        table = tables[spec.stem]
        if table is None:
            continue
        check = _checker_for(table, spec, files, problems)

        def unknown_period(i: int, table: pd.DataFrame = table) -> str:
            return (
                f"{format_number(table['period'].iloc[i])} is not one of case.yaml periods"
                f" ({listed})"
            )

        check.report(~table["period"].isin(periods), "period", unknown_period)
    racks = tables["racks"]
    if racks is not None:
        check = _checker_for(racks, RACKS, files, problems)
        check.report(
            racks["available_until"] < racks["available_from"],
            "available_until",
            lambda i: (
                f"{format_number(racks['available_until'].iloc[i])} is before available_from"
                f" {format_number(racks['available_from'].iloc[i])}"
            ),
        )
    installed = tables["installed"]
    if installed is not None:
        check = _checker_for(installed, INSTALLED, files, problems)
        check.report(
            installed["retire_year"] < periods[0],
            "retire_year",
            lambda i: (
                f"{format_number(installed['retire_year'].iloc[i])} is before the first period"
                f" {periods[0]}: racks retired by then are not installed; leave the row out"
            ),
        )


def demand_factors(
    periods: tuple[int, ...] | None, workloads: pd.DataFrame, workload_periods: pd.DataFrame
) -> np.ndarray:
    """g[w, k]: workload w's demand in period k as a multiple of its workloads.csv demand
    (MODEL.md section 8): workload_periods' demand_multiplier where given, else
    (1 + growth_per_year)^(Y_k - Y_0); one column of ones for a case without periods."""
    years = np.asarray(periods or (0,), dtype=float)
    elapsed = years - years[0]
    growth = workloads["growth_per_year"].to_numpy(dtype=float)
    factors: np.ndarray = (1.0 + growth[:, None]) ** elapsed[None, :]
    w = pd.Index(workloads["workload"]).get_indexer(workload_periods["workload"])
    k = pd.Index(years).get_indexer(workload_periods["period"].to_numpy(dtype=float))
    given = (w >= 0) & (k >= 0)
    factors[w[given], k[given]] = workload_periods["demand_multiplier"].to_numpy(float)[given]
    return factors


def _check_demand(
    config: Mapping[str, Any],
    tables: Mapping[str, pd.DataFrame | None],
    files: Mapping[str, str],
    problems: list[Problem],
) -> None:
    """Demand stays within its plausible range in every period, not just in each cell:
    growth compounds (10 a year over 10 years is 11^10) and multipliers multiply."""
    workloads, given = tables["workloads"], tables["workload_periods"]
    if workloads is None or given is None or not config["periods"]:
        return
    base = workloads[list(DEMAND_COLUMNS)].to_numpy(dtype=float).max(axis=1)
    given = given[_within(given, WORKLOAD_PERIODS, "demand_multiplier")]
    factors = demand_factors(config["periods"], workloads, given)
    # A cell out of its own range has said so already: no follow-on here.
    sane = _within(workloads, WORKLOADS, "growth_per_year") & (base <= DEMAND.high)
    peak = np.where(sane[:, None], base[:, None] * factors, 0.0)
    worst = peak.argmax(axis=1)
    years = config["periods"]
    _checker_for(workloads, WORKLOADS, files, problems).report(
        pd.Series(peak.max(axis=1) > DEMAND.high, index=workloads.index),
        None,
        lambda i: (
            f"demand reaches {peak[i, worst[i]]:.4g} tokens/s in {years[worst[i]]}"
            f" ({format_number(base[i])} x {factors[i, worst[i]]:.4g}: growth_per_year or"
            f" {files['workload_periods']}); it must stay {DEMAND.describe()} every year"
        ),
    )


def _within(table: pd.DataFrame, spec: TableSpec, column: str) -> np.ndarray:
    """Rows whose `column` is a number in its range."""
    rule = spec.column(column).range
    return np.array([rule is None or rule.contains(v) for v in table[column]], dtype=bool)


def _check_objective(
    config: Mapping[str, Any], tables: Mapping[str, pd.DataFrame | None], problems: list[Problem]
) -> None:
    """min_cost_per_token needs mandatory serving of some demand, or serving nothing would
    be optimal (and cost per token undefined)."""
    workloads, given = tables["workloads"], tables["workload_periods"]
    if config["objective"] != Objective.MIN_COST_PER_TOKEN or workloads is None:
        return
    mandatory = (workloads["min_served_share"] > 0).to_numpy()
    if given is not None:
        demand = workloads[list(DEMAND_COLUMNS)].to_numpy(dtype=float).sum(axis=1)
        factors = demand_factors(config["periods"], workloads, given)
        mandatory = mandatory & ((demand[:, None] * factors) > 0).any(axis=1)
    if not mandatory.any():
        problems.append(
            Problem(
                CASE_FILE,
                "min_cost_per_token needs some workload with min_served_share > 0 and demand"
                " in workloads.csv (else serving nothing is optimal and a cost per token"
                " undefined); none has",
                column="objective",
            )
        )


def _check_shortfall_penalty(
    config: Mapping[str, Any], tables: Mapping[str, pd.DataFrame | None], problems: list[Problem]
) -> None:
    """Falling short of a minimum served share may not cost less than plain unmet demand
    (docs/model.md section 9): else the shortfall would be used first."""
    workloads, penalty = tables["workloads"], config["shortfall_penalty_usd_per_mtok"]
    if penalty is None or workloads is None:
        return
    mandatory = workloads["min_served_share"] > 0
    cheaper = workloads[mandatory & (workloads["unmet_penalty_usd_per_mtok"] > penalty)]
    if len(cheaper):
        names = ", ".join(
            f"{w} ({format_number(p)})"
            for w, p in zip(cheaper["workload"], cheaper["unmet_penalty_usd_per_mtok"], strict=True)
        )
        problems.append(
            Problem(
                CASE_FILE,
                f"must be at least the unmet penalty of every workload with min_served_share > 0,"
                f" got {format_number(penalty)}; higher: {names}",
                column="shortfall_penalty_usd_per_mtok",
            )
        )


def _checker_for(
    table: pd.DataFrame, spec: TableSpec, files: Mapping[str, str], problems: list[Problem]
) -> _TableCheck:
    """A _TableCheck over a parsed table, for cross-table problems with the same row ids."""
    ids = pd.DataFrame(
        {
            c: table[c].map(format_number) if table[c].dtype == np.float64 else table[c].astype(str)
            for c in spec.row_id
        },
        index=table.index,
    )
    return _TableCheck(ids, spec, files[spec.stem], problems)
