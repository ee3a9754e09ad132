"""Bounds on rack counts that keep every optimal plan (docs/model.md sections 7 and 8).

In one period, a rack beyond what the power cap can feed, the floor can hold, supply can
deliver, or the demand it could serve needs only adds cost:

    u[s, r, k] = min(ceil(cap / (pue x power_kw)), floor(max_slots / slots), max_count,
                     ceil(servable demand / (tp x max_utilization)))

Across periods, a rack of vintage j (entering service in period j) that no period it serves
in can use only adds cost too, so

    b[s, r, j]     <= max(0, max_{t in T(r, j)} (u[s, r, t] - inst[s, r, t]))  (and max_new)
    n[s, r, 0]     <= inst[s, r, 0] + the same bound for the racks new in period 0
    n[s, r, k]     <= max(inst, min(floor, max_count, inst + the bounds of the vintages
                                     in service at k, inst + max(0, max_t (u - inst))))
    a[s, r, k]     <= min(cap / (pue x power_kw), n_max[s, r, k])

The last term of n's bound holds for rack types whose new racks all serve to the end of
the horizon: there the latest vintage serving at k has a period t in which all the new
racks serving at k still serve and the racks in service are at most u[t].

With one period this is section 7's n_max = max(installed, u) exactly. Tight integer bounds
are what make the large MILPs close (benchmarks/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fleetopt.io.case import Case
from fleetopt.model.index import ModelIndex
from fleetopt.model.inputs import ModelData

EPS = 1e-9  # tolerance when rounding counts that are whole up to float error


@dataclass(frozen=True)
class RackBounds:
    """Upper bounds: n_max and a_max per `sr` row, b_max per `buy` row."""

    n_max: np.ndarray
    a_max: np.ndarray
    b_max: np.ndarray


def rack_count_bounds(index: ModelIndex, case: Case, data: ModelData) -> RackBounds:
    """The bounds of the module docstring, for these numbers."""
    sr, racks, sites = index.sr, index.racks, index.sites
    s_of, r_of = sr["s"].to_numpy(), sr["r"].to_numpy()
    installed = sr["installed"].to_numpy()
    rack_kw = racks["power_kw"].to_numpy(dtype=float)[r_of]
    a_max = (
        1000.0 * data.power_cap_mw[sr["sk"].to_numpy()] / (sites["pue"].to_numpy()[s_of] * rack_kw)
    )
    by_floor = np.floor(
        sites["max_slots"].to_numpy(dtype=float)[s_of] / racks["slots"].to_numpy()[r_of] + EPS
    )
    by_supply = data.max_count[r_of]
    # Rack-equivalents each sr row would need to serve, alone, every demand it can serve.
    y = index.y
    need = data.demand_tokens_per_s[index.swp["wp"].to_numpy()[y["swp"].to_numpy()]] / (
        data.tp_tokens_per_s * case.max_utilization
    )
    by_demand = np.bincount(y["sr"].to_numpy(), weights=need, minlength=len(sr))
    useful = np.minimum.reduce(
        [np.ceil(a_max - EPS), by_floor, by_supply, np.ceil(by_demand - EPS)]
    )
    head = useful - installed  # new racks a period could use beyond those installed
    new_limit = data.max_new_per_period[r_of]

    # The racks new in period 0 (n[s, r, 0] - inst), by (s, r) pair = period-0 sr row.
    pair, first_vintage = sr["pair"].to_numpy(), sr["first_vintage"].to_numpy()
    first_head = np.full(len(sr), -np.inf)
    np.maximum.at(first_head, pair[first_vintage], head[first_vintage])
    can_buy_now = sr["can_buy"].to_numpy()[pair]
    first_max = np.where(can_buy_now, np.minimum(np.maximum(first_head[pair], 0.0), new_limit), 0)

    # Later vintages: b[s, r, j] by the periods it serves in.
    service_buy, service_sr = (index.service[c].to_numpy() for c in ("buy", "sr"))
    buy_head = np.full(len(index.buy), -np.inf)
    np.maximum.at(buy_head, service_buy, head[service_sr])
    b_max = np.minimum(np.maximum(buy_head, 0.0), new_limit[index.buy["sr"].to_numpy()])

    vintages = np.where(first_vintage, first_max, 0.0) + np.bincount(
        service_sr, b_max[service_buy], len(sr)
    )
    n_max = np.maximum(installed, np.minimum.reduce([by_floor, by_supply, installed + vintages]))
    return RackBounds(n_max=n_max, a_max=np.minimum(a_max, n_max), b_max=b_max)


def delivered_racks(index: ModelIndex, data: ModelData, counts: np.ndarray) -> np.ndarray:
    """Racks of a plan (counts per `sr` row) that arrive: installed + floor((n - installed) x
    delivered_share[r]); a supply cut means new racks that were not delivered."""
    installed = index.sr["installed"].to_numpy()
    delivered_share = data.delivered_share[index.sr["r"].to_numpy()]
    new = np.asarray(counts, dtype=float) - installed
    return np.asarray(installed + np.floor(new * delivered_share + EPS))
