"""Monte Carlo: draws, determinism across workers, retries, evaluate by hand, resume.

Runs on a real local Ray (started once for the module) with real solvers and files.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fleetopt.core.errors import CaseError
from fleetopt.io.case import Uncertainty, read_case
from fleetopt.io.runfolder import RunKind
from fleetopt.io.store import ScenarioStore
from fleetopt.model.index import build_index
from fleetopt.model.inputs import model_data
from fleetopt.parallel.farm import MAX_CHUNK, auto_chunk, chunks_of, in_flight_limit
from fleetopt.pipelines.options import FarmSettings, RobustOptions, ScenarioOptions
from fleetopt.pipelines.plan import plan_case
from fleetopt.pipelines.runs import (
    evaluate,
    open_store,
    plan_counts,
    robust,
    run_scenarios,
    sweep,
)
from fleetopt.scenarios.draws import draw, draw_many, multipliers_from_table
from fleetopt.scenarios.job import PreparedJob, ScenarioJob, for_workers
from fleetopt.solve.objectives import solve_plan
from fleetopt.testing.casekit import write_case
from tests.test_model_optima import RACK_A, RACK_B, THROUGHPUT_AB, decode, site, workload

UNCERTAIN = {
    "seed": 7,
    "demand": {"growth": {"median": 1.1, "sigma": 0.25}, "workload_sigma": 0.15},
    "energy_price": {"sigma": 0.2},
    "power_cap": {"probability": 0.2, "derate": 0.3},
    "supply": {"probability": 0.25, "cut": 0.5},
    "throughput": {"sigma": 0.2},
}
TIMING = ["solve_seconds", "build_seconds"]


pytestmark = pytest.mark.usefixtures("local_ray")  # test-only job subclasses go by value


def two_site_case(tmp_path: Path, uncertainty: dict | None = None, **kw) -> Path:
    return write_case(
        tmp_path,
        racks=kw.get("racks", [RACK_A, RACK_B]),
        sites=kw.get(
            "sites",
            [
                site("us1", power_cap_mw=1.0, energy_usd_per_mwh=40),
                site("eu1", region="eu", power_cap_mw=0.6, energy_usd_per_mwh=90, max_slots=12),
            ],
        ),
        workloads=kw.get(
            "workloads",
            [
                workload("chat", decode_tokens_per_s=6_000),
                workload("agent", regions="eu", decode_tokens_per_s=3_000, load_factor=0.5),
            ],
        ),
        throughput=kw.get("throughput", THROUGHPUT_AB),
        installed=kw.get("installed"),
        config={"unmet_penalty_usd_per_mtok": 50.0, "uncertainty": uncertainty or {}},
    )


SETTINGS = FarmSettings(workers=2, chunk=3)


def opts(n: int, farm: FarmSettings = SETTINGS) -> ScenarioOptions:
    """The options of a run of `n` scenarios farmed out by `farm`."""
    return ScenarioOptions(n, farm=farm)


def test_draw_statistics_match_the_stated_distributions(tmp_path):
    index = build_index(read_case(two_site_case(tmp_path)))
    u = Uncertainty(
        seed=1,
        growth_median=1.1,
        growth_sigma=0.25,
        workload_sigma=0.15,
        energy_sigma=0.2,
        power_cap_probability=0.2,
        power_cap_derate=0.3,
        supply_probability=0.25,
        supply_cut=0.5,
    )
    n = 10_000
    draws = [draw(index, u, k) for k in range(n)]
    growth = np.array([d.growth for d in draws])
    own = np.log(np.array([d.demand / d.growth for d in draws]))
    energy = np.log(np.array([d.region_energy for d in draws]))
    caps = np.array([d.power_cap for d in draws])
    supply = np.array([d.supply for d in draws])
    # Medians and sigmas of the lognormal factors, within about 4 standard errors.
    assert np.median(growth) == pytest.approx(1.1, rel=0.02)
    assert np.log(growth).std() == pytest.approx(0.25, rel=0.03)
    assert own.std(axis=0) == pytest.approx([0.15, 0.15], rel=0.03)
    assert np.abs(own.mean(axis=0)).max() < 4 * 0.15 / math.sqrt(n)
    assert energy.std(axis=0) == pytest.approx([0.2, 0.2], rel=0.03)
    # Derates and cuts: the stated probability, and exactly the stated size.
    assert set(np.unique(caps)) == {0.7, 1.0}
    assert (caps == 0.7).mean(axis=0) == pytest.approx([0.2, 0.2], abs=0.016)
    assert set(np.unique(supply)) == {0.5, 1.0}
    assert (supply == 0.5).mean(axis=0) == pytest.approx([0.25, 0.25], abs=0.017)


def test_a_scenario_is_the_same_wherever_it_is_drawn(tmp_path):
    index = build_index(read_case(two_site_case(tmp_path, UNCERTAIN)))
    u = read_case(two_site_case(tmp_path / "again", UNCERTAIN)).uncertainty
    alone = draw_many(index, u, [5])
    among = draw_many(index, u, range(10))
    pd.testing.assert_frame_equal(alone, among[among["scenario"] == 5].reset_index(drop=True))


def test_zero_uncertainty_reproduces_the_deterministic_solve(tmp_path):
    case = read_case(two_site_case(tmp_path))
    deterministic = plan_case(case).summary.to_json()
    expected = deterministic["objective"]
    summary = sweep(case, tmp_path / "sweep", opts(6))
    results = pd.read_parquet(tmp_path / "sweep" / "results.parquet")
    assert summary.errors == 0
    assert len(results) == 6
    assert results["objective"].to_numpy() == pytest.approx([expected] * 6, rel=1e-9)
    # Every row carries docs/model.md's summary keys, with the deterministic solve's values.
    for key in ("status", "solver"):
        assert set(results[key]) == {deterministic[key]}
    for key in ("fleet_cost_usd_per_year", "penalty_cost_usd_per_year", "served_tokens_per_s"):
        assert results[key].to_numpy() == pytest.approx([deterministic[key]] * 6, rel=1e-9)
    for key in ("cost_per_mtok_usd", "tokens_per_joule", "energy_cost_usd_per_year"):
        assert results[key].to_numpy() == pytest.approx([deterministic[key]] * 6, rel=1e-9)
    assert [list(w) for w in results["warnings"]] == [deterministic["warnings"]] * 6
    assert {"mip_gap", "solve_seconds", "build_seconds"} <= set(results.columns)


def test_one_and_two_workers_give_identical_results(tmp_path):
    case = read_case(two_site_case(tmp_path, UNCERTAIN))
    sweep(case, tmp_path / "one", opts(10, FarmSettings(workers=1, chunk=3)))
    sweep(case, tmp_path / "two", opts(10, FarmSettings(workers=2)))  # chunk auto: 3, 2, 2, 1, 1, 1
    for table in ("results", "mix", "scenarios", "sites"):
        one = pd.read_parquet(tmp_path / "one" / f"{table}.parquet")
        two = pd.read_parquet(tmp_path / "two" / f"{table}.parquet")
        one, two = (t.drop(columns=TIMING, errors="ignore") for t in (one, two))
        pd.testing.assert_frame_equal(one, two, check_exact=True)


def test_evaluate_is_bit_identical_however_it_is_chunked(tmp_path):
    case = read_case(two_site_case(tmp_path, UNCERTAIN))
    expected = plan_case(case)
    plans = {"ev": expected.x[expected.result.model.layout.n]}
    evaluate(case, plans, tmp_path / "one", opts(24, FarmSettings(workers=1, chunk=3)))
    evaluate(case, plans, tmp_path / "two", opts(24, FarmSettings(workers=2, chunk=7)))
    for table in ("results", "mix", "scenarios", "sites"):
        one = pd.read_parquet(tmp_path / "one" / f"{table}.parquet")
        two = pd.read_parquet(tmp_path / "two" / f"{table}.parquet")
        one, two = (t.drop(columns=TIMING, errors="ignore") for t in (one, two))
        pd.testing.assert_frame_equal(one, two, check_exact=True)


def test_written_multipliers_resolve_to_the_same_objective(tmp_path):
    case = read_case(two_site_case(tmp_path, UNCERTAIN))
    sweep(case, tmp_path / "run", opts(5))
    draws = pd.read_parquet(tmp_path / "run" / "scenarios.parquet")
    results = pd.read_parquet(tmp_path / "run" / "results.parquet").set_index("scenario")
    index = build_index(case)
    for scenario in (0, 3):
        mult = multipliers_from_table(index, draws[draws["scenario"] == scenario])
        again = solve_plan(index, case, model_data(index, mult))
        assert again.objective == pytest.approx(results.loc[scenario, "objective"], rel=1e-7)


@dataclasses.dataclass(frozen=True)
class FlakyJob(ScenarioJob):
    """Raises in its first chunk once (a marker file remembers), then behaves."""

    marker: str = ""

    def prepare(self) -> PreparedJob:
        marker = Path(self.marker)
        if not marker.exists():
            marker.write_text("failed once")
            raise RuntimeError("injected failure")
        return PreparedJob(self)


class _BrokenScenario(PreparedJob):
    def solve_scenario(self, scenario: int):
        if scenario == 4:
            raise ValueError("scenario 4 cannot be solved")
        return super().solve_scenario(scenario)


@dataclasses.dataclass(frozen=True)
class BrokenJob(ScenarioJob):
    """Scenario 4 always fails."""

    def prepare(self) -> PreparedJob:
        return _BrokenScenario(self)


def test_a_task_that_raises_once_is_retried(tmp_path):
    case = read_case(two_site_case(tmp_path, UNCERTAIN))
    job = FlakyJob(
        case=case,
        mode=RunKind.SWEEP,
        options=for_workers(case.solver),
        marker=str(tmp_path / "marker"),
    )
    summary = run_scenarios(job, tmp_path / "run", opts(6))
    assert (tmp_path / "marker").exists()  # it did fail once
    assert summary.errors == 0
    results = pd.read_parquet(tmp_path / "run" / "results.parquet")
    assert sorted(results["scenario"]) == list(range(6))
    assert set(results["status"]) == {"optimal"}


def test_a_scenario_that_keeps_failing_gets_an_error_row(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="fleetopt")
    case = read_case(two_site_case(tmp_path, UNCERTAIN))
    job = BrokenJob(case=case, mode=RunKind.SWEEP, options=for_workers(case.solver))
    summary = run_scenarios(job, tmp_path / "run", opts(6))
    results = pd.read_parquet(tmp_path / "run" / "results.parquet").set_index("scenario")
    assert summary.errors == 1
    assert sorted(results.index) == list(range(6))
    assert results.loc[4, "status"] == "error"
    assert "scenario 4 cannot be solved" in results.loc[4, "message"]
    assert (results.drop(index=4)["status"] == "optimal").all()
    # Its draws are still on record.
    draws = pd.read_parquet(tmp_path / "run" / "scenarios.parquet")
    assert 4 in set(draws["scenario"])
    # The worker's warning came back to the driver, tagged with the scenario.
    (warning,) = [r for r in caplog.records if r.name == "fleetopt.worker"]
    assert warning.levelno == logging.WARNING and warning.scenario == 4
    assert "scenario 4: failed: ValueError: scenario 4 cannot be solved" in warning.getMessage()


def test_worker_log_records_reach_the_driver_tagged_with_their_scenario(tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="fleetopt")
    case = read_case(two_site_case(tmp_path, UNCERTAIN))
    sweep(case, tmp_path / "run", opts(4))
    from_workers = [r for r in caplog.records if r.name == "fleetopt.worker"]
    solved = [r for r in from_workers if "solved in" in r.getMessage()]
    assert sorted(r.scenario for r in solved) == [0, 1, 2, 3]
    for record in solved:
        assert record.getMessage().startswith(f"scenario {record.scenario}: solved in")
        assert record.origin == "fleetopt.scenarios.job"
    progress = [r.getMessage() for r in caplog.records if r.name == "fleetopt.parallel.progress"]
    assert progress[-1].startswith("sweep: 4/4 scenarios in")


def test_evaluate_under_derate_and_supply_cut_matches_hand_computation(tmp_path):
    # Plan: 10 A racks at one 1 MW site (100 kW each) for 10,000 tokens/s.
    base = dict(
        racks=[RACK_A],
        sites=[site(power_cap_mw=1.0)],
        workloads=[workload()],
        throughput=[decode("A", 1000)],
    )
    derate = {"seed": 1, "power_cap": {"probability": 1.0, "derate": 0.5}}
    case = read_case(two_site_case(tmp_path / "derate", derate, **base))
    counts = plan_counts(
        build_index(case), pd.DataFrame({"site": ["s1"], "rack_type": ["A"], "count": [10]}), "plan"
    )
    evaluate(case, {"p": counts}, tmp_path / "ev-derate", opts(3))
    results = pd.read_parquet(tmp_path / "ev-derate" / "results.parquet")
    # Half the power: 5 racks powered, 5,000 of 10,000 tokens/s served.
    assert results["unmet_share"].to_numpy() == pytest.approx([0.5] * 3)

    cut = {"seed": 1, "supply": {"probability": 1.0, "cut": 0.3}}
    installed = [{"site": "s1", "rack_type": "A", "count": 4}]
    case = read_case(two_site_case(tmp_path / "cut", cut, installed=installed, **base))
    evaluate(case, {"p": counts}, tmp_path / "ev-cut", opts(3))
    results = pd.read_parquet(tmp_path / "ev-cut" / "results.parquet")
    # 4 installed + floor(6 new x 0.7) = 8 racks delivered: 20% unmet.
    assert results["unmet_share"].to_numpy() == pytest.approx([0.2] * 3)


def test_an_infeasible_sweep_scenario_says_why_in_its_row(tmp_path):
    # 10 A racks (1 MW) serve the 10,000 tokens/s, 90% of which must be served; a derated
    # scenario halves the cap: 5 racks, 50% served, 0.4 MW short of the 0.9 MW that 90% needs.
    derate = {"seed": 3, "power_cap": {"probability": 0.5, "derate": 0.5}}
    case = read_case(
        two_site_case(
            tmp_path,
            derate,
            racks=[RACK_A],
            sites=[site(power_cap_mw=1.0)],
            workloads=[workload(min_served_share=0.9)],
            throughput=[decode("A", 1000)],
        )
    )
    summary = sweep(case, tmp_path / "sweep", opts(6))
    results = pd.read_parquet(tmp_path / "sweep" / "results.parquet").set_index("scenario")
    draws = pd.read_parquet(tmp_path / "sweep" / "scenarios.parquet")
    derated = set(draws.loc[(draws["kind"] == "power_cap") & (draws["multiplier"] < 1), "scenario"])
    assert 0 < len(derated) < 6 and summary.errors == 0
    infeasible = results[results["status"] == "infeasible"]
    assert set(infeasible.index) == derated
    assert set(infeasible["message"]) == {
        "workload w1 needs 90% served but the sites can power at most 50% of it:"
        " site s1 is short of 0.4 MW (cap 0.5 MW)"
    }
    assert set(results.drop(index=list(derated))["message"]) == {""}


def test_resume_keeps_finished_chunks(tmp_path):
    case = read_case(two_site_case(tmp_path, UNCERTAIN))
    job = ScenarioJob(case=case, mode=RunKind.SWEEP, options=for_workers(case.solver))
    out = tmp_path / "run"
    run_scenarios(job, tmp_path / "reference", opts(6))
    reference = pd.read_parquet(tmp_path / "reference" / "results.parquet")
    # An interrupted run: chunk 1 (scenarios 3-5) finished, with a tell-tale objective.
    store = open_store(job, 6, out)
    store.start()
    tables = {}
    for name in ("results", "mix", "sites", "scenarios"):
        path = tmp_path / "reference" / f"{name}.parquet"
        table = pd.read_parquet(path)
        tables[name] = table[table["scenario"] >= 3].reset_index(drop=True)
    tables["results"] = tables["results"].assign(objective=-1.0)
    store.write_chunk("000000003", tables)
    assert not store.complete

    run_scenarios(job, out, opts(6, FarmSettings(workers=2)))  # another chunk size: auto
    resumed = pd.read_parquet(out / "results.parquet").set_index("scenario")
    assert (resumed.loc[[3, 4, 5], "objective"] == -1.0).all()  # kept, not recomputed
    assert resumed.loc[[0, 1, 2], "objective"].to_numpy() == pytest.approx(
        reference.set_index("scenario").loc[[0, 1, 2], "objective"].to_numpy()
    )
    assert (out / "_SUCCESS").exists()


def test_robust_chooses_among_candidates_on_common_scenarios(tmp_path):
    case = read_case(two_site_case(tmp_path, UNCERTAIN))
    summary = robust(case, tmp_path / "robust", opts(12), RobustOptions(candidates=4))
    results = pd.read_parquet(tmp_path / "robust" / "evaluate" / "results.parquet")
    total = results.pivot(index="scenario", columns="plan", values="total_cost_usd_per_year")
    means = total.mean()
    assert summary.chosen_plan == means.idxmin()
    vss = summary.vss
    assert vss.value == pytest.approx(means["expected-value"] - means.min())
    assert vss.value >= 0 and vss.kind == "lower_bound"
    ws = pd.read_parquet(tmp_path / "robust" / "sweep" / "results.parquet")
    evpi = summary.evpi
    assert evpi.kind == "upper_bound" and evpi.value == pytest.approx(
        means.min() - ws["total_cost_usd_per_year"].mean(), rel=1e-9
    )
    # Wait and see is a lower bound in every scenario (each sweep solve is optimal).
    assert (total.min(axis=1) >= ws.set_index("scenario")["total_cost_usd_per_year"] - 1e-3).all()


def test_auto_chunk_takes_a_share_of_what_is_left_within_bounds() -> None:
    # 1 / (2 x workers) of the scenarios not yet in a chunk, rounded up.
    assert auto_chunk(40, 2) == 10
    assert auto_chunk(30, 2) == 8
    assert auto_chunk(144, 16) == 5
    assert auto_chunk(3, 2) == 1 and auto_chunk(1, 64) == 1
    assert auto_chunk(10_000_000, 2) == MAX_CHUNK


def test_auto_chunks_shrink_towards_the_end_of_a_run() -> None:
    sizes = [len(c.scenarios) for c in FarmSettings(workers=2).chunks(range(40))]
    assert sizes == [10, 8, 6, 4, 3, 3, 2, 1, 1, 1, 1]
    sizes = [len(c.scenarios) for c in FarmSettings(workers=2).chunks(range(144))]
    assert sizes == [36, 27, 21, 15, 12, 9, 6, 5, 4, 3, 2, 1, 1, 1, 1]
    # A long run: capped chunks first, the same shrinking tail.
    sizes = [len(c.scenarios) for c in FarmSettings(workers=2).chunks(range(1000))]
    assert sizes[:12] == [MAX_CHUNK] * 12 and sizes[-4:] == [1, 1, 1, 1] and sum(sizes) == 1000
    # A number given is kept.
    sizes = [len(c.scenarios) for c in FarmSettings(workers=2, chunk=8).chunks(range(20))]
    assert sizes == [8, 8, 4]


def test_chunks_never_span_a_gap_of_finished_scenarios() -> None:
    left = [0, 1, 2, 3, 4, 5, 9, 10, 11, 12, 13]  # 6-8 finished in an earlier attempt
    # Automatic sizes (1 worker: half of what is left), cut again where scenarios are done.
    assert [c.scenarios for c in FarmSettings(workers=1).chunks(left)] == [
        [0, 1, 2, 3, 4, 5],
        [9, 10, 11],
        [12],
        [13],
    ]
    assert [c.scenarios for c in chunks_of(left, 4)] == [
        [0, 1, 2, 3],
        [4, 5],
        [9, 10, 11, 12],
        [13],
    ]


def test_chunks_queue_ahead_only_where_ray_caps_concurrency() -> None:
    # The embedded Ray has as many CPUs as workers: a second round may wait queued in Ray.
    assert in_flight_limit(2, 2.0) == 4
    # A larger cluster would run every submitted chunk at once: submit only `workers`.
    assert in_flight_limit(2, 16.0) == 2


def test_merge_takes_a_column_filled_in_a_later_chunk(tmp_path):
    # Chunk 0 has no warnings at all (a column of nulls, typed null in Parquet); chunk 1
    # has one. The merged file keeps both chunks' rows with the string type.
    store = ScenarioStore(tmp_path / "run", RunKind.SWEEP, {"mode": "test"})
    for number, warning in ((0, None), (1, "unmet demand")):
        frame = pd.DataFrame({"scenario": [number], "warnings": [warning]})
        store.write_chunk(
            f"{number:09d}", {name: frame for name in ("results", "mix", "sites", "scenarios")}
        )
    store.merge()
    merged = pd.read_parquet(tmp_path / "run" / "results.parquet")
    assert merged["scenario"].tolist() == [0, 1]
    assert merged["warnings"].isna().tolist() == [True, False]
    assert merged["warnings"].iloc[1] == "unmet demand"


# --- multi-period cases (docs/model.md section 8) ----------------------------------------

SCHEDULE = {"periods": [2026, 2027, 2028]}
GROWTH = [{"workload": "chat", "period": 2028, "demand_multiplier": 1.5}]


def schedule_case(tmp_path: Path, uncertainty: dict | None = None, **kw) -> Path:
    """two_site_case over 2026-2028, B arriving in 2027 at half price, chat growing in 2028."""
    return write_case(
        tmp_path,
        racks=kw.get("racks", [RACK_A, {**RACK_B, "capex_usd": 500_000, "available_from": 2027}]),
        sites=[
            site("us1", power_cap_mw=1.0, energy_usd_per_mwh=40),
            site("eu1", region="eu", power_cap_mw=0.6, energy_usd_per_mwh=90, max_slots=12),
        ],
        workloads=kw.get(
            "workloads",
            [
                workload("chat", decode_tokens_per_s=6_000),
                workload("agent", regions="eu", decode_tokens_per_s=3_000, load_factor=0.5),
            ],
        ),
        throughput=THROUGHPUT_AB,
        installed=kw.get("installed"),
        workload_periods=kw.get("workload_periods", GROWTH),
        config={"unmet_penalty_usd_per_mtok": 50.0, "uncertainty": uncertainty or {}, **SCHEDULE},
    )


def test_a_schedule_sweep_reproduces_the_plan_and_is_identical_on_any_workers(tmp_path):
    case = read_case(schedule_case(tmp_path))
    expected = plan_case(case).summary
    sweep(case, tmp_path / "flat", opts(3))
    flat = pd.read_parquet(tmp_path / "flat" / "results.parquet")
    assert flat["objective"].to_numpy() == pytest.approx([expected.objective] * 3, rel=1e-9)
    mix = pd.read_parquet(tmp_path / "flat" / "mix.parquet")
    assert list(mix.columns) == ["scenario", "plan", "period", "site", "rack_type", "count"]
    assert set(mix["period"]) == {2026, 2027, 2028}

    case = read_case(schedule_case(tmp_path / "uncertain", UNCERTAIN))
    sweep(case, tmp_path / "one", opts(8, FarmSettings(workers=1, chunk=3)))
    sweep(case, tmp_path / "two", opts(8, FarmSettings(workers=2, chunk=5)))
    for table in ("results", "mix", "scenarios", "sites"):
        one = pd.read_parquet(tmp_path / "one" / f"{table}.parquet")
        two = pd.read_parquet(tmp_path / "two" / f"{table}.parquet")
        one, two = (t.drop(columns=TIMING, errors="ignore") for t in (one, two))
        pd.testing.assert_frame_equal(one, two, check_exact=True)


def test_evaluate_fixes_the_whole_schedule_and_cuts_every_periods_deliveries(tmp_path):
    # 4 installed A; the schedule has 10 A in 2026 and 20 in 2027 for 10,000 then 20,000
    # tokens/s. A cut of 30% delivers 4 + floor(6 x 0.7) = 8 racks in 2026 and
    # 4 + floor(16 x 0.7) = 15 in 2027: 2,000 and 5,000 tokens/s unmet, 7/30 of the demand.
    cut = {"seed": 1, "supply": {"probability": 1.0, "cut": 0.3}}
    path = write_case(
        tmp_path,
        racks=[RACK_A],
        sites=[site(power_cap_mw=10.0)],
        workloads=[workload()],
        throughput=[decode("A", 1000)],
        installed=[{"site": "s1", "rack_type": "A", "count": 4}],
        workload_periods=[{"workload": "w1", "period": 2027, "demand_multiplier": 2}],
        config={"unmet_penalty_usd_per_mtok": 50.0, "uncertainty": cut, "periods": [2026, 2027]},
    )
    case = read_case(path)
    schedule = pd.DataFrame(
        {"period": [2026, 2027], "site": "s1", "rack_type": "A", "count": [10, 20]}
    )
    counts = plan_counts(build_index(case), schedule, "plan")
    evaluate(case, {"p": counts}, tmp_path / "ev", opts(2))
    results = pd.read_parquet(tmp_path / "ev" / "results.parquet")
    assert results["unmet_share"].to_numpy() == pytest.approx([7 / 30] * 2)
    sites = pd.read_parquet(tmp_path / "ev" / "sites.parquet")
    assert sites["power_mw"].tolist() == pytest.approx([0.8, 1.5] * 2)
    # A plan without periods is refused for a case with periods, and vice versa.
    with pytest.raises(CaseError, match="has periods"):
        plan_counts(build_index(case), schedule.drop(columns="period"), "plan")


def test_robust_chooses_a_schedule(tmp_path):
    case = read_case(schedule_case(tmp_path, UNCERTAIN))
    summary = robust(case, tmp_path / "robust", opts(8), RobustOptions(candidates=3))
    chosen = pd.read_parquet(tmp_path / "robust" / "choice" / "racks.parquet")
    assert list(chosen.columns) == ["period", "site", "rack_type", "count", "installed"]
    assert set(chosen["period"]) == {2026, 2027, 2028}
    results = pd.read_parquet(tmp_path / "robust" / "evaluate" / "results.parquet")
    total = results.pivot(index="scenario", columns="plan", values="total_cost_usd_per_year")
    assert summary.chosen_plan == total.mean().idxmin()
