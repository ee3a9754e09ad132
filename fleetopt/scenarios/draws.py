"""Monte Carlo scenarios (docs/model.md section 5): draws, multipliers, and their long table.

A scenario is rebuilt anywhere from (seed, scenario index) alone: its generator is
`numpy.random.default_rng([seed, scenario])`, and it always draws the same count of
numbers in the same order (growth, one per workload, one per region, one per site, one
per rack type for supply, then one per rack type for throughput), so scenario s is
identical on any worker, in any chunk, and switching one source of uncertainty on or off
never shifts the draws of another. New sources are drawn after all earlier ones, so a
scenario of a case keeps every draw it had before they existed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from fleetopt.io.case import Uncertainty
from fleetopt.model.index import ModelIndex
from fleetopt.model.inputs import Multipliers

SCENARIO_COLUMNS = ("scenario", "kind", "key", "multiplier")


def regions_of(index: ModelIndex) -> np.ndarray:
    """The case's regions in a fixed (sorted) order: one energy-price draw each."""
    return np.array(sorted(index.sites["region"].unique()), dtype=object)


def draw(index: ModelIndex, uncertainty: Uncertainty, scenario: int) -> Multipliers:
    """The multipliers of one scenario."""
    u = uncertainty
    rng = np.random.default_rng([u.seed, scenario])
    regions = regions_of(index)
    growth_z = rng.standard_normal()
    workload_z = rng.standard_normal(index.n_workloads)
    region_z = rng.standard_normal(len(regions))
    site_u = rng.random(index.n_sites)
    rack_u = rng.random(index.n_racks)
    throughput_z = rng.standard_normal(index.n_racks)

    growth = u.growth_median * np.exp(u.growth_sigma * growth_z)
    region_factor = np.exp(u.energy_sigma * region_z)
    site_region = np.searchsorted(regions, index.sites["region"].to_numpy())
    return Multipliers(
        demand=growth * np.exp(u.workload_sigma * workload_z),
        energy_price=region_factor[site_region],
        power_cap=np.where(site_u < u.power_cap_probability, 1.0 - u.power_cap_derate, 1.0),
        supply=np.where(rack_u < u.supply_probability, 1.0 - u.supply_cut, 1.0),
        throughput=np.exp(index.racks["throughput_sigma"].to_numpy(dtype=float) * throughput_z),
        growth=float(growth),
        region_energy=region_factor,
    )


def draws_table(index: ModelIndex, scenario: int, multipliers: Multipliers) -> pd.DataFrame:
    """Every draw of one scenario in the long format of docs/model.md section 6.

    kind `demand`: key `*` for the shared growth, key = workload for its own factor;
    `energy_price` per region; `power_cap` per site; `supply` and `throughput` per rack type.
    """
    m = multipliers
    assert m.region_energy is not None, "drawn multipliers keep the energy draws per region"
    keys = [
        ("demand", ["*"], [m.growth]),
        ("demand", index.workloads["workload"].tolist(), (m.demand / m.growth).tolist()),
        ("energy_price", regions_of(index).tolist(), m.region_energy.tolist()),
        ("power_cap", index.sites["site"].tolist(), m.power_cap.tolist()),
        ("supply", index.racks["rack_type"].tolist(), m.supply.tolist()),
        ("throughput", index.racks["rack_type"].tolist(), m.throughput.tolist()),
    ]
    kinds = [k for k, names, _ in keys for _ in names]
    return pd.DataFrame(
        {
            "scenario": np.full(len(kinds), scenario, dtype=np.int64),
            "kind": kinds,
            "key": [n for _, names, _ in keys for n in names],
            "multiplier": np.concatenate([np.asarray(v, dtype=float) for _, _, v in keys]),
        }
    )


def multipliers_from_table(index: ModelIndex, draws: pd.DataFrame) -> Multipliers:
    """Rebuild one scenario's multipliers from its written rows (to re-solve it exactly).

    A table written before throughput draws existed has no `throughput` rows: its
    scenarios ran at factor 1, which is what they get back.
    """
    by = {kind: rows.set_index("key")["multiplier"] for kind, rows in draws.groupby("kind")}
    racks = index.racks["rack_type"]
    growth = float(by["demand"]["*"])
    region_energy = by["energy_price"].reindex(regions_of(index)).to_numpy()
    site_region = np.searchsorted(regions_of(index), index.sites["region"].to_numpy())
    return Multipliers(
        demand=growth * by["demand"].reindex(index.workloads["workload"]).to_numpy(),
        energy_price=region_energy[site_region],
        power_cap=by["power_cap"].reindex(index.sites["site"]).to_numpy(),
        supply=by["supply"].reindex(racks).to_numpy(),
        throughput=(
            by["throughput"].reindex(racks).to_numpy()
            if "throughput" in by
            else np.ones(index.n_racks)
        ),
        growth=growth,
        region_energy=region_energy,
    )


def draw_many(
    index: ModelIndex, uncertainty: Uncertainty, scenarios: Sequence[int]
) -> pd.DataFrame:
    """The long draws table of several scenarios."""
    return pd.concat(
        [draws_table(index, k, draw(index, uncertainty, k)) for k in scenarios],
        ignore_index=True,
    )
