"""Cost coefficients of the model contract (docs/model.md sections 4 and 8), aligned with the
index, in USD per year of the period each row belongs to:

capex_k   = sum n[s, r, k] * capex_usd[r] * CRF(discount_rate, lifetime_years[r])
          + sum_{b serving in k} b[s, r, j] * (capex[r, j] - capex_usd[r]) * CRF(...)
opex_k    = sum n[s, r, k] * opex_usd_per_year[r]
energy_k  = sum_s e[s, k] * pue[s] * avg_it_kw[s, k] * 8.76
avg_it_kw[s, k] = sum_r a[s, r, k] * power_kw[r] * idle_power_frac[r]
          + sum_{r, w, p} y[s, r, w, p, k] * power_kw[r] * (1 - idle_frac[r]) * load_factor[w]
tokens[w, k] = (D[w, prefill, k] + D[w, decode, k]) * load_factor[w] * 31,536,000
penalty_k = sum_w m[w, k] * unmet_penalty_usd_per_mtok[w] * tokens[w, k] / 1e6

The base annuity sits on n (every rack in service pays CRF x capex_usd, installed ones as
today) and a vintage's price change on its b (capex[r, j] = capex_usd x (1 + c)^(Y_j - Y_0)):
together each rack pays the annuity of the price of the year it entered service.

and, where a model has them (section 9): shortfall u[w, k] at shortfall_penalty_usd_per_mtok[w]
(default 10 x the unmet penalty), recourse racks e[s, r] at capex_usd x (1 + capex_premium).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fleetopt.core.errors import CaseError, Problem
from fleetopt.core.units import (
    MWH_PER_KW_YEAR,
    SECONDS_PER_YEAR,
    TOKENS_PER_MTOK,
    capital_recovery_factor,
)
from fleetopt.io.case import Case
from fleetopt.io.schema import CASE_FILE, WORKLOADS
from fleetopt.model.index import ModelIndex
from fleetopt.model.inputs import ModelData


@dataclass(frozen=True)
class Costs:
    """Cost coefficients in USD per year of their period, aligned with the index.

    capex_n/opex_n per `sr` row (per rack in service), idle_energy_a per `sr` row (per
    powered rack), busy_energy_y per `y` row (per busy rack-equivalent), penalty_m per `wk`
    row (per unit of unmet share), tokens_per_year per `wk` row (demanded), capex_b per `buy`
    row (per new rack, each year it serves: its vintage's price change). `level` per period:
    the weight w_k / sum_k w_k that turns per-period figures into levelized ones (1 without
    periods); `weight` the w_k themselves.
    shortfall_u per `wk` row (per unit of share short of min_served_share), capex_e per `sr`
    row (per recourse rack: the base annuity at the case's premium).
    """

    capex_n: np.ndarray
    opex_n: np.ndarray
    idle_energy_a: np.ndarray
    busy_energy_y: np.ndarray
    penalty_m: np.ndarray
    tokens_per_year: np.ndarray
    capex_b: np.ndarray
    level: np.ndarray
    weight: np.ndarray
    shortfall_u: np.ndarray
    capex_e: np.ndarray


def compute_costs(index: ModelIndex, case: Case, data: ModelData) -> Costs:
    """Every cost coefficient of the contract for this case and these numbers."""
    racks, sites, workloads = index.racks, index.sites, index.workloads
    sk_of, r_of = index.sr["sk"].to_numpy(), index.sr["r"].to_numpy()
    crf = capital_recovery_factor(case.discount_rate, racks["lifetime_years"].to_numpy())
    capex_usd = racks["capex_usd"].to_numpy(dtype=float)
    power_kw = racks["power_kw"].to_numpy(dtype=float)
    idle = racks["idle_power_frac"].to_numpy(dtype=float)
    # USD per year of one kW of IT load drawn all year at site s in period k, PUE included.
    pue = sites["pue"].to_numpy()[index.sk["s"].to_numpy()]
    usd_per_it_kw_year = data.energy_usd_per_mwh * pue * MWH_PER_KW_YEAR

    ysk, yr, yw = (index.y[c].to_numpy() for c in ("sk", "r", "w"))
    load = workloads["load_factor"].to_numpy(dtype=float)
    w_of_wk = index.wk["w"].to_numpy()
    demand = np.zeros((len(index.wk), 2))
    demand[index.wp["wk"].to_numpy(), index.wp["p"].to_numpy()] = data.demand_tokens_per_s
    tokens_per_year = demand.sum(axis=1) * load[w_of_wk] * SECONDS_PER_YEAR

    buy_r = index.buy["r"].to_numpy()
    vintage_usd = vintage_capex_usd(index)[index.buy["sr"].to_numpy()]
    weight = index.periods["weight"].to_numpy()
    return Costs(
        capex_n=capex_usd[r_of] * crf[r_of],
        opex_n=racks["opex_usd_per_year"].to_numpy(dtype=float)[r_of],
        idle_energy_a=usd_per_it_kw_year[sk_of] * power_kw[r_of] * idle[r_of],
        busy_energy_y=usd_per_it_kw_year[ysk] * power_kw[yr] * (1.0 - idle[yr]) * load[yw],
        penalty_m=workloads["unmet_penalty_usd_per_mtok"].to_numpy(dtype=float)[w_of_wk]
        * tokens_per_year
        / TOKENS_PER_MTOK,
        tokens_per_year=tokens_per_year,
        capex_b=(vintage_usd - capex_usd[buy_r]) * crf[buy_r],
        level=weight / weight.sum(),
        weight=weight,
        shortfall_u=shortfall_usd_per_mtok(case, workloads)[w_of_wk]
        * tokens_per_year
        / TOKENS_PER_MTOK,
        capex_e=capex_usd[r_of] * crf[r_of] * (1.0 + (case.recourse_capex_premium or 0.0)),
    )


def vintage_capex_usd(index: ModelIndex) -> np.ndarray:
    """capex[r, k] per `sr` row: the price of a rack entering service in that row's period."""
    r_of = index.sr["r"].to_numpy()
    racks = index.racks
    elapsed = index.periods["elapsed_years"].to_numpy()[index.sr["k"].to_numpy()]
    change = racks["capex_change_per_year"].to_numpy(dtype=float)[r_of]
    return np.asarray(racks["capex_usd"].to_numpy(dtype=float)[r_of] * (1.0 + change) ** elapsed)


SHORTFALL_PENALTY_FACTOR = 10.0  # default shortfall penalty, times the unmet penalty


def shortfall_usd_per_mtok(case: Case, workloads: pd.DataFrame) -> np.ndarray:
    """Per workload: case.yaml's shortfall_penalty_usd_per_mtok, else 10 x its unmet penalty."""
    unmet = workloads["unmet_penalty_usd_per_mtok"].to_numpy(dtype=float)
    if case.shortfall_penalty_usd_per_mtok is None:
        return np.asarray(SHORTFALL_PENALTY_FACTOR * unmet)
    return np.full(len(unmet), case.shortfall_penalty_usd_per_mtok)


def check_shortfall_priced(case: Case) -> None:
    """Refuse (CaseError, exit 2) a case whose shortfall would be free: a workload with a
    minimum served share, no case.yaml shortfall_penalty_usd_per_mtok and an unmet penalty
    of 0 (the default, 10 x 0, is 0). Runs that price shortfalls (stochastic, evaluate and
    robust with --shortfall) call this before any scenario runs: else the minimum would be
    dropped without a word."""
    workloads = case.workloads
    price = shortfall_usd_per_mtok(case, workloads)
    free = np.flatnonzero((workloads["min_served_share"].to_numpy() > 0) & (price <= 0))
    if len(free):
        raise CaseError(
            Problem(
                f"{WORKLOADS.stem}.csv",
                f"min_served_share {workloads['min_served_share'].iloc[i]:g} with an unmet"
                " penalty of 0: a shortfall below it would cost the default 10 x 0 = 0, so"
                " the minimum would be dropped; set shortfall_penalty_usd_per_mtok in"
                f" {CASE_FILE}, or a positive unmet_penalty_usd_per_mtok",
                int(i) + 1,
                f"workload={workloads['workload'].iloc[i]}",
                "unmet_penalty_usd_per_mtok",
            )
            for i in free
        )
