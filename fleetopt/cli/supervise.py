"""Run a Ray-using command in a child process, so that a hard stop still ends in words.

Ray ends a driver whose raylet dies with a hard exit (no Python cleanup): the run record
would stay `running` and the user would read only Ray's logs. So the commands that start
Ray run supervised: the parent starts no Ray; it runs the same command line again in a
child (with FLEETOPT_SUPERVISED=1), forwards SIGTERM and SIGINT to it, and when the child
ends without having closed its run records, marks them failed and prints one line saying
what happened and how to resume.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import click

from fleetopt.core.errors import ExitCode
from fleetopt.io.lock import held_elsewhere
from fleetopt.io.runfolder import RUN_RECORD, RunStatus
from fleetopt.io.store import write_json_atomic

ENV = "FLEETOPT_SUPERVISED"


def supervised() -> bool:
    """Whether this process is the supervised child (or supervision is switched off)."""
    return os.environ.get(ENV) == "1"


def end_output() -> None:
    """In the supervised child, after fleetopt's last line: nothing more on its stdout or
    stderr. Ray's threads and exit handlers (its retry and shutdown lines after a signal)
    would otherwise print after that line, which must stay the last one."""
    if not supervised():
        return
    sys.stdout.flush()
    sys.stderr.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def run_supervised(run_folder: str | os.PathLike, extra_args: Sequence[str] = ()) -> int:
    """Run this process's own command line (plus `extra_args`) in a child; return its code.

    `run_folder` is where the child keeps its run records (`run.json` there and one level
    down); records it left `running` are closed as failed.
    """
    command = [sys.executable, *sys.orig_argv[1:], *extra_args]
    child = subprocess.Popen(command, env={**os.environ, ENV: "1"})
    forwarded: list[int] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        forwarded.append(signum)
        if child.poll() is None:
            child.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    left_open = _close_running(Path(run_folder), code)
    if not left_open:
        return code if code >= 0 else ExitCode.FAILURE
    click.echo(
        f"fleetopt: the run stopped unexpectedly ({_how(code)}); {run_folder} is incomplete"
        " and recorded as failed; run the same command again to resume it",
        err=True,
    )
    if forwarded and forwarded[0] == signal.SIGTERM:
        return ExitCode.TERMINATED
    return ExitCode.INTERRUPTED if forwarded else ExitCode.FAILURE


def _how(code: int) -> str:
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return (
        f"exit {code} without closing its run record: Ray stops a driver whose raylet or "
        "cluster died"
    )


def _close_running(folder: Path, code: int) -> list[Path]:
    """Mark every run record under `folder` (and one level down) still `running` as failed,
    but those of a run another process is writing (it holds their folder's lock: the child
    was refused, or the run is not the child's)."""
    closed = []
    for path in [folder / RUN_RECORD, *sorted(folder.glob(f"*/{RUN_RECORD}"))]:
        if held_elsewhere(path.parent):
            continue
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(record, dict) or record.get("status") != RunStatus.RUNNING.value:
            continue
        record["status"] = RunStatus.FAILED.value
        record["reason"] = f"the run process ended unexpectedly ({_how(code)})"
        write_json_atomic(path, record)
        closed.append(path)
    return closed
