"""The nightly run's what-if and alternatives stages (asked with --whatif FILE and
--alternatives K): they run after robust selection, record their results and parameters,
resume, and appear in `show` and the report."""

from __future__ import annotations

import json

import pytest

from fleetopt.core.errors import CaseError, RunFolderError
from fleetopt.io.ownership import own_entries
from fleetopt.pipelines.nightly import NightlyParams, run_nightly
from fleetopt.pipelines.options import AlternativesAsk, FarmSettings, ScenarioOptions
from fleetopt.results.text import format_nightly
from tests.test_alternatives import vendor_case


def params(case_dir, out, whatif, **changes) -> NightlyParams:
    return NightlyParams(
        case_dir=str(case_dir),
        out=str(out),
        run_id="night",
        run=ScenarioOptions(2, farm=FarmSettings(chunk=1)),
        whatif=str(whatif),
        alternatives=AlternativesAsk(0.05, 2),
        stochastic=None,  # the questions' stages alone (the hedged answer: test_nightly_job)
        **changes,
    )


def test_whatif_and_alternatives_as_nightly_stages(local_ray, tmp_path):
    vendor_case(tmp_path)
    case_dir = tmp_path / "case"
    variants = tmp_path / "variants.txt"
    variants.write_text("racks:A:capex_usd=+10%\ncheap-b=racks:B:capex_usd=-5%\n")
    out = tmp_path / "out"
    run = run_nightly(params(case_dir, out, variants))
    record = json.loads((run.dir / "run.json").read_text())
    assert list(record["stages"]) == [
        "validate",
        "plan",
        "robust",
        "whatif",
        "alternatives",
        "installed",
        "compare",
        "report",
    ]
    assert record["params"]["whatif"] == [
        ["racks:A:capex_usd=+10%", "racks:A:capex_usd=+10%"],
        ["cheap-b", "racks:B:capex_usd=-5%"],
    ]
    assert record["params"]["alternatives"] == {"slack": 0.05, "k": 2, "seed": None}
    whatif = record["stages"]["whatif"]["result"]["variants"]
    assert [v["variant"] for v in whatif] == ["base", "racks:A:capex_usd=+10%", "cheap-b"]
    # B 5% cheaper (978,500 USD) beats A: all 10 racks switch, 21,500 x 10 / 5 a year less.
    assert whatif[2]["delta_objective"] == pytest.approx(-43_000, rel=1e-6)
    plans = record["stages"]["alternatives"]["result"]["plans"]
    assert [p["plan"] for p in plans] == ["optimum", "alt-1", "alt-2"]
    for stage in ("whatif", "alternatives"):
        assert (run.dir / stage / "_SUCCESS").exists()
        assert own_entries(run.dir / stage, stage) == sorted((run.dir / stage).iterdir())
    shown = format_nightly(run.dir)
    assert "what-if: 2 variant(s)" in shown and "cheap-b: optimal, -$43.00k" in shown
    assert "alternatives: 2 plan(s) found" in shown
    page = (run.dir / "report.html").read_text()
    assert '<section id="whatif-variants">' in page
    assert '<section id="alternatives-alternatives">' in page

    again = run_nightly(params(case_dir, out, variants))  # complete: nothing to do
    assert again.dir == run.dir
    variants.write_text("racks:A:capex_usd=+20%\n")
    with pytest.raises(RunFolderError, match="whatif"):
        run_nightly(params(case_dir, out, variants))
    variants.write_text("racks:A:nope=1\n")
    with pytest.raises(CaseError):
        run_nightly(params(case_dir, tmp_path / "other", variants))
    assert not (tmp_path / "other").exists()
