"""A solution back to the plan tables of docs/model.md section 6, keyed by ids.

Every number comes from the solution and fleetopt.model.measures, so the tables, the
summary and the scenario rows agree by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fleetopt.io.schema import PHASES
from fleetopt.model.build import LinearModel
from fleetopt.model.index import ModelIndex
from fleetopt.model.inputs import ModelData
from fleetopt.model.measures import (
    ZERO,
    avg_it_kw_by_site,
    powered_mw_by_site,
    rack_mix,
    unmet_by_workload,
)


@dataclass(frozen=True)
class PlanTables:
    """The four plan tables of docs/model.md section 6."""

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


def site_power(
    index: ModelIndex, data: ModelData, model: LinearModel, x: np.ndarray
) -> pd.DataFrame:
    """Per site: facility MW powered (against the cap), the cap, and the average draw."""
    pue = index.sites["pue"].to_numpy()
    return pd.DataFrame(
        {
            "site": index.sites["site"].to_numpy(),
            "power_mw": powered_mw_by_site(index, model, x),
            "power_cap_mw": data.power_cap_mw,
            "avg_facility_mw": pue * avg_it_kw_by_site(index, model, x) / 1000.0,
        }
    )


def plan_tables(
    index: ModelIndex, data: ModelData, model: LinearModel, x: np.ndarray
) -> PlanTables:
    """racks, placement, sites and workloads tables of a solution."""
    lay = model.layout
    counts = x[lay.n]
    y = index.y
    busy = x[lay.y]
    placed = busy > ZERO
    placement = pd.DataFrame(
        {
            "site": index.sites["site"].to_numpy()[y["s"].to_numpy()],
            "rack_type": index.racks["rack_type"].to_numpy()[y["r"].to_numpy()],
            "workload": index.workloads["workload"].to_numpy()[y["w"].to_numpy()],
            "phase": np.asarray(PHASES, dtype=object)[y["p"].to_numpy()],
            "racks": busy,
            "tokens_per_s": busy * y["tp_tokens_per_s"].to_numpy(),
        }
    )[placed].reset_index(drop=True)

    s_of, r_of = index.sr["s"].to_numpy(), index.sr["r"].to_numpy()
    slots = np.bincount(
        s_of, counts * index.racks["slots"].to_numpy(dtype=float)[r_of], index.n_sites
    )
    power = site_power(index, data, model, x)
    sites_table = pd.DataFrame(
        {
            "site": power["site"],
            "power_mw": power["power_mw"],
            "power_cap_mw": power["power_cap_mw"],
            "slots": slots,
            "max_slots": index.sites["max_slots"].to_numpy(dtype=float),
            "avg_facility_mw": power["avg_facility_mw"],
        }
    )

    unmet = unmet_by_workload(model, x)
    workloads_table = pd.DataFrame(
        {
            "workload": index.workloads["workload"].to_numpy(),
            "served_share": 1.0 - unmet,
            "unmet_share": unmet,
        }
    )
    return PlanTables(rack_mix(index, counts), placement, sites_table, workloads_table)
