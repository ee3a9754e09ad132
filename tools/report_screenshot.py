"""Write a run's report and a PNG of one of its sections (the README's screenshot).

Usage: python tools/report_screenshot.py RUN_DIR OUT.png [--section ID] [--height PX]

The report is (re)written to RUN_DIR/report.html first, so the picture shows the current
code's page; the PNG is the page at 1440 px wide from the top of section ID (default
robust-candidates: the candidate plans and their distributions) down HEIGHT px.
"""

from __future__ import annotations

from pathlib import Path

import click

from fleetopt.report.page import write_report
from fleetopt.testing.browser import chromium, wait_until_drawn

WIDTH_PX = 1440


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--section", default="robust-candidates", show_default=True)
@click.option("--height", default=1500, show_default=True, help="pixels from the section top")
def main(run_dir: Path, out: Path, section: str, height: int) -> None:
    page_file = write_report(run_dir)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": WIDTH_PX, "height": 900})
        page.goto(page_file.resolve().as_uri())
        wait_until_drawn(page)
        box = page.locator(f"section#{section}").bounding_box()
        if box is None:
            raise click.ClickException(f"the report of {run_dir} has no section {section!r}")
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(out),
            full_page=True,
            clip={"x": 0, "y": box["y"], "width": WIDTH_PX, "height": height},
        )
    click.echo(f"wrote {out} from {page_file}")


if __name__ == "__main__":
    main()
