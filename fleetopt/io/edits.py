"""What-if variants of a case (docs/model.md section 11): changes written as SPECs
`FILE:ROW:COLUMN=VALUE`, grouped into named variants, applied to a copy of the case's own
files and read back by the case reader, so that a variant is checked like any case.

    sites:us-east:power_cap_mw=+20          20 MW more
    site_periods:us-east@2027:power_cap_mw=x1.5
    racks:vr-nvl72:max_count=120
    workloads:chat:decode_tokens_per_s=-10%

A value starting with `+` or `-` is added (`%`: a percentage of the value in the case), `x`
multiplies, `=` or anything else sets it. Every problem of every SPEC and variant is said at
once (CaseError, exit 2), each naming the SPEC or the variant.
"""

from __future__ import annotations

import csv
import enum
import math
import re
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fleetopt.core.errors import CaseError, Problem
from fleetopt.io.case import Case, demand_factors, read_case, read_text_table
from fleetopt.io.schema import (
    CASE_FILES,
    RACKS,
    SITE_PERIODS,
    SITES,
    TABLE_FORMATS,
    WORKLOAD_PERIODS,
    WORKLOADS,
    ColumnType,
    TableSpec,
    format_number,
)

BASE = "base"  # the case itself, as a variant
PERIOD_MARK = "@"  # a period file's row: SITE@YEAR, WORKLOAD@YEAR
GROUP_SEPARATOR = ";"
NAME = re.compile(r"[A-Za-z0-9_.+-]{1,64}")
EDITABLE: dict[str, TableSpec] = {
    spec.stem: spec for spec in (SITES, RACKS, WORKLOADS, SITE_PERIODS, WORKLOAD_PERIODS)
}
PERIOD_FILES: dict[str, TableSpec] = {  # a period file and the table its ids come from
    SITE_PERIODS.stem: SITES,
    WORKLOAD_PERIODS.stem: WORKLOADS,
}
NUMBERS = (ColumnType.FLOAT, ColumnType.INT)


class Op(enum.StrEnum):
    """How a SPEC's VALUE changes the value in the case."""

    SET = "set"
    ADD = "add"  # +20, -10
    PERCENT = "percent"  # +5%, -10%
    TIMES = "times"  # x1.5


@dataclass(frozen=True)
class Change:
    """One SPEC: set or move the value of `column` in the row `row` (and `year`) of `table`."""

    spec: str
    table: str
    row: str
    year: int | None
    column: str
    op: Op
    value: str  # SET: the text to write; else the number

    def new_text(self, current: float) -> str:
        """The cell's new text, from the value the model uses now (relative changes)."""
        amount = float(self.value)
        if self.op is Op.ADD:
            return format_number(current + amount)
        if self.op is Op.PERCENT:
            return format_number(current * (1.0 + amount / 100.0))
        return format_number(current * amount)


@dataclass(frozen=True)
class Variant:
    """A named set of changes, applied in order."""

    name: str
    changes: tuple[Change, ...]

    @property
    def spec(self) -> str:
        return GROUP_SEPARATOR.join(c.spec for c in self.changes)


def parse_change(spec: str) -> Change:
    """A SPEC as a Change; CaseError naming the SPEC and what is wrong with it."""
    why = _spec_problem(spec)
    if why is not None:
        raise CaseError([Problem("--change", f"{spec!r}: {why}")])
    target, _, value = spec.strip().partition("=")
    file, row, column = (part.strip() for part in target.split(":"))
    table = _stem(file)
    year = None
    if table in PERIOD_FILES:
        row, _, year_text = row.rpartition(PERIOD_MARK)
        year = int(year_text)
    op, text = _operation(value.strip())
    return Change(spec.strip(), table, row, year, column, op, text)


def _stem(file: str) -> str:
    for fmt in TABLE_FORMATS:
        file = file.removesuffix(f".{fmt}")
    return file


def _operation(value: str) -> tuple[Op, str]:
    if value.startswith("="):
        return Op.SET, value[1:].strip()
    if value[:1] in "+-" and value.endswith("%"):
        return Op.PERCENT, value[:-1]
    if value[:1] in "+-":
        return Op.ADD, value
    if value[:1] in "xX":
        return Op.TIMES, value[1:]
    return Op.SET, value


def _spec_problem(spec: str) -> str | None:
    """What is wrong with a SPEC's form (None: nothing)."""
    target, sep, value = spec.strip().partition("=")
    parts = target.split(":")
    if not sep or len(parts) != 3 or not all(p.strip() for p in parts) or not value.strip():
        return "expected FILE:ROW:COLUMN=VALUE, e.g. sites:us-east:power_cap_mw=+20"
    file, row, column = (p.strip() for p in parts)
    table = _stem(file)
    spec_of = EDITABLE.get(table)
    if spec_of is None:
        return f"unknown file {file!r}: one of {', '.join(EDITABLE)}"
    if column not in spec_of.names:
        return f"{table} has no column {column!r}; it has {', '.join(spec_of.names)}"
    if column in spec_of.row_id:
        return f"{column} names the row; a variant changes values, not ids"
    if table in PERIOD_FILES:
        name, mark, year = row.rpartition(PERIOD_MARK)
        if not mark or not name or not re.fullmatch(r"\d{4}", year.strip()):
            ids = PERIOD_FILES[table].row_id[0]
            return f"a row of {table} is {ids.upper()}@YEAR, e.g. x@2027; got {row!r}"
    op, text = _operation(value.strip())
    if op is not Op.SET:
        try:
            number = float(text)
        except ValueError:
            return f"{value.strip()!r} is not a relative change (+20, -10%, x1.5)"
        if not math.isfinite(number):
            return f"{value.strip()!r}: a relative change must be a finite number"
        if spec_of.column(column).type not in NUMBERS:
            return f"{table}.{column} is not a number: give its new value, not a change"
    return None


def variants_of(changes: Sequence[str], groups: Sequence[str], where: str = "") -> list[Variant]:
    """The variants of `--change SPEC` (one each, named by the SPEC) and `--variant
    NAME=SPEC;SPEC` (`where`: the file they come from, for problems); every problem at once."""
    problems: list[Problem] = []
    variants: list[Variant] = []
    entries = [(None, spec) for spec in changes] + [_group(text) for text in groups]
    for name, specs in entries:
        label = where or ("--change" if name is None else "--variant")
        parsed = []
        for spec in specs.split(GROUP_SEPARATOR) if name is not None else [specs]:
            if not spec.strip():
                continue
            try:
                parsed.append(parse_change(spec))
            except CaseError as err:
                problems += [Problem(label, p.message) for p in err.problems]
        if name is not None and not NAME.fullmatch(name):
            problems.append(
                Problem(label, f"{name!r}: a variant's name is 1-64 letters, digits, . _ + -")
            )
        if name is not None and not specs.strip():
            problems.append(Problem(label, f"variant {name!r} has no change"))
        variants.append(Variant(specs.strip() if name is None else name, tuple(parsed)))
    seen: set[str] = set()
    for variant in variants:
        if variant.name in seen or variant.name == BASE:
            what = "is the case itself" if variant.name == BASE else "is given twice"
            problems.append(Problem(where or "--variant", f"variant {variant.name!r} {what}"))
        seen.add(variant.name)
    if not variants:
        problems.append(Problem(where or "--change", "no variant: give --change or --variant"))
    if problems:
        raise CaseError(problems)
    return variants


def _group(text: str) -> tuple[str, str]:
    """`NAME=SPEC;SPEC` as (NAME, the SPECs)."""
    name, _, specs = text.partition("=")
    return name.strip(), specs


def read_variants_file(path: str | Path) -> list[Variant]:
    """Variants from a file, one a line: `NAME=SPEC;SPEC` or a lone SPEC (blank lines and
    lines starting with '#' skipped); CaseError naming the file and line."""
    file = Path(path)
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise CaseError([Problem(str(file), f"cannot read: {err.strerror or err}")]) from None
    changes: list[str] = []
    groups: list[str] = []
    for line in (raw.strip() for raw in lines):
        if not line or line.startswith("#"):
            continue
        head = line.partition("=")[0]
        (changes if ":" in head else groups).append(line)
    return variants_of(changes, groups, where=str(file))


def variant_cases(case_dir: str | Path, base: Case, variants: Iterable[Variant]) -> list[Case]:
    """Each variant's case: the case's files copied, the changes applied, read and checked
    by the case reader; every problem of every variant at once, each naming its variant."""
    problems: list[Problem] = []
    cases = []
    for variant in variants:
        try:
            cases.append(_variant_case(Path(case_dir), base, variant))
        except CaseError as err:
            problems += [
                Problem(f"variant {variant.name}: {p.file}", p.message, p.row, p.row_id, p.column)
                for p in err.problems
            ]
    if problems:
        raise CaseError(problems)
    return cases


def _variant_case(case_dir: Path, base: Case, variant: Variant) -> Case:
    with tempfile.TemporaryDirectory(prefix="fleetopt-variant-") as tmp:
        folder = Path(tmp) / case_dir.name
        folder.mkdir()
        for name in CASE_FILES:
            if (case_dir / name).is_file():
                shutil.copyfile(case_dir / name, folder / name)
        problems: list[Problem] = []
        for table in dict.fromkeys(c.table for c in variant.changes):
            path = _table_file(folder, table)
            raw = read_text_table(path) if path.exists() else _empty_text(EDITABLE[table])
            for change in (c for c in variant.changes if c.table == table):
                why = _apply(raw, change, base)
                if why:
                    problems.append(Problem(path.name, f"{change.spec}: {why}"))
            _write_text(path, raw)
        if problems:
            raise CaseError(problems)
        return read_case(folder).replace(name=base.name)


def _table_file(folder: Path, table: str) -> Path:
    """The case's file of `table` (a period file the case lacks: a new CSV)."""
    for fmt in TABLE_FORMATS:
        if (folder / f"{table}.{fmt}").is_file():
            return folder / f"{table}.{fmt}"
    return folder / f"{table}.csv"


def _empty_text(spec: TableSpec) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=object) for name in spec.row_id})


def _apply(raw: pd.DataFrame, change: Change, base: Case) -> str | None:
    """Apply `change` to the text table `raw` in place; what is wrong, if anything."""
    spec = EDITABLE[change.table]
    row = _find_row(raw, change, base)
    if isinstance(row, str):
        return row
    if change.column not in raw.columns:
        raw[change.column] = ""
    if change.op is Op.SET:
        raw.loc[row, change.column] = change.value
        return None
    cell = str(raw.at[row, change.column])
    try:
        current = float(cell) if cell else _effective(change, base)
    except ValueError:
        return f"the value in the case, {cell!r}, is not a number"
    if not math.isfinite(current):
        return (
            f"{spec.stem}.{change.column} is unlimited there: give an absolute value, not a change"
        )
    raw.loc[row, change.column] = change.new_text(current)
    return None


def _find_row(raw: pd.DataFrame, change: Change, base: Case) -> int | str:
    """The row `change` names in `raw` (a period file's row the file lacks is added), or
    why there is none."""
    spec = EDITABLE[change.table]
    ids = spec.row_id[0]
    match = raw[ids] == change.row if ids in raw.columns else pd.Series(False, index=raw.index)
    if change.year is not None:
        years = pd.to_numeric(raw.get("period", pd.Series(dtype=object)), errors="coerce")
        match &= years == change.year
    found = np.flatnonzero(match.to_numpy())
    if len(found):
        return int(found[0])
    if change.year is None:
        return f"no {ids} {change.row!r} in {spec.stem}"
    parent = PERIOD_FILES[change.table]
    if change.row not in set(getattr(base, parent.stem)[ids]):
        return f"no {ids} {change.row!r} in {parent.stem}"
    if change.year not in base.periods:
        return f"{change.year} is not one of the case's periods"
    raw.loc[len(raw)] = {column: "" for column in raw.columns} | {
        ids: change.row,
        "period": str(change.year),
    }
    return len(raw) - 1


def _effective(change: Change, base: Case) -> float:
    """The value the model uses where the cell is blank: the column's default, a period
    file's site value or demand factor."""
    if change.table in PERIOD_FILES:
        parent = PERIOD_FILES[change.table]
        ids = parent.row_id[0]
        table = getattr(base, parent.stem)
        position = int(np.flatnonzero(table[ids].to_numpy() == change.row)[0])
        if change.table == WORKLOAD_PERIODS.stem:
            factors = demand_factors(base.periods, base.workloads, base.workload_periods)
            return float(factors[position, base.periods.index(change.year)])
        return float(table[change.column].iloc[position])
    table = getattr(base, change.table)
    ids = EDITABLE[change.table].row_id[0]
    return float(table.loc[table[ids] == change.row, change.column].iloc[0])


def _write_text(path: Path, raw: pd.DataFrame) -> None:
    """A text table back to its file, as the case reader will read it."""
    if path.suffix == ".parquet":
        raw.astype(str).to_parquet(path, index=False)
        return
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(raw.columns)
        writer.writerows(raw.astype(str).itertuples(index=False))
