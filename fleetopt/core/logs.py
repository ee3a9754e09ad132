"""fleetopt's logging: warnings and progress by default, detail with -v, worker records
brought home.

- Library code logs through `logging.getLogger(__name__)` (under `fleetopt`) and never
  prints. Entry points (the CLI, the Ray jobs) call `configure(verbosity, quiet)`: warnings
  only by default, INFO with -v, DEBUG with -vv, on stderr. Progress
  (fleetopt.parallel.progress) shows by default: a bar when stderr is a terminal, INFO lines
  of its own logger otherwise, nothing with -q (`progress_display`).
- A Ray worker's records would end in the worker's own log file. So a task runs inside
  `captured(level)`, which keeps the records fleetopt emits, each tagged with the
  scenario being solved (`scenario(s)`), as plain `WorkerRecord`s returned with the task's
  result; the driver re-emits them with `replay` under `fleetopt.worker`. This needs no
  log forwarding from Ray, so it works the same on a remote cluster.
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import logging
import sys
from collections.abc import Iterable, Iterator
from typing import NamedTuple, TextIO

ROOT = "fleetopt"
WORKER = "fleetopt.worker"
PROGRESS = "fleetopt.parallel.progress"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%H:%M:%S"

_SCENARIO: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "fleetopt_scenario", default=None
)


def level_of(verbosity: int) -> int:
    """The level a count of -v asks for: 0 warnings, 1 INFO, 2 or more DEBUG."""
    if verbosity <= 0:
        return logging.WARNING
    return logging.INFO if verbosity == 1 else logging.DEBUG


class _Stderr(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a record comes (test runners swap it)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> TextIO:
        return sys.stderr


class ProgressDisplay(enum.Enum):
    """How progress shows (fleetopt.parallel.progress)."""

    BAR = "bar"  # a bar redrawn on the terminal
    LINES = "lines"  # log lines (stderr is not a terminal; library use)
    NONE = "none"  # -q


_display = ProgressDisplay.LINES


def progress_display() -> ProgressDisplay:
    return _display


def configure(verbosity: int, quiet: bool = False) -> None:
    """Send fleetopt's records at the level of `verbosity` to stderr, and progress as a bar
    (stderr a terminal) or as lines, or none when `quiet`; for entry points.

    Calling it again replaces the handler it installed (never one installed by others).
    """
    global _display
    logger = logging.getLogger(ROOT)
    for handler in [h for h in logger.handlers if isinstance(h, _Stderr)]:
        logger.removeHandler(handler)
    handler = _Stderr()
    handler.setFormatter(logging.Formatter(FORMAT, DATE_FORMAT))
    logger.addHandler(handler)
    level = level_of(verbosity)
    logger.setLevel(level)
    if quiet:
        _display = ProgressDisplay.NONE
    else:
        _display = ProgressDisplay.BAR if sys.stderr.isatty() else ProgressDisplay.LINES
    logging.getLogger(PROGRESS).setLevel(logging.WARNING if quiet else min(level, logging.INFO))


@contextlib.contextmanager
def scenario(number: int) -> Iterator[None]:
    """Tag the records emitted in this block with scenario `number` (see `captured`)."""
    token = _SCENARIO.set(number)
    try:
        yield
    finally:
        _SCENARIO.reset(token)


class WorkerRecord(NamedTuple):
    """A log record made plain (picklable) for the trip from a worker to the driver."""

    level: int
    logger: str
    message: str
    scenario: int | None


class _Keep(logging.Handler):
    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.records: list[WorkerRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
        self.records.append(WorkerRecord(record.levelno, record.name, message, _SCENARIO.get()))


@contextlib.contextmanager
def captured(level: int) -> Iterator[list[WorkerRecord]]:
    """Keep fleetopt's records of `level` and above emitted in this block, instead of
    emitting them here; yields the list they are appended to.

    Meant for a worker process running one task at a time: the `fleetopt` logger's
    level and handlers are set for the block and restored after it.
    """
    logger = logging.getLogger(ROOT)
    keep = _Keep(level)
    level_before, propagate_before, handlers_before = (
        logger.level,
        logger.propagate,
        logger.handlers,
    )
    logger.handlers, logger.propagate = [keep], False
    logger.setLevel(level)
    try:
        yield keep.records
    finally:
        logger.handlers, logger.propagate = handlers_before, propagate_before
        logger.setLevel(level_before)


def replay(records: Iterable[WorkerRecord]) -> None:
    """Emit records brought back from a worker on this process's `fleetopt.worker` logger,
    each prefixed with its scenario and carrying it as the record's `scenario` attribute."""
    logger = logging.getLogger(WORKER)
    for record in records:
        if not logger.isEnabledFor(record.level):
            continue
        where = f"scenario {record.scenario}: " if record.scenario is not None else ""
        logger.log(
            record.level,
            "%s%s [%s]",
            where,
            record.message,
            record.logger,
            extra={"scenario": record.scenario, "origin": record.logger},
        )
