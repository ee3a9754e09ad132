"""Writing results without ever leaving something that looks complete but is not.

A run folder is written under a temporary sibling name and renamed into place as a
whole; single files are written to a temporary name and renamed. A reader therefore sees
either nothing or the complete folder.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fleetopt.core.interrupts import failure_reason
from fleetopt.io.runfolder import (
    RUN_RECORD,
    RunKind,
    RunStatus,
    claim_output,
    is_complete,
    normalized,
    record_payload,
    write_success,
)


def write_json_atomic(path: str | os.PathLike, payload: Mapping) -> None:
    """Write JSON to `path` through a temporary file and a rename."""
    _atomic_file(Path(path), lambda tmp: tmp.write_text(json.dumps(payload, indent=2) + "\n"))


def run_into(
    out: Path,
    kind: RunKind,
    params: Mapping[str, Any],
    work: Callable[[], dict],
    *,
    overwrite: bool = False,
) -> dict:
    """Run `work` (which returns the run's summary) into the run folder `out` of `kind`.

    The folder is claimed first (fleetopt.io.runfolder.claim_output); a complete run with
    the same parameters is not run again, its summary is returned. Otherwise the run record
    says `running` while `work` runs, then `failed` and why, or `succeeded`, after which
    summary.json and, last, _SUCCESS are written.
    """
    claim_output(out, kind, params, overwrite=overwrite)
    if is_complete(out):
        return json.loads((out / "summary.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    record = out / RUN_RECORD
    write_json_atomic(record, record_payload(kind, RunStatus.RUNNING, params))
    try:
        summary = work()
    except BaseException as err:
        reason = failure_reason(err)
        write_json_atomic(record, record_payload(kind, RunStatus.FAILED, params, reason))
        raise
    write_json_atomic(out / "summary.json", summary)
    write_json_atomic(record, record_payload(kind, RunStatus.SUCCEEDED, params))
    write_success(out)
    return summary


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write text (UTF-8) to `path` through a temporary file and a rename."""
    _atomic_file(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write bytes to `path` through a temporary file and a rename."""
    _atomic_file(Path(path), lambda tmp: tmp.write_bytes(data))


def write_parquet_atomic(path: str | os.PathLike, table: pd.DataFrame) -> None:
    """Write one table as Parquet through a temporary file and a rename."""
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    _atomic_file(Path(path), lambda tmp: pq.write_table(arrow, tmp))


def write_csv_atomic(path: str | os.PathLike, table: pd.DataFrame, **to_csv) -> None:
    """Write one table as CSV through a temporary file and a rename."""
    _atomic_file(Path(path), lambda tmp: table.to_csv(tmp, index=False, **to_csv))


def _atomic_file(path: Path, write: Callable[[Path], object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_folder_atomic(
    out_dir: str | os.PathLike,
    tables: Mapping[str, pd.DataFrame],
    summary: Mapping,
    *,
    record: Mapping | None = None,
    complete: bool = False,
) -> Path:
    """Write `name.parquet` per table, summary.json (and a run record, and `_SUCCESS` when
    `complete`) into `out_dir`, all or nothing.

    The folder is built beside its destination and renamed into place; an existing
    folder of the same name is replaced only once the new one is complete. Callers claim
    `out_dir` first (runfolder.claim_output): this replaces whatever is there.
    """
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex}.tmp")
    tmp.mkdir()
    try:
        for name, table in tables.items():
            pq.write_table(
                pa.Table.from_pandas(table, preserve_index=False), tmp / f"{name}.parquet"
            )
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        if record is not None:
            (tmp / RUN_RECORD).write_text(json.dumps(record, indent=2) + "\n")
        if complete:
            write_success(tmp)
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


SCENARIO_TABLES = ("results", "mix", "sites", "scenarios")
MERGE_ROW_GROUP_ROWS = 8192


def write_plan_folder(
    out_dir: str | os.PathLike,
    tables: Mapping[str, pd.DataFrame],
    summary: Mapping,
    params: Mapping,
) -> Path:
    """Write a plan run folder (tables, summary.json, run.json, `_SUCCESS`), all or nothing.

    Only a missing or empty folder, or an earlier plan run, may be at `out_dir`
    (runfolder.claim_output); anything else is refused untouched.
    """
    claim_output(out_dir, RunKind.PLAN)
    record = record_payload(RunKind.PLAN, RunStatus.SUCCEEDED, params)
    return write_folder_atomic(out_dir, tables, summary, record=record, complete=True)


class ScenarioStore:
    """A scenario run's folder, written as chunks finish and completed at the very end.

    Layout while running: `run.json` (status `running` and the run's parameters) and
    `parts/<table>/chunk-NNNNNN.parquet`, each written atomically, `results` last, so a
    chunk counts as finished only once all its tables are down. At the end the parts are
    streamed into `<table>.parquet` one file at a time (driver memory stays flat),
    `summary.json` is written, `run.json` says `succeeded`, and `_SUCCESS` comes last.
    A folder without `_SUCCESS` is incomplete, whatever else it holds.

    The folder is claimed first (runfolder.claim_output): the same run resumes, another
    run of the same kind is refused unless `overwrite`, anything else is never touched.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike,
        kind: RunKind,
        params: Mapping,
        *,
        overwrite: bool = False,
    ):
        self.root = Path(out_dir)
        self.kind = kind
        self.params = normalized(params)
        claim_output(self.root, kind, self.params, overwrite=overwrite)
        self.root.mkdir(parents=True, exist_ok=True)

    @property
    def complete(self) -> bool:
        return is_complete(self.root)

    def start(self) -> None:
        self._manifest(RunStatus.RUNNING)

    def finished_scenarios(self) -> set[int]:
        """Scenarios whose chunk is down (its results part is written last)."""
        parts = sorted((self.root / "parts" / "results").glob("chunk-*.parquet"))
        done: set[int] = set()
        for part in parts:
            done.update(pq.read_table(part, columns=["scenario"]).column(0).to_pylist())
        return done

    def write_chunk(self, name: str, tables: Mapping[str, pd.DataFrame]) -> None:
        """Write one finished chunk's tables as parts named `name`, `results` last."""
        for table in (*(t for t in SCENARIO_TABLES if t != "results"), "results"):
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
        for name in SCENARIO_TABLES:
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

    def finish(self, summary: Mapping) -> None:
        write_json_atomic(self.root / "summary.json", summary)
        self._manifest(RunStatus.SUCCEEDED)
        write_success(self.root)
        shutil.rmtree(self.root / "parts", ignore_errors=True)

    def fail(self, reason: str) -> None:
        self._manifest(RunStatus.FAILED, reason)

    def _manifest(self, status: RunStatus, reason: str | None = None) -> None:
        write_json_atomic(
            self.root / RUN_RECORD, record_payload(self.kind, status, self.params, reason)
        )


def _write_row_group(writer: pq.ParquetWriter, tables: list[pa.Table]) -> None:
    """Write `tables` (emptied afterwards) as one row group."""
    if tables:
        writer.write_table(pa.concat_tables(tables), row_group_size=None)
        tables.clear()
