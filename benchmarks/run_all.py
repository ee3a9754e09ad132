"""Run every benchmarks/bench_*.py in turn, each in its own process, streaming its output.

    python benchmarks/run_all.py                 # everything (what `make bench` runs)
    python benchmarks/run_all.py --quick         # pass --quick to every benchmark
    python benchmarks/run_all.py model           # only bench_model.py (names or globs)

Benchmarks run one at a time, never in parallel, so their timings do not disturb each
other. Exit status: 0 if every benchmark exited 0, else 1 (all still run).
"""

from __future__ import annotations

import argparse
import fnmatch
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def discover(patterns: list[str]) -> list[Path]:
    """bench_*.py files in this folder, sorted, filtered by name patterns (without bench_)."""
    found = sorted(HERE.glob("bench_*.py"))
    if not patterns:
        return found
    return [
        path
        for path in found
        if any(fnmatch.fnmatch(path.stem.removeprefix("bench_"), p) for p in patterns)
    ]


def run(path: Path, extra: list[str]) -> int:
    """Run one benchmark with this interpreter, output streamed as it comes."""
    started = time.perf_counter()
    print(f"=== {path.name} {' '.join(extra)}".rstrip(), flush=True)
    code = subprocess.run([sys.executable, "-u", str(path), *extra], cwd=ROOT).returncode
    print(f"=== {path.name}: exit {code} in {time.perf_counter() - started:.0f} s\n", flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run every benchmarks/bench_*.py in turn.")
    parser.add_argument("names", nargs="*", help="benchmark names or globs, e.g. model")
    parser.add_argument("--quick", action="store_true", help="pass --quick to each benchmark")
    args = parser.parse_args(argv)
    benches = discover(args.names)
    if not benches:
        print("no benchmark matches", file=sys.stderr)
        return 1
    extra = ["--quick"] if args.quick else []
    failed = [path.name for path in benches if run(path, extra) != 0]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"all {len(benches)} benchmark(s) passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
