"""Build and solve benchmark of the multi-period model (docs/model.md section 8).

    python benchmarks/bench_multiperiod.py            # 20x8x24, 35x10x40, 50x12x60 over 5 years
    python benchmarks/bench_multiperiod.py --quick    # 20x8x24 over 5 years only

Per size of synthetic case (fleetopt.testing.synthetic with `periods=5`, seed 0: demand
growth, a rack roadmap with lead times, falling prices, retiring installed racks, power in
steps), it measures:

- the build, each step separately (best of --repeat): the index tables, the model arrays
  (`model_data` + `build_plan_model`) and the MathOpt proto; model size;
- the solve as `fleetopt solve` runs it (HiGHS in a child process held to a wall-clock
  deadline) to a relative gap of 0.1% within --limit seconds (default 300): status, proven
  gap, wall seconds and the CPU seconds the solve used (this process and its children).
  The machine is shared: the load average before and after is recorded, and CPU seconds
  are what a quiet machine would take (HiGHS runs single-threaded here by default);
- with --lp, the LP relaxation's bound (the root gap of the formulation).

The goal: the 50x12x60 case over 5 periods builds in under 1% of its solve time and proves
a 0.1% gap within 5 minutes. Results: a table on stdout and results/multiperiod.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from fleetopt.model.build import build_plan_model
from fleetopt.model.index import build_index
from fleetopt.model.inputs import model_data
from fleetopt.solve.deadline import Deadline
from fleetopt.solve.mathopt import solve_model, to_proto
from fleetopt.testing.synthetic import SyntheticParams, synthetic_case

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from measure import best_time, machine  # noqa: E402

SIZES: tuple[tuple[int, int, int], ...] = ((20, 8, 24), (35, 10, 40), (50, 12, 60))
QUICK_SIZES = SIZES[:1]
PERIODS = 5
TARGET_GAP = 1e-3
RESULTS = HERE / "results" / "multiperiod.json"
QUICK_RESULTS = HERE / "results" / "multiperiod-quick.json"


def cpu_seconds() -> float:
    """CPU seconds used by this process and its finished children (the held HiGHS)."""
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure_size(
    size: tuple[int, int, int], seed: int, repeat: int, limit_s: float, threads: int, lp: bool
) -> dict[str, Any]:
    """Every figure of one size."""
    case = synthetic_case(*size, seed=seed, params=SyntheticParams(periods=PERIODS))
    index_s, index = best_time(lambda: build_index(case), repeat)
    model_s, model = best_time(lambda: build_plan_model(index, case, model_data(index)), repeat)
    proto_s, _ = best_time(lambda: to_proto(model), repeat)
    build_s = index_s + model_s + proto_s
    options = case.solver.with_overrides(
        time_limit_s=limit_s, relative_gap=TARGET_GAP, threads=threads
    )
    load_before = os.getloadavg()
    cpu, started = cpu_seconds(), time.perf_counter()
    solution = solve_model(model, options, deadline=Deadline.after(limit_s, hold=True))
    wall = time.perf_counter() - started
    record = {
        "size": list(size),
        "periods": PERIODS,
        "seed": seed,
        "case": case.name,
        "variables": model.n_variables,
        "integers": int(model.integer.sum()),
        "constraints": model.n_constraints,
        "nonzeros": len(model.val),
        "index_s": index_s,
        "model_s": model_s,
        "proto_s": proto_s,
        "build_s": build_s,
        "solve": {
            "status": solution.status.value,
            "gap": solution.gap,
            "objective_musd": solution.objective,
            "bound_musd": solution.bound,
            "wall_s": wall,
            "cpu_s": cpu_seconds() - cpu,
            "time_limit_s": limit_s,
            "relative_gap": TARGET_GAP,
            "threads": threads,
            "message": solution.message,
        },
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "build_over_solve": build_s / wall,
    }
    if lp:
        relaxed = dataclasses.replace(model, integer=np.zeros_like(model.integer))
        lp_solution = solve_model(relaxed, options.with_overrides(time_limit_s=3600))
        record["lp_bound_musd"] = lp_solution.objective
        record["lp_seconds"] = lp_solution.seconds
        record["root_gap"] = (solution.objective - lp_solution.objective) / solution.objective
    return record


def format_table(records: list[dict[str, Any]]) -> str:
    lines = [
        "| sites x racks x workloads x periods | vars | int | rows | build s | status "
        "| proven gap | solve wall s | solve CPU s | build / solve | load before / after |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in records:
        s = r["solve"]
        size = "x".join(map(str, [*r["size"], r["periods"]]))
        load = f"{r['load_before'][0]:.1f} / {r['load_after'][0]:.1f}"
        lines.append(
            f"| {size} | {r['variables']:,} | {r['integers']:,} | {r['constraints']:,} "
            f"| {r['build_s']:.3f} | {s['status']} | {s['gap']:.1e} | {s['wall_s']:.0f} "
            f"| {s['cpu_s']:.0f} | {r['build_over_solve']:.2%} | {load} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build/solve benchmark of the 5-period model.")
    parser.add_argument("--quick", action="store_true", help="the smallest size only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="builds timed best of N")
    parser.add_argument("--limit", type=float, default=300.0, help="solve limit, seconds")
    parser.add_argument("--threads", type=int, default=0, help="HiGHS threads (0: its own)")
    parser.add_argument("--lp", action="store_true", help="also solve the LP relaxation")
    parser.add_argument("--out", type=Path, help="JSON results")
    args = parser.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else SIZES
    out = args.out or (QUICK_RESULTS if args.quick else RESULTS)

    started = time.perf_counter()
    records = []
    for size in sizes:
        print(f"fleetopt {'x'.join(map(str, size))} x {PERIODS} periods ...", flush=True)
        records.append(
            measure_size(size, args.seed, args.repeat, args.limit, args.threads, args.lp)
        )
    table = format_table(records)
    print()
    print(table)
    largest = records[-1]
    reached = largest["solve"]["gap"] <= TARGET_GAP
    verdict = (
        f"largest case {'x'.join(map(str, largest['size']))} x {PERIODS} periods: proven gap "
        f"{largest['solve']['gap']:.2e} after {largest['solve']['wall_s']:.0f} s wall "
        f"({largest['solve']['cpu_s']:.0f} s CPU): "
        f"{'reaches' if reached else 'does NOT reach'} the 0.1% goal within {args.limit:.0f} s; "
        f"build {largest['build_over_solve']:.2%} of solve"
    )
    print()
    print(verdict)
    result = {
        "benchmark": "multiperiod",
        "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "quick": args.quick,
        "seed": args.seed,
        "repeat": args.repeat,
        "sizes": records,
        "verdict": verdict,
        "seconds": time.perf_counter() - started,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=float) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
