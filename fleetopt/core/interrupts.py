"""Signals as orderly stops: SIGTERM and SIGINT end a run with its record marked failed.

`install()` makes both signals raise `Interrupted`, which unwinds like Ctrl-C through every
`except BaseException` that records a failure. Ray's driver replaces the SIGTERM handler
when it starts (with one that dumps a C++ stack and exits 15), so `install()` runs again
right after `ray.init`. `Interrupted` subclasses KeyboardInterrupt because Ray's blocking
calls translate exactly that (inside `ray.wait` a KeyboardInterrupt from a handler surfaces
as a plain KeyboardInterrupt, anything else as a SystemError), so the signal that caused it
is remembered here rather than in the exception. Only the first signal interrupts: a second
one, while the first is being recorded, is ignored.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

from fleetopt.core.errors import ExitCode

HANDLED = (signal.SIGTERM, signal.SIGINT)
_received: list[int] = []


class Interrupted(KeyboardInterrupt):
    """A run stopped by a signal."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _handler(signum: int, frame: FrameType | None) -> None:
    if _received:
        return  # already stopping
    _received.append(signum)
    raise Interrupted(signum)


def install() -> None:
    """Route SIGTERM and SIGINT to `Interrupted` (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in HANDLED:
        signal.signal(signum, _handler)


def received() -> int | None:
    """The signal that interrupted this process, if one did."""
    return _received[0] if _received else None


def signal_name(err: BaseException) -> str:
    """Which signal a KeyboardInterrupt stands for (plain Ctrl-C without our handler: SIGINT)."""
    signum = getattr(err, "signum", None) or received() or signal.SIGINT
    return signal.Signals(signum).name


def exit_code(err: BaseException) -> ExitCode:
    """128 + the signal number for an interrupted run."""
    return ExitCode.TERMINATED if signal_name(err) == "SIGTERM" else ExitCode.INTERRUPTED


def failure_reason(err: BaseException) -> str:
    """How a run record words why the run stopped."""
    if isinstance(err, KeyboardInterrupt):
        return f"interrupted by {signal_name(err)}"
    return f"{type(err).__name__}: {err}"
