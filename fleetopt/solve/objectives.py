"""Solve a case: the `min_cost` MILP, or `min_cost_per_token` by Dinkelbach's method.

Dinkelbach (docs/model.md sections 4 and 8): with lam_0 = 0, step k solves

    F(lam_k) = min fleet_cost(x) - lam_k * served_tokens(x)

(both levelized over the periods of a multi-period case)

and sets lam_{k+1} = fleet_cost(x_k) / served_tokens(x_k), until |F(lam_k)| is within
1e-6 of fleet_cost. Each step is warm-started from the previous plan. A step's optimum is
near zero, so steps are solved to an absolute gap of relative_gap x the last fleet cost.
The time limit is for all steps together: each step gets what is left of it.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from fleetopt.io.case import Case, Objective
from fleetopt.io.solver import SolverOptions
from fleetopt.model.build import (
    OBJECTIVE_SCALE,
    LinearModel,
    build_dinkelbach_step,
    build_plan_model,
)
from fleetopt.model.index import ModelIndex
from fleetopt.model.inputs import ModelData
from fleetopt.model.measures import fleet_cost_usd, served_tokens_per_year
from fleetopt.solve.deadline import Deadline
from fleetopt.solve.mathopt import Solution, solve_model
from fleetopt.solve.result import PlanResult, SolveStatus

DINKELBACH_TOLERANCE = 1e-6
DINKELBACH_MAX_STEPS = 50


def solve_plan(
    index: ModelIndex,
    case: Case,
    data: ModelData,
    options: SolverOptions | None = None,
    *,
    hint: np.ndarray | None = None,
    deadline: Deadline | None = None,
) -> PlanResult:
    """Solve the case's objective on these numbers, by `deadline` (default: the options'
    time limit from now)."""
    options = options or case.solver
    deadline = deadline or Deadline.after(options.time_limit_s)
    if case.objective is Objective.MIN_COST_PER_TOKEN:
        return _solve_min_cost_per_token(index, case, data, options, hint, deadline)
    started = time.perf_counter()
    model = build_plan_model(index, case, data)
    built = time.perf_counter() - started
    solution = solve_model(model, options, hint=hint, deadline=deadline)
    return _result(model, solution, solution.objective / OBJECTIVE_SCALE, solution.gap, built)


def _solve_min_cost_per_token(
    index: ModelIndex,
    case: Case,
    data: ModelData,
    options: SolverOptions,
    hint: np.ndarray | None,
    deadline: Deadline,
) -> PlanResult:
    price = 0.0
    build_s = solve_s = 0.0
    fleet_usd = None
    last = None  # the last step's plan, should the time run out before the next
    for step in range(1, DINKELBACH_MAX_STEPS + 1):
        if last is not None and deadline.solver_limit_s() <= 0:
            return replace(last, solve_seconds=solve_s, build_seconds=build_s)
        started = time.perf_counter()
        model = build_dinkelbach_step(index, case, data, price)
        build_s += time.perf_counter() - started
        tolerance_usd = DINKELBACH_TOLERANCE * (fleet_usd or 0.0)
        solution = solve_model(
            model,
            options,
            hint=hint,
            absolute_gap=tolerance_usd * OBJECTIVE_SCALE,
            deadline=deadline,
        )
        solve_s += solution.seconds
        if last is not None and (solution.x is None or not np.isfinite(solution.bound)):
            # Stopped (by the time limit, say) before it proved anything: step - 1 stands.
            why = f": {solution.message}" if solution.message else ""
            message = (
                f"step {step} stopped before it proved a bound{why}; the plan is step {step - 1}'s"
            )
            return replace(last, solve_seconds=solve_s, build_seconds=build_s, message=message)
        if solution.x is None:
            return _result(model, solution, np.nan, np.nan, build_s, solve_s, step)
        fleet_usd = fleet_cost_usd(index, model, solution.x)
        served = served_tokens_per_year(index, model, solution.x)
        if served <= 0:
            return PlanResult(
                SolveStatus.ERROR,
                np.nan,
                np.nan,
                model,
                None,
                solve_s,
                build_s,
                step,
                "the plan serves no tokens, so cost per token is undefined",
            )
        step_value_usd = solution.objective / OBJECTIVE_SCALE
        ratio = fleet_usd / served
        converged = abs(step_value_usd) <= DINKELBACH_TOLERANCE * fleet_usd
        stalled = (step > 1 and ratio >= price * (1 - 1e-12)) or step == DINKELBACH_MAX_STEPS
        # Bound: F(lam) >= dual, so no plan beats lam by more than -dual / served.
        gap = max(0.0, -solution.bound / OBJECTIVE_SCALE) / fleet_usd if fleet_usd else 0.0
        if converged or stalled or solution.status is not SolveStatus.OPTIMAL:
            status, message = solution.status, solution.message
            if status is SolveStatus.OPTIMAL and not converged:
                status = SolveStatus.FEASIBLE
                message = f"Dinkelbach stopped after {step} steps without converging"
            return PlanResult(
                status, ratio * 1e6, gap, model, solution.x, solve_s, build_s, step, message
            )
        last = PlanResult(
            SolveStatus.FEASIBLE,
            ratio * 1e6,
            gap,
            model,
            solution.x,
            solve_s,
            build_s,
            step,
            f"the time limit ended Dinkelbach after {step} steps, before it converged",
        )
        price, hint = ratio, solution.x
    raise AssertionError("unreachable: the last step always returns")


def _result(
    model: LinearModel,
    solution: Solution,
    objective: float,
    gap: float,
    build_s: float,
    solve_s: float | None = None,
    steps: int = 1,
) -> PlanResult:
    return PlanResult(
        status=solution.status,
        objective=objective,
        gap=gap,
        model=model,
        x=solution.x,
        solve_seconds=solution.seconds if solve_s is None else solve_s,
        build_seconds=build_s,
        steps=steps,
        message=solution.message,
    )
