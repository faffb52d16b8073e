"""A run's report (``/sandbox/runs/{id}/report.html``) in a real browser (Debian's Chromium through Playwright):
it renders, its summary counts are the run's, a failed case's evidence is folded and opens on a click,
and the page breaks no rule of its Content-Security-Policy. Without ``/usr/bin/chromium`` (or the
``playwright`` package) it is skipped with the reason, except under CI, where that is a failure."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from runs_support import NOT_INTERACTIVE, SUITE, TARGET, finished, origin, self_test_suite
from servers import TLS

__all__ = ["origin", "self_test_suite"]
pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--no-first-run"]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield launched
        launched.close()


def test_the_report_renders_with_its_counts_and_folded_evidence(browser: Any, origin: str) -> None:
    with httpx.Client(verify=TLS, base_url=origin, timeout=30) as client:
        started = client.post("/sandbox/runs", json={"suite": SUITE.name, "target": TARGET, "cases": NOT_INTERACTIVE})
        assert started.status_code == 201, started.text
        run_id = started.json()["id"]
        assert finished(client.get, run_id)["status"] == "failed"

    page = browser.new_page()
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text else None)
    try:
        answer = page.goto(f"{origin}/sandbox/runs/{run_id}/report.html")
        assert answer is not None and answer.status == 200
        assert page.get_by_role("heading", level=1).inner_text() == "Conformance run: The sandbox checks itself"
        counts = {k: page.locator(f'.counts [data-count="{k}"]').inner_text()
                  for k in ("passed", "failed", "skipped", "pending")}
        assert counts == {"passed": "1 passed", "failed": "1 failed", "skipped": "1 skipped", "pending": "0 pending"}
        assert page.locator(".summary .verdict").inner_text() == "failed"
        assert page.locator("section.case").count() == 3

        failed = page.locator("#case-search-without-token")
        assert failed.locator(".message").inner_text() == "ITI-67 without a token answered HTTP 401, not 200"
        evidence = failed.locator("details.evidence")
        exchange = evidence.locator("details.exchange").first
        assert not exchange.is_visible()  # folded
        evidence.locator("summary").first.click()
        assert exchange.is_visible()
        assert "→ HTTP 401" in exchange.locator("summary").inner_text()
        exchange.locator("summary").click()
        body = exchange.locator("pre.body").last
        assert body.is_visible() and "OperationOutcome" in body.inner_text()
        assert page.locator("section.case.passed .verdict").inner_text() == "passed"
        assert refused == []  # the one inline stylesheet is allowed by its hash
        assert page.evaluate("getComputedStyle(document.querySelector('.verdict.failed')).backgroundColor") \
            == "rgb(254, 226, 226)"
    finally:
        page.close()
