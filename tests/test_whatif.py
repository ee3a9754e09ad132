"""What-if variants (docs/model.md section 11): SPECs, variants read like any case, and the
base and its variants solved side by side on a real local Ray.

The hand case is tests/test_marginal_values.py's: site `a` at its 2.5 MW cap with no room
for another rack, where one more MW is worth 2,715,600 USD a year.
"""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest

from fleetopt.core.errors import CaseError, RunFolderError
from fleetopt.io.case import read_case
from fleetopt.io.edits import Op, parse_change, read_variants_file, variant_cases, variants_of
from fleetopt.io.ownership import own_entries
from fleetopt.pipelines.options import FarmRun, FarmSettings
from fleetopt.pipelines.plan import plan_case
from fleetopt.pipelines.whatif import whatif
from fleetopt.report.page import write_report
from fleetopt.results.compare import compare_runs
from fleetopt.results.text import format_run
from fleetopt.results.whatif import WhatifSummary
from fleetopt.testing.casekit import rack, site, write_case
from tests.test_cli import run as fleetopt
from tests.test_marginal_values import POWER_VALUE, hand_case


def problems_of(err: pytest.ExceptionInfo) -> list[str]:
    return [str(p) for p in err.value.problems]


# --- SPECs and variants -------------------------------------------------------------------


def test_a_spec_names_file_row_column_and_a_value_absolute_or_relative():
    change = parse_change("sites.csv:us-east:power_cap_mw=+20")
    assert (change.table, change.row, change.year, change.column) == (
        "sites",
        "us-east",
        None,
        "power_cap_mw",
    )
    assert (change.op, change.value) == (Op.ADD, "+20")
    assert parse_change("racks:a:max_count=120").op is Op.SET
    assert parse_change("racks:a:capex_change_per_year==-0.05").value == "-0.05"
    assert parse_change("workloads:w:decode_tokens_per_s=-10%").op is Op.PERCENT
    assert parse_change("workloads:w:decode_tokens_per_s=x1.5").new_text(10) == "15"
    period = parse_change("site_periods:us-east@2027:power_cap_mw=x2")
    assert (period.row, period.year) == ("us-east", 2027)


def test_every_bad_spec_is_refused_at_once_naming_it():
    bad = [
        "sites:a:power_cap_mw",  # no value
        "sites:a=5",  # no column
        "cases:a:power_cap_mw=5",  # no such file
        "sites:a:power_cap=5",  # no such column
        "sites:a:site=b",  # an id
        "sites:a:power_cap_mw=+five",  # not a number
        "sites:a:liquid_cooling=x2",  # relative on a bool
        "site_periods:a:power_cap_mw=5",  # a period row needs its year
    ]
    with pytest.raises(CaseError) as err:
        variants_of(bad, ["big=sites:a:power_cap_mw=+1", "big=racks:r1:max_count=3", "base=x"])
    said = problems_of(err)
    for spec in bad:
        assert any(repr(spec) in line for line in said), spec
    assert any("variant 'big' is given twice" in line for line in said)
    assert any("'base' is the case itself" in line for line in said)
    assert all(line.startswith(("--change", "--variant")) for line in said)


def test_variants_come_from_a_file_one_a_line(tmp_path):
    path = tmp_path / "variants.txt"
    path.write_text(
        "# tonight's questions\n"
        "sites:a:power_cap_mw=+1\n"
        "\n"
        "cheap=racks:A:capex_usd=-10%;racks:B:capex_usd=-10%\n"
    )
    variants = read_variants_file(path)
    assert [v.name for v in variants] == ["sites:a:power_cap_mw=+1", "cheap"]
    assert variants[1].spec == "racks:A:capex_usd=-10%;racks:B:capex_usd=-10%"
    path.write_text("sites:a:nope=1\n")
    with pytest.raises(CaseError) as err:
        read_variants_file(path)
    assert problems_of(err)[0].startswith(str(path))


def test_a_variant_is_the_case_with_its_values_changed_and_checked_like_any_case(tmp_path):
    case_dir = write_case(
        tmp_path,
        racks=[rack(rack_type="r1", opex_usd_per_year=None), rack(rack_type="r2")],
        sites=[site(site="s1", power_cap_mw=10), site(site="s2", power_cap_mw=4)],
        config={"periods": [2026, 2027]},
        parquet=["racks"],
    )
    base = read_case(case_dir)
    ok = variants_of(
        [
            "sites:s1:power_cap_mw=+5",
            "racks.parquet:r2:capex_usd=x1.5",
            "racks:r1:opex_usd_per_year=+100",  # blank: its default 0
            "site_periods:s2@2027:power_cap_mw=x2",  # a row the case lacks: the site's cap
            "workloads:w1:min_served_share=0.5",
        ],
        ["two=sites:s1:power_cap_mw=+5;sites:s1:power_cap_mw=-50%"],
    )
    cases = variant_cases(case_dir, base, ok)
    assert cases[0].sites["power_cap_mw"].tolist() == [15, 4]
    assert cases[1].racks["capex_usd"].tolist() == [3_000_000, 4_500_000]
    assert cases[2].racks["opex_usd_per_year"].tolist() == [100, 0]
    periods = cases[3].site_periods
    assert periods[["site", "period", "power_cap_mw"]].values.tolist() == [["s2", 2027, 8.0]]
    assert cases[4].workloads["min_served_share"].tolist() == [0.5]
    assert cases[5].sites["power_cap_mw"].tolist() == [7.5, 4]  # (10 + 5) x 50%
    assert all(c.name == base.name for c in cases)
    assert base.sites["power_cap_mw"].tolist() == [10, 4]  # the case itself is untouched
    assert sorted(p.name for p in case_dir.iterdir()) == [
        "case.yaml",
        "racks.parquet",
        "sites.csv",
        "throughput.csv",
        "workloads.csv",
    ]

    bad = variants_of(
        [
            "sites:s1:power_cap_mw=-20",  # -10 MW: refused by the case rules
            "sites:nowhere:power_cap_mw=5",
            "racks:r1:max_count=+5",  # unlimited: a change of it means nothing
            "site_periods:s1@2031:power_cap_mw=5",
        ],
        ["sum=sites:s2:pue=0.5;workloads:w1:min_served_share=2"],
    )
    with pytest.raises(CaseError) as err:
        variant_cases(case_dir, base, bad)
    said = problems_of(err)
    assert (
        "variant sites:s1:power_cap_mw=-20: sites.csv row 1 (site=s1), power_cap_mw: must be"
        " in (0, 100000], got -10"
    ) in said
    assert any("no site 'nowhere' in sites" in line for line in said)
    assert any("max_count is unlimited there" in line for line in said)
    assert any("2031 is not one of the case's periods" in line for line in said)
    assert any(line.startswith("variant sum: sites.csv row 2 (site=s2), pue") for line in said)
    assert any(line.startswith("variant sum: workloads.csv") for line in said)


# --- solved on Ray ------------------------------------------------------------------------


def farm(workers: int = 2, overwrite: bool = False) -> FarmRun:
    return FarmRun(FarmSettings(workers=workers, chunk=1), overwrite)


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hand")
    case = hand_case(folder)
    return case, folder / "case"


HAND_VARIANTS = variants_of(
    [
        "sites:a:power_cap_mw=2.5",  # the base's own value
        "sites:a:power_cap_mw=+0.1",  # the binding site: the fleet cannot change
        "sites:b:power_cap_mw=+1",  # not binding
        "workloads:chat:decode_tokens_per_s=-10%",  # no limit: no LP estimate
    ],
    ["roomy=sites:a:max_slots=+2;sites:a:power_cap_mw=+2"],  # room and power for 2 racks
)


def test_variants_side_by_side_against_the_base(local_ray, hand, tmp_path):
    case, case_dir = hand
    summary = whatif(case, case_dir, HAND_VARIANTS, tmp_path / "run", farm())
    assert isinstance(summary, WhatifSummary)
    table = pd.read_parquet(tmp_path / "run" / "variants.parquet").set_index("variant")
    assert list(table.index) == ["base", *(v.name for v in HAND_VARIANTS)]
    assert (table["status"] == "optimal").all()
    same, binding, loose, demand, roomy = (v.name for v in HAND_VARIANTS)
    assert table.loc[same, "delta_objective"] == pytest.approx(0, abs=1e-6)
    assert table.loc[same, "lp_delta_objective"] == 0
    # +0.1 MW where the cap binds never costs more: here it saves what the LP says.
    assert table.loc[binding, "delta_objective"] == pytest.approx(-0.1 * POWER_VALUE, rel=1e-6)
    assert table.loc[binding, "lp_delta_objective"] == pytest.approx(-0.1 * POWER_VALUE)
    assert table.loc[loose, "delta_objective"] == pytest.approx(0, abs=1e-6)
    assert table.loc[loose, "lp_delta_objective"] == 0
    assert math.isnan(table.loc[demand, "lp_delta_objective"])
    # Room and power for two more racks: the integer re-solve buys them and runs 2 more
    # rack-equivalents (400,000 USD of capex and 876,000 of energy against 6,307,200 of
    # penalty); the LP's first-order view, 2 MW at 2,715,600, knows neither the capex nor
    # that the fleet as bought could use only 0.5 MW more.
    racks = pd.read_parquet(tmp_path / "run" / "racks.parquet")
    assert racks.columns[0] == "variant"
    at_a = racks[(racks["site"] == "a")].set_index("variant")["count"]
    assert at_a["base"] == 3 and at_a[roomy] == 5
    assert table.loc[roomy, "delta_objective"] == pytest.approx(-5_031_200, rel=1e-6)
    assert table.loc[roomy, "lp_delta_objective"] == pytest.approx(-2 * POWER_VALUE)

    # Each variant's objective is `solve` of the edited case.
    edited = variant_cases(case_dir, case, [HAND_VARIANTS[4], HAND_VARIANTS[3]])
    for variant, solved in zip((roomy, demand), edited, strict=True):
        assert plan_case(solved).summary.objective == pytest.approx(
            table.loc[variant, "objective"], rel=1e-6
        )

    values = pd.read_parquet(tmp_path / "run" / "marginal_values.parquet")
    assert set(values["variant"]) == set(table.index)
    shown = format_run(tmp_path / "run")
    assert "v5 = roomy: sites:a:max_slots=+2;sites:a:power_cap_mw=+2" in shown
    assert "racks bought differently (racks per site and rack type):" in shown
    assert re.search(r"\n  a +A +[0-9]", shown)  # site a, rack type A: racks per variant
    assert "+$271.6k" not in shown and "-$271.6k" in shown
    assert not compare_runs(tmp_path / "run", tmp_path / "run").changed

    page = write_report(tmp_path / "run").read_text()
    assert '<section id="variants">' in page and "Racks bought differently" in page
    folder = tmp_path / "run"
    assert own_entries(folder, "whatif") == sorted(folder.iterdir())  # all fleetopt's own

    # The same run again is done already; other variants are refused without --overwrite.
    again = whatif(case, case_dir, HAND_VARIANTS, tmp_path / "run", farm())
    assert again == summary
    with pytest.raises(RunFolderError, match="other parameters"):
        whatif(case, case_dir, HAND_VARIANTS[:2], tmp_path / "run", farm())
    fewer = whatif(case, case_dir, HAND_VARIANTS[:2], tmp_path / "run", farm(overwrite=True))
    assert len(fewer.variants) == 3


def test_the_same_answers_with_one_worker_or_two(local_ray, hand, tmp_path):
    case, case_dir = hand
    for workers in (1, 2):
        whatif(case, case_dir, HAND_VARIANTS[1:4], tmp_path / f"w{workers}", farm(workers))
    for table in ("variants", "racks", "placement", "marginal_values"):
        one, two = (pd.read_parquet(tmp_path / f"w{w}" / f"{table}.parquet") for w in (1, 2))
        pd.testing.assert_frame_equal(one, two)


def test_a_schedule_s_variants_have_their_years(local_ray, tmp_path):
    case = hand_case(tmp_path, periods=[2026, 2027], discount_rate=0.1)
    variants = variants_of(["site_periods:a@2027:power_cap_mw=+0.5"], [])
    summary = whatif(case, tmp_path / "case", variants, tmp_path / "run", farm())
    row = summary.variants[1]
    level = (1 / 1.1) / (1 + 1 / 1.1)
    assert row.delta_objective == pytest.approx(-level * 0.5 * POWER_VALUE, rel=1e-6)
    assert row.lp_delta_objective == pytest.approx(row.delta_objective, rel=1e-6)
    assert summary.base.npv_cost_usd is not None
    for name in ("orders", "periods", "sites"):
        table = pd.read_parquet(tmp_path / "run" / f"{name}.parquet")
        assert list(table.columns[:2]) == ["variant", "period"] or name == "orders"
    caps = pd.read_parquet(tmp_path / "run" / "sites.parquet")
    cap = caps[(caps["site"] == "a") & (caps["period"] == 2027)].set_index("variant")
    assert cap["power_cap_mw"].to_dict() == {"base": 2.5, variants[0].name: 3.0}


def test_the_command_refuses_bad_specs_and_invalid_variants_with_exit_2(hand, tmp_path):
    _, case_dir = hand
    out = tmp_path / "out"
    done = fleetopt("whatif", str(case_dir), "--change", "sites:a:cap=1", "--out", str(out))
    assert done.returncode == 2, done.stderr
    assert "--change: 'sites:a:cap=1': sites has no column 'cap'" in done.stderr
    invalid = fleetopt(
        "whatif", str(case_dir), "--variant", "neg=sites:a:pue=x0.5", "--out", str(out)
    )
    assert invalid.returncode == 2, invalid.stderr
    assert "variant neg: sites.csv row 1 (site=a), pue: must be in [1, 5], got 0.5" in (
        invalid.stderr
    )
    assert "Traceback" not in invalid.stderr and not out.exists()
