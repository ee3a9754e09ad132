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

from fleetopt.io.solver import SolverOptions
from fleetopt.model.stage import StageModel, rounding_groups
from fleetopt.solve.highs_child import solver_error_text
from fleetopt.solve.mathopt import SOLVER_TYPE, Engine, solve_parameters, to_proto
from fleetopt.solve.result import SolveStatus

TAIL_FAMILY = "tail"  # the CVaR row z >= cost - eta (fleetopt.model.stage.define_tail)


@dataclass
class RecourseLP:
    """A scenario's relaxed recourse, ready to be solved at any first stage."""

    proto: model_pb2.ModelProto
    first_cols: np.ndarray
    lb: np.ndarray  # the columns' own bounds (a solve sets its own copy in the proto)
    ub: np.ndarray
    whole: list[np.ndarray]  # integer columns to round, group by group (`rounding_groups`)
    integer: np.ndarray  # the stage model's integer columns

    @property
    def n_variables(self) -> int:
        return len(self.lb)

    @property
    def n_constraints(self) -> int:
        return len(self.proto.linear_constraints.ids)


@dataclass(frozen=True)
class RecourseSolution:
    """One solve: the scenario's relaxed cost at the plan (scaled units), the subgradient
    over the first stage, the optimal basis (statuses of columns, then rows), and, where
    asked, the cost of a whole-rack recourse found from it (nan where rounding failed)."""

    status: SolveStatus
    value: float
    subgradient: np.ndarray | None
    basis: np.ndarray | None
    seconds: float
    message: str = ""
    whole_cost: float | None = None


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
    integer = model.integer & ~stage.first_stage
    return RecourseLP(
        to_proto(relaxed),
        stage.first_cols,
        model.lb.copy(),
        model.ub.copy(),
        rounding_groups(stage),
        integer,
    )


def solve_recourse(
    lp: RecourseLP,
    plan: np.ndarray,
    basis: np.ndarray | None,
    options: SolverOptions,
    *,
    whole: bool = False,
) -> RecourseSolution:
    """The relaxed recourse at first stage `plan`, by GLOP's dual simplex from `basis`;
    with `whole` (a whole first stage), also the cost of a whole-rack recourse."""
    started = time.perf_counter()
    lb, ub = lp.lb.copy(), lp.ub.copy()
    lb[lp.first_cols] = ub[lp.first_cols] = plan
    result = _solve(lp, lb, ub, basis, options)
    if isinstance(result, str):
        status = SolveStatus.INFEASIBLE if result == INFEASIBLE else SolveStatus.ERROR
        return RecourseSolution(status, np.nan, None, None, time.perf_counter() - started, result)
    value, x, g, optimal_basis = result
    whole_cost = _round(lp, lb, ub, x, optimal_basis, options) if whole else None
    return RecourseSolution(
        SolveStatus.OPTIMAL,
        value,
        g[lp.first_cols],
        optimal_basis,
        time.perf_counter() - started,
        whole_cost=whole_cost,
    )


def _round(
    lp: RecourseLP,
    lb: np.ndarray,
    ub: np.ndarray,
    x: np.ndarray,
    basis: np.ndarray | None,
    options: SolverOptions,
) -> float:
    """Make the relaxed solution x whole, group by group: each group's fractional columns
    fixed up (more racks), else to the nearest, else down, the LP re-solved each time (the
    rest adapts: shortfall is priced, so fewer racks stay feasible). The cost of the last
    solve where every integer column is whole; nan where none is found."""
    value = np.nan
    for group in lp.whole:
        for rounding in (np.ceil, np.round, np.floor):
            lb[group] = ub[group] = rounding(np.round(x[group], 9))
            result = _solve(lp, lb, ub, basis, options)
            if not isinstance(result, str):
                value, x, _, basis = result
                break
        else:
            return np.nan
    fraction = np.abs(x[lp.integer] - np.round(x[lp.integer]))
    return value if not len(fraction) or fraction.max() <= WHOLE_TOLERANCE else np.nan


WHOLE_TOLERANCE = 1e-6
INFEASIBLE = "infeasible"


Solved = tuple[float, np.ndarray, np.ndarray, np.ndarray | None]  # value, x, reduced costs, basis


def _solve(
    lp: RecourseLP,
    lb: np.ndarray,
    ub: np.ndarray,
    basis: np.ndarray | None,
    options: SolverOptions,
) -> Solved | str:
    """One GLOP solve with these column bounds: (value, x, reduced costs, basis), or why
    not (INFEASIBLE, or the solver's words)."""
    variables = lp.proto.variables
    for field, values in ((variables.lower_bounds, lb), (variables.upper_bounds, ub)):
        del field[:]
        field.extend(values.tolist())
    params = solve_parameters(Engine.GLOP, options, is_mip=False)
    params.lp_algorithm = parameters_pb2.LP_ALGORITHM_DUAL_SIMPLEX
    model_params = model_parameters_pb2.ModelSolveParametersProto()
    if basis is not None:
        model_params.initial_basis.CopyFrom(_basis_proto(basis, lp.n_variables))
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
        return f"glop: {solver_error_text(err)}"
    term = result.termination
    if term.reason in (
        result_pb2.TERMINATION_REASON_INFEASIBLE,
        result_pb2.TERMINATION_REASON_INFEASIBLE_OR_UNBOUNDED,
    ):
        return INFEASIBLE
    solution = result.solutions[0] if result.solutions else None
    if (
        term.reason != result_pb2.TERMINATION_REASON_OPTIMAL
        or solution is None
        or not solution.HasField("dual_solution")
    ):
        name = result_pb2.TerminationReasonProto.Name(term.reason)
        return f"{name}" + (f": {term.detail}" if term.detail else "")
    x = _dense(solution.primal_solution.variable_values, lp.n_variables)
    g = _dense(solution.dual_solution.reduced_costs, lp.n_variables)
    optimal_basis = (
        _basis_array(solution.basis, lp.n_variables, lp.n_constraints)
        if solution.HasField("basis")
        else None
    )
    return float(solution.primal_solution.objective_value), x, g, optimal_basis


def _dense(sparse: solution_pb2.SparseDoubleVectorProto, size: int) -> np.ndarray:
    out = np.zeros(size)
    out[np.fromiter(sparse.ids, dtype=np.int64)] = np.fromiter(sparse.values, dtype=float)
    return out


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
