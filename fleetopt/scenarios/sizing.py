"""What a two-stage run will need, measured on its first scenarios before it starts
(docs/scenarios.md), so that a run too large for the machine or the cluster is refused
at once instead of failing hours in.

`probe` builds the first scenarios' stage models and solves the first two as the run's
wait-and-see step does, timing both and measuring (with tracemalloc) what the driver keeps
per scenario: a reported reply, a row of the scenarios table. `Sizing` scales that to N:

- driver: every reported reply of the steps (wait and see, both plans evaluated, the
  out-of-sample check) and the scenarios table, plus the method's own: the extensive form
  (EF_BYTES_PER_MODEL_BYTE x a stage model's arrays per scenario: its arrays, the proto
  and the solver's copies; measured 3.2 MiB a scenario of the bundled example, 110 kB of
  arrays), Benders' bases and cuts (every round up to the limit, 4 copies: the state, the
  master's arrays, its proto and the solver's), or progressive hedging's per-scenario
  replies;
- each actor: the stage models and recourse LPs it keeps (at most CACHED_STAGES);
- time: the solves of the steps without a time limit (wait and see, evaluations, out of
  sample) at the first scenarios' pace, spread over the workers; the first-stage method
  adds at most its --time-limit.
"""

from __future__ import annotations

import math
import os
import pickle
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

from fleetopt.io.case import Case
from fleetopt.io.solver import SolverOptions
from fleetopt.model.index import build_index
from fleetopt.model.inputs import model_data
from fleetopt.model.risk import Risk
from fleetopt.model.stage import build_stage_model, first_stage_bounds
from fleetopt.scenarios.draws import draw, draw_many
from fleetopt.scenarios.stage import CACHED_STAGES, StageJob
from fleetopt.solve.hedging import Task, TaskKind
from fleetopt.solve.mathopt import to_proto

PROBE_SCENARIOS = 8  # the first scenarios drawn and built to measure them
PROBE_SOLVES = 2  # of which solved as wait and see does
EF_BYTES_PER_MODEL_BYTE = 32.0  # the extensive form's memory per byte of a stage model
MASTER_COPIES = 4  # Benders' cuts: in the state, the master's arrays, its proto, the solver
COPIES_OF_A_REPLY = 3  # in flight, gathered into a table, and that table concatenated
GIB = 1024**3


@dataclass(frozen=True)
class Sizing:
    """Per-scenario measurements of a case (bytes, seconds) and the run they describe."""

    scenarios: int
    workers: int
    out_of_sample: int
    build_s: float  # draw and build one scenario's stage model
    solve_s: float  # a scenario's wait-and-see solve
    reply_bytes: float  # a reported reply, kept on the driver
    draws_bytes: float  # a scenario's rows of the scenarios table
    model_bytes: float  # a stage model's arrays
    proto_bytes: float  # its solver proto (a recourse LP's too)
    columns: int  # of a stage model
    first_columns: int
    basis_bytes: int  # one scenario's LP basis (Benders)

    def driver_bytes(self, method: str, max_rounds: int, multi_cut: bool = True) -> float:
        """The driver's memory beyond what it holds now, for `method` (ef, ph, benders)."""
        n = self.scenarios
        reports = 3 * n + 2 * self.out_of_sample  # wait and see, two plans, out of sample
        common = COPIES_OF_A_REPLY * reports * self.reply_bytes + n * self.draws_bytes
        if method == "ef":
            return common + n * self.model_bytes * EF_BYTES_PER_MODEL_BYTE
        if method == "benders":
            thetas = n if multi_cut else 1
            cuts = thetas * max_rounds * (self.first_columns + 2) * 8 * MASTER_COPIES
            return common + n * self.basis_bytes + cuts
        return common  # progressive hedging: bundles live on the actors

    def actor_bytes(self) -> float:
        """One actor's stage models and LPs (any actor may be sent any scenario)."""
        kept = min(self.scenarios, CACHED_STAGES)
        return kept * (self.model_bytes + 2 * self.proto_bytes)

    def solve_seconds(self) -> float:
        """Wall seconds of the steps without a time limit, spread over the workers."""
        solves = 3 * self.scenarios + 2 * self.out_of_sample
        return (solves * self.solve_s + self.scenarios * self.build_s) / max(self.workers, 1)


def probe(
    case: Case,
    n_scenarios: int,
    options: SolverOptions,
    risk: Risk,
    workers: int,
    out_of_sample: int,
) -> Sizing:
    """Measure the first min(n, PROBE_SCENARIOS) scenarios of `case`."""
    index = build_index(case)
    count = min(n_scenarios, PROBE_SCENARIOS)
    started = time.perf_counter()
    datas = [model_data(index, draw(index, case.uncertainty, k)) for k in range(count)]
    first = first_stage_bounds(index, case, datas)
    stages = [build_stage_model(index, case, data, first, risk) for data in datas]
    build_s = (time.perf_counter() - started) / count
    model = stages[0].model
    model_bytes = sum(
        getattr(model, f).nbytes
        for f in ("lb", "ub", "integer", "objective", "row", "col", "val", "row_lb", "row_ub")
    )
    seed = case.uncertainty.seed
    prepared = StageJob(case, options, first, risk, (seed, seed)).prepare()
    replies = [
        prepared.solve(Task((k,), TaskKind.FREE, report=True))
        for k in range(min(count, PROBE_SOLVES))
    ]
    draws_bytes = _allocated(lambda: draw_many(index, case.uncertainty, range(count))) / count
    payload = pickle.dumps(replies[0])
    return Sizing(
        scenarios=n_scenarios,
        workers=workers,
        out_of_sample=out_of_sample,
        build_s=build_s,
        solve_s=sum(r.seconds for r in replies) / len(replies),
        reply_bytes=_allocated(lambda: pickle.loads(payload)),
        draws_bytes=draws_bytes,
        model_bytes=float(model_bytes),
        proto_bytes=float(to_proto(model).ByteSize()),
        columns=model.n_variables,
        first_columns=int(stages[0].first_stage.sum()),
        basis_bytes=model.n_variables + model.n_constraints,
    )


def _allocated(make) -> float:
    """Bytes Python allocates (and keeps) to make the object `make` returns."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = make()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del kept
    return float(max(after - before, 0))


def available_bytes() -> float:
    """Memory this machine can still give (MemAvailable where the OS says it)."""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024
    return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def refusal(
    sizing: Sizing,
    method: str,
    max_rounds: int,
    *,
    multi_cut: bool,
    available: float,
    cluster_bytes: float | None,
) -> str | None:
    """Why the run cannot fit (None when it fits): the driver's estimate against what this
    machine has available, the actors' against the cluster's memory."""
    driver = sizing.driver_bytes(method, max_rounds, multi_cut)
    actors = sizing.actor_bytes() * sizing.workers
    hours = sizing.solve_seconds() / 3600
    pace = (
        f"measured on the first scenarios: {sizing.solve_s:.2f} s to solve one,"
        f" {sizing.build_s * 1000:.0f} ms to build one; the solves without a time limit"
        f" alone would take about {_duration(hours)} on {sizing.workers} worker(s)"
    )
    if driver > available:
        return (
            f"{sizing.scenarios:,} scenarios by {method} need about {driver / GIB:,.1f} GiB on"
            f" this machine, which has {available / GIB:,.1f} GiB available ({pace});"
            " use fewer scenarios"
        )
    if cluster_bytes is not None and actors > cluster_bytes:
        return (
            f"{sizing.scenarios:,} scenarios need about {actors / GIB:,.1f} GiB on the"
            f" {sizing.workers} worker(s), and the cluster has {cluster_bytes / GIB:,.1f} GiB"
            f" ({pace}); use fewer scenarios or a larger cluster"
        )
    return None


def _duration(hours: float) -> str:
    if hours >= 48:
        return f"{hours / 24:,.0f} days"
    if hours >= 1:
        return f"{hours:,.1f} h"
    return f"{math.ceil(hours * 60):,.0f} min"
