"""The model's index sets (docs/model.md sections 2 and 8) as integer-coded pandas tables.

Everything downstream is vectorized over these tables: a row of `y` is one variable
y[s, r, w, p, k], carrying the integer codes of its site, rack type, workload, phase and
period and the rows of `sr` and `swp` it belongs to. The sets depend only on the case's
structure (cooling, regions, SLO curves, which phases have demand, the periods, when rack
types can be bought), never on the numbers a scenario multiplies, so one index serves every
scenario of a case.

Periods: every set of sections 2-3 is repeated per period (`k`), period-major (all rows of
period 0, then period 1, ...), and carries its period's year in `period`. A case without
`periods` has one period, k = 0, at the placeholder year 0 (no input of such a case names a
year), and its tables are section 2's, in section 2's order.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fleetopt.io.case import Case, demand_factors, serving_keys
from fleetopt.io.schema import DEMAND_COLUMNS, PHASES, SERVING_KEY

STEADY_STATE_YEAR = 0  # the one period of a case without `periods`


@dataclass(frozen=True)
class ModelIndex:
    """Integer-coded sets of one case, each row in one period `k` (its year: `period`).

    - `periods`: k, period (year), elapsed_years (Y_k - Y_0), weight (w_k of docs/model.md
      section 8: the period's length in years, discounted; 1 without periods).
    - `sk`, `rk`, `wk`: (site, period), (rack type, period), (workload, period) pairs, with
      the period's forecast `power_cap_mw` and `energy_usd_per_mwh` on `sk`.
    - `sr`: (s, r, k) where the rack's cooling fits the site, with `installed` racks still
      in service, `pair` (the pair's row in period 0), its `sk` and `rk` rows, `can_buy`
      (new racks may enter service: (s, r, k) in B) and `first_vintage` (racks that entered
      service in period 0 still serve).
    - `sw`: (s, w, k) pairs whose region the workload accepts, with their `wk` row.
    - `wp`: (w, p, k) phases with demand (P_wk), with the period's forecast demand
      `demand_tokens_per_s` and their `wk` row.
    - `swp`: (s, w, p, k) rows of the phase constraint, with their `sw` and `wp` rows.
    - `y`: placement variables (s, r, w, p, k) with effective throughput `tp_tokens_per_s`
      and their `sr`, `swp` and `sk` rows.
    - `buy`: the (s, r, k) of B with k >= 1: new-rack variables b (those of period 0 are
      n[s, r, 0] - installed), with their `sr` row.
    - `service`: (buy, sr) pairs: the periods (`sr` rows of the same pair) in which racks
      bought in `buy` serve.
    """

    periods: pd.DataFrame
    sites: pd.DataFrame
    racks: pd.DataFrame
    workloads: pd.DataFrame
    sk: pd.DataFrame
    rk: pd.DataFrame
    wk: pd.DataFrame
    sr: pd.DataFrame
    sw: pd.DataFrame
    wp: pd.DataFrame
    swp: pd.DataFrame
    y: pd.DataFrame
    buy: pd.DataFrame
    service: pd.DataFrame
    multi_period: bool
    warnings: tuple[str, ...]
    n_sites: int  # the rows of `sites`, `racks`, `workloads`, `periods`
    n_racks: int
    n_workloads: int
    n_periods: int

    def period_rows(self, table: str) -> list[slice]:
        """The rows of each period in index table `table` (tables are period-major)."""
        k = getattr(self, table)["k"].to_numpy()
        bounds = np.searchsorted(k, np.arange(self.n_periods + 1))
        return [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]


def build_index(case: Case) -> ModelIndex:
    """Derive the index sets of `case` (docs/model.md sections 2 and 8, and the domain of y)."""
    periods = _periods(case)
    sites = case.sites.assign(s=np.arange(len(case.sites)))
    racks = case.racks.assign(r=np.arange(len(case.racks)))
    workloads = case.workloads.assign(w=np.arange(len(case.workloads)))
    sk = _site_periods(case, sites, periods)
    rk = _per_period(racks[["r"]], periods)
    wk = _per_period(workloads[["w"]], periods)

    sr = _site_rack_pairs(sites, racks, case.installed, periods)
    sw = _per_period(_site_workload_pairs(sites, workloads), periods)
    sw["wk"] = _row_of(sw["k"], sw["w"], len(workloads))
    wp = _workload_phases(case, workloads, periods)
    swp = sw.reset_index(names="sw").merge(wp.reset_index(names="wp"), on=["k", "period", "w"])
    swp = swp[["s", "w", "p", "k", "period", "sw", "wp"]]
    swp = swp.sort_values(["k", "s", "w", "p"], ignore_index=True)
    tp = effective_throughput(case, racks, workloads)
    y = (
        sr.reset_index(names="sr")[["s", "r", "k", "sr", "sk"]]
        .merge(swp.reset_index(names="swp")[["s", "w", "p", "k", "period", "swp"]], on=["s", "k"])
        .merge(tp, on=["r", "w", "p"])
        .sort_values(["k", "s", "r", "w", "p"], ignore_index=True)
    )
    buy = sr.reset_index(names="sr")
    buy = buy.loc[buy["can_buy"] & (buy["k"] >= 1), ["s", "r", "k", "period", "sr", "pair"]]
    return ModelIndex(
        periods=periods,
        sites=sites,
        racks=racks,
        workloads=workloads,
        sk=sk,
        rk=rk,
        wk=wk,
        sr=sr,
        sw=sw,
        wp=wp,
        swp=swp,
        y=y[["s", "r", "w", "p", "k", "period", "sr", "swp", "sk", "tp_tokens_per_s"]],
        buy=buy.reset_index(drop=True),
        service=_service(sr, buy.reset_index(drop=True), racks, periods),
        multi_period=case.multi_period,
        warnings=_unservable_warnings(workloads, wp, y),
        n_sites=len(sites),
        n_racks=len(racks),
        n_workloads=len(workloads),
        n_periods=len(periods),
    )


def _periods(case: Case) -> pd.DataFrame:
    """k, year, years since year 0 and the weight w_k = spacing x (1 + i)^-(Y_k - Y_0)."""
    years = np.asarray(case.periods or (STEADY_STATE_YEAR,), dtype=float)
    spacing = float(years[1] - years[0]) if len(years) > 1 else 1.0
    elapsed = years - years[0]
    return pd.DataFrame(
        {
            "k": np.arange(len(years)),
            "period": years.astype(np.int64),
            "elapsed_years": elapsed,
            "weight": spacing * (1.0 + case.discount_rate) ** -elapsed,
        }
    )


def _per_period(table: pd.DataFrame, periods: pd.DataFrame) -> pd.DataFrame:
    """`table` repeated for every period, period-major, with k and period columns."""
    out = periods[["k", "period"]].merge(table, how="cross")
    return out[[*table.columns, "k", "period"]]


def _row_of(k: pd.Series, code: pd.Series, size: int) -> np.ndarray:
    """Row of (code, k) in a table of `size` entities repeated per period, period-major."""
    return np.asarray(k.to_numpy() * size + code.to_numpy())


def _site_periods(case: Case, sites: pd.DataFrame, periods: pd.DataFrame) -> pd.DataFrame:
    """(s, k) with the period's power cap and energy price (site_periods, else the site's)."""
    sk = _per_period(sites[["s", "site", "power_cap_mw", "energy_usd_per_mwh"]], periods)
    given = case.site_periods.astype({"period": np.int64}).rename(
        columns={"power_cap_mw": "cap_given", "energy_usd_per_mwh": "energy_given"}
    )
    sk = sk.merge(given, on=["site", "period"], how="left")
    for column, override in (("power_cap_mw", "cap_given"), ("energy_usd_per_mwh", "energy_given")):
        sk[column] = sk[override].fillna(sk[column]).astype(float)
    return sk[["s", "k", "period", "power_cap_mw", "energy_usd_per_mwh"]]


def _site_rack_pairs(
    sites: pd.DataFrame, racks: pd.DataFrame, installed: pd.DataFrame, periods: pd.DataFrame
) -> pd.DataFrame:
    """SR per period: every (site, rack type) whose cooling fits, with the installed racks
    still in service (retire_year >= the period's year) and whether new ones may enter."""
    pairs = sites[["s", "site", "liquid_cooling"]].merge(
        racks[["r", "rack_type", "cooling"]], how="cross"
    )
    fits = (pairs["cooling"] != "liquid") | pairs["liquid_cooling"]
    pairs = pairs.loc[fits, ["s", "r", "site", "rack_type"]].sort_values(["s", "r"])
    pairs = pairs.reset_index(drop=True).reset_index(names="pair")
    sr = _per_period(pairs, periods)
    cohorts = installed.merge(periods[["period"]], how="cross")
    serving = cohorts[cohorts["retire_year"] >= cohorts["period"]]
    owned = serving.groupby(["site", "rack_type", "period"], as_index=False)["count"].sum()
    sr = sr.merge(owned, on=["site", "rack_type", "period"], how="left")
    sr["installed"] = sr["count"].fillna(0.0).astype(float)
    sr = sr.sort_values(["k", "s", "r"], ignore_index=True)
    sr["sk"] = _row_of(sr["k"], sr["s"], len(sites))
    sr["rk"] = _row_of(sr["k"], sr["r"], len(racks))
    year = periods["period"].to_numpy(dtype=float)[sr["k"]]
    elapsed = periods["elapsed_years"].to_numpy()[sr["k"]]
    rack = racks.iloc[sr["r"].to_numpy()]
    sr["can_buy"] = (
        (rack["available_from"].to_numpy() <= year)
        & (year <= rack["available_until"].to_numpy())
        & (elapsed >= rack["lead_time_years"].to_numpy())
    )
    sr["first_vintage"] = elapsed < rack["lifetime_years"].to_numpy()
    columns = ["s", "r", "site", "rack_type", "installed", "k", "period", "pair", "sk", "rk"]
    return sr[[*columns, "can_buy", "first_vintage"]]


def _service(
    sr: pd.DataFrame, buy: pd.DataFrame, racks: pd.DataFrame, periods: pd.DataFrame
) -> pd.DataFrame:
    """(buy, sr) pairs: racks entering service in period j serve in period k of the same
    (site, rack type) when j <= k and Y_k < Y_j + lifetime_years (docs/model.md section 8)."""
    later = buy.reset_index(names="buy")[["buy", "pair", "k"]].merge(
        sr.reset_index(names="sr")[["sr", "pair", "k", "r"]], on="pair", suffixes=("_j", "")
    )
    elapsed = periods["elapsed_years"].to_numpy()
    life = racks["lifetime_years"].to_numpy()[later["r"].to_numpy()]
    since = elapsed[later["k"].to_numpy()] - elapsed[later["k_j"].to_numpy()]
    serves = (later["k"] >= later["k_j"]).to_numpy() & (since < life)
    return later.loc[serves, ["buy", "sr", "k"]].sort_values(["k", "sr", "buy"], ignore_index=True)


def _site_workload_pairs(sites: pd.DataFrame, workloads: pd.DataFrame) -> pd.DataFrame:
    """SW: every (site, workload) where the workload accepts the site's region."""
    allowed = workloads[["w", "region_list"]].explode("region_list")
    anywhere = allowed["region_list"].isna()
    pairs_any = workloads.loc[workloads["w"].isin(allowed.loc[anywhere, "w"]), ["w"]].merge(
        sites[["s"]], how="cross"
    )
    pairs_listed = allowed.loc[~anywhere].merge(
        sites[["s", "region"]], left_on="region_list", right_on="region"
    )[["w", "s"]]
    pairs = pd.concat([pairs_any, pairs_listed], ignore_index=True).drop_duplicates()
    return pairs[["s", "w"]].sort_values(["s", "w"], ignore_index=True)


def _workload_phases(case: Case, workloads: pd.DataFrame, periods: pd.DataFrame) -> pd.DataFrame:
    """P_wk: the phases of each workload with positive demand in each period.

    D[w, p, k] = D[w, p] x g[w, k] (fleetopt.io.case.demand_factors: workload_periods'
    demand_multiplier where given, else (1 + growth_per_year)^(Y_k - Y_0); 1 in a case
    without periods).
    """
    parts = [
        pd.DataFrame(
            {"w": workloads["w"].to_numpy(), "p": p, "base": workloads[col].to_numpy(dtype=float)}
        )
        for p, col in enumerate(DEMAND_COLUMNS)
    ]
    wp = _per_period(pd.concat(parts, ignore_index=True), periods)
    factors = demand_factors(case.periods, case.workloads, case.workload_periods)
    factor = factors[wp["w"].to_numpy(), wp["k"].to_numpy()]
    wp["demand_tokens_per_s"] = wp["base"].to_numpy() * factor
    wp = wp[wp["demand_tokens_per_s"] > 0].sort_values(["k", "w", "p"], ignore_index=True)
    wp["wk"] = _row_of(wp["k"], wp["w"], len(workloads))
    return wp[["w", "p", "k", "period", "demand_tokens_per_s", "wk"]]


def effective_throughput(case: Case, racks: pd.DataFrame, workloads: pd.DataFrame) -> pd.DataFrame:
    """tp[r, w, p]: the best qualifying operating point of each rack type on each workload.

    A workload's rows are its model's with the same isl, osl and precision (blank matching
    blank: a case without these columns keys by model alone, docs/model.md section 1).

    decode:  max tokens_per_s over rows with user_tps >= min_user_tps[w]
    prefill: max tokens_per_s over rows with ttft_ms <= max_ttft_ms[w]
    A (r, w, p) with no qualifying row is absent: that rack cannot serve that phase of w.
    `source` is the chosen row's (among rows tied at the max, one not marked an estimate,
    so a figure a measurement backs is never reported as estimated).
    """
    points = case.throughput[
        ["rack_type", "phase", "tokens_per_s", "user_tps", "ttft_ms", "source"]
    ]
    points = pd.concat([points.reset_index(drop=True), serving_keys(case.throughput)], axis=1)
    slos = workloads[["w", "min_user_tps", "max_ttft_ms"]].reset_index(drop=True)
    served = pd.concat([slos, serving_keys(workloads)], axis=1)
    rows = points.merge(racks[["r", "rack_type"]], on="rack_type").merge(
        served, on=list(SERVING_KEY)
    )
    is_decode = rows["phase"] == PHASES[1]
    qualifies = np.where(
        is_decode,
        rows["user_tps"] >= rows["min_user_tps"],
        rows["ttft_ms"] <= rows["max_ttft_ms"],
    )
    rows = rows.loc[qualifies].assign(
        p=is_decode[qualifies].astype(int),
        estimate=rows.loc[qualifies, "source"].fillna("").map(is_estimate),
    )
    best = rows.sort_values(["tokens_per_s", "estimate"], ascending=[False, True], kind="stable")
    tp = best.drop_duplicates(["r", "w", "p"]).sort_values(["r", "w", "p"], ignore_index=True)
    return tp[["r", "w", "p", "tokens_per_s", "source"]].rename(
        columns={"tokens_per_s": "tp_tokens_per_s"}
    )


def is_estimate(source: str) -> bool:
    """Whether a throughput row's `source` marks it an estimate (it starts 'estimate')."""
    return str(source).strip().lower().startswith("estimate")


def _unservable_warnings(
    workloads: pd.DataFrame, wp: pd.DataFrame, y: pd.DataFrame
) -> tuple[str, ...]:
    """A warning for each phase with demand that no (site, rack type) pair can serve."""
    phases = wp[["w", "p"]].drop_duplicates()
    served = phases.merge(
        y[["w", "p"]].drop_duplicates(), on=["w", "p"], how="left", indicator=True
    )
    missing = served[served["_merge"] == "left_only"]
    names = workloads["workload"].to_numpy()
    return tuple(
        f"workload {names[w]}: no rack at any allowed site can serve its {PHASES[p]} phase "
        "within its SLO; that demand can only go unmet"
        for w, p in zip(missing["w"], missing["p"], strict=True)
    )
