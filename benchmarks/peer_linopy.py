"""A peer formulation of fleetopt's core MILP in linopy, for benchmarks only.

It builds the model of docs/model.md sections 3-4 (forecast numbers, objective `min_cost`) from
the same index tables as fleetopt (`fleetopt.index.ModelIndex`), with linopy's xarray API:
one dimension per index table (`sr`, `sw`, `swp`, `y`, ...), constraint families as
`groupby(...).sum()` over those tables. The cost coefficients and rack-count bounds are
computed here again from the case tables, independently of `fleetopt.model.build`, so that equal
optimal objectives show the two implementations build the same model.

Like fleetopt, the objective is in millions of USD per year and each phase row is divided
by its demand. `tight_bounds=False` drops the derived bounds n_max / a_max (keeping only
n >= installed): solving both ways checks that those bounds cut off no optimal plan.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import linopy
import numpy as np
import pandas as pd
import xarray as xr

from fleetopt.io.case import Case
from fleetopt.model.index import ModelIndex, build_index
from fleetopt.testing.synthetic import synthetic_case

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import best_time, index_digest, traced_peak

SECONDS_PER_YEAR = 31_536_000.0
SCALE = 1e-6  # objective in millions of USD per year, as in fleetopt
EPS = 1e-9


def _da(values: np.ndarray | pd.Series, dim: str) -> xr.DataArray:
    """A 1-d array on dimension `dim` with coordinates 0..n-1."""
    values = np.asarray(values)
    return xr.DataArray(values, coords={dim: np.arange(len(values))}, dims=dim)


def _group(values: np.ndarray | pd.Series, dim: str, name: str) -> xr.DataArray:
    """Group labels along `dim`, named like the dimension the groups form."""
    return xr.DataArray(
        np.asarray(values), coords={dim: np.arange(len(values))}, dims=dim, name=name
    )


def build_linopy(index: ModelIndex, case: Case, *, tight_bounds: bool = True) -> linopy.Model:
    """The min_cost model of `case` (forecast numbers) as a linopy Model."""
    sites, racks, workloads = index.sites, index.racks, index.workloads
    sr, sw, swp, y, wp = index.sr, index.sw, index.swp, index.y, index.wp
    s_of, r_of = sr["s"].to_numpy(), sr["r"].to_numpy()
    ys, yr, yw = y["s"].to_numpy(), y["r"].to_numpy(), y["w"].to_numpy()
    demand = wp["demand_tokens_per_s"].to_numpy()[swp["wp"].to_numpy()]  # per swp row
    tp = y["tp_tokens_per_s"].to_numpy()

    # Cost coefficients, USD per year.
    life = racks["lifetime_years"].to_numpy()
    i = case.discount_rate
    crf = i / (1.0 - (1.0 + i) ** -life) if i > 0 else 1.0 / life
    power_kw = racks["power_kw"].to_numpy()
    idle = racks["idle_power_frac"].to_numpy()
    pue = sites["pue"].to_numpy()
    usd_per_kw_year = sites["energy_usd_per_mwh"].to_numpy() * pue * 8.76
    load = workloads["load_factor"].to_numpy()
    tokens = (
        (workloads["prefill_tokens_per_s"] + workloads["decode_tokens_per_s"]).to_numpy()
        * load
        * SECONDS_PER_YEAR
    )
    cost_n = (racks["capex_usd"].to_numpy() * crf + racks["opex_usd_per_year"].to_numpy())[r_of]
    cost_a = usd_per_kw_year[s_of] * power_kw[r_of] * idle[r_of]
    cost_y = usd_per_kw_year[ys] * power_kw[yr] * (1.0 - idle[yr]) * load[yw]
    cost_m = workloads["unmet_penalty_usd_per_mtok"].to_numpy() * tokens / 1e6

    # Bounds on n and a.
    installed = sr["installed"].to_numpy()
    cap_mw = sites["power_cap_mw"].to_numpy()
    a_max = 1000.0 * cap_mw[s_of] / (pue[s_of] * power_kw[r_of])
    if tight_bounds:
        floor = np.floor(
            sites["max_slots"].to_numpy()[s_of] / racks["slots"].to_numpy()[r_of] + EPS
        )
        need = demand[y["swp"].to_numpy()] / (tp * case.max_utilization)
        by_demand = np.bincount(y["sr"].to_numpy(), weights=need, minlength=len(sr))
        n_max = np.minimum.reduce(
            [
                np.ceil(a_max - EPS),
                floor,
                racks["max_count"].to_numpy()[r_of],
                np.ceil(by_demand - EPS),
            ]
        )
        n_max = np.maximum(installed, n_max)
        a_max = np.minimum(a_max, n_max)
    else:
        n_max = np.full(len(sr), np.inf)

    m = linopy.Model()
    coords = {
        name: [pd.RangeIndex(size, name=name)]
        for name, size in (("sr", len(sr)), ("sw", len(sw)), ("y", len(y)), ("w", len(workloads)))
    }
    n = m.add_variables(installed, n_max, coords=coords["sr"], name="n", integer=True)
    a = m.add_variables(0.0, a_max, coords=coords["sr"], name="a")
    f = m.add_variables(0.0, 1.0, coords=coords["sw"], name="f")
    yv = m.add_variables(0.0, coords=coords["y"], name="y")
    mv = m.add_variables(
        0.0, 1.0 - workloads["min_served_share"].to_numpy(), coords=coords["w"], name="m"
    )

    # serve: sum_s f[s, w] + m[w] = 1
    served = f.groupby(_group(sw["w"], "sw", "w")).sum()
    with_site = served.coords["w"].values
    m.add_constraints(served + mv.sel(w=with_site) == 1, name="serve")
    nowhere = np.setdiff1d(np.arange(len(workloads)), with_site)
    if len(nowhere):  # no allowed site: all unmet
        m.add_constraints(1.0 * mv.sel(w=nowhere) == 1, name="serve_nowhere")

    # phase: sum_r tp / D * y - f[sw of row] >= 0, one row per swp
    supply_rows = (
        (_da(tp / demand[y["swp"].to_numpy()], "y") * yv)
        .groupby(_group(y["swp"], "y", "swp"))
        .sum()
    )
    rows = supply_rows.coords["swp"].values
    f_of_row = f.isel(sw=xr.DataArray(swp["sw"].to_numpy()[rows], dims="swp")).assign_coords(
        swp=rows
    )
    m.add_constraints(supply_rows - f_of_row >= 0, name="phase")
    # Phase rows with no y at all: f must be 0 there (fleetopt keeps them as rows -f >= 0).
    empty = np.setdiff1d(np.arange(len(swp)), rows)
    if len(empty):
        f_empty = f.isel(sw=xr.DataArray(swp["sw"].to_numpy()[empty], dims="swp")).assign_coords(
            swp=empty
        )
        m.add_constraints(-1.0 * f_empty >= 0, name="phase_empty")

    # capacity: sum_{w, p} y <= max_utilization * a, for pairs that can serve something
    busy = yv.groupby(_group(y["sr"], "y", "sr")).sum()
    used = busy.coords["sr"].values
    m.add_constraints(busy - case.max_utilization * a.sel(sr=used) <= 0, name="capacity")

    # powered: a <= n
    m.add_constraints(a - n <= 0, name="powered")

    # power: pue * sum_r power_kw * a / 1000 <= power_cap_mw
    mw = (_da(pue[s_of] * power_kw[r_of] / 1000.0, "sr") * a).groupby(_group(s_of, "sr", "s")).sum()
    m.add_constraints(mw <= _da(cap_mw, "s").sel(s=mw.coords["s"].values), name="power")

    # space: sum_r slots * n <= max_slots, where limited
    max_slots = sites["max_slots"].to_numpy()
    slots = (_da(racks["slots"].to_numpy()[r_of], "sr") * n).groupby(_group(s_of, "sr", "s")).sum()
    limited = np.isfinite(max_slots[slots.coords["s"].values])
    if limited.any():
        keep = slots.coords["s"].values[limited]
        m.add_constraints(slots.sel(s=keep) <= _da(max_slots, "s").sel(s=keep), name="space")

    # supply: sum_s n <= max_count, where limited
    max_count = racks["max_count"].to_numpy()
    count = n.groupby(_group(r_of, "sr", "r")).sum()
    limited = np.isfinite(max_count[count.coords["r"].values])
    if limited.any():
        keep = count.coords["r"].values[limited]
        m.add_constraints(count.sel(r=keep) <= _da(max_count, "r").sel(r=keep), name="supply")

    m.add_objective(
        (_da(cost_n * SCALE, "sr") * n).sum()
        + (_da(cost_a * SCALE, "sr") * a).sum()
        + (_da(cost_y * SCALE, "y") * yv).sum()
        + (_da(cost_m * SCALE, "w") * mv).sum()
    )
    return m


def build_linopy_quiet(index: ModelIndex, case: Case, *, tight_bounds: bool = True) -> linopy.Model:
    """build_linopy without linopy's deprecation chatter (the alignments here are explicit)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_linopy(index, case, tight_bounds=tight_bounds)


def solve_linopy(
    model: linopy.Model, time_limit_s: float, relative_gap: float
) -> tuple[str, float]:
    """Solve with HiGHS through linopy's highspy interface; (termination, objective in MUSD)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, condition = model.solve(
            solver_name="highs",
            io_api="direct",
            time_limit=time_limit_s,
            mip_rel_gap=relative_gap,
            output_flag=False,
            progress=False,
        )
    objective = float(model.objective.value) if model.objective.value is not None else np.nan
    return str(condition), objective


# --- the benchmark's child process ------------------------------------------------------
# highspy and OR-Tools each load their own HiGHS library, and the two cannot share a
# process (whichever loads second fails with an undefined symbol), so bench_model.py runs
# this part in a child process that never imports OR-Tools.


def _size(text: str) -> tuple[int, int, int]:
    sites, racks, workloads = (int(v) for v in text.split("x"))
    return sites, racks, workloads


def measure_build(size: tuple[int, int, int], seed: int, repeat: int) -> dict:
    """linopy build and to_highspy seconds (best of `repeat`), peak memory, model size."""
    case = synthetic_case(*size, seed=seed)
    index = build_index(case)
    build_s, model = best_time(lambda: build_linopy_quiet(index, case), repeat)
    to_solver_s, _ = best_time(model.to_highspy, repeat)
    with traced_peak() as peak:  # after the timed runs, so imports and caches are warm
        build_linopy_quiet(index, case).to_highspy()
    return {
        "size": list(size),
        "seed": seed,
        "index_digest": index_digest(index),
        "build_s": build_s,
        "to_highspy_s": to_solver_s,
        "traced_peak_mib": peak.mib,
        "variables": int(model.nvars),
        "constraints": int(model.ncons),
        "nonzeros": int(model.matrices.A.nnz),
    }


def cross_check(
    size: tuple[int, int, int], seed: int, time_limit_s: float, relative_gap: float
) -> dict:
    """Optimal objectives (MUSD per year) with fleetopt's bounds and without them."""
    case = synthetic_case(*size, seed=seed)
    index = build_index(case)
    out: dict = {"size": list(size), "seed": seed, "index_digest": index_digest(index)}
    for key, tight in (("tight", True), ("loose", False)):
        started = time.perf_counter()
        status, objective = solve_linopy(
            build_linopy_quiet(index, case, tight_bounds=tight), time_limit_s, relative_gap
        )
        out[f"{key}_status"], out[f"{key}_objective"] = status, objective
        out[f"{key}_seconds"] = time.perf_counter() - started
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="", help="e.g. 5x4x6,10x6x12 (builds to time)")
    parser.add_argument("--check", default="", help="e.g. 5x4x6:0,5x4x6:1 (size:seed to solve)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--gap", type=float, default=1e-8)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    result: dict = {"builds": [], "checks": []}
    for text in filter(None, args.sizes.split(",")):
        result["builds"].append(measure_build(_size(text), args.seed, args.repeat))
        print(f"  linopy built {text}", file=sys.stderr, flush=True)
    for item in filter(None, args.check.split(",")):
        text, seed = item.split(":")
        result["checks"].append(cross_check(_size(text), int(seed), args.time_limit, args.gap))
        print(f"  linopy solved {text} seed {seed}", file=sys.stderr, flush=True)
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
