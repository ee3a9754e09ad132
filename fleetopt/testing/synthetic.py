"""Realistic random fleet cases of any size, for benchmarks, property tests and Monte Carlo.

    case = synthetic_case(20, 8, 24, seed=7)  # sites, rack types, workloads

A synthetic case is fleet-shaped rather than uniformly random, so that the model's hard
parts show up at every size:

- sites spread over several regions (every region has a liquid-cooled site), with
  region-level energy prices, PUEs by cooling, and a floor limit on some of them;
- rack types drawn from archetypes (liquid NVL-class racks, air-cooled HGX servers,
  SRAM accelerators, wafers, CPU racks), mixing air and liquid cooling, some with a
  supply limit;
- per (rack type, model): a decode curve of 3-4 operating points (faster per-user decode,
  fewer tokens per rack) and 1-2 prefill points (a looser time to first token, more
  tokens), not every rack type running every model;
- workloads with per-user decode and TTFT SLOs (always met by some rack type), region
  restrictions, load factors, some low-value workloads (penalty near the cost of serving)
  and some with a minimum served share;
- installed racks at some sites;
- power caps sized per region so that the cheapest sites fill up and their caps bind.

Demand is sized in rack-equivalents (`SyntheticParams.racks_per_site`), so plans have tens
to hundreds of racks per site whatever the size. Everything is drawn from one
`numpy.random.Generator` seeded by `seed`: the same arguments give the same case.

With `SyntheticParams(periods=K)`, K > 1, the case is a multi-period one over K yearly
periods from 2026 (docs/model.md section 8), drawn after everything above so that its
first year is the steady-state case of the same seed: demand grows 5-35% a year per
workload; supply-limited rack types come on a roadmap (some arrive a year or two later
with a lead time, some stop being sold) with a delivery limit per period; prices fall
0-15% a year; installed cohorts retire; and every site's power arrives in steps every two
years. Rack types without a supply limit stay available from the start without lead time,
so every minimum served share stays feasible.

The case is written as a case folder and read back with `read_case`, so it is validated
exactly like a user's case and has exactly the dtypes `read_case` produces.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from fleetopt.io.case import Case, read_case

REGION_NAMES: tuple[str, ...] = (
    "us-east",
    "eu-west",
    "apac-east",
    "us-west",
    "eu-north",
    "apac-south",
    "us-central",
    "eu-central",
    "sa-east",
    "me-central",
)

MODEL_NAMES: tuple[str, ...] = (
    "llama-70b",
    "moe-671b",
    "llama-8b",
    "moe-120b",
    "dense-405b",
    "moe-235b",
    "dense-32b",
    "moe-30b",
)


@dataclass(frozen=True)
class RackArchetype:
    """A family of rack types: typical price, power and decode behaviour.

    `tokens_per_musd` is decode tokens/s per million USD of capex at the curve's first
    (slowest per-user) point on a reference model; `user_tps` is that point's per-user
    speed; `batch_alpha` is how fast throughput falls as per-user speed rises
    (tokens ~ user_tps^-alpha).
    """

    family: str
    kind: str
    cooling: str
    capex_usd: float
    power_kw: float
    slots: float
    tokens_per_musd: float
    user_tps: float
    batch_alpha: float
    model_coverage: float  # chance that a rack of this family runs a given model


ARCHETYPES: tuple[RackArchetype, ...] = (
    RackArchetype("nvl72", "gpu", "liquid", 4.5e6, 150.0, 1, 45_000, 20, 0.65, 0.95),
    RackArchetype("hgx", "gpu", "air", 1.1e6, 41.0, 1, 35_000, 15, 0.6, 0.95),
    RackArchetype("lpx", "lpu", "liquid", 3.0e6, 130.0, 1, 16_000, 150, 0.3, 0.8),
    RackArchetype("wafer", "wafer", "air", 2.5e6, 23.0, 1, 10_000, 300, 0.25, 0.7),
    RackArchetype("helios", "gpu", "liquid", 5.5e6, 210.0, 2, 42_000, 20, 0.65, 0.9),
    RackArchetype("cpu", "cpu", "liquid", 4.0e6, 125.0, 1, 5_000, 10, 0.5, 0.5),
)


@dataclass(frozen=True)
class SyntheticParams:
    """Knobs of the generator; the defaults give the benchmark's fleet-shaped cases."""

    racks_per_site: float = 60.0  # mean rack-equivalents of demand per site
    n_regions: int | None = None  # None: from n_sites (2 to 8)
    n_models: int | None = None  # None: from n_workloads (2 to 8)
    liquid_site_share: float = 0.6
    floor_limited_share: float = 0.5  # sites with max_slots
    supply_limited_share: float = 0.34  # rack types with max_count
    installed_share: float = 0.12  # fitting (site, rack type) pairs with installed racks
    power_headroom: tuple[float, float] = (1.3, 1.8)  # region power cap / estimated need
    anywhere_share: float = 0.4  # workloads that may run in any region
    low_value_share: float = 0.3  # workloads whose penalty is near the cost of serving
    min_served_share: float = 0.2  # workloads with a minimum served share
    objective: str = "min_cost"
    periods: int = 1  # yearly periods from FIRST_YEAR; 1: a steady-state case (no periods)
    discount_rate: float = 0.07
    unmet_penalty_usd_per_mtok: float = 20.0
    max_utilization: float = 0.9
    solver: dict[str, Any] = field(
        default_factory=lambda: {"name": "highs", "time_limit_s": 60, "relative_gap": 1e-6}
    )
    uncertainty: dict[str, Any] | None = field(
        default_factory=lambda: {
            "seed": 42,
            "demand": {"growth": {"median": 1.0, "sigma": 0.2}, "workload_sigma": 0.15},
            "energy_price": {"sigma": 0.2},
            "power_cap": {"probability": 0.1, "derate": 0.3},
            "supply": {"probability": 0.1, "cut": 0.5},
        }
    )


FIRST_YEAR = 2026
TABLE_STEMS = (
    "racks",
    "sites",
    "workloads",
    "throughput",
    "installed",
    "site_periods",
    "workload_periods",
)


@dataclass(frozen=True)
class SyntheticTables:
    """A synthetic case as file contents: case.yaml as a dict, tables as CSV-ready frames."""

    config: dict[str, Any]
    racks: pd.DataFrame
    sites: pd.DataFrame
    workloads: pd.DataFrame
    throughput: pd.DataFrame
    installed: pd.DataFrame
    site_periods: pd.DataFrame | None = None  # multi-period cases only
    workload_periods: pd.DataFrame | None = None

    def write(self, folder: str | Path) -> Path:
        """Write the case folder (created if needed) and return its path."""
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        (path / "case.yaml").write_text(yaml.safe_dump(self.config, sort_keys=False), "utf-8")
        for stem in TABLE_STEMS:
            table = getattr(self, stem)
            if table is not None:
                table.to_csv(path / f"{stem}.csv", index=False, na_rep="")
        return path


def synthetic_case(*size: int, seed: int = 0, params: SyntheticParams | None = None) -> Case:
    """A validated random case of `size` (sites, rack types, workloads), deterministic in
    `seed`."""
    tables = synthetic_tables(*size, seed=seed, params=params)
    with tempfile.TemporaryDirectory(prefix="fleetopt-synthetic-") as tmp:
        return read_case(tables.write(Path(tmp) / tables.config["name"]))


def synthetic_tables(
    *size: int, seed: int = 0, params: SyntheticParams | None = None
) -> SyntheticTables:
    """The case files of a random case of `size` (sites, rack types, workloads), before
    validation (see the module docstring)."""
    n_sites, n_racks, n_workloads = size
    if min(n_sites, n_racks, n_workloads) < 1:
        raise ValueError("a synthetic case needs at least one site, rack type and workload")
    p = params or SyntheticParams()
    rng = np.random.default_rng(seed)
    n_regions = p.n_regions or int(np.clip(round(n_sites**0.5), 2, 8))
    n_regions = min(n_regions, n_sites, len(REGION_NAMES))
    n_models = p.n_models or int(np.clip(round(n_workloads / 6), 2, len(MODEL_NAMES)))
    n_models = min(n_models, len(MODEL_NAMES))

    racks = _racks(rng, n_racks, p)
    supply_limited = rng.random(n_racks) < p.supply_limited_share
    sites = _sites(rng, n_sites, n_regions, p)
    models = list(MODEL_NAMES[:n_models])
    throughput = _throughput(rng, racks, models)
    unlimited = set(racks["rack_type"][~supply_limited])
    workloads, racks_needed = _workloads(rng, n_workloads, models, sites, throughput, unlimited, p)
    _size_power_caps(rng, sites, workloads, racks_needed, racks, p)
    installed = _installed(rng, sites, racks, p)
    _size_floor(rng, sites, racks, installed, p)
    _size_supply(rng, racks, installed, supply_limited, racks_needed.sum())
    if p.objective == "min_cost_per_token" and not (workloads["min_served_share"] > 0).any():
        workloads.loc[0, "min_served_share"] = 0.5

    config: dict[str, Any] = {
        "name": f"synthetic-{n_sites}x{n_racks}x{n_workloads}-seed{seed}",
        "objective": p.objective,
        "discount_rate": p.discount_rate,
        "unmet_penalty_usd_per_mtok": p.unmet_penalty_usd_per_mtok,
        "max_utilization": p.max_utilization,
        "solver": dict(p.solver),
    }
    if p.uncertainty is not None:
        config["uncertainty"] = p.uncertainty
    site_periods = None
    if p.periods > 1:
        years = FIRST_YEAR + np.arange(p.periods)
        config["periods"] = years.tolist()
        config["name"] += f"-{p.periods}periods"
        site_periods = _roadmap(rng, years, racks, sites, workloads, installed, supply_limited)
    sites["liquid_cooling"] = np.where(sites["liquid_cooling"], "true", "false")
    return SyntheticTables(
        config=config,
        racks=racks,
        sites=sites.drop(columns="_weight"),
        workloads=workloads,
        throughput=throughput,
        installed=installed,
        site_periods=site_periods,
    )


def _lognormal(rng: np.random.Generator, sigma: float, size: int | None = None) -> Any:
    """Median-1 lognormal factors."""
    return np.exp(sigma * rng.standard_normal(size))


def _racks(rng: np.random.Generator, n: int, p: SyntheticParams) -> pd.DataFrame:
    """Rack types cycling through the archetypes (so air and liquid both appear from n=2)."""
    arch = [ARCHETYPES[i % len(ARCHETYPES)] for i in range(n)]
    capex = np.array([a.capex_usd for a in arch]) * _lognormal(rng, 0.15, n)
    power = np.array([a.power_kw for a in arch]) * _lognormal(rng, 0.12, n)
    max_count = np.full(n, np.nan)  # sized later, once demand is known
    return pd.DataFrame(
        {
            "rack_type": [f"{a.family}-{i:02d}" for i, a in enumerate(arch)],
            "kind": [a.kind for a in arch],
            "capex_usd": np.round(capex, -3),
            "lifetime_years": rng.choice([4.0, 5.0, 6.0], n, p=[0.2, 0.6, 0.2]),
            "power_kw": np.round(power, 1),
            "idle_power_frac": np.round(rng.uniform(0.2, 0.4, n), 3),
            "opex_usd_per_year": np.round(capex * rng.uniform(0.02, 0.04, n), -2),
            "slots": [a.slots for a in arch],
            "cooling": [a.cooling for a in arch],
            "max_count": max_count,
        }
    )


def _sites(rng: np.random.Generator, n: int, n_regions: int, p: SyntheticParams) -> pd.DataFrame:
    """Sites over regions; each region's first site is liquid-cooled."""
    region_of = np.concatenate([np.arange(n_regions), rng.integers(0, n_regions, n - n_regions)])
    region_of = np.sort(region_of, kind="stable")
    first_in_region = np.r_[True, region_of[1:] != region_of[:-1]]
    liquid = first_in_region | (rng.random(n) < p.liquid_site_share)
    region_price = rng.uniform(40.0, 130.0, n_regions)
    energy = region_price[region_of] * rng.uniform(0.75, 1.25, n)
    pue = np.where(liquid, rng.uniform(1.08, 1.25, n), rng.uniform(1.2, 1.5, n))
    regions = np.asarray(REGION_NAMES[:n_regions], dtype=object)
    number_in_region = pd.Series(region_of).groupby(region_of).cumcount().to_numpy()
    return pd.DataFrame(
        {
            "site": [
                f"{regions[g]}-{k + 1:02d}"
                for g, k in zip(region_of, number_in_region, strict=True)
            ],
            "region": regions[region_of],
            "power_cap_mw": np.nan,  # sized from demand
            "pue": np.round(pue, 3),
            "energy_usd_per_mwh": np.round(energy, 2),
            "max_slots": np.nan,  # sized from the power cap
            "liquid_cooling": liquid,
            "_weight": rng.gamma(2.0, 1.0, n),  # the site's share of its region's power
        }
    )


def _throughput(rng: np.random.Generator, racks: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """Decode curves (3-4 points) and prefill points (1-2) per (rack type, model)."""
    arch = {a.family: a for a in ARCHETYPES}
    family = racks["rack_type"].str.rsplit("-", n=1).str[0].map(arch)
    n_r, n_m = len(racks), len(models)
    # Smaller models run faster: a per-model speed factor (tokens and per-user speed).
    model_speed = np.exp(rng.uniform(np.log(0.4), np.log(5.0), n_m))
    coverage = np.array([a.model_coverage for a in family])
    runs = rng.random((n_r, n_m)) < coverage[:, None]
    cooling = racks["cooling"].to_numpy()
    for m in range(n_m):  # every model runs on at least one air and one liquid rack type
        for kind in ("air", "liquid"):
            kind_racks = np.flatnonzero(cooling == kind)
            if len(kind_racks) and not runs[kind_racks, m].any():
                runs[rng.choice(kind_racks), m] = True

    rows: list[dict[str, Any]] = []
    capex_musd = racks["capex_usd"].to_numpy() / 1e6
    rack_quality = _lognormal(rng, 0.2, n_r)
    for r, m in zip(*np.nonzero(runs), strict=True):
        a = family.iloc[r]
        rack_type, model = racks["rack_type"].iloc[r], models[m]
        base = a.tokens_per_musd * capex_musd[r] * rack_quality[r] * model_speed[m]
        base *= _lognormal(rng, 0.15)
        u0 = a.user_tps * model_speed[m] ** 0.5 * _lognormal(rng, 0.15)
        step = rng.uniform(1.8, 2.5)
        alpha = a.batch_alpha * rng.uniform(0.8, 1.2)
        for k in range(int(rng.integers(3, 5))):
            rows.append(
                {
                    "rack_type": rack_type,
                    "model": model,
                    "phase": "decode",
                    "tokens_per_s": round(base * step ** (-alpha * k), 1),
                    "user_tps": round(u0 * step**k, 2),
                    "ttft_ms": None,
                    "source": "synthetic",
                }
            )
        prefill = base * rng.uniform(4.0, 8.0)
        ttft = rng.uniform(150.0, 400.0) / model_speed[m] ** 0.3
        for k in range(int(rng.integers(1, 3))):
            rows.append(
                {
                    "rack_type": rack_type,
                    "model": model,
                    "phase": "prefill",
                    "tokens_per_s": round(prefill * 1.5**k, 1),
                    "user_tps": None,
                    "ttft_ms": round(ttft * 2.5**k, 1),
                    "source": "synthetic",
                }
            )
    return pd.DataFrame(rows)


def _workloads(
    rng: np.random.Generator,
    n: int,
    models: list[str],
    sites: pd.DataFrame,
    throughput: pd.DataFrame,
    unlimited: set[str],
    p: SyntheticParams,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Workloads with SLOs some rack type meets, and their size in rack-equivalents.

    Only a workload that some rack type without a supply limit can serve (both phases)
    gets a minimum served share, so that every synthetic case is feasible.
    """
    model = rng.choice(models, n)
    decode = throughput[throughput["phase"] == "decode"]
    prefill = throughput[throughput["phase"] == "prefill"]
    # SLOs: a quantile of the model's operating points, so at least one rack type qualifies.
    min_user_tps = np.zeros(n)
    max_ttft = np.full(n, np.inf)
    dec_ref = np.zeros(n)
    pre_ref = np.zeros(n)
    serves_decode: list[set[str]] = []
    serves_prefill: list[set[str]] = []
    has_user_slo = rng.random(n) < 0.7
    has_ttft_slo = rng.random(n) < 0.5
    for w in range(n):
        d = decode[decode["model"] == model[w]]
        pf = prefill[prefill["model"] == model[w]]
        if has_user_slo[w]:
            min_user_tps[w] = np.round(np.quantile(d["user_tps"], rng.uniform(0.0, 0.8)), 1)
            min_user_tps[w] = min(min_user_tps[w], d["user_tps"].max())
        if has_ttft_slo[w]:
            max_ttft[w] = np.ceil(np.quantile(pf["ttft_ms"], rng.uniform(0.3, 1.0)))
        ok_d = d[d["user_tps"] >= min_user_tps[w]].groupby("rack_type")["tokens_per_s"].max()
        ok_p = pf[pf["ttft_ms"] <= max_ttft[w]].groupby("rack_type")["tokens_per_s"].max()
        dec_ref[w] = ok_d.median()
        pre_ref[w] = ok_p.median() if len(ok_p) else np.nan
        serves_decode.append(set(ok_d.index))
        serves_prefill.append(set(ok_p.index))

    # Size: rack-equivalents per workload, heavy-tailed, summing to racks_per_site x sites.
    weight = rng.lognormal(0.0, 0.8, n)
    racks_needed = weight / weight.sum() * p.racks_per_site * len(sites)
    ratio = np.where(rng.random(n) < 0.1, 0.0, rng.lognormal(np.log(3.0), 0.6, n))
    ratio = np.where(np.isnan(pre_ref), 0.0, ratio)  # no prefill point meets the SLO: none
    decode_tps = racks_needed / (1.0 / dec_ref + np.nan_to_num(ratio / pre_ref))
    prefill_tps = decode_tps * ratio

    region_names = sites["region"].unique()
    anywhere = rng.random(n) < p.anywhere_share
    n_listed = rng.integers(1, min(2, len(region_names)) + 1, n)
    regions = [
        "*" if anywhere[w] else ";".join(sorted(rng.choice(region_names, n_listed[w], False)))
        for w in range(n)
    ]
    low_value = rng.random(n) < p.low_value_share
    penalty = np.where(low_value, np.round(rng.uniform(0.2, 3.0, n), 3), np.nan)
    unlimited_serves = np.array(
        [
            bool(serves_decode[w] & unlimited)
            and (ratio[w] == 0 or bool(serves_prefill[w] & unlimited))
            for w in range(n)
        ]
    )
    mandatory = ~low_value & unlimited_serves & (rng.random(n) < p.min_served_share)
    min_served = np.where(mandatory, np.round(rng.uniform(0.2, 0.5, n), 2), 0.0)
    frame = pd.DataFrame(
        {
            "workload": [f"wl-{w:03d}-{model[w]}" for w in range(n)],
            "model": model,
            "regions": regions,
            "prefill_tokens_per_s": np.round(prefill_tps, 1),
            "decode_tokens_per_s": np.round(decode_tps, 1),
            "min_user_tps": min_user_tps,
            "max_ttft_ms": np.where(np.isinf(max_ttft), np.nan, max_ttft),
            "load_factor": np.round(rng.uniform(0.35, 0.9, n), 3),
            "unmet_penalty_usd_per_mtok": penalty,
            "min_served_share": min_served,
        }
    )
    return frame, racks_needed


def _size_power_caps(
    rng: np.random.Generator,
    sites: pd.DataFrame,
    workloads: pd.DataFrame,
    racks_needed: np.ndarray,
    racks: pd.DataFrame,
    p: SyntheticParams,
) -> None:
    """Power caps: each region gets headroom x its estimated need, split unevenly over sites.

    A region's need is its restricted workloads' racks (split over their regions) plus its
    share (by site count) of the unrestricted ones, at the median rack power and PUE 1.25.
    """
    region_names = list(sites["region"].unique())
    site_share = sites["region"].value_counts().reindex(region_names).to_numpy() / len(sites)
    need = np.zeros(len(region_names))
    for listed, size in zip(workloads["regions"], racks_needed, strict=True):
        if listed == "*":
            need += size * site_share
        else:
            names = listed.split(";")
            need[[region_names.index(g) for g in names]] += size / len(names)
    rack_mw = float(np.median(racks["power_kw"])) * 1.25 / 1000.0
    region_cap = need * rack_mw * rng.uniform(*p.power_headroom, len(region_names))
    g = sites["region"].map({name: i for i, name in enumerate(region_names)}).to_numpy()
    weight = sites["_weight"].to_numpy()
    share = weight / np.bincount(g, weights=weight)[g]
    sites["power_cap_mw"] = np.round(np.maximum(region_cap[g] * share, 0.5), 2)


def _installed(
    rng: np.random.Generator, sites: pd.DataFrame, racks: pd.DataFrame, p: SyntheticParams
) -> pd.DataFrame:
    """Racks already owned, on fitting (site, rack type) pairs only."""
    pairs = sites[["site", "liquid_cooling"]].merge(racks[["rack_type", "cooling"]], how="cross")
    pairs = pairs[(pairs["cooling"] == "air") | pairs["liquid_cooling"]]
    chosen = pairs[rng.random(len(pairs)) < p.installed_share]
    return pd.DataFrame(
        {
            "site": chosen["site"].to_numpy(),
            "rack_type": chosen["rack_type"].to_numpy(),
            "count": rng.integers(4, 31, len(chosen)),
        }
    )


def _size_floor(
    rng: np.random.Generator,
    sites: pd.DataFrame,
    racks: pd.DataFrame,
    installed: pd.DataFrame,
    p: SyntheticParams,
) -> None:
    """Floor limits on some sites, near what the power cap could feed, leaving room for the
    installed racks (n >= installed must stay feasible)."""
    slots_of = racks.set_index("rack_type")["slots"]
    installed_slots = (
        (installed["count"] * installed["rack_type"].map(slots_of))
        .groupby(installed["site"])
        .sum()
        .reindex(sites["site"], fill_value=0.0)
        .to_numpy()
    )
    rack_kw = float(np.median(racks["power_kw"]))
    by_power = sites["power_cap_mw"].to_numpy() * 1000.0 / (sites["pue"].to_numpy() * rack_kw)
    floor = np.ceil(np.maximum(by_power * rng.uniform(0.6, 1.3, len(sites)), installed_slots + 5))
    limited = rng.random(len(sites)) < p.floor_limited_share
    sites["max_slots"] = np.where(limited, floor, np.nan)


def _size_supply(
    rng: np.random.Generator,
    racks: pd.DataFrame,
    installed: pd.DataFrame,
    limited: np.ndarray,
    total_racks: float,
) -> None:
    """Supply limits on the `limited` rack types: 40-90% of an even share of the demand
    (so the popular ones bind), and never below what is installed plus 10."""
    owned = (
        installed.groupby("rack_type")["count"]
        .sum()
        .reindex(racks["rack_type"], fill_value=0)
        .to_numpy()
    )
    even_share = total_racks / len(racks)
    cap = np.ceil(np.maximum(even_share * rng.uniform(0.4, 0.9, len(racks)), owned + 10))
    racks["max_count"] = np.where(limited, cap, np.nan)


def _roadmap(
    rng: np.random.Generator,
    years: np.ndarray,
    racks: pd.DataFrame,
    sites: pd.DataFrame,
    workloads: pd.DataFrame,
    installed: pd.DataFrame,
    limited: np.ndarray,
) -> pd.DataFrame:
    """The multi-period inputs (see the module docstring); returns site_periods: each
    site's cap grows by a factor of 1.15-1.4 a year, arriving in steps every two years."""
    n_racks, n_years = len(racks), len(years)
    later = limited & (rng.random(n_racks) < 0.5)
    racks["available_from"] = np.where(later, years[0] + rng.integers(1, 3, n_racks), np.nan)
    racks["lead_time_years"] = np.where(later, rng.choice([0.5, 1.0], n_racks), 0.0)
    retired = limited & ~later & (rng.random(n_racks) < 0.4)
    racks["available_until"] = np.where(retired, years[0] + rng.integers(1, 3, n_racks), np.nan)
    racks["capex_change_per_year"] = np.round(-rng.uniform(0.0, 0.15, n_racks), 3)
    share = rng.uniform(0.3, 0.6, n_racks)
    racks["max_new_per_period"] = np.where(limited, np.ceil(racks["max_count"] * share), np.nan)
    retire = years[0] + rng.integers(0, n_years + 1, len(installed))
    installed["retire_year"] = np.where(retire <= years[-1], retire, np.nan)
    workloads["growth_per_year"] = np.round(rng.uniform(0.05, 0.35, len(workloads)), 3)
    factor = rng.uniform(1.15, 1.4, len(sites))
    steps = [k for k in range(2, n_years, 2)]
    return pd.DataFrame(
        {
            "site": np.repeat(sites["site"].to_numpy(), len(steps)),
            "period": np.tile(years[steps], len(sites)),
            "power_cap_mw": np.round(
                np.outer(sites["power_cap_mw"].to_numpy() * 1.0, np.ones(len(steps)))
                * factor[:, None] ** np.asarray(steps)[None, :],
                2,
            ).ravel(),
        }
    )
