"""The error types fleetopt raises on purpose; the CLI maps them to exit codes.

The failure policy (docs/architecture.md, "Failures") in one place: bad input (`CaseError`,
`RunFolderError`, an unreadable or unwritable file) is exit 2 with nothing run; a case with
no feasible plan on its forecast (`InfeasibleError`) is exit 3; a run that cannot finish
(`RunError`, `SolverError`) is exit 1; a signal is 128 + its number. A run folder's record
says `failed` and why for every failure after the folder was claimed.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, located as precisely as the input allows."""

    file: str
    message: str
    row: int | None = None  # 1-based data row, header excluded
    row_id: str | None = None  # e.g. "rack_type=vr-nvl72"
    column: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" row {self.row}"
            if self.row_id:
                where += f" ({self.row_id})"
        if self.column:
            where += f", {self.column}"
        return f"{where}: {self.message}"


class CaseError(Exception):
    """Bad input: carries every problem found, so the user fixes them in one pass (exit 2)."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class RunError(Exception):
    """A run that cannot give its answer although its input is valid (exit 1); its run
    record says why."""


class SolverError(RunError):
    """The solver failed or refused the model; the message is the solver's own, unwrapped."""


class InfeasibleError(Exception):
    """The case has no feasible plan on its forecast (exit 3); the message says why."""


class RunFolderError(Exception):
    """An output location that cannot be used for this run; nothing was written (exit 2)."""


class ExitCode(enum.IntEnum):
    """fleetopt's exit codes, the same for the CLI and the Ray job entrypoints."""

    OK = 0
    FAILURE = 1  # a solver or infrastructure failure; the run record says why
    BAD_INPUT = 2  # bad case, bad option or unusable output location; nothing was run
    INFEASIBLE = 3  # the case has no feasible plan
    INTERRUPTED = 130  # SIGINT (128 + 2)
    TERMINATED = 143  # SIGTERM (128 + 15)
