"""A scenario's recourse as an LP with its first stage fixed, solved with its duals: the
subproblem of the L-shaped method (docs/model.md section 9).

The LP is the scenario's stage model with every integer relaxed, the scenario's cost as
objective (the CVaR tail row freed: a scenario's cost does not depend on eta), and the
first stage fixed by bounds. Its optimal value v and the reduced costs g of the fixed
columns make the optimality cut `cost(x) >= v + g (x - plan)`.

The proto is built once per scenario and only the fixed columns' bounds change between
solves. GLOP's dual simplex starts from the basis of the scenario's previous solve, given
with the call (measured on the bundled example, 2 cores: 5.3 ms a solve from the last
basis, 6.7 ms updating one GLOP solver in place, 12-15 ms from scratch, 18-22 ms with
HiGHS, which takes no starting basis through MathOpt). A solve is thus a function of (the
scenario, the plan, the basis) alone, whichever worker runs it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
from ortools.math_opt import (
    callback_pb2,
    model_parameters_pb2,
    model_pb2,
    parameters_pb2,
    result_pb2,
    solution_pb2,
)
from ortools.math_opt.core.python import solver as core_solver
from pybind11_abseil.status import StatusNotOk

from fleetopt.io.case import SolverOptions
from fleetopt.model.stage import StageModel
from fleetopt.solve.highs_child import solver_error_text
from fleetopt.solve.mathopt import SOLVER_TYPE, Engine, solve_parameters, to_proto
from fleetopt.solve.result import SolveStatus

TAIL_FAMILY = "tail"  # the CVaR row z >= cost - eta (fleetopt.model.stage.define_tail)


@dataclass
class RecourseLP:
    """A scenario's relaxed recourse, ready to be solved at any first stage."""

    proto: model_pb2.ModelProto
    first_cols: np.ndarray
    lb: np.ndarray  # the columns' bounds, the first stage's set at each solve
    ub: np.ndarray

    @property
    def n_variables(self) -> int:
        return len(self.lb)

    @property
    def n_constraints(self) -> int:
        return len(self.proto.linear_constraints.ids)


@dataclass(frozen=True)
class RecourseSolution:
    """One solve: the scenario's relaxed cost at the plan (scaled units), the subgradient
    over the first stage, and the optimal basis (statuses of columns, then rows)."""

    status: SolveStatus
    value: float
    subgradient: np.ndarray | None
    basis: np.ndarray | None
    seconds: float
    message: str = ""


def recourse_lp(stage: StageModel) -> RecourseLP:
    """The LP of `stage`'s recourse: integers relaxed, objective the scenario's cost."""
    model = stage.model
    row_lb, row_ub = model.row_lb.copy(), model.row_ub.copy()
    if TAIL_FAMILY in model.families:
        tail = model.families[TAIL_FAMILY]
        row_lb[tail], row_ub[tail] = -np.inf, np.inf
    relaxed = replace(
        model,
        integer=np.zeros(model.n_variables, dtype=bool),
        objective=stage.cost,
        objective_offset=0.0,
        row_lb=row_lb,
        row_ub=row_ub,
    )
    return RecourseLP(to_proto(relaxed), stage.first_cols, model.lb.copy(), model.ub.copy())


def solve_recourse(
    lp: RecourseLP, plan: np.ndarray, basis: np.ndarray | None, options: SolverOptions
) -> RecourseSolution:
    """The relaxed recourse at first stage `plan`, by GLOP's dual simplex from `basis`."""
    lp.lb[lp.first_cols] = lp.ub[lp.first_cols] = plan
    variables = lp.proto.variables
    for field, values in ((variables.lower_bounds, lp.lb), (variables.upper_bounds, lp.ub)):
        del field[:]
        field.extend(values.tolist())
    params = solve_parameters(Engine.GLOP, options, is_mip=False)
    params.lp_algorithm = parameters_pb2.LP_ALGORITHM_DUAL_SIMPLEX
    model_params = model_parameters_pb2.ModelSolveParametersProto()
    if basis is not None:
        model_params.initial_basis.CopyFrom(_basis_proto(basis, lp.n_variables))
    started = time.perf_counter()
    try:
        result = core_solver.solve(
            lp.proto,
            SOLVER_TYPE[Engine.GLOP],
            parameters_pb2.SolverInitializerProto(),
            params,
            model_params,
            None,
            callback_pb2.CallbackRegistrationProto(),
            None,
            None,
        )
    except StatusNotOk as err:
        seconds = time.perf_counter() - started
        message = f"glop: {solver_error_text(err)}"
        return RecourseSolution(SolveStatus.ERROR, np.nan, None, None, seconds, message)
    seconds = time.perf_counter() - started
    term = result.termination
    if term.reason in (
        result_pb2.TERMINATION_REASON_INFEASIBLE,
        result_pb2.TERMINATION_REASON_INFEASIBLE_OR_UNBOUNDED,
    ):
        return RecourseSolution(SolveStatus.INFEASIBLE, np.nan, None, None, seconds, term.detail)
    solution = result.solutions[0] if result.solutions else None
    if (
        term.reason != result_pb2.TERMINATION_REASON_OPTIMAL
        or solution is None
        or not solution.HasField("dual_solution")
    ):
        name = result_pb2.TerminationReasonProto.Name(term.reason)
        message = f"{name}" + (f": {term.detail}" if term.detail else "")
        return RecourseSolution(SolveStatus.ERROR, np.nan, None, None, seconds, message)
    reduced = solution.dual_solution.reduced_costs
    g = np.zeros(lp.n_variables)
    g[np.fromiter(reduced.ids, dtype=np.int64)] = np.fromiter(reduced.values, dtype=float)
    return RecourseSolution(
        SolveStatus.OPTIMAL,
        float(solution.primal_solution.objective_value),
        g[lp.first_cols],
        _basis_array(solution.basis, lp.n_variables, lp.n_constraints)
        if solution.HasField("basis")
        else None,
        seconds,
    )


def _basis_array(basis: solution_pb2.BasisProto, n_variables: int, n_rows: int) -> np.ndarray:
    """Statuses as int8: columns, then rows (0: unspecified)."""
    out = np.zeros(n_variables + n_rows, dtype=np.int8)
    for offset, part in ((0, basis.variable_status), (n_variables, basis.constraint_status)):
        ids = np.fromiter(part.ids, dtype=np.int64)
        out[offset + ids] = np.fromiter(part.values, dtype=np.int8, count=len(ids))
    return out


def _basis_proto(statuses: np.ndarray, n_variables: int) -> solution_pb2.BasisProto:
    proto = solution_pb2.BasisProto()
    for part, values in (
        (proto.variable_status, statuses[:n_variables]),
        (proto.constraint_status, statuses[n_variables:]),
    ):
        part.ids.extend(range(len(values)))
        part.values.extend(values.tolist())
    return proto
