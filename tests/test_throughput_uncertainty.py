"""Throughput uncertainty (docs/model.md section 5): a lognormal factor per rack type and
scenario on every tokens_per_s of that rack type.

Draws are checked for determinism, for the stated distribution and for leaving every
earlier draw of a scenario as it was; the served capacity is checked by hand with racks
fixed (evaluate) and with racks bought (sweep). Scenarios are solved by the real
scenario job, without Ray (tests/test_scenarios.py runs the same job on Ray).
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fleetopt.io.case import Uncertainty, read_case
from fleetopt.io.runfolder import RunKind
from fleetopt.model.index import build_index
from fleetopt.pipelines.runs import plan_counts
from fleetopt.scenarios.draws import draw, draw_many, draws_table, multipliers_from_table
from fleetopt.scenarios.job import ScenarioJob, for_workers
from fleetopt.testing.casekit import write_case
from tests.test_model_optima import RACK_A, decode, rack, site, workload
from tests.test_scenarios import UNCERTAIN, two_site_case


def uncertain_racks_case(tmp_path: Path, **kw) -> Path:
    """Three rack types: sigma 0.1 (own), blank (case.yaml's 0.3) and 0 (own)."""
    return write_case(
        tmp_path,
        racks=[
            rack("A", throughput_sigma=0.1),
            rack("B", throughput_sigma=None),
            rack("C", throughput_sigma=0),
        ],
        sites=[site()],
        workloads=[workload()],
        throughput=[decode("A", 1000), decode("B", 1000), decode("C", 1000)],
        config={"uncertainty": {"seed": 11, "throughput": {"sigma": 0.3}, **kw}},
    )


def test_blank_throughput_sigma_is_the_case_default(tmp_path):
    case = read_case(uncertain_racks_case(tmp_path))
    assert case.racks["throughput_sigma"].tolist() == [0.1, 0.3, 0.0]
    assert case.uncertainty.throughput_sigma == 0.3


def test_throughput_factors_follow_the_stated_lognormal(tmp_path):
    index = build_index(read_case(uncertain_racks_case(tmp_path)))
    u = read_case(uncertain_racks_case(tmp_path / "again")).uncertainty
    n = 10_000
    log_factor = np.log(np.array([draw(index, u, k).throughput for k in range(n)]))
    # exp(sigma x Z), Z standard normal: median 1 and log-sigma as stated (4 standard errors).
    sigma = np.array([0.1, 0.3])
    assert log_factor[:, :2].std(axis=0) == pytest.approx(sigma, rel=4 / math.sqrt(2 * n))
    assert np.abs(log_factor[:, :2].mean(axis=0)).max() < 4 * 0.3 / math.sqrt(n)
    # Normal, not merely the right spread: 68.27% within one sigma, 95.45% within two.
    z = log_factor[:, :2] / sigma
    assert (np.abs(z) < 1).mean(axis=0) == pytest.approx([0.6827] * 2, abs=0.02)
    assert (np.abs(z) < 2).mean(axis=0) == pytest.approx([0.9545] * 2, abs=0.01)
    # The rack types draw independently; sigma 0 gives exactly 1.
    assert abs(np.corrcoef(z.T)[0, 1]) < 4 / math.sqrt(n)
    assert (log_factor[:, 2] == 0.0).all()


def test_throughput_draws_are_deterministic_per_seed_and_scenario(tmp_path):
    case = read_case(uncertain_racks_case(tmp_path))
    index = build_index(case)
    first = draw_many(index, case.uncertainty, range(8))
    again = draw_many(index, case.uncertainty, [5, 2])
    rows = first[first["kind"] == "throughput"].set_index(["scenario", "key"])["multiplier"]
    repeat = again[again["kind"] == "throughput"].set_index(["scenario", "key"])["multiplier"]
    assert (rows.loc[repeat.index] == repeat).all()  # bit for bit, in any order
    assert rows.unstack().loc[:, "A"].nunique() == 8  # every scenario its own draw
    other_seed = draw(index, Uncertainty(seed=12), 5)
    assert not np.array_equal(other_seed.throughput, draw(index, case.uncertainty, 5).throughput)


# Every multiplier fleetopt drew for tests.test_scenarios' two-site case before throughput
# draws existed (commit 332fe3b), scenarios 0 and 41 in table order, and a digest of all of
# scenarios 0-63: throughput is drawn after every other source, so they must not move.
BEFORE_THROUGHPUT = [
    1.1003383441975474, 1.04583104801898, 0.9597133063847839, 0.8368433623589397,
    0.9130778286721919, 1.0, 0.7, 1.0, 1.0,
    1.2587723064739706, 1.0470130491358633, 0.8760788846985628, 0.9960091507973718,
    0.9791015374438342, 1.0, 1.0, 1.0, 1.0,
]  # fmt: skip
BEFORE_THROUGHPUT_SHA256 = "3ddd13b4baf5a371c9dc82f05d6c3a72873f3201bbd9244e425062f46b87a1f2"


def test_existing_scenarios_keep_every_draw(tmp_path):
    # UNCERTAIN now also draws throughput (sigma 0.2): the older kinds stay bit-identical.
    assert UNCERTAIN["throughput"]["sigma"] > 0
    case = read_case(two_site_case(tmp_path, UNCERTAIN))
    table = draw_many(build_index(case), case.uncertainty, range(64))
    older = table[table["kind"] != "throughput"]
    assert older[older["scenario"].isin([0, 41])]["multiplier"].tolist() == BEFORE_THROUGHPUT
    digest = hashlib.sha256(np.ascontiguousarray(older["multiplier"], dtype=np.float64).tobytes())
    assert digest.hexdigest() == BEFORE_THROUGHPUT_SHA256
    assert set(table.loc[table["kind"] == "throughput", "key"]) == {"A", "B"}


def test_written_throughput_rows_read_back_exactly(tmp_path):
    case = read_case(uncertain_racks_case(tmp_path))
    index = build_index(case)
    mult = draw(index, case.uncertainty, 3)
    again = multipliers_from_table(index, draws_table(index, 3, mult))
    assert np.array_equal(again.throughput, mult.throughput)
    # A table from before throughput draws: its scenarios ran at factor 1.
    table = draws_table(index, 3, mult)
    old = multipliers_from_table(index, table[table["kind"] != "throughput"])
    assert np.array_equal(old.throughput, np.ones(3))


def single_rack_case(tmp_path: Path, **workload_changes) -> Path:
    """10,000 decode tokens/s; rack A gives 1,000 tokens/s for 200k USD/year (energy free)."""
    return write_case(
        tmp_path,
        racks=[{**RACK_A, "throughput_sigma": 0.3}],
        sites=[site()],
        workloads=[workload(**workload_changes)],
        throughput=[decode("A", 1000)],
        config={"unmet_penalty_usd_per_mtok": 50.0, "uncertainty": {"seed": 5}},
    )


def solve_scenarios(job: ScenarioJob, scenarios: range) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(results rows, rack mix) of the job's scenarios, with each one's throughput factor."""
    prepared = job.prepare()
    parts = [prepared.solve_scenario(k) for k in scenarios]
    results = pd.concat([p.results for p in parts], ignore_index=True)
    draws = pd.concat([p.draws for p in parts], ignore_index=True)
    factor = draws[draws["kind"] == "throughput"].set_index("scenario")["multiplier"]
    results["factor"] = results["scenario"].map(factor)
    return results, pd.concat([p.mix for p in parts], ignore_index=True)


def test_a_factor_scales_the_served_capacity_of_fixed_racks(tmp_path):
    case = read_case(single_rack_case(tmp_path))
    counts = plan_counts(
        build_index(case), pd.DataFrame({"site": ["s1"], "rack_type": ["A"], "count": [10]}), "p"
    )
    job = ScenarioJob(case, RunKind.EVALUATE, for_workers(case.solver), plans={"p": counts})
    results, _ = solve_scenarios(job, range(12))
    f = results["factor"].to_numpy()
    assert (f < 1).any() and (f > 1).any()  # both sides of the forecast are exercised
    # 10 racks x 1,000 x f tokens/s against 10,000 demanded: served share min(1, f).
    served = np.minimum(1.0, f)
    assert results["served_tokens_per_s"].to_numpy() == pytest.approx(10_000 * served, rel=1e-9)
    assert results["unmet_share"].to_numpy() == pytest.approx(1.0 - served, abs=1e-9)
    # Fleet cost is the 10 racks' capex (energy is free); the unmet tokens pay 50 USD/Mtok.
    assert results["fleet_cost_usd_per_year"].to_numpy() == pytest.approx([2_000_000.0] * 12)
    penalty = (1.0 - served) * 10_000 * 31_536_000 * 50.0 / 1e6
    assert results["penalty_cost_usd_per_year"].to_numpy() == pytest.approx(penalty, abs=1e-3)


def test_a_factor_changes_the_racks_bought(tmp_path):
    # All demand must be served: the optimum buys ceil(10,000 / (1,000 x f)) racks.
    case = read_case(single_rack_case(tmp_path, min_served_share=1.0))
    job = ScenarioJob(case, RunKind.SWEEP, for_workers(case.solver))
    results, mix = solve_scenarios(job, range(12))
    assert set(results["status"]) == {"optimal"}
    bought = mix.set_index("scenario")["count"].reindex(results["scenario"]).to_numpy()
    expected = np.ceil(10.0 / results["factor"].to_numpy() - 1e-9)
    assert bought.tolist() == expected.tolist()
    assert len(set(expected)) > 2  # the factors moved the answer, not just the numbers
    assert results["fleet_cost_usd_per_year"].to_numpy() == pytest.approx(200_000.0 * expected)
