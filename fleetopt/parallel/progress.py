"""Progress of long work (scenarios, iterations, a long solve) as a person sees it.

How it shows is chosen once by the entry point (fleetopt.core.logs.configure):

- on a terminal, a progress bar on stderr (rich): done/total, rate and ETA, redrawn in place;
- when stderr is not a terminal (a log file, a CI job, a Ray job's driver log), plain log
  lines at INFO: done/total, rate and ETA every 30 seconds and once at the end;
- with -q, nothing.

`announce` says one line about a step (a nightly stage starting) in the same way.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Progress as Bar
from rich.text import Text

from fleetopt.core import logs

log = logging.getLogger(__name__)

EVERY_S = 30.0  # seconds between progress lines (a bar redraws itself)


def _rate(task: Task) -> float | None:
    """Units per second since the start (work finishes in chunks: a recent window would
    often see none)."""
    elapsed = task.elapsed or 0.0
    return task.completed / elapsed if task.completed and elapsed > 0 else None


class _Counts(ProgressColumn):
    """'12/64 scenarios, 1.52/s' (no rate until one is known), and a note (a gap)."""

    def render(self, task: Task) -> Text:
        unit, note = task.fields.get("unit", ""), task.fields.get("note", "")
        if task.total is None:  # one long solve: no count
            text = note or "running"
        else:
            rate = _rate(task)
            text = f"{int(task.completed)}/{int(task.total)} {unit}"
            text += f", {rate:.3g}/s" if rate else ""
            text += f", {note}" if note else ""
        return Text(text, no_wrap=True, overflow="ellipsis")


class _Eta(ProgressColumn):
    """'ETA 0:01:23' at the rate since the start; 'ETA ?' before one is known."""

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        rate = _rate(task)
        left = "?" if rate is None else _duration((task.total - task.completed) / rate)
        return Text(f"ETA {left}", no_wrap=True)


def _bar() -> Bar:
    return Bar(
        TextColumn("{task.description}"),
        BarColumn(bar_width=20),
        _Counts(),
        TimeElapsedColumn(),
        _Eta(),
        console=Console(stderr=True),
        transient=False,
    )


class Progress:
    """Counts finished work of one step (`total` units, None when unknown) and shows how far
    it got; a context manager (the bar is drawn from entry to exit)."""

    def __init__(
        self,
        label: str,
        total: int | None,
        *,
        unit: str = "scenarios",
        every_s: float = EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0
        self.note = ""
        self.every_s = every_s
        self._clock = clock
        self._started = self._last = clock()
        self._display = logs.progress_display()
        self._bar: Bar | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> Progress:
        if self._display is logs.ProgressDisplay.BAR:
            self._bar = _bar()
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total, unit=self.unit, note="")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        elif kind is None and self.total is None and self._display is logs.ProgressDisplay.LINES:
            log.info(self.line())

    def advance(self, units: int = 1, note: str | None = None) -> None:
        """Count `units` more as finished (and a `note`, such as a gap, to show with them);
        log a line if one is due, or if all are done."""
        self.done += units
        if note is not None:
            self.note = note
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=self.done, note=self.note)
            return
        if self.total is not None and self.done >= self.total:
            self._line()
        else:
            self.tick()

    def tick(self) -> None:
        """Log a line if the last one is `every_s` old (also called while nothing finishes)."""
        now = self._clock()
        if now - self._last >= self.every_s:
            self._last = now
            self._line()

    def _line(self) -> None:
        if self._display is logs.ProgressDisplay.LINES:
            log.info(self.line())

    def line(self) -> str:
        elapsed = self._clock() - self._started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        note = f", {self.note}" if self.note else ""
        if self.total is None:
            return f"{self.label}: {self.done} {self.unit} in {elapsed:.1f} s{note}"
        if self.done >= self.total:
            return (
                f"{self.label}: {self.done}/{self.total} {self.unit} in {elapsed:.1f} s"
                f" ({rate:.2f} {self.unit}/s){note}"
            )
        eta = _duration((self.total - self.done) / rate) if rate > 0 else "unknown"
        return (
            f"{self.label}: {self.done}/{self.total} {self.unit}"
            f" ({100 * self.done / self.total:.0f}%), {rate:.2f} {self.unit}/s, ETA {eta}{note}"
        )


def announce(message: str) -> None:
    """One line about a step, shown as progress is (on the terminal, as a log line, or not)."""
    display = logs.progress_display()
    if display is logs.ProgressDisplay.BAR:
        Console(stderr=True).print(message, highlight=False, markup=False)
    elif display is logs.ProgressDisplay.LINES:
        log.info(message)


def _duration(seconds: float) -> str:
    return str(dt.timedelta(seconds=round(seconds)))
