"""Bounds on rack counts that keep every optimal plan (docs/model.md section 7).

An owned rack beyond what the power cap can feed, the floor can hold, supply can deliver,
or the demand it could serve needs only adds cost, so

    n_max[s, r] = max(installed, min(ceil(cap / (pue x power_kw)),
                                     floor(max_slots / slots),
                                     max_count,
                                     ceil(servable demand / (tp x max_utilization))))
    a_max[s, r] = min(cap / (pue x power_kw), n_max)

Tight integer bounds are what make the large MILPs close (benchmarks/README.md).
"""

from __future__ import annotations

import numpy as np

from fleetopt.io.case import Case
from fleetopt.model.index import ModelIndex
from fleetopt.model.inputs import ModelData

EPS = 1e-9  # tolerance when rounding counts that are whole up to float error


def rack_count_bounds(
    index: ModelIndex, case: Case, data: ModelData
) -> tuple[np.ndarray, np.ndarray]:
    """(n_max, a_max) per `sr` row."""
    sr, racks, sites = index.sr, index.racks, index.sites
    s_of, r_of = sr["s"].to_numpy(), sr["r"].to_numpy()
    installed = sr["installed"].to_numpy()
    rack_kw = racks["power_kw"].to_numpy(dtype=float)[r_of]
    a_max = 1000.0 * data.power_cap_mw[s_of] / (sites["pue"].to_numpy()[s_of] * rack_kw)
    by_floor = np.floor(
        sites["max_slots"].to_numpy(dtype=float)[s_of] / racks["slots"].to_numpy()[r_of] + EPS
    )
    by_supply = data.max_count[r_of]
    # Rack-equivalents each sr pair would need to serve, alone, every demand it can serve.
    y = index.y
    need = data.demand_tokens_per_s[index.swp["wp"].to_numpy()[y["swp"].to_numpy()]] / (
        data.tp_tokens_per_s * case.max_utilization
    )
    by_demand = np.bincount(y["sr"].to_numpy(), weights=need, minlength=len(sr))
    n_max = np.minimum.reduce([np.ceil(a_max - EPS), by_floor, by_supply, np.ceil(by_demand - EPS)])
    n_max = np.maximum(installed, n_max)
    return n_max, np.minimum(a_max, n_max)


def delivered_racks(index: ModelIndex, data: ModelData, counts: np.ndarray) -> np.ndarray:
    """Racks of a plan (counts per `sr` row) that arrive: installed + floor((n - installed) x
    delivered_share[r]); a supply cut means new racks that were not delivered."""
    installed = index.sr["installed"].to_numpy()
    delivered_share = data.delivered_share[index.sr["r"].to_numpy()]
    return installed + np.floor(
        (np.asarray(counts, dtype=float) - installed) * delivered_share + EPS
    )
