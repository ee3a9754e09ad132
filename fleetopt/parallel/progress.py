"""Progress of a scenario run as log lines at INFO: done/total, rate and ETA, every few
seconds and once at the end (shown with -v; see fleetopt.core.logs)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

EVERY_S = 5.0  # seconds between progress lines


class Progress:
    """Counts finished scenarios of one run and logs how far it got."""

    def __init__(
        self,
        label: str,
        total: int,
        *,
        every_s: float = EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.label = label
        self.total = total
        self.done = 0
        self.every_s = every_s
        self._clock = clock
        self._started = self._last = clock()

    def advance(self, scenarios: int) -> None:
        """Count `scenarios` more as finished; log a line if one is due, or if all are done."""
        self.done += scenarios
        if self.done >= self.total:
            log.info(self.line())
        else:
            self.tick()

    def tick(self) -> None:
        """Log a line if the last one is `every_s` old (also called while nothing finishes)."""
        now = self._clock()
        if now - self._last >= self.every_s:
            self._last = now
            log.info(self.line())

    def line(self) -> str:
        elapsed = self._clock() - self._started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        if self.done >= self.total:
            return (
                f"{self.label}: {self.done}/{self.total} scenarios in {elapsed:.1f} s"
                f" ({rate:.2f} scenarios/s)"
            )
        eta = _duration((self.total - self.done) / rate) if rate > 0 else "unknown"
        return (
            f"{self.label}: {self.done}/{self.total} scenarios"
            f" ({100 * self.done / self.total:.0f}%), {rate:.2f} scenarios/s, ETA {eta}"
        )


def _duration(seconds: float) -> str:
    return str(dt.timedelta(seconds=round(seconds)))
