"""What a solution measures, each defined once: costs, served tokens, power, the rack mix.

Every reported figure is computed here from a solution vector and the model's cost
coefficients (never from the solver's scaled objective), so the solver's objectives
(fleetopt.solve) and the reported tables (fleetopt.results) agree by construction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fleetopt.model.build import LinearModel
from fleetopt.model.index import ModelIndex

ZERO = 1e-9  # below this a count or a placement is solver noise


def capex_usd(model: LinearModel, x: np.ndarray) -> float:
    """Yearly capital cost of the owned racks, and of recourse racks where the model has them."""
    lay, c = model.layout, model.costs
    recourse = c.capex_e @ x[lay.e] if "e" in lay else 0.0
    return float(c.capex_n @ x[lay.n] + recourse)


def opex_usd(model: LinearModel, x: np.ndarray) -> float:
    """Yearly opex of the owned racks (recourse racks included)."""
    lay, c = model.layout, model.costs
    recourse = c.opex_n @ x[lay.e] if "e" in lay else 0.0
    return float(c.opex_n @ x[lay.n] + recourse)


def fleet_cost_usd(model: LinearModel, x: np.ndarray) -> float:
    """capex + opex + energy of solution x, in USD per year."""
    lay, c = model.layout, model.costs
    energy = c.idle_energy_a @ x[lay.a] + c.busy_energy_y @ x[lay.y]
    return capex_usd(model, x) + opex_usd(model, x) + float(energy)


def penalty_usd(model: LinearModel, x: np.ndarray) -> float:
    """Unmet demand at its penalty, and shortfall below a minimum share at its own."""
    lay, c = model.layout, model.costs
    shortfall = c.shortfall_u @ x[lay.u] if "u" in lay else 0.0
    return float(c.penalty_m @ x[lay.m] + shortfall)


def unmet_by_workload(model: LinearModel, x: np.ndarray) -> np.ndarray:
    """Unmet share per workload: m[w], plus the shortfall u[w] where the model has it."""
    lay = model.layout
    return x[lay.m] + x[lay.u] if "u" in lay else x[lay.m]


def shortfall_share(model: LinearModel, x: np.ndarray) -> float:
    """The share of all demanded tokens short of the minimum served shares (0 without u)."""
    demanded = float(model.costs.tokens_per_year.sum())
    if "u" not in model.layout or demanded <= 0:
        return 0.0
    return float(model.costs.tokens_per_year @ x[model.layout.u]) / demanded


def served_tokens_per_year(model: LinearModel, x: np.ndarray) -> float:
    """sum_w (1 - unmet[w]) * tokens[w]: the demanded tokens the plan serves."""
    return float(model.costs.tokens_per_year @ (1.0 - unmet_by_workload(model, x)))


def unmet_share(model: LinearModel, x: np.ndarray) -> float:
    """The share of all demanded tokens left unserved."""
    demanded = float(model.costs.tokens_per_year.sum())
    return 1.0 - served_tokens_per_year(model, x) / demanded if demanded > 0 else 0.0


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


def powered_mw_by_site(index: ModelIndex, model: LinearModel, x: np.ndarray) -> np.ndarray:
    """Facility MW of the powered racks per site (nameplate x PUE): what counts against the cap."""
    s_of, r_of = index.sr["s"].to_numpy(), index.sr["r"].to_numpy()
    power_kw = index.racks["power_kw"].to_numpy(dtype=float)[r_of]
    powered_kw = np.bincount(s_of, x[model.layout.a] * power_kw, index.n_sites)
    return index.sites["pue"].to_numpy() * powered_kw / 1000.0


def rack_mix(index: ModelIndex, counts: np.ndarray) -> pd.DataFrame:
    """The owned racks of a plan (counts per `sr` row): site, rack_type, count, installed.

    Pairs with neither a count nor installed racks are left out.
    """
    installed = index.sr["installed"].to_numpy()
    owned = (counts > ZERO) | (installed > 0)
    return pd.DataFrame(
        {
            "site": index.sr["site"].to_numpy()[owned],
            "rack_type": index.sr["rack_type"].to_numpy()[owned],
            "count": np.round(counts[owned]).astype(np.int64),
            "installed": installed[owned].astype(np.int64),
        }
    )
