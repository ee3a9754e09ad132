"""The bundled example case, rebuilt from the catalog so that every number in it is traceable.

`python -m fleetopt.catalog.example` rewrites fleetopt/data/example/ from the catalog and the
tables below; a test checks that the committed folder equals what this writes.

The story: an inference fleet planned year by year from 2026 to 2030 (docs/model.md
section 8) for a provider with
- a gigawatt-class liquid-cooled campus (us-east) whose power arrives in steps,
- an older air-cooled colocation hall (us-west) holding an installed base of Hopper racks,
- an air-cooled sovereign site (eu) that must serve EU-only chat, also with Hopper racks,
- a cheap-power liquid-cooled remote site (nordics) with a modest power cap,
and workloads that mirror the seeds: interactive chat at tens of tokens/s per user,
agentic coding at 1,000 tokens/s per user, latency-tolerant batch agents that may run
anywhere, and small-model extraction that even a CPU rack can hold. Demands start where
the plan buys tens to low hundreds of racks and grow every year; the Hopper base retires;
the systems announced for the second half of 2026 (Vera Rubin, Groq 3 LPX, Vera CPU,
AMD Helios) serve from 2027, ordered half a year ahead; the current ones get cheaper and
are sold for a few more years. Every roadmap number below names its source, or says
"estimate" where no source exists.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from fleetopt.catalog.perf import CATALOG_DIR, load_catalog, write_throughput
from fleetopt.catalog.prices import load_prices, market_price_usd_per_mtok
from fleetopt.catalog.uncertainty import load_throughput_sigmas

EXAMPLE_DIR = Path(str(resources.files("fleetopt") / "data" / "example"))

PERIODS = (2026, 2027, 2028, 2029, 2030)

# The systems announced for the second half of 2026 serve from 2027, the first full year.
H2_2026_NVIDIA = (
    "seeds: Vera Rubin and the Groq 3 LPX line ship in the second half of 2026 (NVIDIA, GTC"
    " 2026); public: Vera Rubin in full production, systems at cloud partners in H2 2026"
    " (https://www.siliconwire.xyz/article/nvidia-gtc-2026-vera-rubin-feynman, 2026-03)"
)
HELIOS = (
    "public: AMD says Helios racks and MI400 GPUs are on track for 2H 2026; SemiAnalysis"
    " expects the volume ramp by Q2 2027 (https://www.nextplatform.com/compute/2026/02/23/"
    "amd-says-helios-racks-and-mi400-series-gpus-on-track-for-2h-2026/4092199, 2026-02-23)"
)
LEAD = "estimate: ordered about half a year before it enters service"
PRICE_HELD = (
    "estimate: launch prices held while supply is short (the H100's list price held at"
    " ~$25-40k per card since launch: https://neighborhoodsf.com/Wikis/Neighborhood+Notes/"
    "Published/H100+rental+prices+(%24+per+GPU-hour), 2026-03)"
)
SUPERSEDED = "estimate: a superseded generation, discounted and then no longer sold"
SUPPLY = "estimate: deliveries per year to this fleet (new products ship in limited volumes)"

# When each rack type can be bought new, its lead time and price path, and how many a
# year this fleet can get: (rack_type, available_from, available_until, lead_time_years,
# capex_change_per_year, max_new_per_period, source). None: the default (from the first
# period, no end, unlimited).
ROADMAP = pd.DataFrame(
    [
        (
            "vr-nvl72",
            2027,
            None,
            0.5,
            0.0,
            300,
            f"{H2_2026_NVIDIA}; {LEAD}; {PRICE_HELD}; {SUPPLY}",
        ),
        ("gb300-nvl72", None, 2028, 0.0, -0.10, None, f"{SUPERSEDED} by Rubin (2026-2028)"),
        ("gb200-nvl72", None, 2026, 0.0, -0.15, None, f"{SUPERSEDED} by GB300 (2025)"),
        ("hgx-h100", None, 2025, 0.0, 0.0, None, f"{SUPERSEDED}: only the installed base"),
        ("hgx-h200", None, 2027, 0.0, -0.10, None, SUPERSEDED),
        ("groq3-lpx", 2027, None, 0.5, 0.0, 150, f"{H2_2026_NVIDIA}; {LEAD}; {SUPPLY}"),
        ("vera-cpu-rack", 2027, None, 0.5, 0.0, None, f"{H2_2026_NVIDIA}; {LEAD}"),
        ("cerebras-cs3", None, None, 0.0, -0.05, None, "estimate: in production, slow decline"),
        ("mi355x-rack", None, 2027, 0.0, -0.10, None, f"{SUPERSEDED} by MI400 (2027)"),
        ("mi400-helios", 2027, None, 0.5, 0.0, 100, f"{HELIOS}; {LEAD}; {SUPPLY}"),
    ],
    columns=[
        "rack_type",
        "available_from",
        "available_until",
        "lead_time_years",
        "capex_change_per_year",
        "max_new_per_period",
        "source",
    ],
)

# Estimates: inference demand grows fast (the seeds: NVIDIA's "inference inflection point",
# purchase orders forecast to double within a year); agentic work fastest.
GROWTH_PER_YEAR: dict[str, float] = {
    "chat-us": 0.3,
    "chat-eu-sovereign": 0.2,
    "agentic-coding": 0.6,
    "batch-agents": 0.4,
    "extract-small": 0.15,
}

# Estimate: agentic coding at 1,000 tokens/s per user needs the Groq 3 LPX racks (no 2026
# system meets its SLO), so the product launches with them in 2027 and grows from there.
WORKLOAD_PERIODS = pd.DataFrame(
    [("agentic-coding", 2026, 0.0)], columns=["workload", "period", "demand_multiplier"]
)

# Estimate: the campus is energized in phases (sites.csv holds its final 1,000 MW).
SITE_PERIODS = pd.DataFrame(
    [
        ("us-east-campus", 2026, 100.0, None),
        ("us-east-campus", 2027, 300.0, None),
        ("us-east-campus", 2028, 600.0, None),
    ],
    columns=["site", "period", "power_cap_mw", "energy_usd_per_mwh"],
)

SITES = pd.DataFrame(
    [
        # site, region, power_cap_mw, pue, energy_usd_per_mwh, max_slots, liquid_cooling
        ("us-east-campus", "us-east", 1000.0, 1.15, 55.0, None, True),
        ("us-west-colo", "us-west", 40.0, 1.35, 85.0, 900, False),
        ("eu-sovereign", "eu", 25.0, 1.3, 120.0, 600, False),
        ("nordic-remote", "nordics", 20.0, 1.08, 28.0, 400, True),
    ],
    columns=[
        "site",
        "region",
        "power_cap_mw",
        "pue",
        "energy_usd_per_mwh",
        "max_slots",
        "liquid_cooling",
    ],
).astype({"max_slots": "Int64"})

WORKLOADS = pd.DataFrame(
    [
        # interactive chat on a frontier MoE, near users, diurnal load
        ("chat-us", "deepseek-r1", "us-east;us-west", 120e6, 30e6, 30.0, 1000.0, 0.6, None, 0.0),
        # sovereign chat: EU sites only, on the air-cooled hall
        ("chat-eu-sovereign", "llama-3.3-70b", "eu", 6e6, 3e6, 20.0, 2000.0, 0.5, None, 0.9),
        # agentic coding: 1,000 tokens/s per user
        (
            "agentic-coding",
            "gpt-oss-120b",
            "us-east;nordics",
            400e6,
            40e6,
            1000.0,
            500.0,
            0.7,
            None,
            0.0,
        ),
        # latency-tolerant batch agents: anywhere, cheap power wins
        ("batch-agents", "deepseek-r1", "*", 100e6, 25e6, 20.0, None, 0.9, None, 0.0),
        # small-model extraction that fits a CPU rack
        ("extract-small", "llama-3.1-8b", "*", 200e6, 10e6, 10.0, None, 0.8, None, 0.0),
    ],
    columns=[
        "workload",
        "model",
        "regions",
        "prefill_tokens_per_s",
        "decode_tokens_per_s",
        "min_user_tps",
        "max_ttft_ms",
        "load_factor",
        "unmet_penalty_usd_per_mtok",
        "min_served_share",
    ],
)

# Unmet-demand penalty: a blank unmet_penalty_usd_per_mtok above is filled with the market
# price of the workload's tokens (fleetopt.catalog.prices: the median over prices.csv's
# providers of the model, input and output prices blended by the workload's input share),
# times this factor. Batch agents tolerate latency, so their tokens are priced as batch
# tokens: Groq's Batch API takes 50% off its on-demand prices (24 h-7 d turnaround;
# https://console.groq.com/docs/batch, as quoted 2026-06-04 by tokenmix.ai's Groq API guide).
PENALTY_PRICE_FACTOR: dict[str, float] = {"batch-agents": 0.5}

# Estimate: Hopper racks bought in 2022-23 on a 5-year life retire in 2027 and 2028.
INSTALLED = pd.DataFrame(
    [("us-west-colo", "hgx-h100", 200, 2027), ("eu-sovereign", "hgx-h100", 120, 2028)],
    columns=["site", "rack_type", "count", "retire_year"],
)

CASE_YAML = """\
# fleetopt example case, generated by `python -m fleetopt.catalog.example` from the catalog
# (fleetopt/data/catalog); edit fleetopt/catalog/example.py, not this file.
name: example-inference-fleet-2026-2030
objective: min_cost
periods: [2026, 2027, 2028, 2029, 2030]
discount_rate: 0.07
unmet_penalty_usd_per_mtok: 20.0  # for a workload without its own; each has its market price
max_utilization: 0.85
solver: {name: highs, time_limit_s: 60, relative_gap: 1.0e-6, threads: 0, seed: 0}
uncertainty:
  seed: 42
  demand:
    growth: {median: 1.0, sigma: 0.25}
    workload_sigma: 0.15
  energy_price: {sigma: 0.2}
  power_cap: {probability: 0.1, derate: 0.3}
  supply: {probability: 0.1, cut: 0.5}
"""

RACK_CASE_COLUMNS: tuple[str, ...] = (
    "rack_type",
    "kind",
    "capex_usd",
    "lifetime_years",
    "power_kw",
    "idle_power_frac",
    "opex_usd_per_year",
    "slots",
    "cooling",
    "max_count",
)
ROADMAP_COLUMNS: tuple[str, ...] = (
    "available_from",
    "available_until",
    "lead_time_years",
    "capex_change_per_year",
    "max_new_per_period",
)


def build_example(catalog_dir: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """The example's tables: racks (catalog and roadmap, no source), sites, workloads (with
    growth), throughput, installed (with retirements), site_periods and workload_periods.

    racks carry the catalog's throughput_sigma (from the calibration's errors); workloads
    without a penalty get the market price of their tokens (PENALTY_PRICE_FACTOR);
    throughput holds the catalog rows of the models the workloads use.
    """
    folder = catalog_dir or CATALOG_DIR
    cat = load_catalog(folder)
    racks = cat.racks[list(RACK_CASE_COLUMNS)].copy()
    sigma = load_throughput_sigmas(folder).set_index("rack_type")["throughput_sigma"]
    racks["throughput_sigma"] = racks["rack_type"].map(sigma)
    roadmap = ROADMAP.set_index("rack_type").reindex(racks["rack_type"])
    for column in ROADMAP_COLUMNS:
        racks[column] = roadmap[column].to_numpy()
    racks = racks.astype(
        {c: "Int64" for c in ("available_from", "available_until", "max_new_per_period")}
    )
    workloads = WORKLOADS.assign(growth_per_year=WORKLOADS["workload"].map(GROWTH_PER_YEAR))
    demand = workloads["prefill_tokens_per_s"] + workloads["decode_tokens_per_s"]
    market = market_price_usd_per_mtok(
        load_prices(folder), workloads["model"], workloads["prefill_tokens_per_s"] / demand
    )
    factor = workloads["workload"].map(PENALTY_PRICE_FACTOR).fillna(1.0)
    penalty = workloads["unmet_penalty_usd_per_mtok"].astype(float)
    workloads["unmet_penalty_usd_per_mtok"] = penalty.fillna(pd.Series(market * factor).round(4))
    used = WORKLOADS["model"].unique()
    throughput = cat.throughput[cat.throughput["model"].isin(used)].reset_index(drop=True)
    return {
        "racks": racks,
        "sites": SITES.copy(),
        "workloads": workloads,
        "throughput": throughput,
        "installed": INSTALLED.copy(),
        "site_periods": SITE_PERIODS.copy(),
        "workload_periods": WORKLOAD_PERIODS.copy(),
    }


def write_example(out_dir: str | Path, catalog_dir: str | Path | None = None) -> Path:
    """Write the example case folder (case.yaml and the CSV tables) into `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = build_example(catalog_dir)
    (out / "case.yaml").write_text(CASE_YAML)
    for name, frame in tables.items():
        if name == "throughput":
            write_throughput(frame, out / "throughput.csv")
        else:
            frame.to_csv(out / f"{name}.csv", index=False, float_format="%.10g")
    return out


if __name__ == "__main__":
    write_example(EXAMPLE_DIR)
