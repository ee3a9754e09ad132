"""The child process of a held solve (fleetopt.solve.deadline): HiGHS, and nothing it can't stop.

    python -m fleetopt.solve.highs_child FD

reads (model, parameters, model parameters) protos from the socket FD, solves them with
HiGHS in a thread, and sends back HiGHS's progress lines ("log"), then its result
("result") or its error ("error"). On "stop", or when the parent is gone, it flushes the
C streams (HiGHS's improving-solution file) and exits with os._exit, which skips HiGHS's
teardown while it may still be running. It imports only what the solve needs, so that it
starts in about 0.1 s.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
from multiprocessing.connection import Connection

from ortools.math_opt import callback_pb2, model_parameters_pb2, model_pb2, parameters_pb2
from ortools.math_opt.core.python import solver as core_solver
from pybind11_abseil.status import StatusNotOk


def solver_error_text(err: StatusNotOk) -> str:
    """The solver's own message (OR-Tools 9.15 masks it behind an AttributeError)."""
    return str(getattr(err, "message", None) or err)


def main(fd: int) -> None:
    """Solve the request in a thread; on "stop" (or EOF), flush and exit.

    Ctrl-C reaches the whole process group: the parent answers it and stops this child.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = Connection(fd)
    proto, params, model_params = conn.recv()

    def progress(lines: list[str]) -> None:
        with contextlib.suppress(OSError):  # the parent stopped listening; a stop follows
            conn.send(("log", lines))

    def solve() -> None:
        try:
            result = core_solver.solve(
                model_pb2.ModelProto.FromString(proto),
                parameters_pb2.SOLVER_TYPE_HIGHS,
                parameters_pb2.SolverInitializerProto(),
                parameters_pb2.SolveParametersProto.FromString(params),
                model_parameters_pb2.ModelSolveParametersProto.FromString(model_params),
                progress,
                callback_pb2.CallbackRegistrationProto(),
                None,
                None,
            )
            conn.send(("result", result.SerializeToString()))
        except StatusNotOk as err:
            conn.send(("error", solver_error_text(err)))

    threading.Thread(target=solve, daemon=True).start()
    with contextlib.suppress(EOFError):
        conn.recv()
    ctypes.CDLL(None).fflush(None)
    os._exit(0)


if __name__ == "__main__":
    main(int(sys.argv[1]))
