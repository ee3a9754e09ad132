"""A solution back to tables keyed by ids, and the summary of MODEL.md section 6.

Every reported number is recomputed in USD from the solution and the cost coefficients,
never read back from the solver's scaled objective, so the parts add up exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fleetopt import __version__
from fleetopt.io.case import Case, case_warnings
from fleetopt.model.build import MWH_PER_KW_YEAR, SECONDS_PER_YEAR, LinearModel
from fleetopt.model.index import PHASES, ModelIndex, effective_throughput, is_estimate
from fleetopt.model.inputs import ModelData
from fleetopt.solve.objectives import PlanResult

_ZERO = 1e-9


@dataclass(frozen=True)
class PlanTables:
    """The four plan tables of MODEL.md section 6."""

    racks: pd.DataFrame
    placement: pd.DataFrame
    sites: pd.DataFrame
    workloads: pd.DataFrame

    def as_dict(self) -> dict[str, pd.DataFrame]:
        return {
            "racks": self.racks,
            "placement": self.placement,
            "sites": self.sites,
            "workloads": self.workloads,
        }


def clean_solution(model: LinearModel, x: np.ndarray) -> np.ndarray:
    """Round integer variables and clip solver noise below zero."""
    x = np.maximum(x, 0.0)
    x[model.integer] = np.round(x[model.integer])
    return x


def avg_it_kw_by_site(index: ModelIndex, model: LinearModel, x: np.ndarray) -> np.ndarray:
    """avg_it_kw[s]: idle draw of powered racks plus busy draw at the workloads' load factors."""
    lay = model.layout
    r_of, s_of = index.sr["r"].to_numpy(), index.sr["s"].to_numpy()
    racks = index.racks
    power_kw = racks["power_kw"].to_numpy(dtype=float)
    idle = racks["idle_power_frac"].to_numpy(dtype=float)
    load = index.workloads["load_factor"].to_numpy(dtype=float)
    yr, ys, yw = (index.y[c].to_numpy() for c in ("r", "s", "w"))
    idle_kw = x[lay.a] * power_kw[r_of] * idle[r_of]
    busy_kw = x[lay.y] * power_kw[yr] * (1.0 - idle[yr]) * load[yw]
    return np.bincount(s_of, idle_kw, index.n_sites) + np.bincount(ys, busy_kw, index.n_sites)


def plan_tables(
    index: ModelIndex, data: ModelData, model: LinearModel, x: np.ndarray
) -> PlanTables:
    """racks, placement, sites and workloads tables of a solution."""
    lay = model.layout
    sr, sites, racks = index.sr, index.sites, index.racks
    s_of, r_of = sr["s"].to_numpy(), sr["r"].to_numpy()
    site_ids, rack_ids = sites["site"].to_numpy(), racks["rack_type"].to_numpy()
    counts = x[lay.n]

    owned = (counts > _ZERO) | (sr["installed"].to_numpy() > 0)
    racks_table = pd.DataFrame(
        {
            "site": site_ids[s_of],
            "rack_type": rack_ids[r_of],
            "count": counts.astype(np.int64),
            "installed": sr["installed"].to_numpy().astype(np.int64),
        }
    )[owned].reset_index(drop=True)

    y = index.y
    busy = x[lay.y]
    placed = busy > _ZERO
    placement = pd.DataFrame(
        {
            "site": site_ids[y["s"].to_numpy()],
            "rack_type": rack_ids[y["r"].to_numpy()],
            "workload": index.workloads["workload"].to_numpy()[y["w"].to_numpy()],
            "phase": np.asarray(PHASES, dtype=object)[y["p"].to_numpy()],
            "racks": busy,
            "tokens_per_s": busy * y["tp_tokens_per_s"].to_numpy(),
        }
    )[placed].reset_index(drop=True)

    pue = sites["pue"].to_numpy()
    power_kw = racks["power_kw"].to_numpy(dtype=float)
    powered_kw = np.bincount(s_of, x[lay.a] * power_kw[r_of], index.n_sites)
    slots = np.bincount(s_of, counts * racks["slots"].to_numpy(dtype=float)[r_of], index.n_sites)
    sites_table = pd.DataFrame(
        {
            "site": site_ids,
            "power_mw": pue * powered_kw / 1000.0,
            "power_cap_mw": data.power_cap_mw,
            "slots": slots,
            "max_slots": sites["max_slots"].to_numpy(dtype=float),
            "avg_facility_mw": pue * avg_it_kw_by_site(index, model, x) / 1000.0,
            **site_costs(index, data, model, x),
        }
    )

    unmet = x[lay.m]
    workloads_table = pd.DataFrame(
        {
            "workload": index.workloads["workload"].to_numpy(),
            "served_share": 1.0 - unmet,
            "unmet_share": unmet,
            "demand_tokens_per_s": model.costs.tokens_per_year / SECONDS_PER_YEAR,
            "penalty_cost_usd_per_year": model.costs.penalty_m * unmet,
        }
    )
    return PlanTables(racks_table, placement, sites_table, workloads_table)


def site_costs(
    index: ModelIndex, data: ModelData, model: LinearModel, x: np.ndarray
) -> dict[str, np.ndarray]:
    """Capex, opex and energy cost per site in USD per year (they sum to the fleet cost)."""
    lay, c = model.layout, model.costs
    s_of = index.sr["s"].to_numpy()
    pue = index.sites["pue"].to_numpy()
    avg_it_kw = avg_it_kw_by_site(index, model, x)
    return {
        "capex_cost_usd_per_year": np.bincount(s_of, c.capex_n * x[lay.n], index.n_sites),
        "opex_cost_usd_per_year": np.bincount(s_of, c.opex_n * x[lay.n], index.n_sites),
        "energy_cost_usd_per_year": data.energy_usd_per_mwh * pue * avg_it_kw * MWH_PER_KW_YEAR,
    }


def operating_points(case: Case, index: ModelIndex) -> pd.DataFrame:
    """The throughput each rack type delivers on each workload phase within its SLO, and
    where the figure comes from: `source` as in throughput.csv, `estimate` when it is one.

    Written into a plan folder, so a report read from a copy of the run can say which of
    the plan's figures rest on estimates rather than measurements.
    """
    tp = effective_throughput(case, index.racks, index.workloads)
    return pd.DataFrame(
        {
            "rack_type": index.racks["rack_type"].to_numpy()[tp["r"].to_numpy()],
            "workload": index.workloads["workload"].to_numpy()[tp["w"].to_numpy()],
            "phase": np.asarray(PHASES, dtype=object)[tp["p"].to_numpy()],
            "tokens_per_s": tp["tp_tokens_per_s"].to_numpy(dtype=float),
            "source": tp["source"].fillna("").astype(str).to_numpy(),
            "estimate": tp["source"].fillna("").map(is_estimate).to_numpy(dtype=bool),
        }
    )


def cost_parts(
    index: ModelIndex, data: ModelData, model: LinearModel, x: np.ndarray
) -> dict[str, float]:
    """The money and token figures of MODEL.md sections 4 and 6 for a solution."""
    lay, c = model.layout, model.costs
    per_site = site_costs(index, data, model, x)
    capex = float(per_site["capex_cost_usd_per_year"].sum())
    opex = float(per_site["opex_cost_usd_per_year"].sum())
    energy = float(per_site["energy_cost_usd_per_year"].sum())
    avg_it_kw = avg_it_kw_by_site(index, model, x)
    pue = index.sites["pue"].to_numpy()
    penalty = float(c.penalty_m @ x[lay.m])
    served_per_year = float(c.tokens_per_year @ (1.0 - x[lay.m]))
    fleet = capex + opex + energy
    served_per_s = served_per_year / SECONDS_PER_YEAR
    facility_w = float((pue * avg_it_kw).sum() * 1000.0)
    return {
        "fleet_cost_usd_per_year": fleet,
        "penalty_cost_usd_per_year": penalty,
        "capex_cost_usd_per_year": capex,
        "opex_cost_usd_per_year": opex,
        "energy_cost_usd_per_year": energy,
        "served_tokens_per_s": served_per_s,
        "cost_per_mtok_usd": fleet / (served_per_year / 1e6) if served_per_year > 0 else None,
        "tokens_per_joule": served_per_s / facility_w if facility_w > 0 else None,
    }


COST_KEYS = (
    "fleet_cost_usd_per_year",
    "penalty_cost_usd_per_year",
    "capex_cost_usd_per_year",
    "opex_cost_usd_per_year",
    "energy_cost_usd_per_year",
    "served_tokens_per_s",
    "cost_per_mtok_usd",
    "tokens_per_joule",
)


def summarize(
    case: Case,
    index: ModelIndex,
    data: ModelData,
    result: PlanResult,
    solver: str,
) -> dict:
    """summary.json: every key of MODEL.md section 6, plus what a reader needs to trust it."""
    x = result.x
    parts = cost_parts(index, data, result.model, x) if x is not None else dict.fromkeys(COST_KEYS)
    return {
        "status": result.status.value,
        "objective": _finite(result.objective),
        **parts,
        "mip_gap": _finite(result.gap),
        "solver": solver,
        "solve_seconds": result.solve_seconds,
        "build_seconds": result.build_seconds,
        "warnings": plan_warnings(index, case),
        "objective_kind": case.objective.value,
        "case": case.name,
        "message": result.message,
        "dinkelbach_steps": result.steps,
        "variables": result.model.n_variables,
        "constraints": result.model.n_constraints,
        "fleetopt_version": __version__,
    }


def plan_warnings(index: ModelIndex, case: Case) -> list[str]:
    """summary.json's `warnings`: phases no rack can serve, then data conflicts."""
    return list(index.warnings) + case_warnings(case)


def _finite(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)
