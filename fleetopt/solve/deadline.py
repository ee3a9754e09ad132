"""A wall-clock deadline for a plan, held even where HiGHS does not hold its own time limit.

`fleetopt solve --time-limit T` promises summary.json T seconds after it starts, whatever
the case. The solver gets what is left of T after the model is built, less a margin for
the work after it. HiGHS (1.12, inside OR-Tools 9.15) checks its time limit often, but not
during the analytic-centre interior-point solve that its MIP root node waits for after a
few cut rounds: on a 435,000-column fleet model that step ran four minutes past a 200 s
limit. MathOpt's HiGHS interface ignores a SolveInterrupter, so nothing in the process
can stop it.

So a MILP with a held deadline is solved by HiGHS in a child process
(fleetopt.solve.highs_child). HiGHS stops itself at `deadline - 2 x margin`; a child still busy
at `deadline - margin` is stopped, and the plan is the last improving solution HiGHS wrote
to its solution file, with the dual bound of its last progress line: the reported gap is
still one HiGHS proved.
"""

from __future__ import annotations

import contextlib
import math
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
from ortools.math_opt import model_parameters_pb2, model_pb2, parameters_pb2, result_pb2

from fleetopt.core.errors import SolverError
from fleetopt.solve import highs_child

STOP_GRACE_S = 1.0  # a stopped child that has not exited by then is killed


@dataclass(frozen=True)
class Deadline:
    """When a plan must be done (a `time.monotonic()` instant), and how it is held.

    `hold`: solve MILPs with HiGHS in a child process stopped at the deadline (a plan's
    solve); without it the solver is only given the remaining time (scenario re-solves,
    which are short and many, and would pay for a process each).
    """

    at: float
    limit_s: float
    hold: bool = False

    @classmethod
    def after(cls, limit_s: float, *, hold: bool = False, started: float | None = None) -> Deadline:
        """The deadline `limit_s` seconds after `started` (default: now)."""
        start = time.monotonic() if started is None else started
        return cls(start + limit_s, limit_s, hold)

    @property
    def margin_s(self) -> float:
        """Room left for the work after the solver: results, tables, writing."""
        return 0.25 + 0.01 * self.limit_s

    def solver_limit_s(self) -> float:
        """The time limit for a solve starting now: until `at - 2 x margin`."""
        return max(0.0, self.at - 2 * self.margin_s - time.monotonic())

    @property
    def stop_at(self) -> float:
        """When a held solve that has not answered is stopped."""
        return self.at - self.margin_s


@dataclass(frozen=True)
class HeldSolve:
    """A held solve's outcome: HiGHS's own result, or what it had reported when stopped."""

    result: result_pb2.SolveResultProto | None
    incumbent: np.ndarray | None  # the last improving solution, when stopped
    bound: float  # the last progress line's dual bound, when stopped (-inf without one)


def solve_held(
    proto: model_pb2.ModelProto,
    params: parameters_pb2.SolveParametersProto,
    model_params: model_parameters_pb2.ModelSolveParametersProto,
    stop_at: float,
) -> HeldSolve:
    """Solve a MILP with HiGHS in a child process; stop it at `stop_at` (monotonic).

    Raises SolverError with HiGHS's message if it fails, or if the child dies.
    """
    with tempfile.TemporaryDirectory(prefix="fleetopt-highs-") as tmp:
        incumbents = Path(tmp) / "incumbents.sol"
        params = parameters_pb2.SolveParametersProto.FromString(params.SerializeToString())
        params.highs.string_options["mip_improving_solution_file"] = str(incumbents)
        params.highs.bool_options["mip_improving_solution_report_sparse"] = True
        ours, theirs = socket.socketpair()
        child = subprocess.Popen(
            [sys.executable, "-m", highs_child.__name__, str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
        )
        theirs.close()
        conn = Connection(ours.detach())
        try:
            result, bound, ended = _follow(conn, proto, params, model_params, stop_at)
        finally:
            _stop(conn, child)
        if result is not None:
            return HeldSolve(result, None, bound)
        if ended:  # the child ended without a result before it was stopped
            raise SolverError(f"highs: the solver process ended with exit code {child.returncode}")
        return HeldSolve(None, last_incumbent(incumbents, len(proto.variables.ids)), bound)


def _follow(
    conn: Connection,
    proto: model_pb2.ModelProto,
    params: parameters_pb2.SolveParametersProto,
    model_params: model_parameters_pb2.ModelSolveParametersProto,
    stop_at: float,
) -> tuple[result_pb2.SolveResultProto | None, float, bool]:
    """Send the request, then read progress until HiGHS answers or `stop_at` passes.

    Returns (result or None, last dual bound, whether the child ended by itself).
    """
    progress = HighsProgress()
    try:
        conn.send(
            (
                proto.SerializeToString(),
                params.SerializeToString(),
                model_params.SerializeToString(),
            )
        )
        while (left := stop_at - time.monotonic()) > 0 and conn.poll(left):
            kind, payload = conn.recv()
            if kind == "log":
                progress.read(payload)
            elif kind == "result":
                return result_pb2.SolveResultProto.FromString(payload), progress.bound, True
            else:
                raise SolverError(f"highs: {payload}")
    except (EOFError, OSError):
        return None, progress.bound, True
    return None, progress.bound, False


def _stop(conn: Connection, child: subprocess.Popen[bytes]) -> None:
    """Ask the child to flush HiGHS's files and exit; kill it if it does not."""
    with contextlib.suppress(OSError):  # it has already exited
        conn.send("stop")
    conn.close()
    try:
        child.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


class HighsProgress:
    """The dual bound HiGHS's log has proved so far: BestBound of its last progress line.

    A progress line ends with `... Expl.% BestBound BestSol Gap Cuts InLp Confl. LpIters
    Time`. The printed bound is rounded; half a unit of its last digit is taken off so
    that it stays a bound. Lines of a MIP that HiGHS solves first to complete a partial
    hint ("user-supplied values") are skipped: that MIP fixes some integers, so its bound
    is not one of the model's.
    """

    def __init__(self) -> None:
        self.bound = -math.inf
        self._completing_hint = False

    def read(self, lines: list[str]) -> None:
        for line in lines:
            if "user-supplied values" in line and "MIP" in line:
                self._completing_hint = True
            elif line.startswith("Solving report"):
                self._completing_hint = False
            elif not self._completing_hint:
                self._read_progress(line.split())

    def _read_progress(self, tokens: list[str]) -> None:
        if len(tokens) < 12 or not tokens[-9].endswith("%") or not tokens[-1].endswith("s"):
            return
        try:
            printed = Decimal(tokens[-8])
        except ArithmeticError:
            return
        if printed.is_finite():
            exponent = printed.as_tuple().exponent
            assert isinstance(exponent, int), "a finite number has a whole exponent"
            half_unit = Decimal(1).scaleb(exponent) / 2
            self.bound = float(printed - half_unit)


def last_incumbent(path: Path, n_variables: int) -> np.ndarray | None:
    """The last complete solution in a HiGHS improving-solution file (sparse format).

    Each solution is `Objective v`, `# Columns -k`, then k lines `value index`; a solution
    cut off by the stop is skipped.
    """
    if not path.exists():
        return None
    text = path.read_text()
    lines = text.splitlines()
    if not text.endswith("\n"):
        lines = lines[:-1]  # a line cut off mid-write
    headers = [i for i, line in enumerate(lines) if line.startswith("# Columns -")]
    for header in reversed(headers):
        count = -int(lines[header].split()[-1])
        block = lines[header + 1 : header + 1 + count]
        if len(block) < count:
            continue
        pairs = np.array(" ".join(block).split(), dtype=float).reshape(-1, 2)
        x = np.zeros(n_variables)
        x[pairs[:, 1].astype(np.int64)] = pairs[:, 0]
        return x
    return None
