"""Two-stage stochastic benchmark: extensive form vs progressive hedging on the bundled example.

    python benchmarks/bench_stochastic.py --label 2core            # the full run (long)
    python benchmarks/bench_stochastic.py --quick --label quick    # N = 8, 32 only

Measured side by side in one run, on `fleetopt/data/example` (mean total cost, no recourse):

1. Time to a 1% certified gap, for N = 8, 32, 128 (and 256 without --quick):
   - `ef`: stage models + extensive form + one HiGHS solve to a 1% relative gap, in one
     process (its dual bound certifies the gap);
   - `ph`: progressive hedging on 2 Ray actors (fleetopt.parallel.actors), from the first
     bundle solves to the iteration whose certified gap is at most 1%. Ray start-up is
     timed apart and left out.
   Both from the scenarios' numbers drawn; common steps of a run (expected-value plan,
   wait and see, evaluations, out of sample) are left out.
2. Where the extensive form stops fitting: EF time and peak memory (in a child process)
   for growing N, until one passes the 15-minute limit or N = 1024.
3. PH's transport against this machine's raw parallel capacity: the subproblems of a PH
   run's first iterations (recorded), replayed (a) through 2 actors (`StagePool.solve`)
   and (b) by 2 plain processes (multiprocessing, spawn, no Ray) each solving every other
   task with a prepared job; both warmed up first. Goal: (b) wall / (a) wall >= 0.9.
4. 256 scenarios end to end: `fleetopt stochastic` (the whole run: expected-value plan,
   wait and see, the first stage by `auto`, evaluations, 100 out-of-sample scenarios) on
   2 workers, to a 1% certified gap; goal: within 15 minutes.

The machine's load (`uptime`) is recorded before and after each part: numbers from a busy
shared machine are slower than a quiet one's. Results: a table on stdout and
benchmarks/results/stochastic-<label>.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import ray

from fleetopt.io.case import read_case
from fleetopt.model.extensive import build_extensive
from fleetopt.model.index import build_index
from fleetopt.model.inputs import model_data
from fleetopt.model.risk import MEAN
from fleetopt.model.stage import build_stage_model, first_stage_bounds
from fleetopt.parallel.actors import StagePool
from fleetopt.parallel.farm import connect
from fleetopt.pipelines.stochastic import subproblem_options
from fleetopt.results.schema import read_summary
from fleetopt.results.stochastic import StochasticSummary
from fleetopt.scenarios.draws import draw
from fleetopt.scenarios.stage import StageJob
from fleetopt.solve.deadline import Deadline
from fleetopt.solve.hedging import HedgingSettings, hedge, make_bundles
from fleetopt.solve.mathopt import solve_model

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from measure import machine  # noqa: E402

EXAMPLE = HERE.parent / "fleetopt" / "data" / "example"
CASE_ENV = "FLEETOPT_BENCH_CASE"  # --case sets it, so that spawned children see it too
GAP = 0.01
LIMIT_S = 900.0  # 15 minutes
WORKERS = int(os.environ.get("FLEETOPT_BENCH_WORKERS", "2"))  # --workers sets it
GOAL_VS_RAW = 0.9


def load() -> float:
    """The 1-minute load average (this machine is shared)."""
    return round(os.getloadavg()[0], 2)


class Setup:
    """The example's numbers for scenarios 0..n-1, the first-stage bounds and a stage model."""

    def __init__(self, n: int):
        self.case = read_case(os.environ.get(CASE_ENV, EXAMPLE))
        self.index = build_index(self.case)
        self.datas = [
            model_data(self.index, draw(self.index, self.case.uncertainty, k)) for k in range(n)
        ]
        self.first_bounds = first_stage_bounds(self.index, self.case, self.datas)
        self.stage0 = build_stage_model(self.index, self.case, self.datas[0], self.first_bounds)
        self.p = np.full(n, 1.0 / n)

    def job(self) -> StageJob:
        seed = self.case.uncertainty.seed
        return StageJob(
            self.case, subproblem_options(self.case, GAP), self.first_bounds, MEAN, (seed, seed + 1)
        )


def time_ef(n: int, limit_s: float = LIMIT_S) -> dict[str, Any]:
    """Build and solve the extensive form of N scenarios to a 1% gap."""
    started = time.perf_counter()
    setup = Setup(n)
    stages = [
        build_stage_model(setup.index, setup.case, d, setup.first_bounds, MEAN) for d in setup.datas
    ]
    ef = build_extensive(stages, setup.p)
    built = time.perf_counter() - started
    options = dataclasses.replace(setup.case.solver, relative_gap=GAP, time_limit_s=limit_s)
    solution = solve_model(ef.model, options, deadline=Deadline.after(limit_s, hold=True))
    wall = time.perf_counter() - started
    return {
        "method": "ef",
        "scenarios": n,
        "columns": ef.model.n_variables,
        "integers": int(ef.model.integer.sum()),
        "rows": ef.model.n_constraints,
        "build_s": round(built, 2),
        "wall_s": round(wall, 2),
        "status": solution.status.value,
        "gap": solution.gap,
        "objective_musd": solution.objective,
        "bound_musd": solution.bound,
        "reached_gap": bool(solution.gap <= GAP),
    }


def time_ph(n: int, pool_workers: int = WORKERS) -> dict[str, Any]:
    """Progressive hedging on actors to a 1% certified gap (Ray already started)."""
    setup = Setup(n)
    bundles = make_bundles(n, setup.stage0.model.n_variables)
    pool = StagePool(setup.job(), pool_workers, chunk=1)
    try:
        started = time.perf_counter()
        state = hedge(
            setup.stage0,
            bundles,
            setup.p,
            pool.solve,
            HedgingSettings(gap=GAP, max_iterations=200, time_limit_s=LIMIT_S),
        )
        wall = time.perf_counter() - started
    finally:
        pool.close()
    return {
        "method": "ph",
        "scenarios": n,
        "bundles": len(bundles),
        "iterations": state.iteration,
        "wall_s": round(wall, 2),
        "gap": state.gap,
        "upper_musd": state.upper_bound,
        "lower_musd": state.lower_bound,
        "stopped": state.stopped,
        "reached_gap": bool(state.gap <= GAP),
    }


def part_crossover(sizes: list[int]) -> list[dict[str, Any]]:
    print(f"\n[1] time to a {GAP:.0%} certified gap (load {load()})", flush=True)
    rows = []
    for n in sizes:
        for row in (time_ef(n), time_ph(n)):
            row["load"] = load()
            rows.append(row)
            iterations = f", {row['iterations']} iterations" if "iterations" in row else ""
            reached = "" if row["reached_gap"] else " (NOT reached)"
            print(
                f"  N={n:>4} {row['method']}: {row['wall_s']:8.1f} s, gap {row['gap']:.2e}"
                f"{reached}{iterations}, load {row['load']}",
                flush=True,
            )
    return rows


def _ef_child(n: int, out: Any) -> None:
    row = time_ef(n)
    # The MILP runs in a child process (held deadline): the peak of either counts.
    peak_kib = max(
        resource.getrusage(r).ru_maxrss for r in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    row["peak_rss_mib"] = round(peak_kib / 1024, 1)
    out.put(row)


def part_ef_limit(sizes: list[int]) -> list[dict[str, Any]]:
    """EF time and peak memory, each N in a fresh process, until it passes 15 minutes."""
    print(f"\n[2] where the extensive form stops fitting (load {load()})", flush=True)
    ctx = mp.get_context("spawn")
    rows = []
    for n in sizes:
        out = ctx.Queue()
        proc = ctx.Process(target=_ef_child, args=(n, out))
        proc.start()
        row = out.get()
        proc.join()
        row["load"] = load()
        rows.append(row)
        print(
            f"  N={n:>5}: {row['columns']:>8,} columns, {row['wall_s']:8.1f} s,"
            f" gap {row['gap']:.2e}, peak {row['peak_rss_mib']:,.0f} MiB, load {row['load']}",
            flush=True,
        )
        if not row["reached_gap"] or row["wall_s"] > LIMIT_S:
            break
    return rows


def _raw_child(job: StageJob, tasks: list, ready: Any, start: Any, out: Any) -> None:
    prepared = job.prepare()
    for task in tasks:  # warm: stage models built, as the actors' are after their warm-up
        prepared.subproblem(task.sample, task.scenarios)
    ready.put(os.getpid())
    start.wait()
    started = time.perf_counter()
    for task in tasks:
        prepared.solve(task)
    out.put(time.perf_counter() - started)


def raw_parallel(job: StageJob, tasks: list, k: int) -> float:
    """K plain processes, each every K-th task; wall time for all (start-up excluded)."""
    ctx = mp.get_context("spawn")
    ready, start, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_raw_child, args=(job, tasks[i::k], ready, start, out)) for i in range(k)
    ]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get()
    started = time.perf_counter()
    start.set()
    busy = [out.get() for _ in procs]
    wall = time.perf_counter() - started
    for proc in procs:
        proc.join()
    return wall, busy


def part_transport(n: int, iterations: int) -> dict[str, Any]:
    """PH's subproblems through 2 actors vs 2 plain processes."""
    print(f"\n[3] PH on {WORKERS} actors vs raw capacity, N={n} (load {load()})", flush=True)
    setup = Setup(n)
    local = setup.job().prepare()
    recorded: list = []

    def record(tasks):
        recorded.extend(tasks)
        return [local.solve(t) for t in tasks]

    hedge(
        setup.stage0,
        make_bundles(n, setup.stage0.model.n_variables),
        setup.p,
        record,
        HedgingSettings(gap=1e-9, max_iterations=iterations),
    )
    pool = StagePool(setup.job(), WORKERS, chunk=1)
    try:
        pool.solve(recorded)  # warm-up: every actor builds the stage models it is sent
        started = time.perf_counter()
        pool.solve(recorded)
        actors_s = time.perf_counter() - started
    finally:
        pool.close()
    raw_s, busy = raw_parallel(setup.job(), recorded, WORKERS)
    one_s, _ = raw_parallel(setup.job(), recorded, 1)
    row = {
        "scenarios": n,
        "tasks": len(recorded),
        "actors_s": round(actors_s, 2),
        "raw_s": round(raw_s, 2),
        "raw_busy_s": [round(b, 2) for b in busy],
        "one_process_s": round(one_s, 2),
        "actors_vs_raw": round(raw_s / actors_s, 3),
        "raw_speedup_vs_one": round(one_s / raw_s, 3),
        "goal_vs_raw": GOAL_VS_RAW,
        "meets_goal": raw_s / actors_s >= GOAL_VS_RAW,
        "load": load(),
    }
    print(
        f"  {len(recorded)} tasks: actors x{WORKERS} {actors_s:.1f} s, raw x{WORKERS}"
        f" {raw_s:.1f} s, one process {one_s:.1f} s: actors / raw capacity"
        f" {row['actors_vs_raw']:.3f} (goal >= {GOAL_VS_RAW}), load {row['load']}",
        flush=True,
    )
    return row


def part_end_to_end(n: int) -> dict[str, Any]:
    """`fleetopt stochastic` on N scenarios in a child process, 2 workers, 1% gap."""
    print(f"\n[4] fleetopt stochastic -n {n}, {WORKERS} workers (load {load()})", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-stochastic-") as tmp:
        out = Path(tmp) / "run"
        command = [
            sys.executable,
            "-m",
            "fleetopt.cli.main",
            "stochastic",
            os.environ.get(CASE_ENV, str(EXAMPLE)),
            "-n",
            str(n),
            "--workers",
            str(WORKERS),
            "--gap",
            str(GAP),
            "--out",
            str(out),
        ]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env={**os.environ})
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"fleetopt stochastic failed:\n{done.stderr}")
        summary = read_summary(out, StochasticSummary)
    row = {
        "scenarios": n,
        "wall_s": round(wall, 1),
        "method": summary.method,
        "first_stage_s": round(summary.solve_seconds, 1),
        "iterations": summary.iterations,
        "gap": summary.gap,
        "objective_usd": summary.objective.value,
        "vss_usd": summary.vss.value,
        "evpi_usd": summary.evpi.value,
        "within_15_min": wall <= LIMIT_S,
        "load": load(),
    }
    print(
        f"  {wall:.0f} s end to end ({summary.method}: {row['first_stage_s']} s to the first"
        f" stage), certified gap {summary.gap:.2e}, load {row['load']}",
        flush=True,
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="local")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--sizes", help="part 1's N, comma-separated (default 8,32,128,256)")
    parser.add_argument("--workers", type=int, help="actors and processes (default 2)")
    parser.add_argument("--case", type=Path, default=EXAMPLE, help="default: the bundled example")
    parser.add_argument("--limit-sizes", help="part 2's N (default 256,512,1024; none: skip)")
    parser.add_argument("--end-to-end", type=int, default=256, help="part 4's N (0: skip)")
    args = parser.parse_args()
    os.environ[CASE_ENV] = str(args.case)
    if args.workers:  # read at import: run again with it set, so spawned children see it too
        os.environ["FLEETOPT_BENCH_WORKERS"] = str(args.workers)
        if args.workers != WORKERS:
            os.execv(sys.executable, [sys.executable, *sys.argv])

    def ints(text: str | None, default: list[int]) -> list[int]:
        return [int(v) for v in text.split(",")] if text else default

    sizes = ints(args.sizes, [8, 32] if args.quick else [8, 32, 128, 256])
    report: dict[str, Any] = {
        "machine": machine(),
        "case": str(args.case.relative_to(HERE.parent) if args.case.is_absolute() else args.case),
        "load_start": load(),
        "gap": GAP,
    }
    started = time.perf_counter()
    connect(None, WORKERS)
    report["ray_start_s"] = round(time.perf_counter() - started, 2)
    report["crossover"] = part_crossover(sizes)
    report["transport"] = part_transport(32 if args.quick else 128, 2)
    ray.shutdown()
    limit_sizes = (
        []
        if args.limit_sizes == "none"
        else ints(args.limit_sizes, [64, 256] if args.quick else [256, 512, 1024])
    )
    if args.limit_sizes != "none":
        report["ef_limit"] = part_ef_limit(limit_sizes)
    if not args.quick and args.end_to_end:
        report["end_to_end"] = part_end_to_end(args.end_to_end)
    report["load_end"] = load()
    path = args.out or HERE / "results" / f"stochastic-{args.label}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
