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
the caller asks to start afresh (`overwrite`), and only then are its outputs removed:
fleetopt's own outputs of that run (fleetopt.io.ownership), never anything else in the folder.

A claim also takes the folder's lock (fleetopt.io.lock), held until `release_output` (or
the end of `claimed`): one writer per run folder; a second run is refused while the first
runs. Claims are re-entrant within a process (a pipeline and the store it writes through
both claim), so each claim is paired with one release.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from fleetopt.core.errors import RunFolderError
from fleetopt.io.lock import LOCK_FILE, FolderLock
from fleetopt.io.ownership import remove_outputs

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
    """Check that a run of `kind` may write into `folder`, lock it, say whether it resumes.

    - missing or empty: FRESH (the folder is created, to hold its lock);
    - a run of the same kind with equal `params` (or `params` None: any): RESUME;
    - the same kind with other params: RunFolderError naming what differs, or, with
      `overwrite`, the old run's outputs are removed and the claim is FRESH;
    - anything else (a file, a run of another kind, a folder that is not a run): refused;
    - a folder another process is writing: refused (fleetopt.io.lock.RunInProgress).

    The folder is checked before it is touched and again once locked. Every claim is
    paired with a `release_output` (or use `claimed`).
    """
    path = Path(folder)
    if not str(folder).strip():
        raise RunFolderError("the output folder name is empty; give a folder")
    _check(path, kind, params, overwrite)
    created = not path.exists()
    if created:
        _create(path)
    _lock(path, created)
    try:
        return _claim_locked(path, kind, params, overwrite)
    except BaseException:
        release_output(path)
        raise


def release_output(folder: str | os.PathLike[str]) -> None:
    """End one claim of `folder`; the last one drops its lock (and the folder itself when
    the claim created it and nothing was written)."""
    key = Path(folder).resolve()
    held = _HELD.get(key)
    if held is None:
        return
    held.claims -= 1
    if held.claims > 0:
        return
    del _HELD[key]
    held.lock.release()
    if held.created:
        with contextlib.suppress(OSError):
            key.rmdir()  # only when empty


@contextlib.contextmanager
def claimed(
    folder: str | os.PathLike[str],
    kind: RunKind,
    params: Mapping[str, Any] | None = None,
    *,
    overwrite: bool = False,
) -> Iterator[Claim]:
    """`claim_output` for the duration of a `with` block."""
    claim = claim_output(folder, kind, params, overwrite=overwrite)
    try:
        yield claim
    finally:
        release_output(folder)


@dataclass
class _Held:
    lock: FolderLock
    claims: int
    created: bool


_HELD: dict[Path, _Held] = {}


def _lock(path: Path, created: bool) -> None:
    """Take (or count once more) this process's lock on `path`."""
    key = path.resolve()
    held = _HELD.get(key)
    if held is not None:
        held.claims += 1
        return
    lock = FolderLock(path)
    try:
        lock.acquire()
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                path.rmdir()
        raise
    _HELD[key] = _Held(lock, 1, created)


def _check(
    path: Path, kind: RunKind, params: Mapping[str, Any] | None, overwrite: bool
) -> RunRecord | None:
    """Refuse what may not be written into (nothing is touched); the folder's record."""
    if path.is_file() or (path.exists() and not path.is_dir()):
        raise RunFolderError(f"{path} is a file, not a folder; nothing was changed")
    if not path.exists() or _is_empty(path):
        return None
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
    if changed and not overwrite:
        raise RunFolderError(
            f"{path} holds a {kind.value} run with other parameters ("
            + "; ".join(changed)
            + "); nothing was changed: use another output folder, or --overwrite to start "
            "that run afresh"
        )
    return record


def _claim_locked(
    path: Path, kind: RunKind, params: Mapping[str, Any] | None, overwrite: bool
) -> Claim:
    """The claim, decided again now that no other process can change the folder."""
    record = _check(path, kind, params, overwrite)
    _check_writable(path)
    if record is None:
        return Claim.FRESH
    if params is None or not differences(record.params, params):
        return Claim.RESUME
    remove_run(path, kind)
    return Claim.FRESH


def _is_empty(path: Path) -> bool:
    """Whether a folder holds nothing but (maybe) a lock file a killed run left."""
    return all(entry.name == LOCK_FILE for entry in path.iterdir())


def remove_run(folder: str | os.PathLike[str], kind: RunKind) -> None:
    """Delete the outputs of the run of `kind` in `folder` (fleetopt.io.ownership), keeping
    everything else there; refuses a folder that is not such a run."""
    path = Path(folder)
    record = read_record(path)
    if record is None or record.kind != kind.value:
        raise RunFolderError(f"{path} is not a fleetopt {kind.value} run; it was not removed")
    remove_outputs(path, kind.value)


UNCHECKED = ("parts", "state")  # a run's working files: read only by the run that wrote them


def check_run_files(folder: str | os.PathLike[str]) -> None:
    """Refuse a run folder whose files cannot be read (RunFolderError, exit 2), naming them
    all: every Parquet file's footer and every JSON file (an object), but those of UNCHECKED
    folders. A folder that is missing or not a run is left to the reader to refuse."""
    path = Path(folder)
    if not path.is_dir():
        return
    bad = []
    for file in sorted(path.rglob("*")):
        parts = file.relative_to(path).parts
        if any(p.startswith(".") or p in UNCHECKED for p in parts) or not file.is_file():
            continue
        try:
            if file.suffix == ".parquet":
                pq.read_metadata(file)
            elif file.suffix == ".json" and not isinstance(json.loads(file.read_text()), dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError, pa.ArrowException) as err:
            why = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
            bad.append(f"{file}: {why.strip().splitlines()[0]}")
    if bad:
        raise RunFolderError(
            "cannot read the run folder's files (damaged, or not written by fleetopt): "
            + "; ".join(bad)
        )


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


def _create(path: Path) -> None:
    """Create the folder `path` (and those above), or say plainly why it cannot be."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunFolderError(f"cannot create {path.parent}: {err.strerror or err}") from None
    _check_writable(path.parent)
    try:
        path.mkdir(exist_ok=True)
    except OSError as err:
        raise RunFolderError(f"cannot create {path}: {err.strerror or err}") from None


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
