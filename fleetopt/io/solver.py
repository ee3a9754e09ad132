"""How to solve: which MILP solver and its limits (case.yaml `solver`, or the command line)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from fleetopt.core.errors import CaseError, Problem
from fleetopt.io.fields import INVALID, check_field
from fleetopt.io.schema import SOLVER_FIELDS, SolverName

COMMAND_LINE = "command line"


@dataclass(frozen=True)
class SolverOptions:
    """How to solve: which MILP solver and its limits (case.yaml `solver`)."""

    name: SolverName = SolverName.HIGHS
    time_limit_s: float = 60.0
    relative_gap: float = 1e-6
    threads: int = 0  # 0 = solver default
    seed: int = 0

    def as_params(self) -> dict[str, str]:
        """These options as run-record parameters (every value as text)."""
        return {k: str(v) for k, v in dataclasses.asdict(self).items()}

    def with_overrides(
        self,
        *,
        name: str | SolverName | None = None,
        time_limit_s: float | None = None,
        relative_gap: float | None = None,
        threads: int | None = None,
        seed: int | None = None,
    ) -> SolverOptions:
        """These options with the given ones replaced (None keeps), checked like case.yaml.

        Raises CaseError with file "command line" naming each bad option.
        """
        given = {
            "name": name,
            "time_limit_s": time_limit_s,
            "relative_gap": relative_gap,
            "threads": threads,
            "seed": seed,
        }
        problems: list[Problem] = []
        changes: dict[str, Any] = {}
        for key, value in given.items():
            if value is None:
                continue
            if isinstance(value, SolverName):
                value = value.value
            checked = check_field(value, key, SOLVER_FIELDS[key], COMMAND_LINE, problems)
            if checked is not INVALID:
                changes[key] = SolverName(checked) if key == "name" else checked
        if problems:
            raise CaseError(problems)
        return dataclasses.replace(self, **changes)
