"""Solve a built model with OR-Tools MathOpt, straight from a ModelProto filled by numpy.

The proto is filled from the model's arrays in one pass per field (no Python model
objects, which cost seconds on large models and do not pickle), handed to MathOpt's core
solver, and the answer comes back as arrays and a typed `SolveStatus`.

Status is honest: `optimal` only when the solver proved the plan within `OPTIMAL_GAP`;
a solve stopped by a time limit, or by a relative gap looser than `OPTIMAL_GAP`, is
`feasible` with its proven gap.

With a `Deadline`, the solver gets the time left until it (fleetopt.solve.deadline); a held
deadline runs HiGHS MILPs in a child process that is stopped at it.
"""

from __future__ import annotations

import datetime
import enum
import re
import time
from dataclasses import dataclass

import numpy as np
from ortools.math_opt import (
    callback_pb2,
    model_parameters_pb2,
    model_pb2,
    parameters_pb2,
    result_pb2,
    solution_pb2,
    sparse_containers_pb2,
)
from ortools.math_opt.core.python import solver as core_solver
from ortools.math_opt.python import parameters as mo_parameters
from ortools.math_opt.solvers import highs_pb2
from pybind11_abseil.status import StatusNotOk

from fleetopt.core.errors import SolverError
from fleetopt.io.schema import SolverName
from fleetopt.io.solver import SolverOptions
from fleetopt.model.build import LinearModel
from fleetopt.solve.deadline import Deadline, HeldSolve, solve_held
from fleetopt.solve.highs_child import solver_error_text
from fleetopt.solve.result import SolveStatus

OPTIMAL_GAP = 1e-6  # the contract's default relative gap; looser proofs are `feasible`


class Engine(enum.StrEnum):
    """The OR-Tools back ends fleetopt drives: the user's MILP solvers, and GLOP for LPs."""

    HIGHS = "highs"
    SCIP = "scip"
    GLOP = "glop"


SOLVER_TYPE = {
    Engine.HIGHS: parameters_pb2.SOLVER_TYPE_HIGHS,
    Engine.SCIP: parameters_pb2.SOLVER_TYPE_GSCIP,
    Engine.GLOP: parameters_pb2.SOLVER_TYPE_GLOP,
}


@dataclass(frozen=True)
class Solution:
    """What one solve returned. `x` is None unless a feasible point was found."""

    status: SolveStatus
    x: np.ndarray | None
    objective: float  # in the model's scaled units, offset included; nan without a solution
    bound: float
    gap: float
    seconds: float
    message: str = ""
    basis: solution_pb2.BasisProto | None = None  # an LP's optimal basis, to warm-start from


def engine_for(options: SolverOptions) -> Engine:
    return Engine(SolverName(options.name).value)


def to_proto(model: LinearModel) -> model_pb2.ModelProto:
    """Fill a MathOpt ModelProto from the model's arrays."""
    proto = model_pb2.ModelProto(name="fleetopt")
    ids = np.arange(model.n_variables, dtype=np.int64)
    proto.variables.ids.extend(ids.tolist())
    proto.variables.lower_bounds.extend(model.lb.tolist())
    proto.variables.upper_bounds.extend(model.ub.tolist())
    proto.variables.integers.extend(model.integer.tolist())
    nonzero = np.flatnonzero(model.objective)
    proto.objective.maximize = False
    proto.objective.offset = float(model.objective_offset)
    proto.objective.linear_coefficients.ids.extend(nonzero.tolist())
    proto.objective.linear_coefficients.values.extend(model.objective[nonzero].tolist())
    proto.linear_constraints.ids.extend(range(model.n_constraints))
    proto.linear_constraints.lower_bounds.extend(model.row_lb.tolist())
    proto.linear_constraints.upper_bounds.extend(model.row_ub.tolist())
    matrix = proto.linear_constraint_matrix
    matrix.row_ids.extend(model.row.tolist())
    matrix.column_ids.extend(model.col.tolist())
    matrix.coefficients.extend(model.val.tolist())
    return proto


def solve_parameters(
    engine: Engine,
    options: SolverOptions,
    is_mip: bool,
    absolute_gap: float = 0.0,
    time_limit_s: float | None = None,
) -> parameters_pb2.SolveParametersProto:
    """MathOpt parameters: limits, gaps, threads and seed, each where its back end wants it.

    `time_limit_s` replaces the options' limit (the time left before a deadline).
    """
    limit_s = options.time_limit_s if time_limit_s is None else time_limit_s
    params = mo_parameters.SolveParameters(time_limit=datetime.timedelta(seconds=limit_s))
    if is_mip:
        params.relative_gap_tolerance = options.relative_gap
        params.absolute_gap_tolerance = absolute_gap
    if engine is Engine.HIGHS:
        # MathOpt rejects the generic `threads` for HiGHS; HiGHS takes it as its own option.
        int_options = {"random_seed": options.seed}
        if options.threads > 0:
            int_options["threads"] = options.threads
        params.highs = highs_pb2.HighsOptionsProto(int_options=int_options)
    else:
        params.random_seed = options.seed
        if options.threads > 0 and engine is Engine.SCIP:
            params.threads = options.threads
    return params.to_proto()


def model_parameters(
    model: LinearModel,
    hint: np.ndarray | None,
    basis: solution_pb2.BasisProto | None = None,
) -> model_parameters_pb2.ModelSolveParametersProto:
    """Model-specific parameters: the plan we already know, as a solution hint (MILPs), or
    a basis to start the simplex from (LPs).

    The hint is clipped into this model's bounds (a scenario may have moved them) and
    given with every variable, zeros included: HiGHS completes a partial hint by solving
    a MIP over the missing integers first, under the full time limit, before the solve
    itself (measured: a 20 s limit took 40 s).
    """
    params = model_parameters_pb2.ModelSolveParametersProto()
    if basis is not None and not model.is_mip:
        params.initial_basis.CopyFrom(basis)
    if hint is not None and model.is_mip:
        hint = np.clip(hint, model.lb, model.ub)
        params.solution_hints.append(
            model_parameters_pb2.SolutionHintProto(
                variable_values=sparse_containers_pb2.SparseDoubleVectorProto(
                    ids=range(model.n_variables), values=hint.tolist()
                )
            )
        )
    return params


def solve_model(
    model: LinearModel,
    options: SolverOptions,
    *,
    engine: Engine | None = None,
    hint: np.ndarray | None = None,
    basis: solution_pb2.BasisProto | None = None,
    absolute_gap: float = 0.0,
    deadline: Deadline | None = None,
) -> Solution:
    """Solve `model` once, by a solver made for it; raise SolverError with the solver's own
    message if it fails.

    Each call starts afresh from `hint` or `basis` only, so its result depends on this
    model alone, never on earlier solves (what makes scenario runs identical however
    they are chunked). `absolute_gap` (scaled objective units) also counts as a proof of
    optimality: a Dinkelbach step's optimum is near zero, where a relative gap means nothing.
    Without a `deadline` the solver gets the options' time limit.
    """
    engine = engine or engine_for(options)
    limit_s = None if deadline is None else deadline.solver_limit_s()
    params = solve_parameters(engine, options, model.is_mip, absolute_gap, limit_s)
    proto = to_proto(model)
    started = time.perf_counter()
    if deadline is not None and deadline.hold and engine is Engine.HIGHS and model.is_mip:
        held = solve_held(proto, params, model_parameters(model, hint), deadline.stop_at)
        if held.result is None:
            return stopped_solution(model, held, time.perf_counter() - started)
        result = held.result
    else:
        try:
            result = core_solver.solve(
                proto,
                SOLVER_TYPE[engine],
                parameters_pb2.SolverInitializerProto(),
                params,
                model_parameters(model, hint, basis),
                None,
                callback_pb2.CallbackRegistrationProto(),
                None,
                None,
            )
        except StatusNotOk as err:
            raise SolverError(f"{engine.value}: {solver_error_text(err)}") from None
    return parse_result(result, model.n_variables, time.perf_counter() - started, absolute_gap)


def stopped_solution(model: LinearModel, held: HeldSolve, seconds: float) -> Solution:
    """A held solve stopped at its deadline: its last incumbent, `feasible` with its gap."""
    if held.incumbent is None:
        text = "no feasible plan found before the time limit (HiGHS was stopped at it)"
        return Solution(SolveStatus.ERROR, None, np.nan, held.bound, np.nan, seconds, text)
    objective = float(model.objective @ held.incumbent + model.objective_offset)
    message = (
        "HiGHS was stopped at the time limit in a step that does not check it;"
        " the plan is its best solution found by then"
    )
    gap = relative_gap(objective, held.bound)
    return Solution(
        SolveStatus.FEASIBLE, held.incumbent, objective, held.bound, gap, seconds, message
    )


# A solver's detail that only restates its status code ("HighsModelStatus is kOptimal",
# "SCIP_STATUS_GAPLIMIT"): fleetopt says the same in its own words.
STATUS_CODE = re.compile(r"\s*(HighsModelStatus is k\w+|SCIP_STATUS_\w+|\w+_STATUS_\w+)\.?\s*")


def solver_detail(detail: str) -> str:
    """The solver's own words about a solve, when they say more than its status code."""
    return "" if STATUS_CODE.fullmatch(detail) else detail.strip()


def _words(name: str, prefix: str) -> str:
    """A proto enum name in plain words: LIMIT_TIME -> 'time'."""
    return name.removeprefix(prefix).lower().replace("_", " ")


def parse_result(
    result: result_pb2.SolveResultProto, n_variables: int, seconds: float, absolute_gap: float
) -> Solution:
    """The solve's answer as a typed Solution; its message in fleetopt's words, with the
    solver's own where they add something (solver_detail)."""
    term = result.termination
    reason = term.reason
    dual = term.objective_bounds.dual_bound
    detail = solver_detail(term.detail)
    limit = _words(result_pb2.LimitProto.Name(term.limit), "LIMIT_")
    if reason in (
        result_pb2.TERMINATION_REASON_INFEASIBLE,
        result_pb2.TERMINATION_REASON_INFEASIBLE_OR_UNBOUNDED,
    ):
        return Solution(SolveStatus.INFEASIBLE, None, np.nan, dual, np.nan, seconds, detail)
    feasible = [
        s.primal_solution
        for s in result.solutions
        if s.HasField("primal_solution")
        and s.primal_solution.feasibility_status == solution_pb2.SOLUTION_STATUS_FEASIBLE
    ]
    if (
        reason
        not in (
            result_pb2.TERMINATION_REASON_OPTIMAL,
            result_pb2.TERMINATION_REASON_FEASIBLE,
        )
        or not feasible
    ):
        name = _words(result_pb2.TerminationReasonProto.Name(reason), "TERMINATION_REASON_")
        text = f"the solver ended: {name}" + (f" ({detail})" if detail else "")
        if reason == result_pb2.TERMINATION_REASON_NO_SOLUTION_FOUND:
            text = f"no feasible plan found before the solver stopped at its {limit} limit"
        return Solution(SolveStatus.ERROR, None, np.nan, dual, np.nan, seconds, text)
    best = feasible[0]
    x = np.zeros(n_variables)
    ids = np.fromiter(best.variable_values.ids, dtype=np.int64)
    x[ids] = np.fromiter(best.variable_values.values, dtype=float, count=len(ids))
    objective = best.objective_value
    gap = relative_gap(objective, dual)
    proven = gap <= OPTIMAL_GAP or abs(objective - dual) <= absolute_gap
    optimal = reason == result_pb2.TERMINATION_REASON_OPTIMAL and proven
    status = SolveStatus.OPTIMAL if optimal else SolveStatus.FEASIBLE
    message = detail
    if not optimal:
        stop = "relative gap" if reason == result_pb2.TERMINATION_REASON_OPTIMAL else limit
        said = f" ({detail})" if detail else ""
        message = f"the solver stopped at its {stop} limit{said}; the plan is its best by then"
    basis = next((s.basis for s in result.solutions if s.HasField("basis")), None)
    return Solution(status, x, objective, dual, gap, seconds, message, basis)


def relative_gap(primal: float, dual: float) -> float:
    """|primal - dual| / max(|primal|, |dual|), 0 when both vanish; inf without a bound."""
    if not np.isfinite(dual):
        return np.inf
    scale = max(abs(primal), abs(dual))
    return 0.0 if scale < 1e-12 else abs(primal - dual) / scale
