"""What fleetopt owns, and so may replace: its files outside run folders, its outputs inside.

Files outside run folders (`fleetopt perf --out`, `fleetopt report --out`) start with their
kind's mark, in a fixed place: a report's first five lines (the HTML head up to its
`<meta name="generator" content="fleetopt report">`), a throughput CSV's first line
(`# generator: fleetopt perf`). `claim_file` lets such a file be written only where nothing
is, or over a file that starts with the same mark; any other file is refused (RunFolderError,
exit 2) and left untouched, unless the user passes `--overwrite`. A mark quoted anywhere else
in a file (a page of documentation about the report, say) does not count.

Inside a run folder, fleetopt's own outputs are the names its kind writes (RUN_OUTPUTS), the
temporary names its atomic writes use, and any fleetopt report (the report kind's output,
which describes that run). `remove_outputs` deletes those and nothing else: a user's notes,
subfolders and files stay when a run is replaced.
"""

from __future__ import annotations

import enum
import logging
import os
import re
import shutil
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

    def __init__(self, noun: str, mark: str):
        self.noun = noun
        self.mark = mark


def is_own(path: str | os.PathLike[str], kind: FileKind) -> bool:
    """Whether the file at `path` starts with `kind`'s mark (an unreadable file does not)."""
    mark = kind.mark.encode()
    try:
        with Path(path).open("rb") as f:
            return f.read(len(mark)) == mark
    except OSError:
        return False


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
