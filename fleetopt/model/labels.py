"""Labels: every variable and every row of a built model, back to its family and ids.

Each variable block and each constraint family declares the index table it follows
(fleetopt.model.layout, fleetopt.model.constraints); this maps positions in those tables
to the ids a planner knows: site, rack type, workload, phase. Used to explain a model
(infeasibility diagnosis, duals) in planners' terms, never on the hot path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fleetopt.io.schema import PHASES
from fleetopt.model.build import LinearModel
from fleetopt.model.families import split_family
from fleetopt.model.index import ModelIndex
from fleetopt.model.layout import SCENARIO_TABLE

ID_COLUMNS = ("site", "rack_type", "workload", "phase", "period")


def ids_of(index: ModelIndex, table: str, positions: np.ndarray) -> pd.DataFrame:
    """The ids (site, rack_type, workload, phase, period: the year; None where the table
    has no such axis) of rows `positions` of index table `table` ("sites", "racks",
    "workloads", "sk", "rk", "wk", "sr", "sw", "wp", "swp", "y" or "buy"; the
    one-per-scenario rows and blocks, `scenario`, have none)."""
    if table == SCENARIO_TABLE:
        return pd.DataFrame(None, index=pd.RangeIndex(len(positions)), columns=list(ID_COLUMNS))
    rows = getattr(index, table).iloc[positions]
    codes = {"s": "site", "r": "rack_type", "w": "workload"}
    names = {
        "site": index.sites["site"].to_numpy(),
        "rack_type": index.racks["rack_type"].to_numpy(),
        "workload": index.workloads["workload"].to_numpy(),
    }
    out = {}
    for code, column in codes.items():
        out[column] = names[column][rows[code].to_numpy()] if code in rows else None
    out["phase"] = np.asarray(PHASES, dtype=object)[rows["p"].to_numpy()] if "p" in rows else None
    multi = index.multi_period and "period" in rows
    out["period"] = rows["period"].to_numpy() if multi else None
    return pd.DataFrame(out, index=pd.RangeIndex(len(rows)))[list(ID_COLUMNS)]


def variable_labels(index: ModelIndex, model: LinearModel) -> pd.DataFrame:
    """One row per column of `model`: col, block and the ids of its variable."""
    frames = []
    for block in model.layout:
        ids = ids_of(index, block.over, np.arange(block.size))
        cols = np.arange(block.start, block.start + block.size)
        frames.append(ids.assign(col=cols, block=block.name))
    return pd.concat(frames, ignore_index=True)[["col", "block", *ID_COLUMNS]]


def row_labels(index: ModelIndex, model: LinearModel) -> pd.DataFrame:
    """One row per constraint row of `model`: row, family, scenario (in an extensive form;
    else None) and the ids it constrains."""
    frames = []
    for key, rows in model.families.items():
        table, keys = model.row_over[key]
        family, scenario = split_family(key)
        ids = ids_of(index, table, keys)
        frames.append(
            ids.assign(row=np.arange(rows.start, rows.stop), family=family, scenario=scenario)
        )
    return pd.concat(frames, ignore_index=True)[["row", "family", "scenario", *ID_COLUMNS]]
