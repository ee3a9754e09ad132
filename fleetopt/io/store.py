"""Writing results without ever leaving something that looks complete but is not.

Single files are written to a temporary name and renamed. A plan folder's files are
written in a hidden staging folder inside it, then renamed into place, `_SUCCESS` last; a
scenario run's as its chunks finish, `_SUCCESS` last. A folder is complete only once
`_SUCCESS` is in it. Every writer claims its folder first (fleetopt.io.runfolder: the
checks and the lock) and replaces only fleetopt's own outputs there (fleetopt.io.ownership).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fleetopt.core.errors import RunFolderError
from fleetopt.core.interrupts import failure_reason
from fleetopt.io.ownership import SCENARIO_TABLES, SUMMARY_FILE, remove_outputs
from fleetopt.io.runfolder import (
    RUN_RECORD,
    SUCCESS_MARKER,
    RunKind,
    RunStatus,
    claim_output,
    claimed,
    is_complete,
    normalized,
    record_payload,
    release_output,
    write_success,
)

T = TypeVar("T")


def write_json_atomic(path: str | os.PathLike[str], payload: Mapping[str, Any]) -> None:
    """Write JSON to `path` through a temporary file and a rename."""
    _atomic_file(Path(path), lambda tmp: tmp.write_text(json.dumps(payload, indent=2) + "\n"))


def run_into(
    out: Path,
    kind: RunKind,
    params: Mapping[str, Any],
    work: Callable[[], T],
    *,
    write: Callable[[Path, T], None],
    read: Callable[[Path], T],
    overwrite: bool = False,
) -> T:
    """Run `work` (which returns the run's summary) into the run folder `out` of `kind`.

    The folder is claimed (fleetopt.io.runfolder.claimed: checked and locked) for the whole
    run; a complete run with the same parameters is not run again, its summary is `read`
    back. Otherwise the run record says `running` while `work` runs, then `failed` and why,
    or `succeeded`, after the summary is written (`write`, into the folder) and before,
    last, _SUCCESS.
    """
    with claimed(out, kind, params, overwrite=overwrite):
        if is_complete(out):
            return read(out)
        record = out / RUN_RECORD
        write_json_atomic(record, record_payload(kind, RunStatus.RUNNING, params))
        try:
            summary = work()
        except BaseException as err:
            reason = failure_reason(err)
            write_json_atomic(record, record_payload(kind, RunStatus.FAILED, params, reason))
            raise
        write(out, summary)
        write_json_atomic(record, record_payload(kind, RunStatus.SUCCEEDED, params))
        write_success(out)
        return summary


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write text (UTF-8) to `path` through a temporary file and a rename."""
    _atomic_file(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write bytes to `path` through a temporary file and a rename."""
    _atomic_file(Path(path), lambda tmp: tmp.write_bytes(data))


def write_parquet_atomic(path: str | os.PathLike[str], table: pd.DataFrame) -> None:
    """Write one table as Parquet through a temporary file and a rename."""
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    _atomic_file(Path(path), lambda tmp: pq.write_table(arrow, tmp))


def write_csv_atomic(
    path: str | os.PathLike[str], table: pd.DataFrame, *, preamble: str = "", **to_csv: Any
) -> None:
    """Write one table as CSV (after `preamble`, say a comment line) through a temporary
    file and a rename."""

    def write(tmp: Path) -> None:
        with tmp.open("w", encoding="utf-8", newline="") as f:
            f.write(preamble)
            table.to_csv(f, index=False, **to_csv)

    _atomic_file(Path(path), write)


def write_file_atomic(path: str | os.PathLike[str], write: Callable[[Path], object]) -> None:
    """`write(tmp)` a file beside `path`, then rename it to `path` (any format)."""
    _atomic_file(Path(path), write)


def _atomic_file(path: Path, write: Callable[[Path], object]) -> None:
    """`write` a temporary file beside `path`, then rename it to `path`; a failure says
    which file could not be written (RunFolderError), never the temporary name."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.replace(tmp, path)
    except OSError as err:
        raise RunFolderError(f"cannot write {path}: {err.strerror or err}") from None
    finally:
        tmp.unlink(missing_ok=True)


def write_folder_atomic(
    out_dir: str | os.PathLike[str],
    tables: Mapping[str, pd.DataFrame],
    summary: Mapping[str, Any],
) -> Path:
    """Write `name.parquet` per table and summary.json as the folder `out_dir`, all or
    nothing: for a folder fleetopt owns whole, inside a claimed run (robust's `choice`)."""
    return replace_folder_atomic(out_dir, lambda tmp: _write_files(tmp, tables, summary))


def replace_folder_atomic(out_dir: str | os.PathLike[str], fill: Callable[[Path], object]) -> Path:
    """`fill` a new folder, then make it `out_dir`, all or nothing: the folder is built
    beside its destination and renamed into place; an existing folder of that name (one
    fleetopt owns whole) is replaced only once the new one is complete."""
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex}.tmp")
    tmp.mkdir()
    try:
        fill(tmp)
        if out.exists():
            old = out.with_name(f".{out.name}.{uuid.uuid4().hex}.old")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old)
        else:
            os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return out


def _write_files(
    folder: Path,
    tables: Mapping[str, pd.DataFrame],
    summary: Mapping[str, Any],
    record: Mapping[str, Any] | None = None,
) -> None:
    """`name.parquet` per table, summary.json and (given) run.json, into `folder`."""
    for name, table in tables.items():
        pq.write_table(
            pa.Table.from_pandas(table, preserve_index=False), folder / f"{name}.parquet"
        )
    (folder / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
    if record is not None:
        (folder / RUN_RECORD).write_text(json.dumps(record, indent=2) + "\n")


MERGE_ROW_GROUP_ROWS = 8192
SCENARIO_PARTS = (*(t for t in SCENARIO_TABLES if t != "results"), "results")  # results last


def write_plan_folder(
    out_dir: str | os.PathLike[str],
    tables: Mapping[str, pd.DataFrame],
    summary: Mapping[str, Any],
    params: Mapping[str, Any],
) -> Path:
    """Write a plan run folder (tables, summary.json, run.json, `_SUCCESS`).

    Only a missing or empty folder, or an earlier plan run, may be at `out_dir`
    (runfolder.claim_output); anything else is refused untouched. The new files are
    written in a staging folder inside it; then `_SUCCESS` goes, the earlier plan's outputs
    go (a report of it with them: fleetopt.io.ownership), the new files are renamed into
    place and `_SUCCESS` comes back last. Whatever else the folder holds stays.
    """
    out = Path(out_dir)
    record = record_payload(RunKind.PLAN, RunStatus.SUCCEEDED, params)
    with claimed(out, RunKind.PLAN):
        staging = out / f".staging.{uuid.uuid4().hex}.tmp"
        staging.mkdir()
        try:
            _write_files(staging, tables, summary, record)
            (out / SUCCESS_MARKER).unlink(missing_ok=True)
            new = frozenset(entry.name for entry in staging.iterdir())
            remove_outputs(out, RunKind.PLAN.value, keep=new | {staging.name})
            for entry in staging.iterdir():
                os.replace(entry, out / entry.name)
            write_success(out)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return out


class ScenarioStore:
    """A scenario run's folder, written as chunks finish and completed at the very end.

    Layout while running: `run.json` (status `running` and the run's parameters) and
    `parts/<table>/chunk-NNNNNN.parquet`, each written atomically, `results` last, so a
    chunk counts as finished only once all its tables are down. Other farmed runs (what-if
    variants, alternatives) name their own `tables`, the last one written last and holding
    each item's `key`; a chunk may leave out the others (an item without a plan). At the
    end the parts are
    streamed into `<table>.parquet` one file at a time (driver memory stays flat),
    `summary.json` is written, `run.json` says `succeeded`, and `_SUCCESS` comes last.
    A folder without `_SUCCESS` is incomplete, whatever else it holds.

    The folder is claimed first (runfolder.claim_output): the same run resumes, another
    run of the same kind is refused unless `overwrite`, anything else is never touched.
    The claim (and the folder's lock) is held until `finish`, `fail` or `close`.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike[str],
        kind: RunKind,
        params: Mapping[str, Any],
        *,
        overwrite: bool = False,
        tables: tuple[str, ...] = SCENARIO_PARTS,
        key: str = "scenario",
    ):
        self.root = Path(out_dir)
        self.kind = kind
        self.params = normalized(params)
        self.tables = tables  # in the order a chunk writes them: the last holds `key`
        self.key = key
        claim_output(self.root, kind, self.params, overwrite=overwrite)
        self._closed = False

    def close(self) -> None:
        """End the claim on the folder (its lock goes with the last claim); once only."""
        if not self._closed:
            self._closed = True
            release_output(self.root)

    @property
    def complete(self) -> bool:
        return is_complete(self.root)

    def start(self) -> None:
        self._manifest(RunStatus.RUNNING)

    def finished(self) -> set[Any]:
        """The items (scenarios) whose chunk is down: the `key` values of the last table's
        parts (written last)."""
        return set(self.parts(self.tables[-1], [self.key])[self.key])

    def parts(self, table: str, columns: list[str] | None = None) -> pd.DataFrame:
        """`columns` of the parts of `table` written so far, in chunk order (empty: no
        part yet)."""
        files = sorted((self.root / "parts" / table).glob("chunk-*.parquet"))
        if not files:
            return pd.DataFrame(columns=columns or [])
        return pd.concat([pd.read_parquet(f, columns=columns) for f in files], ignore_index=True)

    def write_chunk(self, name: str, tables: Mapping[str, pd.DataFrame]) -> None:
        """Write one finished chunk's tables as parts named `name`, the last table last (a
        table the chunk does not have is left out; the last one it always has)."""
        for table in self.tables:
            if table in tables or table == self.tables[-1]:
                write_parquet_atomic(
                    self.root / "parts" / table / f"chunk-{name}.parquet", tables[table]
                )

    def merge(self) -> None:
        """Stream every table's parts, in scenario order, into one Parquet file.

        Parts are gathered into row groups of about `MERGE_ROW_GROUP_ROWS` rows: memory is
        bounded by one row group, and readers do not pay a row group per chunk. The file's
        schema unifies every part's (from their footers): a column that is all null in
        one chunk (typed null) and filled in another takes the filled type.
        """
        for name in self.tables:
            parts = sorted((self.root / "parts" / name).glob("chunk-*.parquet"))
            target = self.root / f"{name}.parquet"
            tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
            writer: pq.ParquetWriter | None = None
            pending: list[pa.Table] = []
            schema = (
                pa.unify_schemas([pq.read_schema(p) for p in parts], promote_options="permissive")
                if parts
                else None
            )

            try:
                for part in parts:
                    table = pq.read_table(part, use_threads=False)  # small: one thread
                    if writer is None:
                        writer = pq.ParquetWriter(tmp, schema)
                    pending.append(table.cast(schema))
                    # Arrow's allocator keeps freed pages; hand them back, or a run of many
                    # chunks leaves the driver larger the more chunks it had.
                    pa.default_memory_pool().release_unused()
                    if sum(t.num_rows for t in pending) >= MERGE_ROW_GROUP_ROWS:
                        _write_row_group(writer, pending)
                if writer is not None:
                    _write_row_group(writer, pending)
                    writer.close()
                    os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)

    def finish(self, summary: Mapping[str, Any]) -> None:
        try:
            write_json_atomic(self.root / SUMMARY_FILE, summary)
            self._manifest(RunStatus.SUCCEEDED)
            write_success(self.root)
            shutil.rmtree(self.root / "parts", ignore_errors=True)
        finally:
            self.close()

    def fail(self, reason: str) -> None:
        try:
            self._manifest(RunStatus.FAILED, reason)
        finally:
            self.close()

    def _manifest(self, status: RunStatus, reason: str | None = None) -> None:
        write_json_atomic(
            self.root / RUN_RECORD, record_payload(self.kind, status, self.params, reason)
        )


def _write_row_group(writer: pq.ParquetWriter, tables: list[pa.Table]) -> None:
    """Write `tables` (emptied afterwards) as one row group."""
    if tables:
        writer.write_table(pa.concat_tables(tables), row_group_size=None)
        tables.clear()
