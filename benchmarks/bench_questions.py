"""What-if variants and alternatives on Ray, on the bundled example (docs/model.md 11-12).

    python benchmarks/bench_questions.py --label 2core           # the full run (~20 min)
    python benchmarks/bench_questions.py --quick --label quick   # 4 variants, 2 alternatives

Measured side by side in one run:

1. What-if: the base and 16 variants of the bundled example (each site's power cap 10% up
   and down, four rack types 10% cheaper, four workloads' decode demand 10% down), solved
   (a) by `fleetopt whatif` on 2 Ray workers (Ray started before the clock) and (b) the same
   17 plans one after the other in this process (`plan_case`, single-threaded, the
   workers' options). Goal: (b) / (a) >= 1.6. Both give the same objectives.
2. This machine's raw parallel capacity at that time: the same two plans solved one after
   the other, then at once by two plain processes (no Ray); capacity = sequential / at
   once (2.0 on two idle cores). The machine is shared with other work, so (1) is read
   against it.
3. Alternatives: `fleetopt alternatives` with K = 8 within 5% on 2 workers, end to end
   (the optimum, the directions, the re-costing, the tables). Goal: within 5 minutes.

The load average is recorded before and after each part. Results: a table on stdout and
benchmarks/results/questions-<label>.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fleetopt.io.case import Case, read_case
from fleetopt.io.edits import Variant, variant_cases, variants_of
from fleetopt.parallel.farm import connect
from fleetopt.pipelines.alternatives import alternatives
from fleetopt.pipelines.options import AlternativesAsk, FarmRun, FarmSettings
from fleetopt.pipelines.plan import plan_case
from fleetopt.pipelines.whatif import whatif
from fleetopt.scenarios.job import for_workers
from fleetopt.solve.deadline import Deadline

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from measure import machine  # noqa: E402

EXAMPLE = HERE.parent / "fleetopt" / "data" / "example"
WORKERS = 2
GOAL_SPEEDUP = 1.6
GOAL_ALTERNATIVES_S = 300.0


def load() -> float:
    return round(os.getloadavg()[0], 2)


def example_variants(count: int) -> list[Variant]:
    """Up to 16 variants of the bundled example: caps up and down, cheaper racks, less
    decode demand."""
    specs = [
        *(
            f"sites:{s}:power_cap_mw={d}"
            for s in ("us-east-campus", "us-west-colo", "eu-sovereign", "nordic-remote")
            for d in ("+10%", "-10%")
        ),
        *(
            f"racks:{r}:capex_usd=-10%"
            for r in ("vr-nvl72", "gb300-nvl72", "groq3-lpx", "hgx-h200")
        ),
        *(
            f"workloads:{w}:decode_tokens_per_s=-10%"
            for w in ("chat-us", "agentic-coding", "batch-agents", "chat-eu-sovereign")
        ),
    ]
    return variants_of(specs[:count], [])


def solve_one(case: Case) -> float | None:
    """One plan as a whatif worker solves it (single-threaded, its limit to itself)."""
    options = for_workers(case.solver)
    limit = options.time_limit_s
    outcome = plan_case(case, options, deadline=Deadline.after(limit), values_limit_s=limit)
    return outcome.summary.objective


def serial(cases: list[Case]) -> tuple[float, list[float | None]]:
    started = time.perf_counter()
    objectives = [solve_one(c) for c in cases]
    return time.perf_counter() - started, objectives


def raw_capacity(cases: list[Case]) -> dict[str, float]:
    """Two plans one after the other, then at once by two plain processes."""
    one_by_one, _ = serial(cases)
    context = mp.get_context("spawn")
    started = time.perf_counter()
    with context.Pool(2) as pool:
        pool.map(solve_one, cases)
    at_once = time.perf_counter() - started
    return {
        "sequential_s": round(one_by_one, 2),
        "two_processes_s": round(at_once, 2),
        "capacity": round(one_by_one / at_once, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--label", default="local")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    count, k = (4, 2) if args.quick else (16, 8)
    case = read_case(EXAMPLE)
    variants = example_variants(count)
    cases = [case, *variant_cases(EXAMPLE, case, variants)]
    out: dict[str, Any] = {"machine": machine(), "label": args.label, "variants": count}
    connect(None, WORKERS)  # Ray up before any clock starts

    with tempfile.TemporaryDirectory() as tmp:
        before = load()
        started = time.perf_counter()
        summary = whatif(case, EXAMPLE, variants, Path(tmp) / "whatif", FarmRun(FarmSettings(2)))
        farmed_s = time.perf_counter() - started
        middle = load()
        serial_s, objectives = serial(cases)
        after = load()
        farmed = [v.objective for v in summary.variants]
        same = all(
            a is not None and b is not None and abs(a - b) <= 1e-6 * abs(b)
            for a, b in zip(farmed, objectives, strict=True)
        )
        out["whatif"] = {
            "plans": len(cases),
            "ray_2_workers_s": round(farmed_s, 2),
            "one_process_s": round(serial_s, 2),
            "speedup": round(serial_s / farmed_s, 3),
            "goal": GOAL_SPEEDUP,
            "same_objectives": same,
            "statuses": [v.status for v in summary.variants],
            "load": [before, middle, after],
        }
        before = load()
        out["raw"] = raw_capacity(cases[1:3]) | {"load": [before, load()]}
        before = load()
        started = time.perf_counter()
        found = alternatives(
            case, Path(tmp) / "alternatives", FarmRun(FarmSettings(2)), AlternativesAsk(0.05, k)
        )
        out["alternatives"] = {
            "k": k,
            "found": len(found.plans) - 1,
            "directions": found.directions_solved,
            "seconds": round(time.perf_counter() - started, 2),
            "goal_s": GOAL_ALTERNATIVES_S,
            "max_cost_ratio": max(p.cost_ratio or 0.0 for p in found.plans),
            "load": [before, load()],
        }

    w, raw, alt = out["whatif"], out["raw"], out["alternatives"]
    print(f"machine: {out['machine']}")
    print("| part | measured | goal |")
    print("|---|---|---|")
    print(
        f"| what-if, {w['plans']} plans | Ray 2 workers {w['ray_2_workers_s']} s, one process"
        f" {w['one_process_s']} s: {w['speedup']}x (same objectives: {w['same_objectives']};"
        f" load {w['load']}) | >= {GOAL_SPEEDUP}x |"
    )
    print(
        f"| raw capacity, 2 plans | one by one {raw['sequential_s']} s, two processes"
        f" {raw['two_processes_s']} s: {raw['capacity']}x (load {raw['load']}) | 2.0 idle |"
    )
    print(
        f"| alternatives, K = {alt['k']} | {alt['found']} found in {alt['directions']}"
        f" directions, {alt['seconds']} s, cost ratio <= {alt['max_cost_ratio']:.4f}"
        f" (load {alt['load']}) | <= {GOAL_ALTERNATIVES_S:.0f} s |"
    )
    path = HERE / "results" / f"questions-{args.label}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
