"""Run folders: what fleetopt may write where, and whether a folder already holds this run.

Every run folder fleetopt writes carries a run record, `run.json`:

    {"kind": "sweep", "status": "running|succeeded|failed", "params": {...}, "reason": ...}

`params` are the run's identity: everything its results depend on (the case's fingerprint
among them), nothing they do not (worker counts, cluster addresses). `_SUCCESS` is written
last, once the folder is complete.

`claim_output` is the one gate before anything is written. A folder may be written into only
when it does not exist, is empty, or holds a run record of the same kind; a folder of another
kind, a folder that is not a run, or a file is refused (RunFolderError, exit 2) and left
untouched. A run of the same kind with other parameters is refused with what differs, unless
the caller asks to start afresh (`overwrite`), and only then is it removed: fleetopt's own
output of the same kind is the only thing it ever deletes.
"""

from __future__ import annotations

import enum
import json
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleetopt.core.errors import RunFolderError

RUN_RECORD = "run.json"
SUCCESS_MARKER = "_SUCCESS"
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,128}")


class RunKind(enum.StrEnum):
    """What a run folder holds."""

    PLAN = "plan"
    SWEEP = "sweep"
    EVALUATE = "evaluate"
    ROBUST = "robust"
    STOCHASTIC = "stochastic"
    NIGHTLY = "nightly"


class RunStatus(enum.StrEnum):
    """Where a run stands, as its record says."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Claim(enum.Enum):
    """What `claim_output` found: a place to start afresh, or this very run to resume."""

    FRESH = "fresh"
    RESUME = "resume"


@dataclass(frozen=True)
class RunRecord:
    """The parsed `run.json` of a folder."""

    kind: str
    status: str
    params: dict[str, Any]
    reason: str | None = None


def normalized(params: Mapping[str, Any]) -> dict[str, Any]:
    """`params` as they read back from JSON (tuples become lists, keys strings)."""
    plain: dict[str, Any] = json.loads(json.dumps(params))
    return plain


def read_record(folder: str | os.PathLike[str]) -> RunRecord | None:
    """The run record of `folder`, or None when it has none (or an unreadable one)."""
    path = Path(folder) / RUN_RECORD
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or "kind" not in data:
        return None
    return RunRecord(
        kind=str(data["kind"]),
        status=str(data.get("status", "")),
        params=data.get("params") or {},
        reason=data.get("reason"),
    )


def record_payload(
    kind: RunKind, status: RunStatus, params: Mapping[str, Any], reason: str | None = None
) -> dict[str, Any]:
    """A run record as written to `run.json`."""
    payload: dict[str, Any] = {"kind": kind.value, "status": status.value, "params": dict(params)}
    if reason:
        payload["reason"] = reason
    return payload


def differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """How two parameter sets differ, key by key, in words ('scenarios: 64 -> 32')."""
    new = normalized(new)
    lines = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key, "(unset)"), new.get(key, "(unset)")
        if before == after:
            continue
        if isinstance(before, str) and isinstance(after, str) and len(before) >= 32:
            lines.append(f"{key}: changed")  # digests: their values mean nothing to a reader
        else:
            lines.append(f"{key}: {before} -> {after}")
    return lines


def claim_output(
    folder: str | os.PathLike[str],
    kind: RunKind,
    params: Mapping[str, Any] | None = None,
    *,
    overwrite: bool = False,
) -> Claim:
    """Check that a run of `kind` may write into `folder`; say whether it resumes there.

    - missing or empty: FRESH (the folder's parents are created, to prove it can be written);
    - a run of the same kind with equal `params` (or `params` None: any): RESUME;
    - the same kind with other params: RunFolderError naming what differs, or, with
      `overwrite`, the old run is removed and the claim is FRESH;
    - anything else (a file, a run of another kind, a folder that is not a run): refused.
    """
    path = Path(folder)
    if path.is_file() or (path.exists() and not path.is_dir()):
        raise RunFolderError(f"{path} is a file, not a folder; nothing was changed")
    if not path.exists():
        _create_parents(path)
        return Claim.FRESH
    if not any(path.iterdir()):
        _check_writable(path)
        return Claim.FRESH
    record = read_record(path)
    if record is None:
        raise RunFolderError(
            f"{path} exists and is not a fleetopt run folder (no {RUN_RECORD}); nothing was "
            "changed: choose another output folder"
        )
    if record.kind != kind.value:
        raise RunFolderError(
            f"{path} holds a fleetopt {record.kind} run, not a {kind.value} run; nothing was "
            "changed: choose another output folder"
        )
    changed = differences(record.params, params) if params is not None else []
    if not changed:
        _check_writable(path)
        return Claim.RESUME
    if not overwrite:
        raise RunFolderError(
            f"{path} holds a {kind.value} run with other parameters ("
            + "; ".join(changed)
            + "); nothing was changed: use another output folder, or --overwrite to start "
            "that run afresh"
        )
    remove_run(path, kind)
    return Claim.FRESH


def remove_run(folder: str | os.PathLike[str], kind: RunKind) -> None:
    """Delete a run folder of `kind`; refuses anything else (it only deletes its own)."""
    path = Path(folder)
    record = read_record(path)
    if record is None or record.kind != kind.value:
        raise RunFolderError(f"{path} is not a fleetopt {kind.value} run; it was not removed")
    shutil.rmtree(path)


def write_success(folder: str | os.PathLike[str]) -> None:
    """Mark a run folder complete: `_SUCCESS`, written last."""
    (Path(folder) / SUCCESS_MARKER).write_text("")


def is_complete(folder: str | os.PathLike[str]) -> bool:
    """Whether a run folder is complete (its `_SUCCESS` is down)."""
    return (Path(folder) / SUCCESS_MARKER).is_file()


def check_run_id(run_id: str) -> str:
    """A run id is a plain name (letters, digits, '-', '_', '.'), never '.' or '..'."""
    if not RUN_ID_PATTERN.fullmatch(run_id) or set(run_id) == {"."}:
        raise RunFolderError(
            f"run id {run_id!r} is not a plain name: use 1-128 letters, digits, '-', '_' or "
            "'.', with no path separators and not '.' or '..'"
        )
    return run_id


def _create_parents(path: Path) -> None:
    """Create the folders above `path`, or say plainly why they cannot be."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunFolderError(f"cannot create {path.parent}: {err.strerror or err}") from None
    _check_writable(path.parent)


def _check_writable(folder: Path) -> None:
    """Prove `folder` accepts new files (permission bits lie to root; a probe does not)."""
    probe = folder / f".fleetopt-probe-{os.getpid()}"
    try:
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise RunFolderError(
            f"cannot write into {folder}: {err.strerror or err}; nothing was changed"
        ) from None
