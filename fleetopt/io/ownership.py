"""What fleetopt owns, and so may replace: its files outside run folders, its outputs inside.

Files outside run folders (`fleetopt perf --out`, `fleetopt report --out`, `fleetopt export
--out`) carry their kind's mark, in a fixed place: a report's first five lines (the HTML head
up to its `<meta name="generator" content="fleetopt report">`), a throughput CSV's first line
(`# generator: fleetopt perf`), an exported workbook's document properties (author and last
modified by `fleetopt export`: a workbook saved again by a person is theirs). `claim_file`
lets such a file be written only where nothing is, or over a file that carries the same
mark; any other file is refused (RunFolderError, exit 2) and left untouched, unless the user
passes `--overwrite`. A mark quoted anywhere else in a file (a page of documentation about
the report, say) does not count. An export to CSV is a folder: fleetopt's own when it holds
its mark file (`fleetopt-export.json`) and nothing but the files that file lists
(`claim_export_folder`).

Inside a run folder, fleetopt's own outputs are the names its kind writes (RUN_OUTPUTS), the
temporary names its atomic writes use, and any fleetopt report (the report kind's output,
which describes that run). `remove_outputs` deletes those and nothing else: a user's notes,
subfolders and files stay when a run is replaced.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import re
import shutil
import zipfile
from pathlib import Path

from fleetopt.core.errors import RunFolderError

log = logging.getLogger(__name__)

SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.html"
RECORD_FILES = ("run.json", SUMMARY_FILE, "_SUCCESS")
SOLUTION_TABLES = (  # a plan's own tables (fleetopt.results.tables.PlanTables)
    "racks",
    "placement",
    "sites",
    "workloads",
    "orders",
    "periods",
    "marginal_values",
)
PLAN_TABLES = (*SOLUTION_TABLES, "operating_points")
SCENARIO_TABLES = ("results", "mix", "sites", "scenarios")
STOCHASTIC_TABLES = (
    "orders",
    "scenarios",
    "racks",
    "results",
    "recourse",
    "convergence",
    "out_of_sample",
    "replications",  # with --replications R
)
# A what-if run's and an alternatives run's plans' tables, labelled, then one row per plan.
WHATIF_TABLES = (*SOLUTION_TABLES, "variants")
ALTERNATIVES_TABLES = (
    *(t for t in SOLUTION_TABLES if t != "marginal_values"),
    "shares",
    "alternatives",
)
NIGHTLY_STAGES = ("plan", "robust", "stochastic", "whatif", "alternatives", "installed", "compare")


def _parquet(*stems: str) -> tuple[str, ...]:
    return tuple(f"{stem}.parquet" for stem in stems)


# Top-level names each run kind writes (besides RECORD_FILES); a test runs every kind and
# checks that nothing else appears (tests/test_ownership.py).
RUN_OUTPUTS: dict[str, frozenset[str]] = {
    kind: frozenset((*RECORD_FILES, *names))
    for kind, names in {
        "plan": _parquet(*PLAN_TABLES),
        "sweep": (*_parquet(*SCENARIO_TABLES), "parts"),
        "evaluate": (*_parquet(*SCENARIO_TABLES), "parts"),
        "robust": ("sweep", "evaluate", "choice"),
        "stochastic": (*_parquet(*STOCHASTIC_TABLES), "state"),
        "whatif": (*_parquet(*WHATIF_TABLES), "parts"),
        "alternatives": (*_parquet(*ALTERNATIVES_TABLES), "parts"),
        "nightly": (*NIGHTLY_STAGES, REPORT_FILE),
    }.items()
}
TEMPORARY = re.compile(r"\..+\.[0-9a-f]{32}\.(tmp|old)")  # io.store's atomic writes


class FileKind(enum.Enum):
    """A file fleetopt writes outside run folders: what it is, and the mark it starts with."""

    REPORT = (
        "fleetopt report",
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="generator" content="fleetopt report">\n',
    )
    THROUGHPUT = ("fleetopt perf output", "# generator: fleetopt perf\n")
    WORKBOOK = ("fleetopt export workbook", "fleetopt export")  # in its properties

    def __init__(self, noun: str, mark: str):
        self.noun = noun
        self.mark = mark


def is_own(path: str | os.PathLike[str], kind: FileKind) -> bool:
    """Whether the file at `path` carries `kind`'s mark (an unreadable file does not)."""
    if kind is FileKind.WORKBOOK:
        return _marked_workbook(Path(path), kind.mark)
    mark = kind.mark.encode()
    try:
        with Path(path).open("rb") as f:
            return f.read(len(mark)) == mark
    except OSError:
        return False


WORKBOOK_PROPERTIES = "docProps/core.xml"
_CREATOR = re.compile(r"<dc:creator>([^<]*)</dc:creator>")
_MODIFIED_BY = re.compile(r"<cp:lastModifiedBy>([^<]*)</cp:lastModifiedBy>")


def _marked_workbook(path: Path, mark: str) -> bool:
    """An .xlsx whose author and last editor are both `mark`: written by fleetopt and not
    saved since by anyone else."""
    try:
        with zipfile.ZipFile(path) as book:
            properties = book.read(WORKBOOK_PROPERTIES).decode("utf-8", "replace")
    except (OSError, KeyError, zipfile.BadZipFile):
        return False
    found = [pattern.search(properties) for pattern in (_CREATOR, _MODIFIED_BY)]
    return all(m is not None and m.group(1) == mark for m in found)


EXPORT_MARK_FILE = "fleetopt-export.json"


def export_files(folder: Path) -> set[str] | None:
    """The files a CSV export folder's mark file lists (with the mark file), or None for a
    folder without a readable mark."""
    try:
        mark = json.loads((folder / EXPORT_MARK_FILE).read_text(encoding="utf-8"))
        files = mark["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if mark.get("generator") != "fleetopt export" or not isinstance(files, list):
        return None
    return {str(name) for name in files} | {EXPORT_MARK_FILE}


def claim_export_folder(path: str | os.PathLike[str], *, overwrite: bool = False) -> bool:
    """Check that a CSV export may be written as the folder `path`, before anything is read.

    True: the folder may be replaced whole (it does not exist, is empty, or is an earlier
    export holding nothing but its listed files). False (only with `overwrite`): write the
    export's files into it, replacing files of the same names and keeping the rest. Refused
    (RunFolderError, exit 2; nothing changed): a file; any other folder without `overwrite`.
    """
    target = Path(path)
    if not str(path).strip():
        raise RunFolderError("the output folder name is empty; give a folder name")
    if target.exists() and not target.is_dir():
        raise RunFolderError(
            f"{target} is a file; a CSV export is a folder of CSV files: give a folder name"
            " (or --format xlsx for one workbook)"
        )
    if not target.exists() or not any(target.iterdir()):
        return True
    listed = export_files(target)
    if listed is not None and {entry.name for entry in target.iterdir()} <= listed:
        return True
    if overwrite:
        return False
    raise RunFolderError(
        f"{target} exists and is not a fleetopt export; nothing was changed: choose another"
        " --out, or pass --overwrite to write the export's files into it (files of other"
        " names there are kept)"
    )


def claim_file(path: str | os.PathLike[str], kind: FileKind, *, overwrite: bool = False) -> Path:
    """Check that a file of `kind` may be written at `path`, before anything is computed.

    Refused (RunFolderError, exit 2; nothing changed): a folder; an existing file that is
    not `kind`'s own output, unless `overwrite`; a place whose folder cannot be made.
    """
    target = Path(path)
    if not str(path).strip():
        raise RunFolderError("the output file name is empty; give a file name")
    if target.is_dir():
        raise RunFolderError(f"{target} is a folder; give a file name")
    if target.exists() and not overwrite and not is_own(target, kind):
        raise RunFolderError(
            f"{target} exists and is not a {kind.noun}; nothing was changed: choose another"
            f" --out, or pass --overwrite to replace it (only an earlier {kind.noun} is"
            " replaced without it)"
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunFolderError(f"cannot create {target.parent}: {err.strerror or err}") from None
    return target


def own_entries(folder: str | os.PathLike[str], kind: str) -> list[Path]:
    """The entries of run folder `folder` (of `kind`) that fleetopt wrote, sorted."""
    names = RUN_OUTPUTS.get(kind, frozenset(RECORD_FILES))
    found = []
    for entry in sorted(Path(folder).iterdir()):
        own = entry.name in names or TEMPORARY.fullmatch(entry.name) is not None
        if own or (entry.is_file() and is_own(entry, FileKind.REPORT)):
            found.append(entry)
    return found


def remove_outputs(
    folder: str | os.PathLike[str], kind: str, *, keep: frozenset[str] = frozenset()
) -> None:
    """Delete fleetopt's own outputs in run folder `folder` (of `kind`), but those named in
    `keep`. A report of the run goes with it (it would describe a run no longer there); the
    warning says so."""
    for entry in own_entries(folder, kind):
        if entry.name in keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
            continue
        if entry.name not in RUN_OUTPUTS.get(kind, ()) and is_own(entry, FileKind.REPORT):
            log.warning(
                "removed %s, the report of the run replaced; `fleetopt report %s` writes one"
                " of the new run",
                entry,
                entry.parent,
            )
        entry.unlink()
