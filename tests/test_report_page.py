"""The report page for every run kind, from small real runs: its sections, the command's
refusals, and the page in headless Chromium (no console errors, every figure drawn, no
request leaving the page, nothing wider than an A4 page when printed).

Two nightly runs of a small case (4 scenarios, a real local Ray; its demand forecast grows
between them; the second writes to OUT as a file:// URI, staged and pushed) give every kind:
the second run's own folder (nightly, with a trend and changes), its `plan/` (plan),
`robust/` (robust), `robust/sweep/` (sweep), `robust/evaluate/` and `installed/` (evaluate).
Multi-period runs, year by year, are in test_planner_outputs.py.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import ray
from click.testing import CliRunner

from fleetopt.cli.main import main
from fleetopt.io.case import read_case
from fleetopt.io.ownership import FileKind, is_own, own_entries
from fleetopt.model.index import build_index
from fleetopt.pipelines.nightly import NightlyParams, run_nightly
from fleetopt.pipelines.options import (
    FarmSettings,
    Method,
    RobustOptions,
    ScenarioOptions,
    StochasticSettings,
)
from fleetopt.pipelines.plan import plan_case, write_plan
from fleetopt.pipelines.runs import read_plan
from fleetopt.report.page import write_report
from fleetopt.results.text import format_nightly
from fleetopt.testing.browser import wait_until_drawn
from fleetopt.testing.casekit import SITE, WORKLOAD, write_case

FIVE_MB = 5_000_000
A4_PRINTABLE_PX = 703  # 210 mm less 2 x 12 mm margins, at 96 px per inch

THROUGHPUT = [
    ("A", "prefill", 8_000, None, 500, "measured: bench"),
    ("A", "decode", 2_000, 60, None, "estimate: model"),
    ("A", "decode", 3_500, 25, None, "estimate: model"),
    ("B", "prefill", 20_000, None, 300, "estimate: model"),
    ("B", "decode", 6_000, 60, None, "measured: bench"),
    ("B", "decode", 9_000, 25, None, "estimate: model"),
]


def report_case(tmp_path: Path, growth: float = 1.0) -> Path:
    """Two sites, two rack types, two workloads; demand times `growth`."""
    rack = {"kind": "gpu", "lifetime_years": 5, "slots": 1}
    return write_case(
        tmp_path,
        racks=[
            {**rack, "rack_type": "A", "capex_usd": 1e6, "power_kw": 100, "cooling": "air"},
            {**rack, "rack_type": "B", "capex_usd": 2.5e6, "power_kw": 120, "cooling": "liquid"},
        ],
        sites=[
            {
                "site": "s1",
                "region": "us",
                "power_cap_mw": 3,
                "pue": 1.2,
                "energy_usd_per_mwh": 50,
                "max_slots": 40,
                "liquid_cooling": "true",
            },
            {
                "site": "s2",
                "region": "eu",
                "power_cap_mw": 1.5,
                "pue": 1.3,
                "energy_usd_per_mwh": 90,
                "max_slots": 20,
                "liquid_cooling": "false",
            },
        ],
        workloads=[
            {
                "workload": "chat",
                "model": "m",
                "regions": "*",
                "prefill_tokens_per_s": 40_000 * growth,
                "decode_tokens_per_s": 10_000 * growth,
                "min_user_tps": 50,
                "max_ttft_ms": 800,
                "load_factor": 0.6,
            },
            {
                "workload": "batch",
                "model": "m",
                "regions": "us",
                "prefill_tokens_per_s": 20_000 * growth,
                "decode_tokens_per_s": 20_000 * growth,
                "min_user_tps": 20,
                "max_ttft_ms": 1000,
                "load_factor": 0.9,
                "unmet_penalty_usd_per_mtok": 5,
            },
        ],
        throughput=[
            {
                "rack_type": r,
                "model": "m",
                "phase": p,
                "tokens_per_s": t,
                "user_tps": u,
                "ttft_ms": f,
                "source": s,
            }
            for r, p, t, u, f, s in THROUGHPUT
        ],
        installed=[{"site": "s2", "rack_type": "A", "count": 2}],
        config={
            "unmet_penalty_usd_per_mtok": 50,
            "uncertainty": {
                "seed": 1,
                "demand": {"growth": {"median": 1.0, "sigma": 0.3}, "workload_sigma": 0.2},
                "energy_price": {"sigma": 0.2},
                "power_cap": {"probability": 0.2, "derate": 0.3},
                "supply": {"probability": 0.2, "cut": 0.5},
            },
        },
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Run folders of every kind, each with its report written to report.html."""
    root = tmp_path_factory.mktemp("runs")
    out = root / "nightly"
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        # The forecast grew between the runs; the second writes OUT as a URI (staged, pushed)
        # and has the stochastic stage.
        # (and whether its 4 scenarios suffice: 2 batches of other seeds).
        two_stage = StochasticSettings(Method.EF, out_of_sample=4, replications=2)
        for run_id, growth, target, stochastic in (
            ("first", 1.0, str(out), None),
            ("second", 1.5, out.as_uri(), two_stage),
        ):
            run_nightly(
                NightlyParams(
                    case_dir=str(report_case(root / run_id, growth)),
                    out=target,
                    run_id=run_id,
                    run=ScenarioOptions(4, farm=FarmSettings(chunk=2)),
                    robust=RobustOptions(candidates=3),
                    stochastic=stochastic,
                )
            )
    finally:
        ray.shutdown()
    (night,) = out.glob("*/second")
    folders = {
        "nightly": night,
        "plan": night / "plan",
        "robust": night / "robust",
        "sweep": night / "robust" / "sweep",
        "evaluate": night / "robust" / "evaluate",
        "installed": night / "installed",
        "stochastic": night / "stochastic",
    }
    for kind, folder in folders.items():
        if kind != "nightly":  # the pipeline wrote its own
            write_report(folder)
    return folders


EXPECTED = {
    "plan": ["headline", "assumptions", "costs", "power", "racks", "placement", "limits"],
    "sweep": ["headline", "assumptions", "distributions", "plans", "rack-types", "sites"],
    "evaluate": ["headline", "assumptions", "distributions", "plans", "racks", "sites"],
    "installed": ["headline", "distributions", "plans", "racks", "sites"],
    "robust": [
        "headline",
        "assumptions",
        "candidates",
        "distributions",
        "value",
        "rack-types",
        "racks",
        "sites",
    ],
    "stochastic": [
        "orders",
        "headline",
        "value",
        "out-of-sample",
        "distributions",
        "racks",
        "assumptions",
    ],
    "nightly": [
        "headline",
        "assumptions",
        "trend",
        "changes",
        "stochastic-orders",
        "stochastic-headline",
        "stochastic-value",
        "stochastic-out-of-sample",
        "stochastic-racks",
        "stochastic-distributions",
        "robust-headline",
        "robust-candidates",
        "robust-distributions",
        "robust-value",
        "robust-rack-types",
        "robust-racks",
        "installed-headline",
        "plan-headline",
        "plan-costs",
        "plan-power",
        "plan-racks",
        "plan-placement",
        "plan-limits",
        "stages",
    ],
}
FIGURES = {  # figures each page draws
    "plan": 5,
    "sweep": 5,
    "evaluate": 5,
    "installed": 5,
    "robust": 8,
    "stochastic": 5,
    "nightly": 23,  # the hedged plan's trend: the second run has the stochastic stage
}


def page_of(runs, kind) -> str:
    return (runs[kind] / "report.html").read_text()


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_each_page_has_its_sections_each_with_captions(runs, kind):
    page = page_of(runs, kind)
    assert page.startswith(FileKind.REPORT.mark)
    sections = re.findall(r'<section id="([^"]+)">', page)
    assert set(EXPECTED[kind]) <= set(sections), sections
    assert len(sections) == len(set(sections))
    figures = re.findall(r'<div class="plot figure">', page)
    assert len(figures) == FIGURES[kind]
    blocks = re.findall(r'<figure class="block">(.*?)</figure>', page, flags=re.S)
    for block in blocks:
        if 'class="note"' not in block:
            assert re.search(r"<figcaption>[^<]{20,}</figcaption>", block), block[:200]


@pytest.mark.parametrize("kind", ["nightly", "plan", "robust", "sweep", "evaluate", "installed"])
def test_every_file_a_run_writes_is_one_fleetopt_knows_as_its_own(runs, kind):
    """What a re-run may replace (fleetopt.io.ownership.RUN_OUTPUTS) is all a real run wrote,
    and its report: nothing of a run would survive its replacement looking current."""
    folder = runs[kind]
    record_kind = json.loads((folder / "run.json").read_text())["kind"]
    assert own_entries(folder, record_kind) == sorted(folder.iterdir())


def test_the_nightly_page_holds_what_changed_and_the_flagged_estimates(runs):
    page = page_of(runs, "nightly")
    manifest = json.loads((runs["nightly"] / "run.json").read_text())
    assert list(manifest["stages"]) == [
        "validate",
        "plan",
        "robust",
        "stochastic",
        "installed",
        "compare",
        "report",
    ]
    assert manifest["stages"]["report"]["result"]["file"] == "report.html"
    # The headline opens with the hedged plan and says the rule that chose it.
    assert "hedged plan: expected total cost" in page
    # One card per plan compared: the robust choice's own, unless it is the expected-value plan.
    ev_is_robust = manifest["stages"]["robust"]["result"]["chosen_plan"] == "expected-value"
    assert ("saved over the robust choice" in page) is not ev_is_robust
    assert ("the expected-value plan is also the robust choice" in page) is ev_is_robust
    assert "The answer is the hedged plan (two-stage stochastic program, extensive form)" in page
    assert page.index("hedged plan: racks to order now") < page.index("robust choice, P(unmet")
    # ... and whether its scenarios suffice: the card agrees with the verdict above it.
    gap = manifest["stages"]["stochastic"]["result"]["replications"]
    assert len(gap["batches"]) == 2 and gap["scenarios"] == 4
    verdict = "4 scenarios suffice" if gap["suffices"] else "4 scenarios are not enough"
    headline = re.search(r'<section id="headline">(.*?)</section>', page, flags=re.S)
    assert headline is not None and verdict in headline.group(1)
    card = re.search(r"<dt>are 4 scenarios enough\?</dt><dd>([^<]+)<small>", page)
    assert card is not None and card.group(1) == ("yes" if gap["suffices"] else "no"), card
    assert page.index('id="stochastic-orders"') < page.index('id="robust-headline"')
    # The P(shortfall) card says how deep the shortfalls go, as the run's results give it.
    results = pd.read_parquet(runs["stochastic"] / "results.parquet")
    hedged = results[results["plan"] == "stochastic"]["shortfall_share"]
    card = re.search(r"<dt>hedged plan: P\(shortfall\)</dt><dd>[^<]+<small>([^<]+)", page)
    assert card is not None
    assert ("when short, by" in card.group(1)) == bool((hedged > 1e-9).any()), card.group(1)
    # ... and the printed summary says the same.
    summary = format_nightly(runs["nightly"])
    (line,) = [x for x in summary.splitlines() if "expected total cost" in x]
    assert ("(when short, by" in line) == bool((hedged > 1e-9).any()), line
    # The out-of-sample table names the plans as the headline does.
    fresh = re.search(r'<section id="stochastic-out-of-sample">(.*?)</section>', page, re.S)
    assert fresh is not None
    assert '<td class="txt">hedged plan (stochastic)</td>' in fresh.group(1)
    assert '<td class="txt">expected-value plan (the forecast)</td>' in fresh.group(1)
    assert "The hedged plan&#x27;s expected total cost, run by run" in page
    assert re.search(r"status\s+succeeded;", page)  # all stages done as it was written
    assert "Racks added or removed" in page and "Figures then and now" in page
    assert "of which estimates" in page  # the plan folder records its operating points
    assert len(page.encode()) < FIVE_MB


def test_report_command_writes_refuses_and_overwrites_only_its_own(runs, tmp_path):
    cli = CliRunner()
    plan = runs["plan"]
    out = tmp_path / "page.html"
    done = cli.invoke(main, ["report", str(plan), "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert is_own(out, FileKind.REPORT) and f"wrote {out}" in done.output
    again = cli.invoke(main, ["report", str(runs["robust"]), "--out", str(out)])
    assert again.exit_code == 0  # an earlier fleetopt report is replaced
    assert "robust run of case" in out.read_text()

    mine = tmp_path / "notes.html"
    mine.write_text("<html>my notes</html>")
    refused = cli.invoke(main, ["report", str(plan), "--out", str(mine)])
    assert refused.exit_code == 2
    assert "exists and is not a fleetopt report; nothing was changed" in refused.output
    assert mine.read_text() == "<html>my notes</html>"

    not_a_run = cli.invoke(main, ["report", str(tmp_path)])
    assert not_a_run.exit_code == 2
    assert "is not a fleetopt run folder" in not_a_run.output
    incomplete = tmp_path / "incomplete"
    shutil.copytree(plan, incomplete)
    (incomplete / "_SUCCESS").unlink()
    (incomplete / "report.html").unlink()
    refused = cli.invoke(main, ["report", str(incomplete)])
    assert refused.exit_code == 2
    assert "incomplete plan run" in refused.output and "Traceback" not in refused.output
    assert not (incomplete / "report.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_plan_without_a_solution_reports_its_status(tmp_path):
    case = write_case(
        tmp_path,
        workloads=[{**WORKLOAD, "min_served_share": 1.0}],
        sites=[{**SITE, "power_cap_mw": 0.001}],  # no rack fits: infeasible
    )
    write_plan(plan_case(read_case(case)), tmp_path / "plan")
    page = write_report(tmp_path / "plan").read_text()
    assert re.findall(r'<section id="([^"]+)">', page) == ["headline", "assumptions"]
    diagnosis = json.loads((tmp_path / "plan" / "summary.json").read_text())["diagnosis"]
    assert "No plan: why" in page and html.escape(diagnosis) in page
    assert "status\ninfeasible (exit code 3)" in page  # not the run record's "succeeded"


def test_a_stochastic_plan_without_periods_is_a_plan_evaluate_can_fix(runs):
    folder = runs["stochastic"]
    index = build_index(read_case(runs["nightly"].parent.parent.parent / "second" / "case"))
    planned = index.sr[["site", "rack_type"]].assign(count=read_plan(index, folder))
    racks = pd.read_parquet(folder / "racks.parquet")
    assert sorted(
        (r.site, r.rack_type, int(r.count)) for r in planned[planned["count"] > 0].itertuples()
    ) == sorted((r.site, r.rack_type, r.count) for r in racks[racks["count"] > 0].itertuples())


def test_the_report_package_imports_no_solver():
    code = (
        "import sys, fleetopt.report.page, fleetopt.report.sections;"
        "solvers = ('ortools', 'ray', 'fleetopt.solve.mathopt', 'fleetopt.solve.deadline');"
        "bad = [m for m in solvers if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --- in a real browser ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_each_page_draws_in_chromium_offline(runs, browser, kind, tmp_path):
    from PIL import Image

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else 0)
    page.on("pageerror", lambda e: problems.append(str(e)))
    context.on("request", lambda r: requests.append(r.url))
    url = (runs[kind] / "report.html").as_uri()
    page.goto(url)
    wait_until_drawn(page)
    plots = page.query_selector_all(".plot.figure")
    assert len(plots) == FIGURES[kind]
    rows = page.evaluate(
        "() => Bokeh.documents[0].roots().map(figure => Math.max(...figure.renderers"
        ".map(r => r.data_source ? r.data_source.get_length() || 0 : 0)))"
    )
    assert len(rows) == FIGURES[kind] and min(rows) > 0, rows  # every figure has data
    shot = tmp_path / f"{kind}.png"
    page.screenshot(path=str(shot), full_page=True)  # the page is not scrolled: boxes match
    image = Image.open(shot).convert("RGB")
    for i, plot in enumerate(plots):
        box = plot.bounding_box()
        assert box["width"] >= 300 and box["height"] >= 80, (i, box)
        figure = image.crop((box["x"], box["y"], box["x"] + box["width"], box["y"] + box["height"]))
        colors = figure.getcolors(maxcolors=1 << 16)
        assert colors is None or len(colors) > 20, f"figure {i} looks empty"
    assert problems == []
    assert requests == [url]  # the page itself, nothing else

    page.emulate_media(media="print")
    page.set_viewport_size({"width": A4_PRINTABLE_PX, "height": 1000})
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= A4_PRINTABLE_PX  # nothing wider than an A4 page's printable width
    context.close()


def test_a_plan_emphasized_twice_is_drawn_and_listed_once():
    # The robust page emphasizes the chosen plan and the expected-value plan: when the
    # expected-value plan is the choice, its line and legend entry appear once.
    from bokeh.models import Legend

    from fleetopt.core import formats
    from fleetopt.report import figures

    frame = pd.DataFrame(
        {
            "plan": ["expected-value", "expected-value", "sweep-01", "sweep-01"],
            "value": [1.0, 2.0, 1.5, 3.0],
            "share": [0.5, 1.0, 0.5, 1.0],
        }
    )
    fig = figures.ecdf_lines(
        frame, axis_label="x", fmt=formats.usd, axis="usd", emphasis=["expected-value"] * 2
    )
    (legend,) = fig.select(type=Legend)
    labels = [item.label.value for item in legend.items]
    assert labels == ["expected-value", "other plans"]


def test_a_vss_of_zero_in_every_future_says_why():
    from fleetopt.report import blocks
    from fleetopt.results.runs import Estimate

    same = blocks.value_block(Estimate(0.0, 0.0), Estimate(1.27e9, 1.8e8))
    assert "The VSS is 0 in every future" in same.caption
    differs = blocks.value_block(Estimate(8.2e7, 1.7e7), Estimate(2.0e8, 1.6e7))
    assert "The VSS is 0" not in differs.caption
