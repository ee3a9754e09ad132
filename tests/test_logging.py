"""Logging: verbosity levels, progress lines, worker records tagged and replayed.

In-process pieces only; the trip through a real Ray worker is in test_scenarios.py and the
command line's -v in test_cli.py.
"""

from __future__ import annotations

import logging
import os
import pty
import re
import select
import sys
import time

import pytest

from fleetopt.core import logs
from fleetopt.parallel.progress import Progress, announce


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_verbosity_counts_map_to_levels():
    assert [logs.level_of(v) for v in (0, 1, 2, 3)] == [
        logging.WARNING,
        logging.INFO,
        logging.DEBUG,
        logging.DEBUG,
    ]


def test_progress_logs_rate_and_eta_every_few_seconds_and_at_the_end(caplog):
    caplog.set_level(logging.INFO, logger="fleetopt")
    clock = Clock()
    progress = Progress("sweep", 40, every_s=5.0, clock=clock)
    clock.now += 2.0
    progress.advance(4)  # 2 s after the start: too soon for a line
    assert caplog.messages == []
    clock.now += 3.0
    progress.advance(6)  # 10 done in 5 s: 2/s, 30 left, 15 s to go
    clock.now += 1.0
    progress.tick()  # 1 s after the last line: none
    clock.now += 4.0
    progress.tick()  # nothing finished, but 5 s since the last line: 10 in 10 s
    clock.now += 10.0
    progress.advance(30)  # all done: always a line
    assert caplog.messages == [
        "sweep: 10/40 scenarios (25%), 2.00 scenarios/s, ETA 0:00:15",
        "sweep: 10/40 scenarios (25%), 1.00 scenarios/s, ETA 0:00:30",
        "sweep: 40/40 scenarios in 20.0 s (2.00 scenarios/s)",
    ]
    assert {r.name for r in caplog.records} == {"fleetopt.parallel.progress"}


def test_captured_records_carry_their_scenario_and_replay_under_fleetopt_worker(caplog):
    caplog.set_level(logging.DEBUG, logger="fleetopt")
    job_log = logging.getLogger("fleetopt.scenarios.job")
    before = logging.getLogger(logs.ROOT).level
    with logs.captured(logging.INFO) as records:
        job_log.info("preparing")  # outside any scenario
        with logs.scenario(17):
            job_log.warning("derated %d sites", 2)
            job_log.debug("below the level asked for: not kept")
    # Captured records are kept, not emitted where they happen.
    assert caplog.records == []
    assert records == [
        logs.WorkerRecord(logging.INFO, "fleetopt.scenarios.job", "preparing", None),
        logs.WorkerRecord(logging.WARNING, "fleetopt.scenarios.job", "derated 2 sites", 17),
    ]
    assert logging.getLogger(logs.ROOT).level == before  # restored after the block

    logs.replay(records)
    assert [(r.name, r.levelno, r.scenario) for r in caplog.records] == [
        ("fleetopt.worker", logging.INFO, None),
        ("fleetopt.worker", logging.WARNING, 17),
    ]
    assert caplog.messages == [
        "preparing [fleetopt.scenarios.job]",
        "scenario 17: derated 2 sites [fleetopt.scenarios.job]",
    ]


def test_replay_shows_only_what_the_driver_level_lets_through(caplog):
    caplog.set_level(logging.WARNING, logger="fleetopt")
    logs.replay([logs.WorkerRecord(logging.INFO, "fleetopt.x", "detail", 3)])
    assert caplog.records == []


def test_configure_writes_to_stderr_at_the_asked_level_and_replaces_its_handler(capsys):
    logger = logging.getLogger(logs.ROOT)
    handlers, level = list(logger.handlers), logger.level
    try:
        logs.configure(0)
        logs.configure(1)  # a second call replaces the first handler, no line twice
        logging.getLogger("fleetopt.pipelines.runs").info("sweep: 3 scenarios to solve")
        logging.getLogger("fleetopt.pipelines.runs").debug("hidden at -v")
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1
        assert err[0].endswith("INFO fleetopt.pipelines.runs: sweep: 3 scenarios to solve")
    finally:
        logger.handlers = handlers
        logger.setLevel(level)


@pytest.fixture
def restored_logging():
    """configure() changes process-wide logging: put it back afterwards."""
    loggers = [logging.getLogger(name) for name in (logs.ROOT, logs.PROGRESS)]
    saved = [(lg, lg.level, list(lg.handlers)) for lg in loggers]
    display = logs.progress_display()
    yield
    for logger, level, handlers in saved:
        logger.setLevel(level)
        logger.handlers = handlers
    logs._display = display


def test_progress_shows_by_default_as_lines_off_a_terminal_and_not_with_q(restored_logging, capsys):
    logs.configure(0)  # pytest's stderr is no terminal
    assert logs.progress_display() is logs.ProgressDisplay.LINES
    with Progress("sweep", 2) as progress:
        progress.advance(2)
    logging.getLogger("fleetopt.pipelines.runs").info("detail shown only with -v")
    err = capsys.readouterr().err
    assert "INFO fleetopt.parallel.progress: sweep: 2/2 scenarios in" in err
    assert "detail shown only with -v" not in err
    logs.configure(0, quiet=True)
    assert logs.progress_display() is logs.ProgressDisplay.NONE
    with Progress("sweep", 2) as progress:
        progress.advance(2)
    announce("stage plan: started")
    assert capsys.readouterr().err == ""


def test_progress_is_a_bar_with_rate_and_eta_on_a_terminal(restored_logging, monkeypatch):
    leader, follower = pty.openpty()
    terminal = os.fdopen(follower, "w", buffering=1)
    monkeypatch.setattr(sys, "stderr", terminal)
    logs.configure(0)
    assert logs.progress_display() is logs.ProgressDisplay.BAR
    with Progress("sweep", 3) as progress:
        for _ in range(3):
            time.sleep(0.05)
            progress.advance(1)
    terminal.flush()
    shown = b""
    while select.select([leader], [], [], 0.5)[0]:
        shown += os.read(leader, 65536)
    terminal.close()
    os.close(leader)
    text = shown.decode("utf-8", "replace")
    assert "sweep" in text and "━" in text  # the bar
    assert "3/3 scenarios" in text and "/s" in text  # the count and the rate
    assert re.search(r"ETA \d+:\d\d:\d\d", text)  # at the rate since the start
