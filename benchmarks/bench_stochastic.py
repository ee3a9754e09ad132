"""Two-stage stochastic benchmark: extensive form vs Benders decomposition vs progressive
hedging, on the bundled five-year example and a synthetic fleet.

    python benchmarks/bench_stochastic.py --label 2core            # the full run (long)
    python benchmarks/bench_stochastic.py --quick --label quick    # N = 8, 32 only

Measured side by side in one run (mean total cost, no recourse, 1% certified gap):

1. Time to a 1% certified gap on `--case` (default the bundled five-year example), for
   N = 64, 256, 1000 (`--sizes`), each method within `--limit` seconds (default 900):
   - `ef`: scenarios drawn, stage models, extensive form, one HiGHS solve to a 1% relative
     gap, in one process (its dual bound certifies the gap);
   - `benders`: the L-shaped method on W Ray actors (fleetopt.solve.benders), from the
     first-stage bounds (every scenario's needs, on the actors) to the round whose
     certified gap is at most 1% (the master's bound against a plan's whole-rack cost);
   - `ph`: progressive hedging on W Ray actors, from the first bundle solves to the
     iteration whose certified gap is at most 1%.
   Ray's start is timed apart and left out; the actors' start and their model builds are
   in. Common steps of a run (expected-value plan, wait and see, evaluations, out of
   sample) are left out. Each N also records what `auto` picks and which was fastest.
2. Benders on the synthetic 20 sites x 8 rack types x 24 workloads x 5 years case
   (fleetopt.testing.synthetic, seed 0; `--synthetic-sizes`, default N = 100), the same way.
3. Benders' transport against this machine's raw parallel capacity: the cut tasks of a
   Benders run's first rounds (recorded, with their bases), replayed (a) through W actors
   (`StagePool.solve`, pinned by scenario) and (b) by W plain processes (multiprocessing,
   spawn, no Ray) each solving the same share, models prepared; (c) one process, all.
   Goal: (b) wall / (a) wall >= 0.9.
4. Where the extensive form stops fitting: EF time and peak memory (in a child process)
   for growing N (`--limit-sizes`; default none), until one passes the limit.
5. N scenarios end to end (`--end-to-end`, default 256): `fleetopt stochastic` (the whole
   run: expected-value plan, wait and see, the first stage by `auto`, evaluations, 100
   out-of-sample scenarios) on W workers, to a 1% certified gap; goal: within 15 minutes.

The machine's load (`uptime`) is recorded before and after each part: numbers from a busy
shared machine are slower than a quiet one's. Results: a table on stdout and
benchmarks/results/stochastic-<label>.json (or `--out`).

On a larger machine, 1,000 scenarios of the synthetic case on 16 workers (Benders to 1%,
and its transport against 16 plain processes), figures as JSON into an existing folder:

    python benchmarks/bench_stochastic.py --label 16core --workers 16 \
        --case synthetic-20x8x24x5 --sizes none --synthetic-sizes 1000 \
        --transport-size 1000 --end-to-end 0 --out RESULTS_FOLDER
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

from fleetopt.io.case import Case, read_case
from fleetopt.model.extensive import build_extensive
from fleetopt.model.index import build_index
from fleetopt.model.inputs import model_data
from fleetopt.model.master import master_structure
from fleetopt.model.risk import MEAN
from fleetopt.model.stage import build_stage_model, first_stage_bounds
from fleetopt.parallel.actors import StagePool, rack_needs
from fleetopt.parallel.farm import connect
from fleetopt.pipelines.options import Method
from fleetopt.pipelines.stochastic import choose_method, subproblem_options
from fleetopt.results.schema import read_summary
from fleetopt.results.stochastic import StochasticSummary
from fleetopt.scenarios.draws import draw
from fleetopt.scenarios.stage import StageJob
from fleetopt.solve.benders import CutTask, decompose
from fleetopt.solve.deadline import Deadline
from fleetopt.solve.hedging import HedgingSettings, hedge, make_bundles
from fleetopt.solve.mathopt import solve_model
from fleetopt.testing.synthetic import SyntheticParams, synthetic_case

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from measure import machine  # noqa: E402

EXAMPLE = HERE.parent / "fleetopt" / "data" / "example"
CASE_ENV = "FLEETOPT_BENCH_CASE"  # --case sets it, so that spawned children see it too
SYNTHETIC = "synthetic-20x8x24x5"  # a CASE_ENV value: the synthetic case, not a folder
SYNTHETIC_SIZE = (20, 8, 24)
GAP = 0.01
LIMIT_S = float(os.environ.get("FLEETOPT_BENCH_LIMIT_S", "900"))  # --limit sets it
WORKERS = int(os.environ.get("FLEETOPT_BENCH_WORKERS", "2"))  # --workers sets it
GOAL_VS_RAW = 0.9


def load() -> float:
    """The 1-minute load average (this machine is shared)."""
    return round(os.getloadavg()[0], 2)


def bench_case(name: str | None = None) -> Case:
    """The benchmark's case: a case folder, or the synthetic 20x8x24x5 case."""
    name = name or os.environ.get(CASE_ENV, str(EXAMPLE))
    if name == SYNTHETIC:
        return synthetic_case(*SYNTHETIC_SIZE, seed=0, params=SyntheticParams(periods=5))
    return read_case(name)


class Setup:
    """The case's numbers for scenarios 0..n-1, the first-stage bounds and a stage model."""

    def __init__(self, n: int):
        self.case = bench_case()
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


def bounds_of(state) -> dict[str, Any]:
    """A PH or Benders state's certified bounds (millions of USD a year) and gap."""
    return {
        "gap": state.gap,
        "upper_musd": state.upper_bound,
        "lower_musd": state.lower_bound,
        "stopped": state.stopped,
        "reached_gap": bool(state.gap <= GAP),
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
        **bounds_of(state),
    }


def time_benders(n: int, case_name: str | None = None, workers: int = WORKERS) -> dict[str, Any]:
    """Benders decomposition on actors to a 1% certified gap (Ray already started)."""
    case = bench_case(case_name)
    started = time.perf_counter()
    index = build_index(case)
    seed = case.uncertainty.seed
    first = first_stage_bounds(index, case, rack_needs(case, seed, n, workers))
    stage0 = build_stage_model(
        index, case, model_data(index, draw(index, case.uncertainty, 0)), first
    )
    job = StageJob(case, subproblem_options(case, GAP), first, MEAN, (seed, seed + 1))
    pool = StagePool(job, workers, chunk="auto")
    solves = {"cut": 0, "evaluate": 0}

    def solve(tasks):
        cuts = isinstance(tasks[0], CutTask)
        solves["cut" if cuts else "evaluate"] += len(tasks)
        return pool.solve(tasks)

    try:
        state = decompose(
            stage0,
            master_structure(stage0),
            np.full(n, 1.0 / n),
            solve,
            HedgingSettings(gap=GAP, max_iterations=200, time_limit_s=LIMIT_S),
            case.solver,
        )
        wall = time.perf_counter() - started
    finally:
        pool.close()
    phases = [row.phase for row in state.history]
    return {
        "method": "benders",
        "scenarios": n,
        "columns_per_scenario": stage0.model.n_variables,
        "first_stage_columns": len(stage0.first_cols),
        "rounds": state.round,
        "lp_rounds": phases.count("lp"),
        "integer_rounds": phases.count("integer"),
        "cuts": len(state.cut_constant),
        "cut_solves": solves["cut"],
        "exact_evaluations": solves["evaluate"],
        "master_s": round(sum(row.master_seconds or 0.0 for row in state.history), 2),
        "wall_s": round(wall, 2),
        **bounds_of(state),
    }


def part_crossover(sizes: list[int], ph_max: int, ef_max: int) -> list[dict[str, Any]]:
    print(f"\n[1] time to a {GAP:.0%} certified gap (load {load()})", flush=True)
    rows = []
    for n in sizes:
        timed = []
        methods = [(time_ef, n <= ef_max), (time_benders, True), (time_ph, n <= ph_max)]
        for measure in [m for m, wanted in methods if wanted]:
            row = measure(n)
            row["load"] = load()
            rows.append(row)
            timed.append(row)
            rounds = row.get("iterations", row.get("rounds"))
            rounds = f", {rounds} rounds/iterations" if rounds is not None else ""
            reached = "" if row["reached_gap"] else " (NOT reached)"
            print(
                f"  N={n:>4} {row['method']:>7}: {row['wall_s']:8.1f} s, gap {row['gap']:.2e}"
                f"{reached}{rounds}, load {row['load']}",
                flush=True,
            )
        reached = [r for r in timed if r["reached_gap"]]
        fastest = min(reached, key=lambda r: r["wall_s"])["method"] if reached else None
        columns = Setup(1).stage0.model.n_variables
        auto = choose_method(Method.AUTO, n, columns).value
        rows.append({"method": "auto", "scenarios": n, "picks": auto, "fastest": fastest})
        print(f"  N={n:>4}    auto: picks {auto}, fastest measured {fastest}", flush=True)
    return rows


def part_synthetic(sizes: list[int]) -> list[dict[str, Any]]:
    """Benders on the synthetic 20x8x24x5 case."""
    rows = []
    for n in sizes:
        print(f"\n[2] Benders, synthetic 20x8x24x5, N={n} (load {load()})", flush=True)
        row = time_benders(n, SYNTHETIC)
        row["load"] = load()
        row["within_15_min"] = row["reached_gap"] and row["wall_s"] <= 900
        rows.append(row)
        print(
            f"  {row['wall_s']:.1f} s, gap {row['gap']:.2e}, {row['rounds']} rounds"
            f" ({row['columns_per_scenario']:,} columns a scenario), load {row['load']}",
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
    print(f"\n[4] where the extensive form stops fitting (load {load()})", flush=True)
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
    for task in tasks:  # warm: models built, as the actors' are after their warm-up
        prepared.recourse(task.sample, task.scenario)
    ready.put(os.getpid())
    start.wait()
    started = time.perf_counter()
    for task in tasks:
        prepared.solve(task)
    out.put(time.perf_counter() - started)


def raw_parallel(job: StageJob, shares: list[list]) -> tuple[float, list[float]]:
    """One plain process per share of tasks; wall time for all (start-up excluded)."""
    ctx = mp.get_context("spawn")
    ready, start, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_raw_child, args=(job, s, ready, start, out)) for s in shares]
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


def part_transport(n: int, rounds: int) -> dict[str, Any]:
    """Benders' cut tasks through W actors vs W plain processes vs one."""
    print(f"\n[3] Benders on {WORKERS} actors vs raw capacity, N={n} (load {load()})", flush=True)
    setup = Setup(n)
    local = setup.job().prepare()
    recorded: list = []

    def record(tasks):
        replies = [local.solve(t) for t in tasks]
        if isinstance(tasks[0], CutTask):  # with the bases they start from, as in a run
            recorded.extend(tasks)
        return replies

    decompose(
        setup.stage0,
        master_structure(setup.stage0),
        setup.p,
        record,
        HedgingSettings(gap=1e-9, max_iterations=rounds),
        setup.case.solver,
    )
    pool = StagePool(setup.job(), WORKERS, chunk="auto")
    try:
        pool.solve(recorded)  # warm-up: every actor builds its scenarios' models
        started = time.perf_counter()
        pool.solve(recorded)
        actors_s = time.perf_counter() - started
    finally:
        pool.close()
    shares = [[t for t in recorded if t.scenario % WORKERS == w] for w in range(WORKERS)]
    raw_s, busy = raw_parallel(setup.job(), shares)
    one_s, _ = raw_parallel(setup.job(), [recorded])
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
        f"  {len(recorded)} cut tasks: actors x{WORKERS} {actors_s:.1f} s, raw x{WORKERS}"
        f" {raw_s:.1f} s, one process {one_s:.1f} s: actors / raw capacity"
        f" {row['actors_vs_raw']:.3f} (goal >= {GOAL_VS_RAW}), load {row['load']}",
        flush=True,
    )
    return row


def part_end_to_end(n: int) -> dict[str, Any]:
    """`fleetopt stochastic` on N scenarios in a child process, 2 workers, 1% gap."""
    print(f"\n[5] fleetopt stochastic -n {n}, {WORKERS} workers (load {load()})", flush=True)
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
    parser.add_argument("--out", type=Path, help="the JSON file, or a folder for it")
    parser.add_argument("--sizes", help="part 1's N, comma-separated (default 64,256,1000)")
    parser.add_argument("--ph-max", type=int, default=256, help="part 1: PH up to this N")
    parser.add_argument("--ef-max", type=int, default=1000, help="part 1: EF up to this N")
    parser.add_argument("--limit", type=float, help="seconds per method and N (default 900)")
    parser.add_argument("--workers", type=int, help="actors and processes (default 2)")
    parser.add_argument(
        "--case",
        type=Path,
        default=EXAMPLE,
        help=f"a case folder (default: the bundled example), or {SYNTHETIC}",
    )
    parser.add_argument("--synthetic-sizes", help="part 2's N (default 100; none: skip)")
    parser.add_argument("--transport-size", type=int, help="part 3's N (default 128; 0: skip)")
    parser.add_argument("--limit-sizes", help="part 4's N (default none)")
    parser.add_argument("--end-to-end", type=int, default=256, help="part 5's N (0: skip)")
    args = parser.parse_args()
    os.environ[CASE_ENV] = str(args.case)
    # Read at import: run again with them set, so that spawned children see them too.
    again = False
    if args.workers and args.workers != WORKERS:
        os.environ["FLEETOPT_BENCH_WORKERS"] = str(args.workers)
        again = True
    if args.limit and args.limit != LIMIT_S:
        os.environ["FLEETOPT_BENCH_LIMIT_S"] = str(args.limit)
        again = True
    if again:
        os.execv(sys.executable, [sys.executable, *sys.argv])

    def ints(text: str | None, default: list[int]) -> list[int]:
        if text == "none":
            return []
        return [int(v) for v in text.split(",")] if text else default

    sizes = ints(args.sizes, [8, 32] if args.quick else [64, 256, 1000])
    synthetic = ints(args.synthetic_sizes, [] if args.quick else [100])
    transport = (
        args.transport_size if args.transport_size is not None else (32 if args.quick else 128)
    )
    name = f"stochastic-{args.label}.json"
    path = args.out or HERE / "results" / name
    if path.is_dir():
        path = path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "machine": machine(),
        "case": str(args.case.relative_to(HERE.parent) if args.case.is_absolute() else args.case),
        "workers": WORKERS,
        "limit_s": LIMIT_S,
        "load_start": load(),
        "gap": GAP,
    }

    def save() -> None:  # after every part: a long run keeps what it measured
        path.write_text(json.dumps(report, indent=2) + "\n")

    started = time.perf_counter()
    connect(None, WORKERS)
    report["ray_start_s"] = round(time.perf_counter() - started, 2)
    if sizes:
        report["crossover"] = part_crossover(sizes, args.ph_max, args.ef_max)
        save()
    if synthetic:
        report["synthetic"] = part_synthetic(synthetic)
        save()
    if transport:
        report["transport"] = part_transport(transport, 3)
        save()
    ray.shutdown()
    limit_sizes = ints(args.limit_sizes, [64, 256] if args.quick else [])
    if limit_sizes:
        report["ef_limit"] = part_ef_limit(limit_sizes)
        save()
    if not args.quick and args.end_to_end:
        report["end_to_end"] = part_end_to_end(args.end_to_end)
    report["load_end"] = load()
    save()
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
