"""The numbers one solve uses: the case's data, times a scenario's multipliers.

The model's structure comes from the index (fleetopt.model.index); everything a scenario may
change (docs/model.md section 5) is gathered here as arrays aligned with the index tables, so a
worker rebuilds only these arrays, never the index, from one scenario to the next. A
scenario's multipliers apply to every period alike (docs/model.md section 8).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fleetopt.model.index import ModelIndex


@dataclass(frozen=True)
class Multipliers:
    """One scenario's draws (docs/model.md section 5); all ones is the forecast itself.

    `demand` is growth x workload factor per workload; `energy_price` and `power_cap` are
    per site (the region's energy factor already mapped to its sites); `supply` is
    1 - cut per rack type; `throughput` the factor on every tokens_per_s of a rack type.
    `growth` and `region_energy` keep the draws they were made from (the shared growth
    factor; the energy factor per region), for the draws table.
    """

    demand: np.ndarray
    energy_price: np.ndarray
    power_cap: np.ndarray
    supply: np.ndarray
    throughput: np.ndarray
    growth: float = 1.0
    region_energy: np.ndarray | None = None

    @classmethod
    def ones(cls, index: ModelIndex) -> Multipliers:
        return cls(
            demand=np.ones(index.n_workloads),
            energy_price=np.ones(index.n_sites),
            power_cap=np.ones(index.n_sites),
            supply=np.ones(index.n_racks),
            throughput=np.ones(index.n_racks),
        )


@dataclass(frozen=True)
class ModelData:
    """Per-entity numbers of one solve, aligned with the index tables.

    - `demand_tokens_per_s`: D[w, p, k] per `wp` row, after multipliers.
    - `energy_usd_per_mwh`, `power_cap_mw`: per `sk` row (site and period), after multipliers.
    - `max_count`, `max_new_per_period`: per rack type; inf when unlimited;
      floor(x (1 - cut)) if cut.
    - `delivered_share`: per rack type, 1 - cut: the share of new racks that arrive,
      used when a plan's counts are fixed (evaluate).
    - `tp_tokens_per_s`: tp[r, w, p] per `y` row, times the rack type's throughput factor.
    """

    demand_tokens_per_s: np.ndarray
    energy_usd_per_mwh: np.ndarray
    power_cap_mw: np.ndarray
    max_count: np.ndarray
    max_new_per_period: np.ndarray
    delivered_share: np.ndarray
    tp_tokens_per_s: np.ndarray


def model_data(index: ModelIndex, multipliers: Multipliers | None = None) -> ModelData:
    """The numbers of the forecast (no multipliers) or of one scenario."""
    mult = multipliers or Multipliers.ones(index)
    s_of = index.sk["s"].to_numpy()
    return ModelData(
        demand_tokens_per_s=index.wp["demand_tokens_per_s"].to_numpy()
        * mult.demand[index.wp["w"].to_numpy()],
        energy_usd_per_mwh=index.sk["energy_usd_per_mwh"].to_numpy(dtype=float)
        * mult.energy_price[s_of],
        power_cap_mw=index.sk["power_cap_mw"].to_numpy(dtype=float) * mult.power_cap[s_of],
        max_count=_cut(index.racks["max_count"].to_numpy(dtype=float), mult.supply),
        max_new_per_period=_cut(
            index.racks["max_new_per_period"].to_numpy(dtype=float), mult.supply
        ),
        delivered_share=np.asarray(mult.supply, dtype=float),
        tp_tokens_per_s=index.y["tp_tokens_per_s"].to_numpy()
        * mult.throughput[index.y["r"].to_numpy()],
    )


def _cut(limit: np.ndarray, supply: np.ndarray) -> np.ndarray:
    """floor(limit x (1 - cut)) where a limit is set; unlimited stays unlimited."""
    limited = np.isfinite(limit)
    cut = limit.copy()
    cut[limited] = np.floor(limit[limited] * supply[limited] + 1e-9)
    return cut
