"""What a solution measures, each defined once: costs, served tokens, power, the rack mix.

Every reported figure is computed here from a solution vector and the model's cost
coefficients (never from the solver's scaled objective), so the solver's objectives
(fleetopt.solve) and the reported tables (fleetopt.results) agree by construction.

Money and token figures come per period (docs/model.md section 8) and levelized:
`levelized(model, per_period)` is sum_k w_k x_k / sum_k w_k, which with one period is x_0
itself, bit for bit. Per-period sums run over each period's contiguous rows (index tables
are period-major) with the same numpy reductions a single period uses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fleetopt.core.units import MWH_PER_KW_YEAR
from fleetopt.model.build import LinearModel
from fleetopt.model.index import ModelIndex
from fleetopt.model.inputs import ModelData

ZERO = 1e-9  # below this a count or a placement is solver noise


def period_dots(rows: list[slice], coefficients: np.ndarray, values: np.ndarray) -> np.ndarray:
    """coefficients @ values over each period's rows: one number per period."""
    return np.array([float(coefficients[r] @ values[r]) for r in rows])


def period_sums(rows: list[slice], values: np.ndarray) -> np.ndarray:
    """values summed over each period's rows: one number per period."""
    return np.array([float(values[r].sum()) for r in rows])


def levelized(model: LinearModel, per_period: np.ndarray) -> float:
    """sum_k w_k x_k / sum_k w_k of a per-period figure."""
    return float(model.priced.level @ per_period)


def vintage_capex_usd_by_period(index: ModelIndex, model: LinearModel, x: np.ndarray) -> np.ndarray:
    """The vintages' price changes per period: capex_b of every b serving in it."""
    buy, k = (index.service[c].to_numpy() for c in ("buy", "k"))
    return np.bincount(k, model.priced.capex_b[buy] * x[model.layout.b][buy], index.n_periods)


def _recourse_by_period(
    index: ModelIndex, model: LinearModel, x: np.ndarray, coefficients: np.ndarray
) -> np.ndarray:
    """coefficients @ e per period where the model has recourse racks e (section 9), else 0."""
    rows = index.period_rows("sr")
    lay = model.layout
    return sum(
        (period_dots(rows, coefficients, x[lay.block(b).slice]) for b in lay.present("e")),
        np.zeros(index.n_periods),
    )


def capex_usd_by_period(index: ModelIndex, model: LinearModel, x: np.ndarray) -> np.ndarray:
    """capex_k: the base annuity of every rack in service plus the vintages' price changes
    (and recourse racks at their premium, where the model has them)."""
    c = model.priced
    base = period_dots(index.period_rows("sr"), c.capex_n, x[model.layout.n])
    recourse = _recourse_by_period(index, model, x, c.capex_e)
    capex: np.ndarray = base + vintage_capex_usd_by_period(index, model, x) + recourse
    return capex


def opex_usd_by_period(index: ModelIndex, model: LinearModel, x: np.ndarray) -> np.ndarray:
    """opex_k of the racks in service (recourse racks included)."""
    c = model.priced
    base = period_dots(index.period_rows("sr"), c.opex_n, x[model.layout.n])
    opex: np.ndarray = base + _recourse_by_period(index, model, x, c.opex_n)
    return opex


def fleet_cost_usd_by_period(index: ModelIndex, model: LinearModel, x: np.ndarray) -> np.ndarray:
    """fleet_k = capex_k + opex_k + energy_k of solution x, USD per year."""
    lay, c = model.layout, model.priced
    sr_rows = index.period_rows("sr")
    fleet: np.ndarray = (
        period_dots(sr_rows, c.capex_n + c.opex_n, x[lay.n])
        + period_dots(sr_rows, c.idle_energy_a, x[lay.a])
        + period_dots(index.period_rows("y"), c.busy_energy_y, x[lay.y])
        + vintage_capex_usd_by_period(index, model, x)
        + _recourse_by_period(index, model, x, c.capex_e + c.opex_n)
    )
    return fleet


def penalty_usd_by_period(index: ModelIndex, model: LinearModel, x: np.ndarray) -> np.ndarray:
    """penalty_k: unmet demand at its penalty, and shortfall below a minimum share at its own."""
    lay, c = model.layout, model.priced
    wk_rows = index.period_rows("wk")
    price = {"m": c.penalty_m, "u": c.shortfall_u}
    parts = [period_dots(wk_rows, price[b], x[lay.block(b).slice]) for b in lay.present("m", "u")]
    return np.asarray(np.sum(parts, axis=0))


def unmet_by_workload(model: LinearModel, x: np.ndarray) -> np.ndarray:
    """Unmet share per `wk` row: m, plus the shortfall u where the model has it."""
    lay = model.layout
    return np.asarray(np.sum([x[lay.block(b).slice] for b in lay.present("m", "u")], axis=0))


def served_tokens_by_period(index: ModelIndex, model: LinearModel, x: np.ndarray) -> np.ndarray:
    """served_k = sum_w (1 - unmet[w, k]) * tokens[w, k]: the demanded tokens served, per year."""
    return period_dots(
        index.period_rows("wk"), model.priced.tokens_per_year, 1.0 - unmet_by_workload(model, x)
    )


def shortfall_share(index: ModelIndex, model: LinearModel, x: np.ndarray) -> float:
    """The share of all demanded tokens (levelized) short of the minimum served shares (0
    without u)."""
    lay = model.layout
    wk_rows, tokens = index.period_rows("wk"), model.priced.tokens_per_year
    demanded = levelized(model, period_sums(wk_rows, tokens))
    short = sum(
        levelized(model, period_dots(wk_rows, tokens, x[lay.block(b).slice]))
        for b in lay.present("u")
    )
    return short / demanded if demanded > 0 else 0.0


def fleet_cost_usd(index: ModelIndex, model: LinearModel, x: np.ndarray) -> float:
    """Levelized fleet cost of solution x, USD per year."""
    return levelized(model, fleet_cost_usd_by_period(index, model, x))


def served_tokens_per_year(index: ModelIndex, model: LinearModel, x: np.ndarray) -> float:
    """Levelized served tokens per year."""
    return levelized(model, served_tokens_by_period(index, model, x))


def unmet_share(index: ModelIndex, model: LinearModel, x: np.ndarray) -> float:
    """The share of all demanded tokens (levelized) left unserved."""
    demanded_by_period = period_sums(index.period_rows("wk"), model.priced.tokens_per_year)
    demanded = levelized(model, demanded_by_period)
    served = served_tokens_per_year(index, model, x)
    return 1.0 - served / demanded if demanded > 0 else 0.0


def avg_it_kw_by_site(index: ModelIndex, model: LinearModel, x: np.ndarray) -> np.ndarray:
    """avg_it_kw[s, k] per `sk` row: idle draw of powered racks plus busy draw at the
    workloads' load factors."""
    lay = model.layout
    r_of, sk_of = index.sr["r"].to_numpy(), index.sr["sk"].to_numpy()
    racks = index.racks
    power_kw = racks["power_kw"].to_numpy(dtype=float)
    idle = racks["idle_power_frac"].to_numpy(dtype=float)
    load = index.workloads["load_factor"].to_numpy(dtype=float)
    yr, ysk, yw = (index.y[c].to_numpy() for c in ("r", "sk", "w"))
    idle_kw = x[lay.a] * power_kw[r_of] * idle[r_of]
    busy_kw = x[lay.y] * power_kw[yr] * (1.0 - idle[yr]) * load[yw]
    n_sk = len(index.sk)
    return np.bincount(sk_of, idle_kw, n_sk) + np.bincount(ysk, busy_kw, n_sk)


def powered_mw_by_site(index: ModelIndex, model: LinearModel, x: np.ndarray) -> np.ndarray:
    """Facility MW of the powered racks per `sk` row (nameplate x PUE): what counts against
    the cap."""
    sk_of, r_of = index.sr["sk"].to_numpy(), index.sr["r"].to_numpy()
    power_kw = index.racks["power_kw"].to_numpy(dtype=float)[r_of]
    powered_kw = np.bincount(sk_of, x[model.layout.a] * power_kw, len(index.sk))
    pue = index.sites["pue"].to_numpy()[index.sk["s"].to_numpy()]
    return np.asarray(pue * powered_kw / 1000.0)


def new_racks(index: ModelIndex, model: LinearModel, x: np.ndarray) -> np.ndarray:
    """The racks entering service per `sr` row: n - inst in period 0, b after."""
    counts = x[model.layout.n]
    new = np.where(index.sr["k"].to_numpy() == 0, counts - index.sr["installed"].to_numpy(), 0)
    new[index.buy["sr"].to_numpy()] = x[model.layout.b]
    return new


def rack_mix(index: ModelIndex, counts: np.ndarray) -> pd.DataFrame:
    """The racks in service of a plan (counts per `sr` row): site, rack_type, count,
    installed (still in service), with a first column `period` in a multi-period case.

    Rows with neither a count nor installed racks are left out.
    """
    installed = index.sr["installed"].to_numpy()
    owned = (counts > ZERO) | (installed > 0)
    mix = pd.DataFrame(
        {
            "site": index.sr["site"].to_numpy()[owned],
            "rack_type": index.sr["rack_type"].to_numpy()[owned],
            "count": np.round(counts[owned]).astype(np.int64),
            "installed": installed[owned].astype(np.int64),
        }
    )
    return with_period(index, mix, index.sr["period"].to_numpy()[owned])


def with_period(index: ModelIndex, table: pd.DataFrame, years: np.ndarray) -> pd.DataFrame:
    """`table` with a first column `period` (the year) in a multi-period case; unchanged
    otherwise (a case without periods keeps section 6's tables)."""
    if not index.multi_period:
        return table
    return table.assign(period=np.asarray(years, dtype=np.int64))[["period", *table.columns]]


def energy_usd_by_site(index: ModelIndex, data: ModelData, avg_it_kw: np.ndarray) -> np.ndarray:
    """energy[s, k] = e[s, k] * pue[s] * avg_it_kw[s, k] * 8.76 per `sk` row, USD per year."""
    pue = index.sites["pue"].to_numpy()[index.sk["s"].to_numpy()]
    return np.asarray(data.energy_usd_per_mwh * pue * avg_it_kw * MWH_PER_KW_YEAR)


def site_costs(
    index: ModelIndex, data: ModelData, model: LinearModel, x: np.ndarray
) -> dict[str, np.ndarray]:
    """Capex, opex and energy cost per `sk` row (site and period) in USD per year of that
    period: per period they sum to fleet_k. Capex includes the vintages' price changes and
    recourse racks at their premium."""
    lay, c = model.layout, model.priced
    sk_of, n_sk = index.sr["sk"].to_numpy(), len(index.sk)
    buy, served_sr = (index.service[col].to_numpy() for col in ("buy", "sr"))
    capex: np.ndarray = np.bincount(sk_of, c.capex_n * x[lay.n], n_sk) + np.bincount(
        sk_of[served_sr], c.capex_b[buy] * x[lay.b][buy], n_sk
    )
    owned = x[lay.n]
    for block in lay.present("e"):  # recourse racks (section 9)
        recourse = x[lay.block(block).slice]
        capex = capex + np.bincount(sk_of, c.capex_e * recourse, n_sk)
        owned = owned + recourse
    return {
        "capex_cost_usd_per_year": capex,
        "opex_cost_usd_per_year": np.bincount(sk_of, c.opex_n * owned, n_sk),
        "energy_cost_usd_per_year": energy_usd_by_site(
            index, data, avg_it_kw_by_site(index, model, x)
        ),
    }
