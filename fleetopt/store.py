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

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def write_json_atomic(path: str | os.PathLike, payload: Mapping) -> None:
    """Write JSON to `path` through a temporary file and a rename."""
    _atomic_file(Path(path), lambda tmp: tmp.write_text(json.dumps(payload, indent=2) + "\n"))


def write_parquet_atomic(path: str | os.PathLike, table: pd.DataFrame) -> None:
    """Write one table as Parquet through a temporary file and a rename."""
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    _atomic_file(Path(path), lambda tmp: pq.write_table(arrow, tmp))


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
) -> Path:
    """Write `name.parquet` per table and summary.json into `out_dir`, all or nothing.

    The folder is built beside its destination and renamed into place; an existing
    folder of the same name is replaced only once the new one is complete.
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
