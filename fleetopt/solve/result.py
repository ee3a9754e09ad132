"""What a solve returns, as types that need no solver to read (results/ imports these)."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass

import numpy as np

from fleetopt.model.build import LinearModel


class SolveStatus(enum.StrEnum):
    """Outcome of a solve, as written to summary.json (docs/model.md section 6)."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"  # stopped by a time or gap limit: a plan, with its proven gap
    INFEASIBLE = "infeasible"
    ERROR = "error"

    @property
    def has_plan(self) -> bool:
        """Whether a solve with this status carries a plan and its costs."""
        return self in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)


SOLVED = tuple(s.value for s in SolveStatus if s.has_plan)  # statuses with a plan, as text


@dataclass(frozen=True)
class PlanResult:
    """The outcome of solving one case (or one scenario of it).

    `objective` is the value minimized in user units: USD per year for min_cost, USD per
    million served tokens for min_cost_per_token. `x` is the solution vector of `model`.
    """

    status: SolveStatus
    objective: float
    gap: float
    model: LinearModel
    x: np.ndarray | None
    solve_seconds: float
    build_seconds: float
    steps: int = 1
    message: str = ""
    # With the integer decisions fixed (an LP): its dual values per row and reduced costs
    # per column, in the model's scaled units (fleetopt.solve.mathopt.Solution).
    dual_values: np.ndarray | None = None
    reduced_costs: np.ndarray | None = None


@dataclass(frozen=True)
class ConvergenceRow:
    """One row of a two-stage run's convergence table (convergence.parquet), the same for
    the extensive form (one row), progressive hedging (a row per iteration) and Benders
    decomposition (a row per round), in the model's scaled units here (the pipeline writes
    USD). Fields a method does not have are None (the extensive form has no spread, cuts
    or evaluated plans; only Benders has phases, relaxed objectives and a master)."""

    iteration: int
    lower_bound: float
    upper_bound: float
    gap: float
    solve_seconds: float
    elapsed_seconds: float
    spread: float | None = None
    cuts: int | None = None
    plans_evaluated: int | None = None
    phase: str | None = None  # Benders: start, lp or integer
    relaxed_objective: float | None = None  # Benders: the relaxed recourse's value at the cut
    points: int | None = None  # Benders: first stages cut at so far
    master_seconds: float | None = None  # Benders: the master's solve


CONVERGENCE_COLUMNS = tuple(f.name for f in dataclasses.fields(ConvergenceRow))
