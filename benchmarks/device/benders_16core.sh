#!/usr/bin/env bash
# 1,000 scenarios of the synthetic 20x8x24x5 case by Benders decomposition on 16 workers,
# to a 1% certified gap, and Benders' transport on 16 actors against 16 plain processes;
# prints the figures and writes them as JSON into RESULTS (default: ./bench-results).
# Needs Python 3.11 with this repository installed: pip install -e . (ray[default]==2.60.0,
# ortools 9.15). Run from the repository's root.
set -euo pipefail
RESULTS="${1:-bench-results}"
mkdir -p "$RESULTS"
uptime
python benchmarks/bench_stochastic.py --label 16core --workers 16 \
    --case synthetic-20x8x24x5 --sizes none --synthetic-sizes 1000 \
    --transport-size 1000 --end-to-end 0 --limit 1800 --out "$RESULTS"
uptime
