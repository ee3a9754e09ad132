"""Re-solve a model whose numbers change but whose structure does not (scenarios).

A scenario changes bounds, right-hand sides, objective coefficients and a few matrix
values (MODEL.md section 5), never the sets. `Resolver` keeps one MathOpt solver alive
and sends it only what changed, as a ModelUpdateProto built by comparing arrays. Back ends
that update in place (GLOP, GSCIP) then re-solve from their previous state (GLOP from its
last basis); those that cannot (HiGHS) answer `update() == False`, and the Resolver
starts them afresh from the new proto, which is still far cheaper than rebuilding the
index and the model in Python.
"""

from __future__ import annotations

import time

import numpy as np
from ortools.math_opt import (
    callback_pb2,
    model_update_pb2,
    parameters_pb2,
    sparse_containers_pb2,
)
from ortools.math_opt.core.python import solver as core_solver
from pybind11_abseil.status import StatusNotOk

from fleetopt.case import SolverOptions
from fleetopt.errors import SolverError
from fleetopt.model import LinearModel
from fleetopt.solve import (
    SOLVER_TYPE,
    Engine,
    Solution,
    model_parameters,
    parse_result,
    solve_parameters,
    to_proto,
)


def _changes(old: np.ndarray, new: np.ndarray) -> sparse_containers_pb2.SparseDoubleVectorProto:
    ids = np.flatnonzero(~((old == new) | (np.isnan(old) & np.isnan(new))))
    return sparse_containers_pb2.SparseDoubleVectorProto(ids=ids.tolist(), values=new[ids].tolist())


def model_update(old: LinearModel, new: LinearModel) -> model_update_pb2.ModelUpdateProto:
    """What turns `old` into `new`; both must share the same structure."""
    if old.n_variables != new.n_variables or not np.array_equal(old.row, new.row):
        raise ValueError("models differ in structure; build a new solver instead")
    update = model_update_pb2.ModelUpdateProto()
    update.variable_updates.lower_bounds.CopyFrom(_changes(old.lb, new.lb))
    update.variable_updates.upper_bounds.CopyFrom(_changes(old.ub, new.ub))
    update.linear_constraint_updates.lower_bounds.CopyFrom(_changes(old.row_lb, new.row_lb))
    update.linear_constraint_updates.upper_bounds.CopyFrom(_changes(old.row_ub, new.row_ub))
    update.objective_updates.linear_coefficients.CopyFrom(_changes(old.objective, new.objective))
    if new.objective_offset != old.objective_offset:
        update.objective_updates.offset_update = new.objective_offset
    changed = np.flatnonzero(old.val != new.val)
    matrix = update.linear_constraint_matrix_updates
    matrix.row_ids.extend(new.row[changed].tolist())
    matrix.column_ids.extend(new.col[changed].tolist())
    matrix.coefficients.extend(new.val[changed].tolist())
    return update


class Resolver:
    """One long-lived solver for a sequence of same-structure models."""

    def __init__(self, engine: Engine, options: SolverOptions):
        self.engine = engine
        self.options = options
        self._solver = None
        self._model: LinearModel | None = None
        self.rebuilds = 0  # how many times a fresh solver had to be made

    def solve(self, model: LinearModel, hint: np.ndarray | None = None) -> Solution:
        """Solve `model`, updating the live solver in place where the back end allows."""
        started = time.perf_counter()
        try:
            self._load(model)
            result = self._solver.solve(
                solve_parameters(self.engine, self.options, model.is_mip),
                model_parameters(model, hint),
                None,
                callback_pb2.CallbackRegistrationProto(),
                None,
                None,
            )
        except StatusNotOk as err:
            self._solver = self._model = None  # a failed solver is not reused
            raise SolverError(
                f"{self.engine.value}: {getattr(err, 'message', None) or err}"
            ) from None
        return parse_result(result, model.n_variables, time.perf_counter() - started, 0.0)

    def _load(self, model: LinearModel) -> None:
        if self._model is not None and self._solver.update(model_update(self._model, model)):
            self._model = model
            return
        self._solver = core_solver.new(
            SOLVER_TYPE[self.engine], to_proto(model), parameters_pb2.SolverInitializerProto()
        )
        self._model = model
        self.rebuilds += 1
