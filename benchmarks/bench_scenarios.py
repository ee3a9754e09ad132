"""Monte Carlo scenario benchmark: fleetopt's Ray farm against plain loops and raw processes.

    python benchmarks/bench_scenarios.py --label 2core           # about 6 minutes on 2 cores
    python benchmarks/bench_scenarios.py --quick --label quick   # about 2 minutes

Everything below is measured side by side in one run, on one synthetic case
(`fleetopt.synthetic.synthetic_case`, default 10 sites x 6 rack types x 12 workloads, seed 0,
relative gap 3e-3 so that one scenario's MILP takes ~0.1-0.3 s):

1. Sweep throughput (scenarios per second) on scenarios 0..N-1, for each N (default 40
   and 144), the configurations interleaved so that a change of load hits all alike:
   a. `raw x1` and `raw xK`: the machine's raw parallel capacity, 1 and K plain processes
      (multiprocessing, spawn, no Ray) each preparing the job once and running
      `PreparedJob.solve_scenario` (exactly a worker's per-scenario work, no store) on its
      share (every K-th scenario); wall time for all. Process start and imports happen
      before the clock starts; they run at the niceness of Ray's workers (15), so other
      load on a shared machine slows both alike.
   b. `fleetopt x1` and `fleetopt xK`: `run_scenarios` with 1 and K workers, the chunk
      size as given (default `auto`).
   The goal: fleetopt's speed-up (xK over x1) at least 0.9 of the raw speed-up. Ray
   start-up (ray.init plus one warm-up task per worker) is timed apart and left out of
   the rates; what the driver does is timed too: when the first chunk came back (job
   preparation included), the time spent storing chunks, the tail (last chunk back minus
   the K-th last) and merge + summary after the last chunk. Also `sequential`: one
   process rebuilding everything per scenario (build_index, model_data,
   build_plan_model, solve_model), the baseline of fleetopt x1.
2. Evaluate (the expected-value plan's counts fixed, an LP per scenario), per scenario,
   in one process: rebuild per scenario (index + build_evaluate_model + solve_model
   with HiGHS) vs fleetopt's prepared path (`PreparedJob.solve_scenario`: index once, a
   fresh GLOP per scenario warm-started from the plan's forecast basis) vs the prepared
   path with HiGHS; then through `evaluate()`'s farm on 1 worker (and on all cores).
3. Driver peak memory: `sweep()` and `evaluate()` with N and 10N scenarios, each in a fresh
   child process that reports its own peak RSS (getrusage ru_maxrss).

Results: a table on stdout and benchmarks/results/scenarios-<label>.json (or --out), with
the load average before and after each part (the figures mean little on a busy machine).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import ray

from fleetopt.core import defaults
from fleetopt.io.case import Case
from fleetopt.io.runfolder import RunKind
from fleetopt.io.solver import SolverOptions
from fleetopt.io.store import ScenarioStore
from fleetopt.model.build import OBJECTIVE_SCALE, build_evaluate_model, build_plan_model
from fleetopt.model.index import build_index
from fleetopt.model.inputs import model_data
from fleetopt.parallel.farm import connect
from fleetopt.pipelines.options import FarmSettings, ScenarioOptions
from fleetopt.pipelines.plan import plan_case
from fleetopt.pipelines.runs import evaluate, run_scenarios, sweep
from fleetopt.scenarios.draws import draw
from fleetopt.scenarios.job import ScenarioJob, for_workers
from fleetopt.solve.mathopt import Engine, solve_model
from fleetopt.testing.synthetic import synthetic_case

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from measure import machine, peak_rss  # noqa: E402

DEFAULT_SIZE = (10, 6, 12)
DEFAULT_GAP = 3e-3
PLAN = "expected-value"
GOAL_VS_RAW = 0.9  # fleetopt's speed-up xK / x1 over the raw speed-up xK / x1
DEFAULT_SIZES = (40, 144)
RAY_WORKER_NICENESS = 15  # Ray 2.60 starts its workers at nice 15 (start_ray records it)
GOAL_EVAL_SPEEDUP = 5.0  # rebuild ms / prepared ms
GOAL_MEMORY = 0.10  # |peak(10N) / peak(N) - 1|


@dataclass(frozen=True)
class Bench:
    """The case and jobs every measurement shares."""

    case: Case
    case_info: dict[str, Any]
    options: SolverOptions  # the workers' options (single-threaded)
    hint: np.ndarray  # the expected-value plan, sweep's warm start
    counts: np.ndarray  # its rack counts per sr row, the plan evaluate fixes
    sweep_job: ScenarioJob
    eval_job: ScenarioJob


# ---------------------------------------------------------------- case and jobs


def load_case(size: tuple[int, int, int], gap: float) -> tuple[Case, str]:
    """The synthetic case of this size, single-threaded, solved to relative gap `gap`."""
    case = synthetic_case(*size, seed=0)
    # threads=1 everywhere (workers use it anyway): HiGHS refuses a second thread count in a
    # process whose global scheduler already started with another (kError on 16 cores).
    solver = case.solver.with_overrides(relative_gap=gap, threads=1)
    return case.replace(solver=solver), f"synthetic_case{size}, seed 0"


def make_bench(size: tuple[int, int, int], gap: float) -> Bench:
    """Solve the expected-value plan once and build the sweep and evaluate jobs from it."""
    case, source = load_case(size, gap)
    started = time.perf_counter()
    expected = plan_case(case)  # what sweep() does on the driver before farming out
    plan_s = time.perf_counter() - started
    if expected.x is None:
        raise SystemExit(f"the expected-value plan failed: {expected.summary.status}")
    model = expected.result.model
    options = for_workers(case.solver)
    counts = expected.x[model.layout.n]
    plans = {PLAN: counts}
    info = {
        "source": source,
        "name": case.name,
        "variables": int(model.n_variables),
        "integers": int(model.integer.sum()),
        "constraints": int(model.n_constraints),
        "nonzeros": len(model.val),
        "relative_gap": case.solver.relative_gap,
        "expected_value_plan_s": round(plan_s, 3),
        "expected_value_status": expected.summary.status.value,
    }
    return Bench(
        case=case,
        case_info=info,
        options=options,
        hint=expected.x,
        counts=counts,
        sweep_job=ScenarioJob(case=case, mode=RunKind.SWEEP, options=options, hint=expected.x),
        eval_job=ScenarioJob(case=case, mode=RunKind.EVALUATE, options=options, plans=plans),
    )


def rebuild_solve(
    case: Case,
    options: SolverOptions,
    scenario: int,
    *,
    hint: np.ndarray | None = None,
    fixed_counts: np.ndarray | None = None,
    engine: Engine | None = None,
) -> tuple[str, float]:
    """One scenario from scratch: index, numbers, model, solve. (status, objective)."""
    index = build_index(case)
    data = model_data(index, draw(index, case.uncertainty, scenario))
    if fixed_counts is None:
        model = build_plan_model(index, case, data)
    else:
        model = build_evaluate_model(index, case, data, fixed_counts)
    solution = solve_model(model, options, engine=engine, hint=hint)
    return solution.status.value, solution.objective / OBJECTIVE_SCALE


# ---------------------------------------------------------------- part 1: sweep throughput


def sequential(bench: Bench, scenarios: Sequence[int]) -> dict[str, Any]:
    """(a) One plain loop, rebuilding everything per scenario."""
    started = time.perf_counter()
    statuses = [rebuild_solve(bench.case, bench.options, s, hint=bench.hint)[0] for s in scenarios]
    wall = time.perf_counter() - started
    return _rate("sequential", 1, len(scenarios), wall, statuses=statuses)


def _raw_child(bench: Bench, scenarios: list[int], ready: Any, start: Any, out: Any) -> None:
    """A raw-capacity process: prepare, signal ready, wait for the common start, loop, report.

    It runs at the niceness of Ray's workers, so that other load on the machine slows both
    alike (at nice 0 it would take CPU from everything a Ray worker yields to).
    """
    os.nice(RAY_WORKER_NICENESS - os.nice(0))
    prepared = bench.sweep_job.prepare()
    ready.put(os.getpid())
    start.wait()
    started = time.perf_counter()
    statuses = [str(prepared.solve_scenario(s).results["status"].iloc[0]) for s in scenarios]
    out.put((time.perf_counter() - started, statuses))


def raw_parallel(bench: Bench, n: int, k: int) -> dict[str, Any]:
    """(a) K plain processes (spawned, no Ray) on every K-th scenario each; wall for all."""
    ctx = mp.get_context("spawn")
    ready, start, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_raw_child, args=(bench, list(range(i, n, k)), ready, start, out))
        for i in range(k)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get()
    started = time.perf_counter()
    start.set()
    parts = [out.get() for _ in procs]
    wall = time.perf_counter() - started
    for p in procs:
        p.join()
    busy = [b for b, _ in parts]
    statuses = [s for _, st in parts for s in st]
    return _rate("raw", k, n, wall, statuses=statuses, busy=busy)


@ray.remote(num_cpus=1)
def _warm_up() -> tuple[int, float, int]:
    """Import what a chunk task needs and hold the worker a moment, so all K start.

    Returns the worker's pid, its import seconds (what a run's first chunk pays in a fresh
    worker; left out of the rates here) and its niceness.
    """
    started = time.perf_counter()
    import fleetopt.parallel.farm  # noqa: F401

    imported_s = time.perf_counter() - started
    time.sleep(0.5)
    return os.getpid(), imported_s, os.nice(0)


def start_ray(k: int, attempts: int = 3) -> dict[str, Any]:
    """Start a local Ray of K CPUs as fleetopt does, and bring up its K worker processes.

    On a busy machine Ray's start can time out; it is tried again (and said so).
    """
    for attempt in range(1, attempts + 1):
        started = time.perf_counter()
        try:
            connect(None, k)
            break
        except Exception as err:  # Ray raises a bare Exception when its GCS is late
            ray.shutdown()
            if attempt == attempts:
                raise
            print(f"  Ray start-up failed ({err}); trying again", flush=True)
    init_s = time.perf_counter() - started
    warm = ray.get([_warm_up.remote() for _ in range(k)])
    return {
        "init_s": round(init_s, 2),
        "startup_s": round(time.perf_counter() - started, 2),
        "worker_import_s": round(max(s for _, s, _ in warm), 2),
        "worker_niceness": sorted({nice for _, _, nice in warm}),
        "warm_workers": len({pid for pid, _, _ in warm}),
    }


@contextmanager
def driver_clock() -> Iterator[dict[str, Any]]:
    """Time the driver's side of a run: each chunk's arrival and storing, and the merge."""
    marks: dict[str, Any] = {"arrivals": [], "store_s": 0.0, "merge_s": 0.0}
    write_chunk, merge = ScenarioStore.write_chunk, ScenarioStore.merge

    def timed_write(self, name, tables):
        started = time.perf_counter()
        marks["arrivals"].append(started)
        write_chunk(self, name, tables)
        marks["store_s"] += time.perf_counter() - started

    def timed_merge(self):
        started = time.perf_counter()
        merge(self)
        marks["merge_s"] += time.perf_counter() - started

    ScenarioStore.write_chunk, ScenarioStore.merge = timed_write, timed_merge
    try:
        yield marks
    finally:
        ScenarioStore.write_chunk, ScenarioStore.merge = write_chunk, merge


def farm_run(job: ScenarioJob, n: int, k: int, chunk: int | str, label: str) -> dict[str, Any]:
    """(b) run_scenarios on a fresh local Ray of K workers; start-up timed apart."""
    ray.shutdown()
    startup = start_ray(k)
    settings = ScenarioOptions(n, farm=FarmSettings(workers=k, chunk=chunk))
    with tempfile.TemporaryDirectory(prefix="bench-scenarios-") as tmp, driver_clock() as marks:
        started = time.perf_counter()
        run_scenarios(job, Path(tmp) / "run", settings)
        ended = time.perf_counter()
        results = pd.read_parquet(Path(tmp) / "run" / "results.parquet")
    ray.shutdown()
    wall = ended - started
    worker_s = float((results["solve_seconds"] + results["build_seconds"]).sum())
    row = _rate(label, k, n, wall, statuses=results["status"].tolist())
    arrivals = marks["arrivals"]
    row["ray"] = startup
    row["chunks"] = [len(c.scenarios) for c in settings.chunks(range(n))]
    # Solver and model time reported by the workers, over K x wall: the rest is overhead
    # (drawing, rows, Ray, the store, idle workers).
    row["solver_share"] = round(worker_s / (k * wall), 3)
    row["driver"] = {
        "first_chunk_s": round(arrivals[0] - started, 3),
        "store_s": round(marks["store_s"], 3),
        "tail_s": round(arrivals[-1] - arrivals[-min(k, len(arrivals))], 3),
        "after_last_chunk_s": round(ended - arrivals[-1], 3),
        "merge_s": round(marks["merge_s"], 3),
    }
    return row


def _rate(
    label: str,
    k: int,
    n: int,
    wall: float,
    *,
    statuses: Sequence[str],
    busy: Sequence[float] | None = None,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "config": label,
        "workers": k,
        "scenarios": n,
        "wall_s": round(wall, 3),
        "rate": round(n / wall, 4),
        "ms_per_scenario": round(1000 * wall / n, 2),
        "statuses": dict(pd.Series(list(statuses)).value_counts().items()),
        "load_1min_after": round(os.getloadavg()[0], 2),
    }
    if busy is not None:
        row["busy_s"] = [round(b, 2) for b in busy]
    return row


def part_sweep(
    bench: Bench,
    sizes: Sequence[int],
    workers: Sequence[int],
    chunks: Sequence[int | str],
    repeat: int,
) -> dict:
    """Part 1: raw and fleetopt (per chunk setting), 1 and K at once, interleaved per N;
    then fleetopt's speed-up over the raw one, the median over `repeat` attempts."""
    print(f"\n[1] sweep throughput: N in {list(sizes)}, chunk {list(chunks)}", flush=True)
    seq = _show(sequential(bench, range(sizes[0])))
    runs: list[dict[str, Any]] = [seq]
    speedups: dict[str, Any] = {}
    x1_vs_sequential = None
    for n in sizes:
        for attempt in range(repeat):
            by: dict[tuple, dict[str, Any]] = {}
            for k in (1, *workers):
                by["raw", k] = _show(raw_parallel(bench, n, k))
                for chunk in chunks:
                    by[chunk, k] = _show(farm_run(bench.sweep_job, n, k, chunk, "fleetopt"))
            for row in by.values():
                row["attempt"] = attempt
                runs.append(row)
            if x1_vs_sequential is None:
                x1_vs_sequential = round(by[chunks[0], 1]["rate"] / seq["rate"], 3)
            for k in workers:
                raw_speedup = by["raw", k]["rate"] / by["raw", 1]["rate"]
                for chunk in chunks:
                    farm_speedup = by[chunk, k]["rate"] / by[chunk, 1]["rate"]
                    entry = speedups.setdefault(f"N={n} x{k} chunk {chunk}", {"attempts": []})
                    entry["attempts"].append(
                        {
                            "raw_speedup": round(raw_speedup, 3),
                            "fleetopt_speedup": round(farm_speedup, 3),
                            "speedup_vs_raw": round(farm_speedup / raw_speedup, 3),
                        }
                    )
    for entry in speedups.values():
        entry["speedup_vs_raw"] = statistics.median(a["speedup_vs_raw"] for a in entry["attempts"])
        entry["goal"] = GOAL_VS_RAW
        entry["meets_goal"] = entry["speedup_vs_raw"] >= GOAL_VS_RAW
    return {
        "sizes": list(sizes),
        "chunks": list(chunks),
        "repeat": repeat,
        "runs": runs,
        "ratios": {"fleetopt_x1_vs_sequential": x1_vs_sequential, "speedups": speedups},
    }


def _show(row: dict[str, Any]) -> dict[str, Any]:
    busy = f"  busy {min(row['busy_s']):.1f}-{max(row['busy_s']):.1f} s" if "busy_s" in row else ""
    farm = ""
    if "ray" in row:
        d = row["driver"]
        farm = (
            f"  {len(row['chunks'])} chunks of {min(row['chunks'])}-{max(row['chunks'])};"
            f" first back {d['first_chunk_s']:.2f} s,"
            f" storing {d['store_s']:.2f} s, tail {d['tail_s']:.2f} s,"
            f" merge+summary {d['after_last_chunk_s']:.2f} s"
            f" (Ray start-up {row['ray']['startup_s']:.1f} s, excluded)"
        )
    print(
        f"  {row['config']:>10} x{row['workers']:<2} {row['scenarios']:>5} scen"
        f" {row['wall_s']:8.2f} s {row['rate']:8.2f} scen/s  load {row['load_1min_after']:.1f}"
        f"{busy}{farm}",
        flush=True,
    )
    return row


# ---------------------------------------------------------------- part 2: evaluate speed


def _per_scenario(fn: Callable[[int], Any], scenarios: Sequence[int]) -> tuple[float, list]:
    started = time.perf_counter()
    out = [fn(s) for s in scenarios]
    return 1000 * (time.perf_counter() - started) / len(scenarios), out


def part_evaluate(bench: Bench, n: int, n_farm: int, workers: int, chunk: int | str) -> dict:
    """Part 2: per-scenario ms of the evaluate LP, rebuilt vs prepared, in one process."""
    print(f"\n[2] evaluate per scenario: {n} scenarios in-process, {n_farm} through the farm")
    scenarios = range(n)
    rebuild_ms, rebuilt = _per_scenario(
        lambda s: rebuild_solve(
            bench.case, bench.options, s, fixed_counts=bench.counts, engine=Engine.HIGHS
        ),
        scenarios,
    )
    rows: dict[str, Any] = {"rebuild_highs": {"ms": round(rebuild_ms, 2)}}
    objectives = {"rebuild_highs": np.array([o for _, o in rebuilt])}
    for engine in (Engine.GLOP, Engine.HIGHS):
        job = ScenarioJob(
            case=bench.case,
            mode=RunKind.EVALUATE,
            options=bench.options,
            plans={PLAN: bench.counts},
            lp_engine=engine,
        )
        started = time.perf_counter()
        prepared = job.prepare()
        prepare_ms = 1000 * (time.perf_counter() - started)
        ms, parts = _per_scenario(prepared.solve_scenario, scenarios)
        results = pd.concat([p.results for p in parts], ignore_index=True)
        rows[f"prepared_{engine.value}"] = {
            "ms": round(ms, 2),
            "prepare_ms": round(prepare_ms, 1),
            "model_build_ms": round(1000 * results["build_seconds"].mean(), 2),
            "solve_ms": round(1000 * results["solve_seconds"].mean(), 2),
        }
        objectives[f"prepared_{engine.value}"] = results["objective"].to_numpy()
    base = objectives["rebuild_highs"]
    for name, values in objectives.items():
        rel = np.abs(values - base) / np.maximum(np.abs(base), 1.0)
        rows[name]["max_rel_objective_diff_vs_rebuild"] = float(np.nanmax(rel))
    for name in ("prepared_glop", "prepared_highs"):
        rows[name]["speedup_vs_rebuild"] = round(rebuild_ms / rows[name]["ms"], 2)
    for name, row in rows.items():
        extra = "".join(f"  {k} {row[k]}" for k in ("model_build_ms", "solve_ms") if k in row)
        print(f"  {name:>15} {row['ms']:8.2f} ms/scen{extra}", flush=True)

    farm = {}
    for k in sorted({1, workers}):
        row = farm_run(bench.eval_job, n_farm, k, chunk, "evaluate")
        farm[str(k)] = row
        _show(row)
    speedup = rebuild_ms / rows["prepared_glop"]["ms"]
    return {
        "scenarios": n,
        "in_process": rows,
        "farm": farm,
        "ratios": {
            "prepared_glop_vs_rebuild": round(speedup, 2),
            "prepared_highs_vs_rebuild": round(rows["prepared_highs"]["speedup_vs_rebuild"], 2),
            "farm_x1_vs_rebuild": round(rebuild_ms / farm["1"]["ms_per_scenario"], 2),
            "farm_x1_vs_prepared_glop": round(
                rows["prepared_glop"]["ms"] / farm["1"]["ms_per_scenario"], 3
            ),
            "goal": GOAL_EVAL_SPEEDUP,
            "meets_goal": speedup >= GOAL_EVAL_SPEEDUP,
        },
    }


# ---------------------------------------------------------------- part 3: driver memory


def memory_child(args: argparse.Namespace) -> None:
    """In a fresh process: run sweep() or evaluate() and print the driver's peak RSS.

    The kernel's high-water mark is reset just before the run (measure.peak_rss), so the
    peak is the run's own, not that of imports or Ray start-up before it.
    """
    case, _ = load_case(args.size, args.gap)
    connect(None, args.workers)
    farm = FarmSettings(workers=args.workers, chunk=args.chunk[0])
    settings = ScenarioOptions(args.memory_n, farm=farm)
    plans = {}
    if args.memory_child == "evaluate":
        expected = plan_case(case)
        plans[PLAN] = expected.x[expected.result.model.layout.n]
    with tempfile.TemporaryDirectory(prefix="bench-scenarios-mem-") as tmp:
        out = Path(tmp) / "run"
        started = time.perf_counter()
        with peak_rss() as peak:
            if plans:
                evaluate(case, plans, out, settings)
            else:
                sweep(case, out, settings)
        wall = time.perf_counter() - started
    print(
        json.dumps(
            {
                "mode": args.memory_child,
                "scenarios": args.memory_n,
                "rss_before_run_mib": round(peak.start, 1),
                "peak_rss_mib": round(peak.peak, 1),
                "peak_growth_mib": round(peak.mib, 1),
                "method": peak.method,
                "wall_s": round(wall, 2),
            }
        )
    )


def part_memory(args: argparse.Namespace, workers: int, sizes: dict[str, int]) -> dict:
    """Part 3: each mode at N and 10N in its own child process; peak RSS ratio."""
    print(f"\n[3] driver peak RSS, N and 10N, {workers} workers")
    out: dict[str, Any] = {}
    for mode, n in sizes.items():
        runs = [_run_memory_child(args, mode, m, workers) for m in (n, 10 * n)]
        ratio = runs[1]["peak_rss_mib"] / runs[0]["peak_rss_mib"]
        out[mode] = {
            "runs": runs,
            "ratio_10n_vs_n": round(ratio, 3),
            "growth_mib": round(runs[1]["peak_rss_mib"] - runs[0]["peak_rss_mib"], 1),
            "goal": f"within {GOAL_MEMORY:.0%}",
            "meets_goal": abs(ratio - 1) <= GOAL_MEMORY,
        }
        for r in runs:
            print(
                f"  {mode:>9} {r['scenarios']:>6} scen: peak {r['peak_rss_mib']:7.1f} MiB"
                f" (RSS {r['rss_before_run_mib']:.1f} before the run,"
                f" {r['method']}), {r['wall_s']:.1f} s",
                flush=True,
            )
    return out


def _run_memory_child(args: argparse.Namespace, mode: str, n: int, workers: int) -> dict:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--memory-child",
        mode,
        "--memory-n",
        str(n),
        "--workers",
        str(workers),
        "--size",
        ",".join(map(str, args.size)),
        "--gap",
        str(args.gap),
        "--chunk",
        str(args.chunk[0]),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory child failed ({mode}, {n}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- report


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def summary_table(report: dict[str, Any]) -> str:
    """The ratios against their goals, one line each."""
    lines = ["", f"{'ratio':<52} {'value':>7}   goal"]

    def add(name: str, value: float, goal: str = "", met: bool | None = None) -> None:
        flag = "" if met is None else (" ok" if met else " MISSED")
        lines.append(f"{name:<52} {value:7.3f}   {goal}{flag}")

    if p1 := report.get("sweep"):
        r = p1["ratios"]
        add("sweep: fleetopt x1 / sequential rebuild", r["fleetopt_x1_vs_sequential"])
        for key, v in r["speedups"].items():
            goal, met = f">= {v['goal']}", v["meets_goal"]
            add(f"sweep {key}: speed-up / raw", v["speedup_vs_raw"], goal, met)
            for a in v["attempts"]:
                add(f"  raw speed-up {a['raw_speedup']:.2f}, fleetopt", a["fleetopt_speedup"])
    if p2 := report.get("evaluate"):
        r = p2["ratios"]
        goal = f">= {r['goal']}"
        add(
            "evaluate: rebuild / prepared GLOP, ms per scenario",
            r["prepared_glop_vs_rebuild"],
            goal,
            r["meets_goal"],
        )
        add("evaluate: rebuild / prepared HiGHS", r["prepared_highs_vs_rebuild"])
        add("evaluate: rebuild / evaluate() farm x1", r["farm_x1_vs_rebuild"])
    if p3 := report.get("memory"):
        for mode, v in p3.items():
            add(
                f"driver peak RSS, {mode}: 10N / N", v["ratio_10n_vs_n"], v["goal"], v["meets_goal"]
            )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default=f"{usable_cores()}core", help="names the JSON file")
    parser.add_argument("--out", type=Path, help="JSON path (default results/scenarios-LABEL)")
    parser.add_argument("--quick", action="store_true", help="few scenarios, for a smoke run")
    parser.add_argument("--parts", default="1,2,3", help="which parts to run, e.g. 1,3")
    parser.add_argument(
        "--workers", type=str, default=None, help="K values, e.g. 2,4,8,16 (default: fit cores)"
    )
    parser.add_argument(
        "--sizes",
        type=lambda s: tuple(int(x) for x in s.split(",")),
        default=None,
        help=f"sweep scenario counts N (default {','.join(map(str, DEFAULT_SIZES))})",
    )
    parser.add_argument("--repeat", type=int, default=1, help="sweep measurements per N")
    parser.add_argument(
        "--chunk",
        type=lambda s: [c if c == defaults.AUTO else int(c) for c in s.split(",")],
        default=[defaults.CHUNK],
        help="scenarios per chunk, or auto; a list (auto,8) compares them in part 1",
    )
    parser.add_argument(
        "--size",
        type=lambda s: tuple(int(x) for x in s.split(",")),
        default=DEFAULT_SIZE,
        help="synthetic case sites,racks,workloads",
    )
    parser.add_argument("--gap", type=float, default=DEFAULT_GAP, help="relative MIP gap")
    parser.add_argument("--memory-child", choices=["sweep", "evaluate"], help=argparse.SUPPRESS)
    parser.add_argument("--memory-n", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    cores = usable_cores()
    if args.memory_child:
        args.workers = int(args.workers)
        memory_child(args)
        return
    workers = (
        [int(k) for k in args.workers.split(",")]
        if args.workers
        else sorted({k for k in (2, 4, 8, cores) if 2 <= k <= cores} or {2})
    )
    sizes = args.sizes or ((24,) if args.quick else DEFAULT_SIZES)
    parts = {int(p) for p in args.parts.split(",")}
    report: dict[str, Any] = {
        "label": args.label,
        "quick": args.quick,
        "machine": {
            **machine(),
            "ray": metadata.version("ray"),
            "ortools": metadata.version("ortools"),
        },
        "load_average": {"start": _load()},
        "workers": workers,
    }
    out = args.out or HERE / "results" / f"scenarios-{args.label}.json"
    started = time.perf_counter()

    def save() -> None:  # after every part, so a run cut short still leaves its figures
        report["total_s"] = round(time.perf_counter() - started, 1)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2, default=_plain) + "\n")

    bench = make_bench(args.size, args.gap)
    report["case"] = bench.case_info
    print(f"machine: {report['machine']}\ncase: {bench.case_info}", flush=True)
    if 1 in parts:
        report["sweep"] = part_sweep(bench, sizes, workers, args.chunk, args.repeat)
        report["load_average"]["after_sweep"] = _load()
        save()
    if 2 in parts:
        n, n_farm = (40, 80) if args.quick else (200, 400)
        report["evaluate"] = part_evaluate(bench, n, n_farm, max(workers), args.chunk[0])
        report["load_average"]["after_evaluate"] = _load()
        save()
    if 3 in parts:
        memory_sizes = (
            {"sweep": 8, "evaluate": 50} if args.quick else {"sweep": 24, "evaluate": 300}
        )
        report["memory"] = part_memory(args, max(workers), memory_sizes)
        report["load_average"]["after_memory"] = _load()
    save()
    print(summary_table(report))
    print(f"load average (1, 5, 15 min): {report['load_average']}")
    print(f"\nwrote {out.name} ({report['total_s']} s in all)")


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON: {type(value).__name__}")


if __name__ == "__main__":
    main()
