"""One schema for every summary.json and run record result: typed dataclasses to JSON and back.

Each summary type is a frozen dataclass whose fields are the file's keys; `to_json` turns it
into plain JSON values (nested dataclasses as objects, enums as their values, numbers that
are not finite as null) and `from_json` rebuilds it from its type hints, so a file is written
and read by the one definition of its type. Every summary.json carries `schema_version`; a
file of another version is refused with a clear error rather than misread.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import os
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from fleetopt.core.errors import RunFolderError
from fleetopt.io.ownership import SUMMARY_FILE
from fleetopt.io.store import write_json_atomic

SCHEMA_VERSION = 2  # 1: the files of fleetopt before the typed summaries (no key)
VERSION_KEY = "schema_version"

T = TypeVar("T")


def to_json(value: Any) -> Any:
    """A dataclass (or anything inside one) as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def from_json(cls: type[T], data: Any) -> T:
    """An instance of dataclass `cls` from what `to_json` wrote (keys it lacks: their
    defaults, or None for an optional field without one)."""
    return typing.cast(T, _build(cls, data))


def _build(hint: Any, data: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if data is None:
            return None
        return _build(options[0], data) if len(options) == 1 else data
    if origin is dict:
        _, value_type = typing.get_args(hint)
        return {k: _build(value_type, v) for k, v in data.items()}
    if origin in (list, tuple):
        (item,) = typing.get_args(hint)[:1]
        built = [_build(item, v) for v in data]
        return built if origin is list else tuple(built)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        fields = [f for f in dataclasses.fields(hint) if f.init]
        unset = dataclasses.MISSING
        absent = {
            f.name: None
            for f in fields
            if f.name not in data
            and f.default is unset
            and f.default_factory is unset
            and type(None) in typing.get_args(hints[f.name])
        }
        given = {f.name: _build(hints[f.name], data[f.name]) for f in fields if f.name in data}
        return hint(**absent, **given)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(data)
    if hint is float and data is None:
        return math.nan
    if hint is float:
        return float(data)
    return data


def write_summary(folder: str | os.PathLike[str], summary: Any) -> None:
    """summary.json of a run folder, with the schema version first."""
    write_json_atomic(Path(folder) / SUMMARY_FILE, summary_json(summary))


def summary_json(summary: Any) -> dict[str, Any]:
    """What summary.json holds for `summary`: its version, then its own keys."""
    own = summary.to_json() if hasattr(summary, "to_json") else to_json(summary)
    return {VERSION_KEY: SCHEMA_VERSION, **own}


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from `path`; a file that cannot be read or parsed is a RunFolderError
    saying so (never taken for a missing one)."""
    try:
        data = json.loads(path.read_text())
    except OSError as err:
        raise RunFolderError(f"cannot read {path}: {err.strerror or err}") from None
    except ValueError as err:
        raise RunFolderError(f"{path} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise RunFolderError(f"{path} does not hold a JSON object")
    return data


def check_version(
    data: dict[str, Any], where: Path, readable: tuple[int, ...] = (SCHEMA_VERSION,)
) -> dict[str, Any]:
    """`data` without its version key; refuses a file of a schema version not `readable`."""
    version = data.get(VERSION_KEY, 1)
    if version not in readable:
        raise RunFolderError(
            f"{where} was written with summary schema {version}; this fleetopt reads schema"
            f" {SCHEMA_VERSION}: re-run it with this version"
        )
    return {k: v for k, v in data.items() if k != VERSION_KEY}


def read_summary(
    folder: str | os.PathLike[str], cls: type[T], readable: tuple[int, ...] = (SCHEMA_VERSION,)
) -> T:
    """summary.json of a run folder as `cls` (its own `from_json` where it has one)."""
    path = Path(folder) / SUMMARY_FILE
    data = check_version(read_json(path), path, readable)
    own = getattr(cls, "from_json", None)
    return typing.cast(T, own(data)) if own is not None else from_json(cls, data)
