"""Drive Debian's Chromium through Playwright, offline: launching it, keeping pages local, screenshots.

Playwright never downloads a browser here (no ``playwright install``): it runs ``/usr/bin/chromium``
(``apt-get install chromium``). Without it the browser tests are skipped, except in CI, where
``.ci/run`` installs it and a missing browser is a failure.

Usage::

    with launched() as browser:
        context = local_context(browser)
        page = context.new_page()
        page.goto(sandbox_payment_url)
        screenshot(page, "pay-IDEAL-success-1-form")
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from msp_explore.config import is_local

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Locator, Page, Route

INSTALL_HINT = "install Debian's Chromium with `apt-get install chromium` (Playwright never downloads one here)"
# Without the background-networking flags Chromium keeps calling Google services, which a closed
# network refuses by the hundred; QUIC, sync and component updates are more of the same.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_NOT_LOOPBACK = re.compile(r"^(?!https?://127\.0\.0\.1[:/])")  # every URL but this machine's own
SCREENSHOTS = Path(__file__).resolve().parents[1] / "build" / "screenshots"


def chromium_path() -> str:
    """Chromium's executable: skip the test without one, or fail it in CI (which must have installed it)."""
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    message = f"Chromium not found at /usr/bin/chromium or on PATH: {INSTALL_HINT}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def launched() -> Iterator[Browser]:
    """A headless Chromium; Playwright gives each launch a fresh, temporary user-data-dir (profile)."""
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def local_context(browser: Browser, **options: Any) -> BrowserContext:
    """A browser context that reaches only this machine.

    A request to any other host is recorded in ``context.outside`` (a list of URLs) and never sent: a
    page load gets a stand-in page (the tutorial's shop URLs on example.com), anything else is aborted.
    Requests to this machine are not intercepted at all, so they cost nothing extra.
    """
    options.setdefault("viewport", {"width": 900, "height": 700})
    context = browser.new_context(**options)
    outside: list[str] = []

    def keep_local(route: Route) -> None:
        url = route.request.url
        if is_local(url):  # a local URL the pattern let through (e.g. http://localhost)
            route.continue_()
            return
        outside.append(url)
        if route.request.is_navigation_request():
            body = f"<!doctype html><title>offline</title><p>Offline stand-in for <code>{escape(url)}</code></p>"
            route.fulfill(status=200, content_type="text/html", body=body)
        else:
            route.abort()

    context.route(_NOT_LOOPBACK, keep_local)
    context.outside = outside  # type: ignore[attr-defined]
    return context


def clear_screenshots(prefix: str) -> None:
    """Remove the screenshots a previous run of one test module left, so none are stale."""
    for old in SCREENSHOTS.glob(f"{prefix}*.png"):
        old.unlink()


def screenshot(target: Page | Locator, name: str) -> Path:
    """Save a PNG of a page (what is in view) or of one element, as build/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / (re.sub(r"[^A-Za-z0-9._-]+", "_", name) + ".png")
    target.screenshot(path=path)
    return path
