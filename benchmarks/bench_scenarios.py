"""Monte Carlo scenario benchmark: fleetopt's Ray farm against plain loops and raw processes.

    python benchmarks/bench_scenarios.py --label 2core           # about 6 minutes on 2 cores
    python benchmarks/bench_scenarios.py --quick --label quick   # about 1.5 minutes

Everything below is measured side by side in one run, on one synthetic case
(`fleetopt.synthetic.synthetic_case`, default 10 sites x 6 rack types x 12 workloads, seed 0,
relative gap 3e-3 so that one scenario's MILP takes ~0.1-0.5 s):

1. Sweep throughput (scenarios per second), on scenarios 0..N-1:
   a. `sequential`: one process, no Ray, rebuilding everything per scenario (build_index,
      model_data, build_model, solve_model), with the same options and warm-start hint
      as fleetopt's sweep;
   b. `fleetopt x1`: `run_scenarios` with FarmSettings(workers=1);
   c. `fleetopt xK`: the same with K workers, for K in 2/4/8/cores (as many as fit);
   d. `raw xK`: the machine's raw capacity, K plain processes (multiprocessing, spawn, no
      Ray) each running loop (a) on its share (every K-th scenario); wall time for all.
      Also `raw-prepared xK`: K plain processes each preparing the job once and running
      `PreparedJob.solve_scenario` (exactly a worker's per-scenario work, no Ray, no
      store): fleetopt xK / raw-prepared xK is the farm's own overhead.
   Ray start-up (ray.init plus one warm-up task per worker) is timed separately and left
   out of the rates. Sequential and 1-worker runs use N1 = 2 x per-worker scenarios;
   K-worker runs use K x per-worker, so every configuration runs about as long.
2. Evaluate (the expected-value plan's counts fixed, an LP per scenario), per scenario,
   in one process: rebuild per scenario (index + build_model(fixed_counts) + solve_model
   with HiGHS) vs fleetopt's prepared path (`PreparedJob.solve_scenario`: index once,
   `Resolver` with GLOP updated in place) vs the prepared path with HiGHS (rebuilt from
   the proto each time); then through `evaluate()`'s farm on 1 worker (and on all cores).
3. Driver peak memory: `sweep()` and `evaluate()` with N and 10N scenarios, each in a fresh
   child process that reports its own peak RSS (getrusage ru_maxrss).

Results: a table on stdout and benchmarks/results/scenarios-<label>.json (or --out).
"""

from __future__ import annotations

import os

os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars in benchmark output

import argparse
import json
import multiprocessing as mp
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import ray

from fleetopt.io.case import Case, SolverOptions
from fleetopt.model.build import OBJECTIVE_SCALE, build_model
from fleetopt.model.index import build_index
from fleetopt.model.inputs import model_data
from fleetopt.parallel.farm import connect
from fleetopt.pipelines.plan import plan_case
from fleetopt.pipelines.runs import FarmSettings, evaluate, run_scenarios, sweep
from fleetopt.scenarios.draws import draw
from fleetopt.scenarios.job import Mode, ScenarioJob, for_workers
from fleetopt.solve.mathopt import Engine, solve_model
from fleetopt.testing.synthetic import synthetic_case

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from measure import machine, peak_rss  # noqa: E402

DEFAULT_SIZE = (10, 6, 12)
DEFAULT_GAP = 3e-3
PLAN = "expected-value"
GOAL_VS_RAW = 0.9  # fleetopt xK rate / raw xK rate
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
        raise SystemExit(f"the expected-value plan failed: {expected.summary['status']}")
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
        "expected_value_status": expected.summary["status"],
    }
    return Bench(
        case=case,
        case_info=info,
        options=options,
        hint=expected.x,
        counts=counts,
        sweep_job=ScenarioJob(case=case, mode=Mode.SWEEP, options=options, hint=expected.x),
        eval_job=ScenarioJob(case=case, mode=Mode.EVALUATE, options=options, plans=plans),
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
    model = build_model(index, case, data, fixed_counts=fixed_counts)
    solution = solve_model(model, options, engine=engine, hint=hint)
    return solution.status.value, solution.objective / OBJECTIVE_SCALE


# ---------------------------------------------------------------- part 1: sweep throughput


def sequential(bench: Bench, scenarios: Sequence[int]) -> dict[str, Any]:
    """(a) One plain loop, rebuilding everything per scenario."""
    started = time.perf_counter()
    statuses = [rebuild_solve(bench.case, bench.options, s, hint=bench.hint)[0] for s in scenarios]
    wall = time.perf_counter() - started
    return _rate("sequential", 1, len(scenarios), wall, statuses=statuses)


def _raw_child(
    target: str,
    bench: Bench,
    scenarios: list[int],
    ready: Any,
    start: Any,
    out: Any,
) -> None:
    """A raw-capacity process: signal ready, wait for the common start, loop, report."""
    prepared = bench.sweep_job.prepare() if target == "prepared" else None
    ready.put(os.getpid())
    start.wait()
    started = time.perf_counter()
    statuses = []
    for s in scenarios:
        if prepared is None:
            statuses.append(rebuild_solve(bench.case, bench.options, s, hint=bench.hint)[0])
        else:
            statuses.append(str(prepared.solve_scenario(s).results["status"].iloc[0]))
    out.put((time.perf_counter() - started, statuses))


def raw_parallel(bench: Bench, n: int, k: int, target: str) -> dict[str, Any]:
    """(d) K plain processes (spawned, no Ray) on every K-th scenario each; wall for all.

    `target` "rebuild" runs loop (a); "prepared" runs a prepared job's per-scenario work.
    Process start and imports happen before the clock starts.
    """
    ctx = mp.get_context("spawn")
    ready, start, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(
            target=_raw_child,
            args=(target, bench, list(range(i, n, k)), ready, start, out),
        )
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
    label = "raw" if target == "rebuild" else "raw-prepared"
    return _rate(label, k, n, wall, statuses=statuses, busy=busy)


@ray.remote(num_cpus=1)
def _warm_up() -> int:
    """Occupy one worker for a moment, with fleetopt's farm imported, so all K start."""
    import fleetopt.parallel.farm  # noqa: F401

    time.sleep(0.5)
    return os.getpid()


def start_ray(k: int) -> dict[str, Any]:
    """Start a local Ray of K CPUs as fleetopt does, and bring up its K worker processes."""
    started = time.perf_counter()
    connect(None, k)
    init_s = time.perf_counter() - started
    pids = ray.get([_warm_up.remote() for _ in range(k)])
    return {
        "init_s": round(init_s, 2),
        "startup_s": round(time.perf_counter() - started, 2),
        "warm_workers": len(set(pids)),
    }


def farm_run(job: ScenarioJob, n: int, k: int, chunk: int, label: str) -> dict[str, Any]:
    """(b), (c) run_scenarios on a fresh local Ray of K workers; start-up timed apart."""
    ray.shutdown()
    startup = start_ray(k)
    with tempfile.TemporaryDirectory(prefix="bench-scenarios-") as tmp:
        started = time.perf_counter()
        run_scenarios(job, n, Path(tmp) / "run", FarmSettings(workers=k, chunk=chunk))
        wall = time.perf_counter() - started
        results = pd.read_parquet(Path(tmp) / "run" / "results.parquet")
    ray.shutdown()
    worker_s = float((results["solve_seconds"] + results["build_seconds"]).sum())
    row = _rate(label, k, n, wall, statuses=results["status"].tolist())
    row["ray"] = startup
    # Solver and model time reported by the workers, over K x wall: the rest is overhead
    # (drawing, rows, Ray, the store, idle workers).
    row["solver_share"] = round(worker_s / (k * wall), 3)
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
    }
    if busy is not None:
        row["busy_s"] = [round(b, 2) for b in busy]
    return row


def part_sweep(bench: Bench, workers: Sequence[int], per_worker: int, chunk: int) -> dict:
    """Part 1: every configuration, then the ratios."""
    n1 = 2 * per_worker
    runs: list[dict[str, Any]] = []
    print(f"\n[1] sweep throughput: N1={n1}, N_K={per_worker} x K, chunk {chunk}", flush=True)
    runs.append(_show(sequential(bench, range(n1))))
    runs.append(_show(farm_run(bench.sweep_job, n1, 1, chunk, "fleetopt")))
    for k in workers:
        n = per_worker * k
        runs.append(_show(raw_parallel(bench, n, k, "rebuild")))
        runs.append(_show(raw_parallel(bench, n, k, "prepared")))
        runs.append(_show(farm_run(bench.sweep_job, n, k, chunk, "fleetopt")))
    by = {(r["config"], r["workers"]): r for r in runs}
    seq = by["sequential", 1]["rate"]
    one = by["fleetopt", 1]["rate"]
    ratios = {
        "fleetopt_x1_vs_sequential": round(one / seq, 3),
        "by_workers": {
            str(k): {
                "fleetopt_vs_raw": round(by["fleetopt", k]["rate"] / by["raw", k]["rate"], 3),
                "fleetopt_vs_raw_prepared": round(
                    by["fleetopt", k]["rate"] / by["raw-prepared", k]["rate"], 3
                ),
                "fleetopt_vs_k_x_fleetopt1": round(by["fleetopt", k]["rate"] / (k * one), 3),
                "raw_vs_k_x_sequential": round(by["raw", k]["rate"] / (k * seq), 3),
                "fleetopt_speedup_vs_sequential": round(by["fleetopt", k]["rate"] / seq, 2),
                "goal_vs_raw": GOAL_VS_RAW,
                "meets_goal": by["fleetopt", k]["rate"] / by["raw", k]["rate"] >= GOAL_VS_RAW,
            }
            for k in workers
        },
    }
    return {"n1": n1, "per_worker": per_worker, "chunk": chunk, "runs": runs, "ratios": ratios}


def _show(row: dict[str, Any]) -> dict[str, Any]:
    ray_s = f"  (Ray start-up {row['ray']['startup_s']:.1f} s, excluded)" if "ray" in row else ""
    busy = f"  busy {min(row['busy_s']):.1f}-{max(row['busy_s']):.1f} s" if "busy_s" in row else ""
    print(
        f"  {row['config']:>13} x{row['workers']:<2} {row['scenarios']:>5} scen"
        f" {row['wall_s']:8.2f} s {row['rate']:8.2f} scen/s {row['ms_per_scenario']:8.1f} ms/scen"
        f"{busy}{ray_s}",
        flush=True,
    )
    return row


# ---------------------------------------------------------------- part 2: evaluate speed


def _per_scenario(fn: Callable[[int], Any], scenarios: Sequence[int]) -> tuple[float, list]:
    started = time.perf_counter()
    out = [fn(s) for s in scenarios]
    return 1000 * (time.perf_counter() - started) / len(scenarios), out


def part_evaluate(bench: Bench, n: int, n_farm: int, workers: int, chunk: int) -> dict:
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
            mode=Mode.EVALUATE,
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
            "solver_rebuilds": prepared.solver_rebuilds,
        }
        objectives[f"prepared_{engine.value}"] = results["objective"].to_numpy()
    base = objectives["rebuild_highs"]
    for name, values in objectives.items():
        rel = np.abs(values - base) / np.maximum(np.abs(base), 1.0)
        rows[name]["max_rel_objective_diff_vs_rebuild"] = float(np.nanmax(rel))
    for name in ("prepared_glop", "prepared_highs"):
        rows[name]["speedup_vs_rebuild"] = round(rebuild_ms / rows[name]["ms"], 2)
    for name, row in rows.items():
        extra = "".join(
            f"  {k} {row[k]}" for k in ("model_build_ms", "solve_ms", "solver_rebuilds") if k in row
        )
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
    settings = FarmSettings(workers=args.workers, chunk=args.chunk)
    plans = {}
    if args.memory_child == "evaluate":
        expected = plan_case(case)
        plans[PLAN] = expected.x[expected.result.model.layout.n]
    with tempfile.TemporaryDirectory(prefix="bench-scenarios-mem-") as tmp:
        out = Path(tmp) / "run"
        started = time.perf_counter()
        with peak_rss() as peak:
            if plans:
                evaluate(case, plans, args.memory_n, out, settings)
            else:
                sweep(case, args.memory_n, out, settings)
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
        str(args.chunk),
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
        for k, v in r["by_workers"].items():
            met = v["meets_goal"]
            add(f"sweep: fleetopt x{k} / raw x{k} (capacity)", v["fleetopt_vs_raw"], ">= 0.9", met)
            add(f"sweep: fleetopt x{k} / raw-prepared x{k}", v["fleetopt_vs_raw_prepared"])
            add(f"sweep: fleetopt x{k} / ({k} x fleetopt x1)", v["fleetopt_vs_k_x_fleetopt1"])
            add(f"sweep: raw x{k} / ({k} x sequential) (machine)", v["raw_vs_k_x_sequential"])
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
    parser.add_argument("--per-worker", type=int, default=None, help="sweep scenarios per worker")
    parser.add_argument("--chunk", type=int, default=FarmSettings().chunk)
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
    per_worker = args.per_worker or (12 if args.quick else 72)
    parts = {int(p) for p in args.parts.split(",")}
    report: dict[str, Any] = {
        "label": args.label,
        "quick": args.quick,
        "machine": {
            **machine(),
            "ray": metadata.version("ray"),
            "ortools": metadata.version("ortools"),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        },
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
        report["sweep"] = part_sweep(bench, workers, per_worker, args.chunk)
        save()
    if 2 in parts:
        n, n_farm = (40, 80) if args.quick else (200, 400)
        report["evaluate"] = part_evaluate(bench, n, n_farm, max(workers), args.chunk)
        save()
    if 3 in parts:
        sizes = {"sweep": 8, "evaluate": 50} if args.quick else {"sweep": 24, "evaluate": 300}
        report["memory"] = part_memory(args, max(workers), sizes)
    save()
    print(summary_table(report))
    print(f"\nwrote {out.name} ({report['total_s']} s in all)")


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON: {type(value).__name__}")


if __name__ == "__main__":
    main()
