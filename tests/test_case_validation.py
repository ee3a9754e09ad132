"""Case reading: a valid case comes back typed with defaults; each bad input is reported
with its exact message, and all problems of a case are reported together."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetopt.core.errors import CaseError
from fleetopt.io.case import (
    Case,
    Objective,
    SolverName,
    SolverOptions,
    Uncertainty,
    case_digest,
    case_warnings,
    read_case,
)
from fleetopt.testing.casekit import (
    OMIT,
    decode,
    prefill,
    rack,
    site,
    workload,
    write_case,
    write_table,
)


def problems_of(folder: Path) -> list[str]:
    """The str of every Problem read_case reports for `folder` (it must raise)."""
    with pytest.raises(CaseError) as info:
        read_case(folder)
    return [str(p) for p in info.value.problems]


def only_problem(folder: Path) -> str:
    found = problems_of(folder)
    assert len(found) == 1, found
    return found[0]


# --- a valid case ---------------------------------------------------------------------


def valid_case(tmp_path: Path, **kw) -> Path:
    """Two rack types, two sites, two workloads, a throughput curve, one installed row."""
    args = dict(
        racks=[
            rack(rack_type="a", max_count=None),
            rack(
                rack_type="b",
                kind="lpu",
                capex_usd=1_500_000.5,
                lifetime_years=4,
                power_kw=60,
                idle_power_frac=0.1,
                opex_usd_per_year=20_000,
                slots=2,
                cooling="liquid",
                max_count=8,
                throughput_sigma=0.45,
            ),
        ],
        sites=[
            site(site="fra", region="eu"),
            site(
                site="iad",
                region="us",
                power_cap_mw=25.5,
                pue=1.1,
                energy_usd_per_mwh=45,
                max_slots=400,
                liquid_cooling="TRUE",
            ),
        ],
        workloads=[
            workload(workload="chat", model="m1"),
            workload(
                workload="batch",
                model="m2",
                regions=" us ; eu ",
                min_user_tps=20,
                max_ttft_ms=800,
                load_factor=0.5,
                unmet_penalty_usd_per_mtok=3,
                min_served_share=0.9,
            ),
        ],
        throughput=[
            prefill(rack_type="a", model="m1"),
            decode(rack_type="a", model="m1", user_tps=50, tokens_per_s=20_000),
            decode(rack_type="a", model="m1", user_tps=100, tokens_per_s=12_000, source="est."),
            prefill(rack_type="b", model="m2", ttft_ms=300, tokens_per_s=50_000),
            decode(rack_type="b", model="m2", user_tps=200, tokens_per_s=30_000),
        ],
        installed=[{"site": "iad", "rack_type": "b", "count": 3}],
        config={
            "name": "small",
            "objective": "min_cost_per_token",
            "discount_rate": 0.08,
            "unmet_penalty_usd_per_mtok": 50,
            "max_utilization": 0.9,
            "solver": {"name": "scip", "time_limit_s": 30, "relative_gap": "1e-4", "threads": 4},
            "uncertainty": {
                "seed": 42,
                "demand": {"growth": {"median": 1.1, "sigma": 0.25}, "workload_sigma": 0.15},
                "energy_price": {"sigma": 0.2},
                "power_cap": {"probability": 0.1, "derate": 0.3},
                "supply": {"probability": 0.2, "cut": 0.5},
                "throughput": {"sigma": 0.2},
            },
        },
    )
    args.update(kw)
    return write_case(tmp_path, **args)


def test_valid_case_reads_back_typed_with_defaults(tmp_path: Path) -> None:
    case = read_case(valid_case(tmp_path))

    assert case.name == "small"
    assert case.objective is Objective.MIN_COST_PER_TOKEN
    assert (case.discount_rate, case.unmet_penalty_usd_per_mtok, case.max_utilization) == (
        0.08,
        50.0,
        0.9,
    )
    assert case.solver == SolverOptions(SolverName.SCIP, 30.0, 1e-4, 4, 0)
    assert case.uncertainty == Uncertainty(42, 1.1, 0.25, 0.15, 0.2, 0.1, 0.3, 0.2, 0.5, 0.2)

    racks = case.racks
    assert list(racks.columns) == [
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
        "throughput_sigma",
        "available_from",
        "available_until",
        "lead_time_years",
        "capex_change_per_year",
        "max_new_per_period",
    ]
    one_year = {  # multi-period columns at their defaults: the steady-state model
        "available_from": -math.inf,
        "available_until": math.inf,
        "lead_time_years": 0.0,
        "capex_change_per_year": 0.0,
        "max_new_per_period": math.inf,
    }
    assert racks.to_dict("records") == [
        {
            "rack_type": "a",
            "kind": "gpu",
            "capex_usd": 3_000_000.0,
            "lifetime_years": 5.0,
            "power_kw": 120.0,
            "idle_power_frac": 0.3,
            "opex_usd_per_year": 0.0,
            "slots": 1.0,
            "cooling": "air",
            "max_count": math.inf,
            "throughput_sigma": 0.2,  # blank: case.yaml's uncertainty.throughput.sigma
            **one_year,
        },
        {
            "rack_type": "b",
            "kind": "lpu",
            "capex_usd": 1_500_000.5,
            "lifetime_years": 4.0,
            "power_kw": 60.0,
            "idle_power_frac": 0.1,
            "opex_usd_per_year": 20_000.0,
            "slots": 2.0,
            "cooling": "liquid",
            "max_count": 8.0,
            "throughput_sigma": 0.45,
            **one_year,
        },
    ]
    assert case.sites.to_dict("records") == [
        {
            "site": "fra",
            "region": "eu",
            "power_cap_mw": 10.0,
            "pue": 1.2,
            "energy_usd_per_mwh": 80.0,
            "max_slots": math.inf,
            "liquid_cooling": False,
        },
        {
            "site": "iad",
            "region": "us",
            "power_cap_mw": 25.5,
            "pue": 1.1,
            "energy_usd_per_mwh": 45.0,
            "max_slots": 400.0,
            "liquid_cooling": True,
        },
    ]
    workloads = case.workloads
    assert list(workloads.columns) == [
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
        "growth_per_year",
        "isl",
        "osl",
        "precision",
        "region_list",
    ]
    # No lengths or precision given: blank (the throughput rows' own, matched blank to blank).
    assert workloads[["isl", "osl"]].isna().all().all()
    assert workloads["precision"].tolist() == ["", ""]
    assert workloads.drop(columns=["isl", "osl", "precision"]).to_dict("records") == [
        {
            "workload": "chat",
            "model": "m1",
            "regions": "*",
            "prefill_tokens_per_s": 1000.0,
            "decode_tokens_per_s": 500.0,
            "min_user_tps": 0.0,
            "max_ttft_ms": math.inf,
            "load_factor": 1.0,
            "unmet_penalty_usd_per_mtok": 50.0,  # from case.yaml
            "min_served_share": 0.0,
            "growth_per_year": 0.0,
            "region_list": (),
        },
        {
            "workload": "batch",
            "model": "m2",
            "regions": "us;eu",
            "prefill_tokens_per_s": 1000.0,
            "decode_tokens_per_s": 500.0,
            "min_user_tps": 20.0,
            "max_ttft_ms": 800.0,
            "load_factor": 0.5,
            "unmet_penalty_usd_per_mtok": 3.0,
            "min_served_share": 0.9,
            "growth_per_year": 0.0,
            "region_list": ("us", "eu"),
        },
    ]
    tp = case.throughput
    assert list(tp.columns) == [
        "rack_type",
        "model",
        "phase",
        "tokens_per_s",
        "user_tps",
        "ttft_ms",
        "source",
        "isl",
        "osl",
        "precision",
    ]
    assert tp[["isl", "osl"]].isna().all().all() and (tp["precision"] == "").all()
    assert tp["user_tps"].isna().tolist() == [True, False, False, True, False]
    assert tp["user_tps"].iloc[[1, 2, 4]].tolist() == [50.0, 100.0, 200.0]
    assert tp["ttft_ms"].tolist() == [0.0, 0.0, 0.0, 300.0, 0.0]
    assert tp["source"].tolist() == ["", "", "est.", "", ""]
    assert tp["phase"].tolist() == ["prefill", "decode", "decode", "prefill", "decode"]
    assert case.installed.to_dict("records") == [
        {"site": "iad", "rack_type": "b", "count": 3.0, "retire_year": math.inf}
    ]
    assert case.periods == () and not case.multi_period
    assert case.site_periods.empty and case.workload_periods.empty

    for table in (case.racks, case.sites, case.workloads, case.throughput, case.installed):
        assert table.index.equals(pd.RangeIndex(len(table)))
        for name, column in table.items():
            if name == "liquid_cooling":
                assert column.dtype == bool
            elif column.dtype != "float64":
                assert column.dtype == object, name
                assert all(isinstance(v, tuple if name == "region_list" else str) for v in column)
    assert case.racks["max_count"].dtype == "float64"
    assert case.installed["count"].dtype == "float64"


def test_minimal_case_defaults(tmp_path: Path) -> None:
    folder = write_case(tmp_path, config_text="")
    case = read_case(folder)
    assert case.name == "case"  # the folder's name when case.yaml has none
    assert case.objective is Objective.MIN_COST
    assert (case.discount_rate, case.unmet_penalty_usd_per_mtok, case.max_utilization) == (
        0.0,
        100.0,
        1.0,
    )
    assert case.solver == SolverOptions()
    assert case.uncertainty == Uncertainty()
    assert case.workloads["unmet_penalty_usd_per_mtok"].tolist() == [100.0]
    installed = case.installed
    assert installed.empty
    assert list(installed.columns) == ["site", "rack_type", "count", "retire_year"]
    assert list(installed.dtypes) == [object, object, "float64", "float64"]


def test_case_replace_and_digest(tmp_path: Path) -> None:
    folder = valid_case(tmp_path)
    case = read_case(folder)
    changed = case.replace(max_utilization=0.5)
    assert isinstance(changed, Case)
    assert (changed.max_utilization, case.max_utilization) == (0.5, 0.9)
    digest = case_digest(folder)
    assert len(digest) == 64
    assert case_digest(folder) == digest
    (folder / "notes.txt").write_text("not a case file")
    assert case_digest(folder) == digest
    text = (folder / "sites.csv").read_text()
    (folder / "sites.csv").write_text(text.replace("25.5", "25.6"))
    assert case_digest(folder) != digest


def test_parquet_reads_the_same_as_csv(tmp_path: Path) -> None:
    stems = ("racks", "sites", "workloads", "throughput", "installed")
    csv_case = read_case(valid_case(tmp_path, name="csv"))
    pq_case = read_case(valid_case(tmp_path, name="pq", parquet=stems))
    for stem in stems:
        pd.testing.assert_frame_equal(getattr(csv_case, stem), getattr(pq_case, stem))
    folder = valid_case(tmp_path, name="pq_bad", parquet=("racks",))
    df = pd.read_parquet(folder / "racks.parquet")
    df.loc[1, "power_kw"] = -210.0
    df.to_parquet(folder / "racks.parquet")
    assert (
        only_problem(folder)
        == "racks.parquet row 2 (rack_type=b), power_kw: must be in (0, 10000], got -210"
    )


# --- each bad input gets its own message ------------------------------------------------


def test_missing_case_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    assert only_problem(missing) == f"{missing}: case folder not found"
    with pytest.raises(CaseError):
        case_digest(missing)


def test_missing_required_file(tmp_path: Path) -> None:
    folder = write_case(tmp_path)
    (folder / "throughput.csv").unlink()
    assert only_problem(folder) == "throughput.csv: missing required file (or throughput.parquet)"


def test_missing_case_yaml(tmp_path: Path) -> None:
    folder = write_case(tmp_path)
    (folder / "case.yaml").unlink()
    assert only_problem(folder) == "case.yaml: missing required file"


def test_both_csv_and_parquet(tmp_path: Path) -> None:
    folder = write_case(tmp_path)
    write_table(folder, "sites", [site()], parquet=True)
    assert only_problem(folder) == (
        "sites.csv: both sites.csv and sites.parquet exist; keep only one of them"
    )


def test_unknown_column(tmp_path: Path) -> None:
    folder = write_case(tmp_path, racks=[rack(colour="green")])
    assert only_problem(folder) == (
        "racks.csv, colour: unknown column; expected one of rack_type, kind, capex_usd, "
        "lifetime_years, power_kw, idle_power_frac, opex_usd_per_year, slots, cooling, max_count, "
        "throughput_sigma, "
        "available_from, available_until, lead_time_years, capex_change_per_year, "
        "max_new_per_period"
    )


def test_missing_required_column(tmp_path: Path) -> None:
    folder = write_case(tmp_path, sites=[{k: v for k, v in site().items() if k != "region"}])
    assert only_problem(folder) == "sites.csv, region: missing required column"


def test_blank_required_cell(tmp_path: Path) -> None:
    folder = write_case(tmp_path, racks=[rack(), rack(rack_type="b", lifetime_years=None)])
    assert (
        only_problem(folder) == "racks.csv row 2 (rack_type=b), lifetime_years: must not be blank"
    )


def test_not_a_number(tmp_path: Path) -> None:
    folder = write_case(tmp_path, sites=[site(energy_usd_per_mwh="abc")])
    assert only_problem(folder) == (
        "sites.csv row 1 (site=s1), energy_usd_per_mwh: must be a number, got 'abc'"
    )


def test_out_of_range(tmp_path: Path) -> None:
    folder = write_case(tmp_path, racks=[rack(), rack(rack_type="b", power_kw=-210)])
    assert (
        only_problem(folder)
        == "racks.csv row 2 (rack_type=b), power_kw: must be in (0, 10000], got -210"
    )


@pytest.mark.parametrize(
    ("table", "row", "expected"),
    [
        (
            "racks",
            rack(idle_power_frac=1.5),
            "racks.csv row 1 (rack_type=r1), idle_power_frac: must be in [0, 1], got 1.5",
        ),
        ("sites", site(pue=0.9), "sites.csv row 1 (site=s1), pue: must be in [1, 5], got 0.9"),
        (
            "workloads",
            workload(load_factor=0),
            "workloads.csv row 1 (workload=w1), load_factor: must be in (0, 1], got 0",
        ),
        (
            "workloads",
            workload(max_ttft_ms=0),
            "workloads.csv row 1 (workload=w1), max_ttft_ms: must be in (0, 1e+08], got 0",
        ),
        (
            "racks",
            rack(capex_usd="inf"),
            "racks.csv row 1 (rack_type=r1), capex_usd: must be a finite number, got 'inf'",
        ),
        (
            "racks",
            rack(capex_usd="nan"),
            "racks.csv row 1 (rack_type=r1), capex_usd: must be a number, got 'nan'",
        ),
    ],
)  # fmt: skip
def test_range_rules(tmp_path: Path, table: str, row: dict, expected: str) -> None:
    assert only_problem(write_case(tmp_path, **{table: [row]})) == expected


def test_value_not_in_allowed_set(tmp_path: Path) -> None:
    folder = write_case(tmp_path, racks=[rack(kind="tpu", cooling="water")])
    assert problems_of(folder) == [
        "racks.csv row 1 (rack_type=r1), kind: must be one of gpu, lpu, cpu, wafer, other; "
        "got 'tpu'",
        "racks.csv row 1 (rack_type=r1), cooling: must be one of air, liquid; got 'water'",
    ]


def test_bool_column(tmp_path: Path) -> None:
    folder = write_case(tmp_path, sites=[site(liquid_cooling="maybe")])
    assert only_problem(folder) == (
        "sites.csv row 1 (site=s1), liquid_cooling: must be true or false, got 'maybe'"
    )


def test_non_integer_in_int_column(tmp_path: Path) -> None:
    folder = write_case(tmp_path, racks=[rack(max_count=2.5)], sites=[site(max_slots="ten")])
    assert problems_of(folder) == [
        "racks.csv row 1 (rack_type=r1), max_count: must be a whole number, got '2.5'",
        "sites.csv row 1 (site=s1), max_slots: must be a number, got 'ten'",
    ]


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"racks": [rack(), rack(power_kw=1)]},
         "racks.csv row 2 (rack_type=r1), rack_type: duplicate rack_type 'r1', first on row 1"),
        ({"sites": [site(), site(region="us")]},
         "sites.csv row 2 (site=s1), site: duplicate site 's1', first on row 1"),
        ({"workloads": [workload(), workload(), workload(workload="w2")]},
         "workloads.csv row 2 (workload=w1), workload: duplicate workload 'w1', first on row 1"),
        ({"installed": [{"site": "s1", "rack_type": "r1", "count": 1},
                        {"site": "s1", "rack_type": "r1", "count": 2}]},
         "installed.csv row 2 (site=s1, rack_type=r1): duplicate of row 1: same site, rack_type,"
        " retire_year"),
        ({"throughput": [prefill(), decode(), decode(tokens_per_s=1, source="other")]},
         "throughput.csv row 3 (rack_type=r1, model=m1, phase=decode): duplicate of row 2: "
         "same rack_type, model, phase, user_tps, ttft_ms, isl, osl, precision"),
    ],
)  # fmt: skip
def test_duplicates(tmp_path: Path, kw: dict, expected: str) -> None:
    assert only_problem(write_case(tmp_path, **kw)) == expected


def test_throughput_points_differing_in_user_tps_are_a_curve(tmp_path: Path) -> None:
    folder = write_case(tmp_path, throughput=[prefill(), decode(), decode(user_tps=50.5)])
    assert len(read_case(folder).throughput) == 3


def test_unknown_references(tmp_path: Path) -> None:
    folder = write_case(
        tmp_path,
        throughput=[prefill(), decode(), decode(rack_type="ghost")],
        installed=[{"site": "nowhere", "rack_type": "phantom", "count": 1}],
    )
    assert problems_of(folder) == [
        "throughput.csv row 3 (rack_type=ghost, model=m1, phase=decode), rack_type: "
        "unknown rack type 'ghost': not in racks.csv",
        "installed.csv row 1 (site=nowhere, rack_type=phantom), site: "
        "unknown site 'nowhere': not in sites.csv",
        "installed.csv row 1 (site=nowhere, rack_type=phantom), rack_type: "
        "unknown rack type 'phantom': not in racks.csv",
    ]


def test_workload_model_without_throughput(tmp_path: Path) -> None:
    folder = write_case(tmp_path, workloads=[workload(), workload(workload="w2", model="llama")])
    assert only_problem(folder) == (
        "workloads.csv row 2 (workload=w2), model: no row in throughput.csv for model 'llama'"
    )


def test_workload_region_no_site_has(tmp_path: Path) -> None:
    folder = write_case(
        tmp_path, workloads=[workload(regions="eu;apac"), workload(workload="w2", regions="us;;eu")]
    )
    assert problems_of(folder) == [
        "workloads.csv row 1 (workload=w1), regions: no site in sites.csv is in region 'apac'",
        "workloads.csv row 2 (workload=w2), regions: has an empty region name in 'us;;eu'; "
        "write `*` or a;b;c",
        "workloads.csv row 2 (workload=w2), regions: no site in sites.csv is in region 'us'",
    ]


def test_decode_row_without_user_tps(tmp_path: Path) -> None:
    folder = write_case(tmp_path, throughput=[prefill(), decode(user_tps=None)])
    assert only_problem(folder) == (
        "throughput.csv row 2 (rack_type=r1, model=m1, phase=decode), user_tps: "
        "must not be blank on a decode row"
    )
    folder = write_case(tmp_path, name="no_column", throughput=[prefill(), decode(user_tps=OMIT)])
    assert only_problem(folder) == (
        "throughput.csv, user_tps: missing column, required for phase decode rows"
    )


def test_invalid_yaml(tmp_path: Path) -> None:
    folder = write_case(
        tmp_path, config_text="name: x\nsolver: {name: highs\nobjective: min_cost\n"
    )
    found = only_problem(folder)
    assert found.startswith("case.yaml: invalid YAML at line 3, column ")


def test_yaml_duplicate_key(tmp_path: Path) -> None:
    folder = write_case(tmp_path, config_text="name: x\nobjective: min_cost\nname: y\n")
    assert only_problem(folder) == (
        "case.yaml: invalid YAML at line 3, column 1: duplicate key 'name' (first on line 1)"
    )


def test_yaml_not_a_mapping(tmp_path: Path) -> None:
    folder = write_case(tmp_path, config_text="- a\n- b\n")
    assert only_problem(folder) == "case.yaml: must be a mapping of keys to values, got a list"


def test_unknown_objective(tmp_path: Path) -> None:
    folder = write_case(tmp_path, config={"objective": "max_profit"})
    assert only_problem(folder) == (
        "case.yaml, objective: must be one of min_cost, min_cost_per_token; got 'max_profit'"
    )


def test_unknown_yaml_keys_are_named_dotted(tmp_path: Path) -> None:
    folder = write_case(
        tmp_path,
        config={
            "max_utilisation": 0.9,
            "solver": {"timelimit": 3},
            "uncertainty": {"demand": {"growth": {"mean": 1}}, "energy_price": 0.2},
        },
    )
    assert problems_of(folder) == [
        "case.yaml, max_utilisation: unknown key; expected one of discount_rate, max_utilization, "
        "name, objective, periods, recourse, shortfall_penalty_usd_per_mtok, solver, uncertainty, "
        "unmet_penalty_usd_per_mtok",
        "case.yaml, solver.timelimit: unknown key; expected one of name, relative_gap, seed, "
        "threads, time_limit_s",
        "case.yaml, uncertainty.demand.growth.mean: unknown key; expected one of median, sigma",
        "case.yaml, uncertainty.energy_price: must be a mapping with keys sigma, got 0.2",
    ]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"max_utilization": 1.5}, "case.yaml, max_utilization: must be in (0, 1], got 1.5"),
        ({"max_utilization": 0}, "case.yaml, max_utilization: must be in (0, 1], got 0"),
        ({"discount_rate": "five"}, "case.yaml, discount_rate: must be a number, got 'five'"),
        ({"discount_rate": True}, "case.yaml, discount_rate: must be a number, got True"),
        ({"solver": {"threads": 2.5}},
         "case.yaml, solver.threads: must be a whole number, got 2.5"),
        ({"solver": {"time_limit_s": 0}},
         "case.yaml, solver.time_limit_s: must be in (0, 1e+07], got 0"),
        ({"solver": {"name": "gurobi"}},
         "case.yaml, solver.name: must be one of highs, scip; got 'gurobi'"),
        ({"uncertainty": {"power_cap": {"probability": 1.2}}},
         "case.yaml, uncertainty.power_cap.probability: must be in [0, 1], got 1.2"),
        ({"uncertainty": {"supply": {"cut": -0.1}}},
         "case.yaml, uncertainty.supply.cut: must be in [0, 1], got -0.1"),
        ({"uncertainty": {"demand": {"growth": {"median": 0}}}},
         "case.yaml, uncertainty.demand.growth.median: must be in (0, 100], got 0"),
        ({"uncertainty": {"energy_price": {"sigma": -1}}},
         "case.yaml, uncertainty.energy_price.sigma: must be in [0, 2], got -1"),
        ({"uncertainty": {"seed": -3}},
         "case.yaml, uncertainty.seed: must be in [0, 4294967295], got -3"),
    ],
)  # fmt: skip
def test_yaml_values(tmp_path: Path, config: dict, expected: str) -> None:
    assert only_problem(write_case(tmp_path, config=config)) == expected


@pytest.mark.parametrize("name", ["cp_sat", "sat", "CPSAT"])
def test_cp_sat_is_refused(tmp_path: Path, name: str) -> None:
    folder = write_case(tmp_path, config={"solver": {"name": name}})
    assert only_problem(folder) == (
        "case.yaml, solver.name: CP-SAT is refused: its continuous-variable support is "
        "experimental and it is not safe for these mixed-integer models (it returned "
        "INFEASIBLE on feasible fleet models); use highs (default) or scip"
    )


NO_MANDATORY_SERVING = (
    "case.yaml, objective: min_cost_per_token needs some workload with min_served_share > 0"
    " and demand in workloads.csv (else serving nothing is optimal and a cost per token"
    " undefined); none has"
)


def test_min_cost_per_token_needs_mandatory_serving(tmp_path: Path) -> None:
    folder = write_case(tmp_path, config={"objective": "min_cost_per_token"})
    assert only_problem(folder) == NO_MANDATORY_SERVING
    # A minimum share of no demand serves nothing either (`solve` once failed on it, exit 1).
    idle = write_case(
        tmp_path,
        name="idle",
        workloads=[workload(min_served_share=0.5, prefill_tokens_per_s=0, decode_tokens_per_s=0)],
        config={"objective": "min_cost_per_token"},
    )
    assert only_problem(idle) == NO_MANDATORY_SERVING
    ok = write_case(
        tmp_path,
        name="ok",
        workloads=[workload(min_served_share=0.5)],
        config={"objective": "min_cost_per_token"},
    )
    assert read_case(ok).objective is Objective.MIN_COST_PER_TOKEN


@pytest.mark.parametrize("stem", ["racks", "sites", "workloads", "throughput"])
def test_empty_table(tmp_path: Path, stem: str) -> None:
    folder = write_case(tmp_path, **{stem: []})
    assert f"{stem}.csv: no rows: the table has a header but no data" in problems_of(folder)


def test_empty_installed_is_fine(tmp_path: Path) -> None:
    assert read_case(write_case(tmp_path, installed=[])).installed.empty


def test_empty_file(tmp_path: Path) -> None:
    folder = write_case(tmp_path)
    (folder / "racks.csv").write_text("")
    assert problems_of(folder)[0] == (
        "racks.csv: file is empty; expected a header line with column names"
    )


def test_ragged_csv_is_reported_not_raised(tmp_path: Path) -> None:
    folder = write_case(tmp_path)
    (folder / "sites.csv").write_text(
        "site,region,power_cap_mw,energy_usd_per_mwh\ns1,eu,10,80,extra\n"
    )
    found = only_problem(folder)
    assert found.startswith("sites.csv: cannot parse CSV: ")


def test_duplicate_header_column(tmp_path: Path) -> None:
    folder = write_case(tmp_path)
    (folder / "sites.csv").write_text(
        "site,region,power_cap_mw,energy_usd_per_mwh,pue,pue\ns1,eu,10,80,1.1,1.2\n"
    )
    assert only_problem(folder) == "sites.csv, pue: column appears twice in the header"


def test_installed_liquid_rack_at_air_site(tmp_path: Path) -> None:
    folder = write_case(
        tmp_path,
        racks=[rack(cooling="liquid")],
        installed=[{"site": "s1", "rack_type": "r1", "count": 2}],
    )
    assert only_problem(folder) == (
        "installed.csv row 1 (site=s1, rack_type=r1): rack type 'r1' is liquid-cooled but "
        "site 's1' has no liquid_cooling"
    )


def test_installed_racks_must_fit_the_floor_and_the_supply(tmp_path: Path) -> None:
    # s1 holds 5 slots but its installed racks take 2 x 2 + 3 x 1 = 7; rack type a allows 4
    # but 2 + 3 are installed across both sites. Both found at once, with where to look.
    folder = write_case(
        tmp_path,
        racks=[rack(rack_type="a", slots=2, max_count=4), rack(rack_type="b", slots=1)],
        sites=[site(site="s1", max_slots=5), site(site="s2")],
        throughput=[prefill(rack_type="a"), decode(rack_type="a")],
        installed=[
            {"site": "s1", "rack_type": "a", "count": 2},
            {"site": "s2", "rack_type": "a", "count": 3},
            {"site": "s1", "rack_type": "b", "count": 3},
        ],
    )
    assert problems_of(folder) == [
        "racks.csv row 1 (rack_type=a), max_count: 4, but 5 of this rack type are installed"
        " (installed.csv rows 1, 2)",
        "sites.csv row 1 (site=s1), max_slots: 5 slots, but the racks installed here take 7"
        " (installed.csv rows 1, 3)",
    ]
    fits = write_case(
        tmp_path,
        name="fits",
        racks=[rack(rack_type="a", slots=2, max_count=5), rack(rack_type="b", slots=1)],
        sites=[site(site="s1", max_slots=7), site(site="s2")],
        throughput=[prefill(rack_type="a"), decode(rack_type="a")],
        installed=[
            {"site": "s1", "rack_type": "a", "count": 2},
            {"site": "s2", "rack_type": "a", "count": 3},
            {"site": "s1", "rack_type": "b", "count": 3},
        ],
    )
    assert len(read_case(fits).installed) == 3


def test_all_problems_in_one_error(tmp_path: Path) -> None:
    folder = write_case(
        tmp_path,
        racks=[rack(rack_type="a"), rack(rack_type="b", power_kw=-210)],
        sites=[site(pue="high")],
        workloads=[workload(model="nope")],
        throughput=[prefill(rack_type="a"), decode(rack_type="a", user_tps=None)],
        config={"max_utilization": 2},
    )
    assert problems_of(folder) == [
        "case.yaml, max_utilization: must be in (0, 1], got 2",
        "racks.csv row 2 (rack_type=b), power_kw: must be in (0, 10000], got -210",
        "sites.csv row 1 (site=s1), pue: must be a number, got 'high'",
        "workloads.csv row 1 (workload=w1), model: no row in throughput.csv for model 'nope'",
        "throughput.csv row 2 (rack_type=a, model=m1, phase=decode), user_tps: "
        "must not be blank on a decode row",
    ]
    with pytest.raises(CaseError) as info:
        read_case(folder)
    assert str(info.value).count("\n") == 4


# --- command-line overrides -------------------------------------------------------------


def test_with_overrides() -> None:
    base = SolverOptions()
    changed = base.with_overrides(name="scip", time_limit_s=5, threads=2)
    assert changed == SolverOptions(SolverName.SCIP, 5.0, 1e-6, 2, 0)
    assert base.with_overrides() == base
    assert base.with_overrides(name=SolverName.HIGHS, seed=7).seed == 7


def test_with_overrides_reports_every_bad_option() -> None:
    with pytest.raises(CaseError) as info:
        SolverOptions().with_overrides(
            name="cp_sat", time_limit_s=-1, relative_gap="x", threads=1.5, seed=-2
        )
    assert [str(p) for p in info.value.problems] == [
        "command line, name: CP-SAT is refused: its continuous-variable support is "
        "experimental and it is not safe for these mixed-integer models (it returned "
        "INFEASIBLE on feasible fleet models); use highs (default) or scip",
        "command line, time_limit_s: must be in (0, 1e+07], got -1",
        "command line, relative_gap: must be a number, got 'x'",
        "command line, threads: must be a whole number, got 1.5",
        "command line, seed: must be in [0, 2147483647], got -2",
    ]


# --- no traceback escapes for bad input ----------------------------------------------------

cell_text = st.one_of(
    st.sampled_from(["", "-1", "0", "1.5", "inf", "nan", "true", "*", ";", "a;;b", "1e400"]),
    st.text(max_size=12),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    table=st.sampled_from(["racks", "sites", "workloads", "throughput"]),
    column_index=st.integers(0, 9),
    text=cell_text,
)
def test_any_cell_text_gives_a_case_or_a_case_error(
    tmp_path_factory: pytest.TempPathFactory, table: str, column_index: int, text: str
) -> None:
    rows = {"racks": [rack()], "sites": [site()], "workloads": [workload()],
            "throughput": [prefill(), decode()]}  # fmt: skip
    row = rows[table][-1]
    column = list(row)[column_index % len(row)]
    rows[table][-1] = {**row, column: text}
    folder = write_case(tmp_path_factory.mktemp("fuzz"), **rows)
    try:
        read_case(folder)
    except CaseError as exc:
        assert exc.problems


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=60))
def test_any_case_yaml_gives_a_case_or_a_case_error(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    folder = write_case(tmp_path_factory.mktemp("fuzz"), config_text=text)
    try:
        read_case(folder)
    except CaseError as exc:
        assert exc.problems


# --- rules as docs/case-format.md states them ---------------------------------------------


def test_inf_is_accepted_where_the_docs_say_unlimited(tmp_path: Path) -> None:
    folder = write_case(
        tmp_path,
        racks=[rack(max_count="inf")],
        sites=[site(max_slots="inf")],
        workloads=[workload(max_ttft_ms="inf")],
    )
    case = read_case(folder)
    assert case.racks["max_count"].iloc[0] == math.inf
    assert case.sites["max_slots"].iloc[0] == math.inf
    assert case.workloads["max_ttft_ms"].iloc[0] == math.inf
    # Elsewhere inf is refused, as before.
    assert only_problem(write_case(tmp_path, name="finite", racks=[rack(power_kw="inf")])) == (
        "racks.csv row 1 (rack_type=r1), power_kw: must be a finite number, got 'inf'"
    )


def test_demand_is_guarded_over_the_horizon_not_only_per_cell(tmp_path: Path) -> None:
    # 1e9 tokens/s growing 10x a year (+900%) for 3 years: 1e12 in 2029, beyond 1e11.
    folder = write_case(
        tmp_path,
        workloads=[workload(decode_tokens_per_s=1e9, growth_per_year=9)],
        config={"periods": [2026, 2027, 2028, 2029]},
    )
    assert only_problem(folder) == (
        "workloads.csv row 1 (workload=w1): demand reaches 1e+12 tokens/s in 2029"
        " (1e+09 x 1000: growth_per_year or workload_periods.csv); it must stay in [0, 1e+11]"
        " every year"
    )
    multiplied = write_case(
        tmp_path,
        name="multiplied",
        workloads=[workload(decode_tokens_per_s=1e9)],
        workload_periods=[{"workload": "w1", "period": 2027, "demand_multiplier": 200}],
        config={"periods": [2026, 2027]},
    )
    assert "demand reaches 2e+11 tokens/s in 2027" in only_problem(multiplied)
    # Within the range it reads.
    fine = write_case(
        tmp_path,
        name="fine",
        workloads=[workload(decode_tokens_per_s=1e9, growth_per_year=9)],
        config={"periods": [2026, 2027, 2028]},
    )
    assert read_case(fine).workloads["growth_per_year"].iloc[0] == 9


@pytest.mark.parametrize("hidden", ["\u200b", "\x00", "\u2060", "\ufeff"])
def test_ids_with_invisible_characters_are_refused(tmp_path: Path, hidden: str) -> None:
    name = f"w{hidden}1"
    folder = write_case(tmp_path, workloads=[workload(workload=name)])
    code = f"U+{ord(hidden):04X}"
    assert only_problem(folder) == (
        f"workloads.csv row 1 (workload={name}), workload: holds an invisible or control"
        f" character ({code}) in {name!r}: names are compared as written, so it would make a"
        " different name that looks the same; remove it"
    )


def test_one_bad_periods_value_gives_one_message(tmp_path: Path) -> None:
    folder = write_case(
        tmp_path,
        racks=[rack(lead_time_years=1, available_from=2027)],
        workloads=[workload(growth_per_year=0.2)],
        installed=[{"site": "s1", "rack_type": "r1", "count": 1, "retire_year": 2030}],
        workload_periods=[{"workload": "w1", "period": 2027, "demand_multiplier": 2}],
        config={"periods": [2026, "2027x"]},
    )
    assert only_problem(folder) == "case.yaml, periods: must be whole years; got '2027x'"


def test_a_rack_type_that_fits_no_site_is_warned(tmp_path: Path) -> None:
    folder = write_case(
        tmp_path,
        racks=[
            rack(rack_type="air"),
            rack(rack_type="liquid", cooling="liquid"),
            rack(rack_type="huge", power_kw=9000),
        ],
        sites=[site(liquid_cooling="false", power_cap_mw=5, pue=1.2)],
        throughput=[decode(rack_type="air")],
    )
    assert case_warnings(read_case(folder)) == [
        "rack type liquid: fits no site (it is liquid-cooled and no site has liquid_cooling);"
        " the plan never uses it",
        "rack type huge: fits no site (one rack needs more floor slots or power than any site"
        " whose cooling fits it has); the plan never uses it",
    ]
