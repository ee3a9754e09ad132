"""What a planner forwards, on real runs: each year's figures in the report (headless
Chromium) and in `show`, the orders to place now first in a stochastic run, numbers written
one way, `export` read back equal, `compare` of a run with itself and of a what-if.

The runs, solved once for the module:
- the bundled example's five-year plan, and the same case with 20 MW more at nordic-remote;
- a nightly run of a small three-year case (4 scenarios, a real local Ray) with its
  stochastic stage (extensive form): a real stochastic run of a schedule, in `stochastic/`;
- an infeasible plan.
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import ray
import yaml
from click.testing import CliRunner

from fleetopt.cli.main import example_case_dir, main
from fleetopt.core import formats
from fleetopt.core.errors import RunFolderError
from fleetopt.io.case import read_case
from fleetopt.io.ownership import EXPORT_MARK_FILE
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
from fleetopt.results import yearly
from fleetopt.results.compare import compare_runs
from fleetopt.results.export import read_export, run_tables, sheet_names
from fleetopt.results.text import format_run
from fleetopt.testing.browser import wait_until_drawn
from fleetopt.testing.casekit import SITE, WORKLOAD, write_case
from tests.test_report_page import A4_PRINTABLE_PX, report_case

pytestmark = pytest.mark.slow

YEARS = [2026, 2027, 2028]


def three_year_case(folder: Path) -> Path:
    """The report's small case over 2026-2028: demand grows, rack B takes half a year to
    deliver (so it is ordered mid-year)."""
    case = report_case(folder)
    config = yaml.safe_load((case / "case.yaml").read_text())
    (case / "case.yaml").write_text(yaml.safe_dump({**config, "periods": YEARS}))
    (case / "workload_periods.csv").write_text(
        "workload,period,demand_multiplier\nchat,2027,1.5\nchat,2028,2.2\nbatch,2028,1.4\n"
    )
    racks = pd.read_csv(case / "racks.csv")
    racks.assign(lead_time_years=[0.0, 0.5]).to_csv(case / "racks.csv", index=False)
    return case


def solve_into(case: Path, folder: Path) -> Path:
    write_plan(plan_case(read_case(case)), folder)
    write_report(folder)
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("planner")
    what_if = root / "what-if-case"
    shutil.copytree(example_case_dir(), what_if)
    sites = pd.read_csv(what_if / "sites.csv")
    sites.loc[sites["site"] == "nordic-remote", "power_cap_mw"] += 20
    sites.to_csv(what_if / "sites.csv", index=False)
    infeasible = write_case(
        root / "infeasible-case",
        workloads=[{**WORKLOAD, "min_served_share": 1.0}],
        sites=[{**SITE, "power_cap_mw": 0.001}],  # no rack fits: infeasible
    )
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        case = three_year_case(root / "three-year")
        night = run_nightly(
            NightlyParams(
                case_dir=str(case),
                out=str(root / "nightly"),
                run_id="night",
                run=ScenarioOptions(4, farm=FarmSettings(chunk=2)),
                robust=RobustOptions(candidates=3),
                stochastic=StochasticSettings(Method.EF, out_of_sample=4),
            )
        ).dir
    finally:
        ray.shutdown()
    for part in ("plan", "stochastic"):
        write_report(night / part)
    return {
        "example": solve_into(example_case_dir(), root / "example"),
        "what-if": solve_into(what_if, root / "what-if"),
        "nightly": night,
        "three-year-case": case,
        "three-year": night / "plan",
        "stochastic": night / "stochastic",
        "infeasible": solve_into(infeasible, root / "infeasible"),
    }


def table(run: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(run / f"{name}.parquet")


# --- in a browser -----------------------------------------------------------------------


def open_page(browser, run: Path):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto((run / "report.html").as_uri())
    wait_until_drawn(page)
    return page


TABLE_ROWS = """selector => Array.from(document.querySelectorAll(selector + ' table tbody tr'))
  .map(tr => Array.from(tr.querySelectorAll('td')).map(td => td.textContent.trim()))"""
FIGURE_LABELS = """selector => Array.from(document.querySelectorAll(selector + ' .plot.figure'))
  .map(div => {
    const id = div.querySelector('[data-root-id]').dataset.rootId;
    const figure = Bokeh.documents[0].get_model_by_id(id);
    return figure.renderers.flatMap(r => r.data_source && r.data_source.data.label
      ? Array.from(r.data_source.data.label) : []);
  })"""
PAGE_TEXT = """() => {
  const walk = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
  const parts = [];
  while (walk.nextNode()) parts.push(walk.currentNode.textContent);
  return parts.join(' ');
}"""  # every text node, hidden years too, kept apart
ALL_LABELS = """() => Bokeh.documents.flatMap(d => Array.from(d.all_models))
  .filter(m => m.data !== undefined && m.data.label !== undefined)
  .flatMap(m => Array.from(m.data.label).map(String))"""


def rows(page, selector: str) -> list[list[str]]:
    return page.evaluate(TABLE_ROWS, selector)


def labels(page, selector: str) -> list[list[str]]:
    return page.evaluate(FIGURE_LABELS, selector)


def visible(page, selector: str) -> bool:
    return page.evaluate(f"() => document.querySelector({selector!r}).offsetParent !== null")


def order_cells(o) -> list[str]:
    """An order (a row of orders.parquet) as the page and `show` write it."""
    return [
        formats.month_year(o.order_by_year),
        str(o.period),
        o.rack_type,
        o.site,
        formats.integer(o.new_racks),
        formats.usd(o.capex_usd_each),
        formats.usd(o.new_racks * o.capex_usd_each),
    ]


RAW_FLOAT = re.compile(r"(?<![\w.])(\d[\d,]*\.\d+)(?![\d.])")
SCIENTIFIC = re.compile(r"\d\.?\d*[eE][+-]?\d+")


def raw_floats(text: str) -> list[str]:
    """Numbers written with more than 4 significant digits, or in scientific notation."""
    found = [m.group(1) for m in RAW_FLOAT.finditer(text)]
    long = [n for n in found if len(n.replace(",", "").replace(".", "").lstrip("0")) > 4]
    return long + SCIENTIFIC.findall(text)


def test_each_year_of_a_five_year_plan_shows_that_years_numbers(runs, browser):
    run = runs["example"]
    racks, sites, workloads, placement = (
        table(run, t) for t in ("racks", "sites", "workloads", "placement")
    )
    page = open_page(browser, run)
    years = yearly.years(sites)
    assert years == [2026, 2027, 2028, 2029, 2030]
    for year in years:
        page.click(f"section#power .years button[data-year='{year}']")
        for key in ("costs", "power", "racks", "placement"):  # one choice moves every section
            for other in years:
                shown = visible(page, f"section#{key} .year[data-year='{other}']")
                assert shown == (other == year), (key, year, other)
        panel = f".year[data-year='{year}']"
        # Power and floor: each site's MW of that year, from sites.parquet.
        here = sites[sites["period"] == year]
        assert [r[:3] for r in rows(page, f"section#power {panel}")] == [
            [s.site, formats.mw(s.power_mw), formats.mw(s.power_cap_mw)] for s in here.itertuples()
        ]
        # Rack mix: that year's racks per site and type, none summed over the years.
        mix = racks[(racks["period"] == year) & (racks["count"] > 0)]
        assert rows(page, f"section#racks {panel}") == [
            [
                r.site,
                r.rack_type,
                formats.integer(r.count),
                formats.integer(r.installed),
                formats.integer(r.count - r.installed),
            ]
            for r in mix.itertuples()
        ]
        (drawn,) = labels(page, f"section#racks {panel}")
        assert sorted(drawn) == sorted(formats.integer(c) for c in mix["count"])
        # Placement: that year's busy racks per workload phase and rack type (over sites).
        busy = placement[placement["period"] == year]
        busy = busy.groupby(["workload", "phase", "rack_type"], sort=False)["racks"].sum()
        (drawn,) = labels(page, f"section#placement {panel}")
        assert sorted(drawn) == sorted(formats.number(v) for v in busy)
        # Service per workload: that year's shares, from workloads.parquet.
        served = workloads[workloads["period"] == year]
        assert rows(page, f"section#placement {panel}") == [
            [
                w.workload,
                formats.number(w.demand_tokens_per_s),
                formats.share(w.served_share),
                formats.share(w.unmet_share),
                formats.usd(w.penalty_cost_usd_per_year),
            ]
            for w in served.itertuples()
        ]
    # Year by year: one row per year from periods.parquet, cash from the orders.
    periods, orders = table(run, "periods"), table(run, "orders")
    cash = (orders["new_racks"] * orders["capex_usd_each"]).groupby(orders["period"]).sum()
    by_year = {r[0]: r for r in rows(page, "section#periods") if r[0] in map(str, years)}
    for p in periods.itertuples():
        row = by_year[str(p.period)]
        assert row[2] == formats.usd(cash.get(p.period, 0.0))
        assert row[3:5] == [
            formats.usd(p.opex_cost_usd_per_year),
            formats.usd(p.energy_cost_usd_per_year),
        ]
        assert row[6] == formats.usd(p.fleet_cost_usd_per_year)
        assert row[8] == formats.usd(p.cost_per_mtok_usd)
    # Every order, with its order-by date, in the order schedule.
    schedule = [r for r in rows(page, "section#periods") if len(r) == 7]
    assert sorted(schedule) == sorted(
        map(order_cells, orders[orders["new_racks"] > 0].itertuples())
    )
    # The headline says which figures are levelized.
    head = page.inner_text("section#headline")
    assert "cost per million tokens, levelized" in head and "2026–2030" in head
    # Numbers written one way: no raw float in the page's text nor in any hover label.
    text = page.evaluate(PAGE_TEXT)
    assert raw_floats(text) == []
    assert raw_floats(" ".join(page.evaluate(ALL_LABELS))) == []
    # Printed, every year shows, and nothing is wider than an A4 page.
    page.emulate_media(media="print")
    assert all(visible(page, f"section#racks .year[data-year='{y}']") for y in years)
    page.set_viewport_size({"width": A4_PRINTABLE_PX, "height": 1000})
    assert page.evaluate("() => document.documentElement.scrollWidth") <= A4_PRINTABLE_PX
    page.close()


def test_a_stochastic_run_opens_with_its_orders(runs, browser):
    run = runs["stochastic"]
    orders = table(run, "orders")
    assert len(orders) and "order_by_year" in orders
    page = open_page(browser, run)
    first = page.evaluate("() => document.querySelector('main section').id")
    assert first == "orders"
    expected = [order_cells(o) for o in yearly.order_schedule(orders).itertuples()]
    assert rows(page, "section#orders") == expected  # every order, nothing else
    text = page.evaluate(PAGE_TEXT)
    # The extensive form did not iterate: no convergence section, and its own name.
    assert page.query_selector("section#convergence") is None
    assert "progressive hedging" not in text and "extensive form" in text
    for needed in ("Bounds, VSS and EVPI", "Out-of-sample check", "shortfall and recourse"):
        assert needed in text
    assert raw_floats(text) == [] and raw_floats(" ".join(page.evaluate(ALL_LABELS))) == []
    page.close()
    # `show` lists every order too, first.
    shown = format_run(run)
    assert shown.index("orders to place now") < shown.index("certified lower bound")
    for cells in expected:
        assert re.search(r"\s+".join(map(re.escape, cells)), shown), cells


def test_the_nightly_page_shows_the_robust_choice_year_by_year(runs, browser):
    run = runs["nightly"]
    choice = table(run / "robust" / "choice", "racks")
    page = open_page(browser, run)
    for year in YEARS:
        page.click(f"section#robust-racks .years button[data-year='{year}']")
        mix = choice[(choice["period"] == year) & (choice["count"] > 0)]
        panel = f"section#robust-racks .year[data-year='{year}']"
        assert [r[:3] for r in rows(page, panel)] == [
            [r.site, r.rack_type, formats.integer(r.count)] for r in mix.itertuples()
        ]
        (drawn,) = labels(page, panel)
        assert sorted(drawn) == sorted(formats.integer(c) for c in mix["count"])
    sections = page.evaluate(
        "() => Array.from(document.querySelectorAll('section')).map(s => s.id)"
    )
    stochastic = [s for s in sections if s.startswith("stochastic-")]
    assert stochastic[0] == "stochastic-orders"
    assert "hedged plan: racks to order now" in page.inner_text("section#headline")
    text = page.evaluate(PAGE_TEXT)
    assert raw_floats(text) == [] and raw_floats(" ".join(page.evaluate(ALL_LABELS))) == []
    page.close()


def test_the_infeasible_plans_page_shows_its_diagnosis(runs, browser):
    run = runs["infeasible"]
    diagnosis = json.loads((run / "summary.json").read_text())["diagnosis"]
    page = open_page(browser, run)
    header = page.inner_text("header")
    assert "status infeasible (exit code 3)" in header and "succeeded" not in header
    assert diagnosis in page.inner_text("section#headline")
    page.close()


# --- show -------------------------------------------------------------------------------


def test_show_writes_each_year_and_the_orders_with_their_dates(runs):
    run = runs["three-year"]
    shown = format_run(run)
    for year in YEARS:
        assert f"\n== {year} ==" in shown
    for o in yearly.order_schedule(table(run, "orders")).itertuples():
        cells = [formats.month_year(o.order_by_year), str(o.period), o.rack_type, o.site]
        assert re.search(r"\s+".join(map(re.escape, cells)), shown), cells
    assert "cost per million tokens, levelized" in shown
    assert raw_floats(shown) == []
    only = format_run(run, 2027)
    assert "\n== 2027 ==" in only and "\n== 2026 ==" not in only


# --- export -----------------------------------------------------------------------------


def same_cells(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Equal, a missing value and an empty text both being an empty cell."""

    def plain(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.reset_index(drop=True).astype(object)
        return out.where(out.notna(), "").replace({"": None})

    pd.testing.assert_frame_equal(plain(a), plain(b), check_dtype=False)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("kind", ["nightly", "example"])
def test_export_reads_back_every_table(runs, tmp_path, fmt, kind):
    run = runs[kind]
    out = tmp_path / ("export" if fmt == "csv" else "export.xlsx")
    done = CliRunner().invoke(main, ["export", str(run), "--format", fmt, "--out", str(out)])
    assert done.exit_code == 0, done.output
    tables = run_tables(run)
    parquet = sorted(p for p in run.rglob("*.parquet") if not {"parts", "state"} & set(p.parts))
    assert len(tables) == len(parquet) + 2  # every table, its summary and parameters
    names = sheet_names(list(tables)) if fmt == "xlsx" else {n: n for n in tables}
    back = read_export(out)
    assert set(back) == set(names.values())
    for name, written in tables.items():
        same_cells(back[names[name]], written)
    if kind == "example":  # the period is the year, as in the plan's tables
        racks = back["racks"]
        assert sorted(racks["year"].unique()) == [2026, 2027, 2028, 2029, 2030]
        same_cells(racks.rename(columns={"year": "period"}), table(run, "racks"))


def test_export_writes_only_where_it_may(runs, tmp_path):
    cli = CliRunner()
    run = str(runs["three-year"])
    mine = tmp_path / "mine.xlsx"
    mine.write_text("not a workbook of fleetopt's")
    refused = cli.invoke(main, ["export", run, "--format", "xlsx", "--out", str(mine)])
    assert refused.exit_code == 2 and "not a fleetopt export workbook" in refused.output
    assert mine.read_text() == "not a workbook of fleetopt's"
    book = tmp_path / "book.xlsx"
    assert cli.invoke(main, ["export", run, "--format", "xlsx", "--out", str(book)]).exit_code == 0
    again = cli.invoke(main, ["export", run, "--format", "xlsx", "--out", str(book)])
    assert again.exit_code == 0  # its own earlier workbook is replaced
    # A workbook someone saved again is theirs.
    edited = tmp_path / "edited.xlsx"
    with zipfile.ZipFile(book) as src, zipfile.ZipFile(edited, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "docProps/core.xml":
                data = data.replace(
                    b"<cp:lastModifiedBy>fleetopt export<", b"<cp:lastModifiedBy>Ann<"
                )
            dst.writestr(item, data)
    refused = cli.invoke(main, ["export", run, "--format", "xlsx", "--out", str(edited)])
    assert refused.exit_code == 2
    # A folder of the user's: refused; with --overwrite the export goes in, their file stays.
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    assert cli.invoke(main, ["export", run, "--out", str(folder)]).exit_code == 2
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    forced = cli.invoke(main, ["export", run, "--out", str(folder), "--overwrite"])
    assert forced.exit_code == 0 and (folder / "notes.txt").read_text() == "mine"
    assert (folder / "racks.csv").exists() and (folder / EXPORT_MARK_FILE).exists()
    # An earlier export folder is replaced whole.
    earlier = tmp_path / "earlier"
    assert cli.invoke(main, ["export", str(runs["example"]), "--out", str(earlier)]).exit_code == 0
    assert cli.invoke(main, ["export", run, "--out", str(earlier)]).exit_code == 0
    assert sorted(p.name for p in earlier.iterdir()) == sorted(
        [f"{n}.csv" for n in run_tables(run)] + [EXPORT_MARK_FILE]
    )
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


# --- compare ----------------------------------------------------------------------------


def test_compare_of_a_run_with_itself_reports_no_change(runs):
    done = CliRunner().invoke(main, ["compare", str(runs["example"]), str(runs["example"])])
    assert done.exit_code == 0, done.output
    assert "no change" in done.output
    data = json.loads(
        CliRunner()
        .invoke(main, ["compare", str(runs["example"]), str(runs["example"]), "--json"])
        .output
    )
    assert data["changed"] is False and data["orders"] == [] and data["headroom"] == []


def test_compare_of_a_what_if_reports_the_changed_orders(runs):
    before, after = runs["example"], runs["what-if"]
    comparison = compare_runs(before, after)
    keys = ["period", "site", "rack_type"]
    a, b = (table(r, "orders").groupby(keys)["new_racks"].sum() for r in (before, after))
    both = pd.concat([a.rename("a"), b.rename("b")], axis=1).fillna(0).astype(int)
    changed = both[both["a"] != both["b"]]
    assert len(changed) > 0  # 20 MW more at nordic-remote moves racks there
    assert {(o.period, o.site, o.rack_type): (o.a, o.b) for o in comparison.orders} == {
        key: (int(r.a), int(r.b)) for key, r in changed.iterrows()
    }
    assert any(o.site == "nordic-remote" and o.change > 0 for o in comparison.orders)
    # nordic-remote gains 20 MW of cap every year: its headroom is what is left of it.
    sites = table(after, "sites")
    nordic = sites[sites["site"] == "nordic-remote"].set_index("period")
    for h in (h for h in comparison.headroom if h.site == "nordic-remote"):
        assert h.b_mw == pytest.approx(
            nordic.loc[h.period, "power_cap_mw"] - nordic.loc[h.period, "power_mw"]
        )
    shown = CliRunner().invoke(main, ["compare", str(before), str(after)])
    assert shown.exit_code == 0 and "nordic-remote" in shown.output
    assert raw_floats(shown.output) == []


def test_compare_refuses_runs_of_different_kinds(runs):
    done = CliRunner().invoke(main, ["compare", str(runs["example"]), str(runs["stochastic"])])
    assert done.exit_code == 2
    assert "compare needs two runs of the same kind" in done.output


# --- evaluate --plan --------------------------------------------------------------------


def test_a_stochastic_schedule_is_no_plan_to_evaluate(runs):
    index = build_index(read_case(runs["three-year-case"]))
    with pytest.raises(RunFolderError, match="fixes only the racks ordered now"):
        read_plan(index, runs["stochastic"])
