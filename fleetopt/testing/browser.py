"""Headless Chromium for the report's browser checks and its README screenshot.

Playwright drives the system's Chromium (Debian's `chromium` package); it downloads no
browser. The flags keep a root, sandbox-less, GPU-less machine quiet and offline: no
background networking, component updates, sync or QUIC, and (Playwright's default) a fresh
profile per launch.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DRAWN = (  # every figure drawn; a page without figures (a plan without a solution) at once
    "() => window.Bokeh !== undefined && (document.querySelector('.plot.figure') === null"
    " || (Bokeh.documents.length > 0 && Bokeh.documents.every(d => d.is_idle)))"
)


def chromium_path() -> str | None:
    """The system's Chromium, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless Chromium (a Playwright Browser), closed afterwards."""
    from playwright.sync_api import sync_playwright  # a test extra

    path = chromium_path()
    if path is None:
        raise RuntimeError("no Chromium found: install Debian's chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def wait_until_drawn(page: Any, timeout_ms: float = 30_000) -> None:
    """Wait until every Bokeh figure on the page has been drawn."""
    page.wait_for_function(DRAWN, timeout=timeout_ms)
