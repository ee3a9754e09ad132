"""The report page: sections laid out as one self-contained HTML file, written atomically.

Bokeh's JavaScript is inlined once for the whole page, the styles are inline, and a
Content-Security-Policy forbids the page any request: it opens with no network, and
anything that tried to fetch would fail loudly rather than leak. The page starts with the
report's mark (fleetopt.io.ownership.FileKind.REPORT: its head up to a generator meta tag);
only a file that starts with it is replaced without --overwrite.
"""

from __future__ import annotations

import datetime as dt
import html
import os
from collections.abc import Iterator
from pathlib import Path

from bokeh.embed import components
from bokeh.resources import Resources

from fleetopt import __version__
from fleetopt.io.ownership import REPORT_FILE, FileKind, claim_file
from fleetopt.io.store import write_text_atomic
from fleetopt.report.blocks import Block, Section
from fleetopt.report.sections import sections_for
from fleetopt.report.statistics import Run, open_run, run_status
from fleetopt.results.nightly import NightlyRecord

CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline';"
    " img-src data:; font-src data:; connect-src 'none'"
)

CSS = """
:root { --ink: #1d1d1f; --muted: #5f6368; --rule: #d9d9de; --accent: #0072B2; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
  Arial, sans-serif; color: var(--ink); background: #fff; }
header, main, footer, nav { max-width: 1460px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 20px; border-bottom: 1px solid var(--rule); }
header h1 { font-size: 22px; margin: 0 0 4px; }
header p { margin: 0 0 12px; color: var(--muted); }
nav { padding-top: 8px; padding-bottom: 8px; font-size: 13px; }
nav a { color: var(--accent); text-decoration: none; margin-right: 14px; white-space: nowrap; }
section { padding-top: 10px; border-bottom: 1px solid var(--rule); }
section h2 { font-size: 18px; margin: 12px 0 6px; }
.blocks { display: flex; flex-wrap: wrap; gap: 10px 32px; align-items: flex-start; }
figure.block { margin: 0 0 14px; width: 620px; max-width: 100%; }
figure.block.wide { width: 1272px; }
figure.block.wide table { width: auto; min-width: 620px; }
figure.block h3 { font-size: 14px; margin: 6px 0 4px; }
figcaption { color: var(--muted); font-size: 12.5px; margin-top: 4px; }
.plot { min-height: 40px; overflow-x: auto; }
table { border-collapse: collapse; font-size: 12.5px; width: 100%; }
th, td { padding: 3px 8px; border-bottom: 1px solid #ececf0; text-align: left; }
thead th { border-bottom: 1px solid var(--rule); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.facts th { width: 38%; font-weight: 500; color: var(--muted); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); gap: 8px;
  margin: 0; }
.card { border: 1px solid var(--rule); border-radius: 6px; padding: 8px 10px; }
.card dt { font-size: 12px; color: var(--muted); }
.card dd { margin: 2px 0 0; font-size: 18px; font-weight: 600; }
.card small { display: block; font-size: 12px; font-weight: 400; color: var(--muted); }
.note { color: var(--muted); font-style: italic; }
.blocks[hidden] { display: none; }
.years { margin: 4px 0 10px; font-size: 13px; color: var(--muted); }
.years button { font: inherit; margin-left: 4px; padding: 2px 10px; cursor: pointer;
  border: 1px solid var(--rule); border-radius: 4px; background: #fff; color: var(--ink); }
.years button[aria-pressed="true"] { background: var(--accent); border-color: var(--accent);
  color: #fff; }
footer { color: var(--muted); font-size: 12px; padding-top: 10px; padding-bottom: 24px; }
@page { size: auto; margin: 12mm; }
@media print {
  body { font-size: 10pt; }
  header, main, footer, nav { max-width: none; padding: 0; }
  nav, .years { display: none; }
  .year[hidden] { display: flex; }
  section { break-inside: auto; border-bottom: none; }
  section h2 { break-after: avoid; }
  figure.block, figure.block.wide { break-inside: avoid; width: 100%; }
  figure.block.wide table { min-width: 0; }
  .plot { overflow: visible; }
  .cards { grid-template-columns: repeat(3, 1fr); }
  a { color: inherit; text-decoration: none; }
}
"""


# The year selector: a year chosen in any section is shown in every section that has it.
YEAR_SCRIPT = """
document.addEventListener("click", function (event) {
  var button = event.target.closest(".years button");
  if (!button) return;
  var year = button.dataset.year;
  document.querySelectorAll("section").forEach(function (section) {
    if (!section.querySelector('.years button[data-year="' + year + '"]')) return;
    section.querySelectorAll(".year").forEach(function (panel) {
      panel.hidden = panel.dataset.year !== year;
    });
    section.querySelectorAll(".years button").forEach(function (other) {
      other.setAttribute("aria-pressed", String(other.dataset.year === year));
    });
  });
});
"""


def render(run: Run, manifests: list[NightlyRecord] | None = None) -> str:
    """The whole HTML page for `run`."""
    sections = sections_for(run, manifests)
    figures = [b.figure for s in sections for b in _page_order(s) if b.figure is not None]
    script, divs = components(figures) if figures else ("", ())
    slots = iter(divs)
    body = "\n".join(_section_html(s, slots) for s in sections)
    case = (run.nightly.case if run.nightly else getattr(run.summary, "case", None)) or "?"
    title = f"fleetopt report: {run.kind} run of case {case}"
    toc = "\n".join(f'<a href="#{s.key}">{html.escape(s.title)}</a>' for s in sections)
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    bokeh_js = Resources(mode="inline", components=["bokeh"]).render_js()
    return f"""{FileKind.REPORT.mark}<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{CSS}</style>
{bokeh_js}
</head>
<body>
<header><h1>{html.escape(title)}</h1>
<p>Run folder <code>{html.escape(run.path.name)}</code>, status
{html.escape(run_status(run))}; generated {generated} by fleetopt
{html.escape(__version__)}. Hover a figure for exact values.</p></header>
<nav>{toc}</nav>
<main>
{body}
</main>
<footer>Made by <code>fleetopt report</code> from the run folder alone: every number is read
from its tables; nothing on this page is fetched from the network.</footer>
{script}
<script>{YEAR_SCRIPT}</script>
</body>
</html>
"""


def _page_order(section: Section) -> list[Block]:
    """The section's blocks in the order the page lays them out: those of every year, then
    each year's."""
    shared = [b for b in section.blocks if b.year is None]
    return shared + [b for y in section.years for b in section.blocks if b.year == y]


def _block_html(block: Block, slots: Iterator[str]) -> str:
    content = next(slots) if block.figure is not None else block.html
    caption = f"<figcaption>{html.escape(block.caption)}</figcaption>" if block.caption else ""
    return (
        f'<figure class="block{" wide" if block.wide else ""}"><h3>{html.escape(block.title)}</h3>'
        f'<div class="plot{" figure" if block.figure is not None else ""}">{content}</div>'
        f"{caption}</figure>"
    )


def _section_html(section: Section, slots: Iterator[str]) -> str:
    """A section: its blocks for every year, then, in a multi-period run, a year selector
    and one panel per year (the first year shown; every year when printed)."""
    parts = []
    shared = [_block_html(b, slots) for b in section.blocks if b.year is None]
    if shared:
        parts.append(f'<div class="blocks">{"".join(shared)}</div>')
    years = section.years
    if len(years) > 1:
        buttons = "".join(
            f'<button type="button" data-year="{y}" aria-pressed="{str(y == years[0]).lower()}">'
            f"{y}</button>"
            for y in years
        )
        parts.append(f'<div class="years" role="group" aria-label="year">Year {buttons}</div>')
    for year in years:
        panel = [_block_html(b, slots) for b in section.blocks if b.year == year]
        hidden = "" if year == years[0] else " hidden"
        parts.append(f'<div class="blocks year" data-year="{year}"{hidden}>{"".join(panel)}</div>')
    return (
        f'<section id="{section.key}"><h2>{html.escape(section.title)}</h2>'
        f"{''.join(parts)}</section>"
    )


def write_report(
    run_dir: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    complete: bool = True,
    manifests: list[NightlyRecord] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the report of the run in `run_dir` to `out` (default RUN/report.html).

    The run must be complete (`_SUCCESS`) unless `complete` is False (the nightly pipeline
    reports its own run before marking it complete). `manifests`: the run records of
    earlier nightly runs (default: those beside the run folder). An existing `out` is
    replaced only when it is a fleetopt report, or with `overwrite`.
    """
    run = open_run(run_dir, complete=complete)
    target = Path(out) if out is not None else run.path / REPORT_FILE
    claim_file(target, FileKind.REPORT, overwrite=overwrite)
    write_text_atomic(target, render(run, manifests))
    return target
