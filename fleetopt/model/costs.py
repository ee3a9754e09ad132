"""Cost coefficients of the model contract (docs/model.md section 4), aligned with the index.

capex_cost   = sum n[s, r] * capex_usd[r] * CRF(discount_rate, lifetime_years[r])
opex_cost    = sum n[s, r] * opex_usd_per_year[r]
energy_cost  = sum_s energy_usd_per_mwh[s] * pue[s] * avg_it_kw[s] * 8.76
avg_it_kw[s] = sum_r a[s, r] * power_kw[r] * idle_power_frac[r]
             + sum_{r, w, p} y[s, r, w, p] * power_kw[r] * (1 - idle_power_frac[r]) * load_factor[w]
tokens[w]    = (D[w, prefill] + D[w, decode]) * load_factor[w] * 31,536,000
penalty_cost = sum_w m[w] * unmet_penalty_usd_per_mtok[w] * tokens[w] / 1e6

and, where a model has them (section 8): shortfall u[w] at shortfall_penalty_usd_per_mtok[w]
(default 10 x the unmet penalty), recourse racks e[s, r] at capex_usd x (1 + capex_premium).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fleetopt.core.units import (
    MWH_PER_KW_YEAR,
    SECONDS_PER_YEAR,
    TOKENS_PER_MTOK,
    capital_recovery_factor,
)
from fleetopt.io.case import Case
from fleetopt.model.index import ModelIndex
from fleetopt.model.inputs import ModelData


@dataclass(frozen=True)
class Costs:
    """Cost coefficients in USD per year, aligned with the index.

    capex_n/opex_n per `sr` row (per owned rack), idle_energy_a per `sr` row (per powered
    rack), busy_energy_y per `y` row (per busy rack-equivalent), penalty_m per workload
    (per unit of unmet share), tokens_per_year per workload (demanded); shortfall_u per
    workload (per unit of share short of min_served_share), capex_e per `sr` row (per
    recourse rack: capex at the case's premium).
    """

    capex_n: np.ndarray
    opex_n: np.ndarray
    idle_energy_a: np.ndarray
    busy_energy_y: np.ndarray
    penalty_m: np.ndarray
    tokens_per_year: np.ndarray
    shortfall_u: np.ndarray
    capex_e: np.ndarray


def compute_costs(index: ModelIndex, case: Case, data: ModelData) -> Costs:
    """Every cost coefficient of the contract for this case and these numbers."""
    racks, sites, workloads = index.racks, index.sites, index.workloads
    s_of, r_of = index.sr["s"].to_numpy(), index.sr["r"].to_numpy()
    crf = capital_recovery_factor(case.discount_rate, racks["lifetime_years"].to_numpy())
    power_kw = racks["power_kw"].to_numpy(dtype=float)
    idle = racks["idle_power_frac"].to_numpy(dtype=float)
    # USD per year of one kW of IT load drawn all year at site s, PUE included.
    usd_per_it_kw_year = data.energy_usd_per_mwh * sites["pue"].to_numpy() * MWH_PER_KW_YEAR

    ys, yr, yw = (index.y[c].to_numpy() for c in ("s", "r", "w"))
    load = workloads["load_factor"].to_numpy(dtype=float)
    demand = np.zeros((index.n_workloads, 2))
    demand[index.wp["w"].to_numpy(), index.wp["p"].to_numpy()] = data.demand_tokens_per_s
    tokens_per_year = demand.sum(axis=1) * load * SECONDS_PER_YEAR
    capex_n = racks["capex_usd"].to_numpy(dtype=float)[r_of] * crf[r_of]
    return Costs(
        capex_n=capex_n,
        opex_n=racks["opex_usd_per_year"].to_numpy(dtype=float)[r_of],
        idle_energy_a=usd_per_it_kw_year[s_of] * power_kw[r_of] * idle[r_of],
        busy_energy_y=usd_per_it_kw_year[ys] * power_kw[yr] * (1.0 - idle[yr]) * load[yw],
        penalty_m=workloads["unmet_penalty_usd_per_mtok"].to_numpy(dtype=float)
        * tokens_per_year
        / TOKENS_PER_MTOK,
        tokens_per_year=tokens_per_year,
        shortfall_u=shortfall_usd_per_mtok(case, workloads) * tokens_per_year / TOKENS_PER_MTOK,
        capex_e=capex_n * (1.0 + (case.recourse_capex_premium or 0.0)),
    )


SHORTFALL_PENALTY_FACTOR = 10.0  # default shortfall penalty, times the unmet penalty


def shortfall_usd_per_mtok(case: Case, workloads: pd.DataFrame) -> np.ndarray:
    """Per workload: case.yaml's shortfall_penalty_usd_per_mtok, else 10 x its unmet penalty."""
    unmet = workloads["unmet_penalty_usd_per_mtok"].to_numpy(dtype=float)
    if case.shortfall_penalty_usd_per_mtok is None:
        return SHORTFALL_PENALTY_FACTOR * unmet
    return np.full(len(unmet), case.shortfall_penalty_usd_per_mtok)
