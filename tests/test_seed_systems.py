"""Every seed system earns its place: for each catalog rack type, a small case where by the
calibrated catalog numbers it is the cheapest choice, and the MILP picks it; the Vera CPU
rack, which no catalog workload can want, is shown dominated (docs/catalog.md, "Where each
rack type wins").

Each case is built from the catalog's own rows (racks.csv without `source`, throughput.csv)
with fleetopt.testing.casekit: one site, one workload, one phase, every catalog rack type
offered. Demand is 40 racks' worth of the expected winner's throughput at the workload's
SLO, so the winner alone fits it exactly and the optimum is 40 winners whenever the winner
is the cheapest per token. "Next generation" (Vera Rubin NVL72, MI400 Helios, Groq 3 LPX)
cannot be had (max_count 0) in the cases that plan with what ships today.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from fleetopt.catalog.perf import load_catalog
from fleetopt.io.case import read_case
from fleetopt.pipelines.plan import plan_case
from fleetopt.testing.casekit import write_case

CATALOG = load_catalog()
RACKS = CATALOG.racks.drop(columns="source").set_index("rack_type", drop=False)
THROUGHPUT = CATALOG.throughput
NEXT_GENERATION = ("vr-nvl72", "mi400-helios", "groq3-lpx")
ENERGY_USD_PER_MWH, PUE = 50.0, 1.2
WINNER_RACKS = 40
MWH_PER_KW_YEAR = 8.76


@dataclass(frozen=True)
class SeedCase:
    winner: str
    model: str
    phase: str  # the workload's only phase
    min_user_tps: float  # decode SLO (0 for a prefill workload)
    liquid_cooling: bool  # whether the site can host liquid-cooled racks
    unavailable: tuple[str, ...]  # rack types with max_count 0
    why: str
    runner_up: str | None  # the next cheapest per token on offer (None: nothing else serves)
    margin: float  # runner-up's cost per token over the winner's, at least


CASES = [
    SeedCase(
        "vr-nvl72", "deepseek-r1", "decode", 50, True, (),
        "a frontier MoE at interactive speed: NVFP4 compute, HBM4 bandwidth and a 72-GPU "
        "NVLink domain give the most tokens per dollar (1.76x the next, MI400)",
        "mi400-helios", 1.75,
    ),
    SeedCase(
        "mi400-helios", "llama-3.3-70b", "decode", 30, True, (),
        "dense decode is bandwidth-bound: 19.6 TB/s of HBM4 per GPU priced below Vera "
        "Rubin gives the most bandwidth per dollar (1.34x VR per token)",
        "vr-nvl72", 1.3,
    ),
    SeedCase(
        "groq3-lpx", "gpt-oss-120b", "decode", 500, True, (),
        "per-user speed: at 500 tokens/s per user a GPU instance holds a handful of users "
        "(its fixed step cost leaves little room in a 2 ms step), SRAM bandwidth holds "
        "hundreds; LPX delivers 5x the tokens per dollar of a CS-3, the next",
        "cerebras-cs3", 5.0,
    ),
    SeedCase(
        "gb300-nvl72", "deepseek-r1", "decode", 75, True, NEXT_GENERATION,
        "availability and memory: with what ships today, GB300's 288 GB per GPU holds the "
        "largest DeepSeek-R1 batches at 75 tokens/s per user (measured curve; 2.7x the next)",
        "mi355x-rack", 2.7,
    ),
    SeedCase(
        "gb200-nvl72", "deepseek-r1", "decode", 30, True, NEXT_GENERATION,
        "price, on measured curves: with what ships today, GB200's best measured DeepSeek-R1 "
        "deployment at 30 tokens/s per user (FP4) serves 1.2x GB300's best (FP8) for 0.88x "
        "the yearly cost (1.37x per token)",
        "gb300-nvl72", 1.35,
    ),
    SeedCase(
        "hgx-h100", "llama-3.1-8b", "prefill", 0, False, (),
        "cooling and price: in an air-cooled hall, prompt processing is compute-bound and "
        "H100 has H200's FP8 FLOP/s for less (1.18x per token)",
        "hgx-h200", 1.18,
    ),
    SeedCase(
        "hgx-h200", "deepseek-r1", "decode", 30, False, (),
        "cooling and memory: in an air-cooled hall, DeepSeek-R1 in FP8 needs 16 GPUs; "
        "H200's 141 GB per GPU leaves room for KV that H100's 80 GB does not",
        "hgx-h100", 12.0,
    ),
    SeedCase(
        "cerebras-cs3", "llama-3.1-8b", "decode", 1000, False, (),
        "cooling and per-user speed: 1,000 tokens/s per user on an 8B model, in a hall "
        "without liquid cooling: no HGX rack gets there and LPX needs liquid",
        None, math.inf,
    ),
    SeedCase(
        "mi355x-rack", "llama-3.1-8b", "decode", 50, True, NEXT_GENERATION,
        "price of bandwidth: with what ships today, 128 GPUs x 8 TB/s for $4.5M is the "
        "cheapest HBM bandwidth, and an 8B model needs no scale-up (1.32x the next)",
        "gb200-nvl72", 1.3,
    ),
]  # fmt: skip


def operating_points(model: str, phase: str, min_user_tps: float) -> pd.Series:
    """tp per rack type: the best catalog point meeting the SLO (as the model's index takes it)."""
    rows = THROUGHPUT[(THROUGHPUT["model"] == model) & (THROUGHPUT["phase"] == phase)]
    if phase == "decode":
        rows = rows[rows["user_tps"] >= min_user_tps]
    return rows.groupby("rack_type")["tokens_per_s"].max()


def usd_per_year(rack_types: pd.Index) -> pd.Series:
    """A fully busy rack's yearly cost: straight-line capex, opex, energy at full power."""
    r = RACKS.loc[rack_types]
    energy = r["power_kw"] * PUE * MWH_PER_KW_YEAR * ENERGY_USD_PER_MWH
    return r["capex_usd"] / r["lifetime_years"] + r["opex_usd_per_year"] + energy


def offered(case: SeedCase) -> pd.Index:
    """The rack types the case's site can host and can get."""
    r = RACKS[~RACKS["rack_type"].isin(case.unavailable)]
    if not case.liquid_cooling:
        r = r[r["cooling"] == "air"]
    return pd.Index(r["rack_type"])


def cost_per_token(case: SeedCase) -> pd.Series:
    """Yearly USD per (token/s) of every offered rack type that serves the case's SLO."""
    tp = operating_points(case.model, case.phase, case.min_user_tps)
    tp = tp[tp.index.isin(offered(case))]
    return (usd_per_year(tp.index) / tp).sort_values()


def seed_case_folder(tmp_path: Path, case: SeedCase) -> Path:
    racks = [
        {
            **{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()},
            **({"max_count": 0} if row["rack_type"] in case.unavailable else {}),
        }
        for row in RACKS.to_dict("records")
    ]
    demand = WINNER_RACKS * operating_points(case.model, case.phase, case.min_user_tps)[case.winner]
    workload = {
        "workload": "w",
        "model": case.model,
        "prefill_tokens_per_s": demand if case.phase == "prefill" else 0,
        "decode_tokens_per_s": demand if case.phase == "decode" else 0,
        "min_user_tps": case.min_user_tps,
    }
    site = {
        "site": "s",
        "region": "r",
        "power_cap_mw": 1000,
        "pue": PUE,
        "energy_usd_per_mwh": ENERGY_USD_PER_MWH,
        "liquid_cooling": case.liquid_cooling,
    }
    rows = THROUGHPUT[THROUGHPUT["model"] == case.model]
    throughput = [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        for row in rows.to_dict("records")
    ]
    return write_case(
        tmp_path, racks=racks, sites=[site], workloads=[workload], throughput=throughput
    )


@pytest.mark.parametrize("case", CASES, ids=[c.winner for c in CASES])
def test_each_seed_system_wins_where_the_catalog_says_it_should(tmp_path, case):
    # By the calibrated catalog numbers, the winner is the cheapest per token on offer.
    costs = cost_per_token(case)
    assert costs.index[0] == case.winner, case.why
    assert (costs.index[1] if len(costs) > 1 else None) == case.runner_up
    ratio = costs.iloc[1] / costs.iloc[0] if len(costs) > 1 else math.inf
    assert ratio >= case.margin  # a clear win, not a tie the solver may break either way
    # The MILP agrees: the whole demand on 40 racks of the winner and nothing else.
    outcome = plan_case(read_case(seed_case_folder(tmp_path, case)))
    assert outcome.summary.to_json()["status"] == "optimal"
    racks = outcome.tables.racks.set_index("rack_type")["count"]
    assert racks[racks > 0].to_dict() == {case.winner: WINNER_RACKS}, case.why
    assert outcome.summary.to_json()["penalty_cost_usd_per_year"] == pytest.approx(0.0, abs=1e-3)


def test_the_speed_cases_are_decided_by_speed():
    # LPX on gpt-oss-120b: at 500 tokens/s per user the GPU racks that reach it serve
    # fewer tokens per rack than LPX; at the seeds' agentic 1,000 no GPU rack reaches it.
    fastest = (
        THROUGHPUT[THROUGHPUT["phase"] == "decode"]
        .groupby(["model", "rack_type"])["user_tps"]
        .max()
    )
    gpus = RACKS.index[RACKS["kind"] == "gpu"]
    assert (fastest["gpt-oss-120b"].reindex(gpus) < 1000).all()
    assert fastest["gpt-oss-120b"]["groq3-lpx"] >= 1000
    at_500 = operating_points("gpt-oss-120b", "decode", 500)
    assert (at_500.reindex(gpus).dropna() < at_500["groq3-lpx"]).all()
    # CS-3 at 1,000 on the 8B model: the air-cooled HGX racks stop below it.
    assert fastest["llama-3.1-8b"][["hgx-h100", "hgx-h200"]].max() < 1000
    assert fastest["llama-3.1-8b"]["cerebras-cs3"] >= 1000
    assert RACKS.loc["groq3-lpx", "cooling"] == "liquid"
    # H200 over H100 on DeepSeek-R1 at 30 tokens/s: memory, not price (H100 is cheaper).
    tp = operating_points("deepseek-r1", "decode", 30)
    assert tp["hgx-h200"] > 5 * tp["hgx-h100"]
    assert RACKS.loc["hgx-h100", "capex_usd"] < RACKS.loc["hgx-h200", "capex_usd"]


# Rack types that ship today, any of which can stand where a Vera CPU rack stands.
TODAY = ("gb200-nvl72", "gb300-nvl72", "hgx-h100", "hgx-h200", "mi355x-rack")


def dominators(rack_type: str) -> pd.Series:
    """Per operating point of `rack_type`: the other rack types that dominate it.

    B dominates a point when B has a point of the same model and phase at least as fast
    per user (decode) or with at most its TTFT (prefill) that gives at least as many tokens
    per yearly capex + opex dollar, per kW and per floor slot. Then B serves whatever the
    point serves for less at any energy price, in less power and space.
    """
    r = RACKS.assign(
        fixed=RACKS["capex_usd"] / RACKS["lifetime_years"] + RACKS["opex_usd_per_year"]
    )
    own = THROUGHPUT[THROUGHPUT["rack_type"] == rack_type].reset_index(drop=True)
    pairs = own.reset_index(names="point").merge(
        THROUGHPUT[THROUGHPUT["rack_type"] != rack_type], on=["model", "phase"], suffixes=("", "_b")
    )
    faster = (pairs["phase"] == "decode") & (pairs["user_tps_b"] >= pairs["user_tps"])
    quicker = (pairs["phase"] == "prefill") & (pairs["ttft_ms_b"] <= pairs["ttft_ms"])
    better = faster | quicker
    for per in ("fixed", "power_kw", "slots"):
        mine = pairs["tokens_per_s"] / r.loc[rack_type, per]
        theirs = pairs["tokens_per_s_b"] / pairs["rack_type_b"].map(r[per])
        better &= theirs >= mine
    found = pairs[better].groupby("point")["rack_type_b"].agg(set)
    return found.reindex(range(len(own))).apply(lambda s: s if isinstance(s, set) else set())


def test_the_vera_cpu_rack_is_dominated_on_every_workload():
    doms = dominators("vera-cpu-rack")
    assert len(doms) == (THROUGHPUT["rack_type"] == "vera-cpu-rack").sum() > 0
    # Every operating point of the Vera CPU rack, on every model it can hold, is beaten
    # by GB200 NVL72 alone, a rack that ships today and fits wherever Vera fits (liquid).
    assert all("gb200-nvl72" in d for d in doms)
    assert all(set(TODAY) & d for d in doms)
    # The systems that win somewhere are not dominated everywhere.
    for case in CASES:
        assert any(not d & set(offered(case)) for d in dominators(case.winner)), case.winner


def test_the_milp_passes_over_the_vera_cpu_rack(tmp_path):
    # gpt-oss-120b at 100 tokens/s per user (near the CPU rack's 124 top speed), with
    # only the CPU rack and GB200 on offer: GB200 serves it all.
    others = tuple(r for r in RACKS["rack_type"] if r not in ("gb200-nvl72", "vera-cpu-rack"))
    case = SeedCase(
        "gb200-nvl72", "gpt-oss-120b", "decode", 100, True, others, "dominance", "vera-cpu-rack", 1
    )
    assert set(cost_per_token(case).index) == {"gb200-nvl72", "vera-cpu-rack"}
    outcome = plan_case(read_case(seed_case_folder(tmp_path, case)))
    racks = outcome.tables.racks.set_index("rack_type")["count"]
    assert racks[racks > 0].to_dict() == {"gb200-nvl72": WINNER_RACKS}
