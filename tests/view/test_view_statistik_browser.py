"""``/view/statistik`` in a real browser (Debian's Chromium through Playwright, the same server and
seeding as ``test_view_browser``): after people of each kind have used the viewer, the statistics
page shows every section with its charts and, beside each chart, the table of the same numbers; it
passes the pages' structure checks, violates no Content-Security-Policy rule, and is reached from
the menu. With ``NSP_SANDBOX_SCREENSHOTS`` set, it is saved as ``statistik.png``."""

from __future__ import annotations

from typing import Any

import pytest
import seeding
import test_view_browser as browser_support
from view_support import CITIZEN, GP

pytestmark = pytest.mark.browser

# The browser tests' fixtures: one sandbox server, seeded through the real flows, and Chromium.
sandbox = browser_support.sandbox
browser = browser_support.browser
page = browser_support.page


def _sign_out(page: Any) -> None:
    page.get_by_role("button", name="Log ud").click()
    page.wait_for_url("**/view/")


def test_statistics_page_with_charts_and_tables(page: Any, sandbox: browser_support.Sandbox) -> None:
    refused = sandbox.client.post("/eoj/hco", json=seeding.hco_order(CITIZEN, refused_consent=True, observations=[
        {"code": "NPU19748", "value": 12, "time": "2026-11-20T09:00:00+01:00"}]))
    assert refused.status_code == 201 and refused.json()["dds"]["entry"] is None, refused.text
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text else None)
    browser_support.sign_in(page, "Bruno Elmer", f"citizen-{CITIZEN}")
    browser_support.menu(page, "Prøvesvar fra kommunen").click()
    _sign_out(page)
    browser_support.sign_in(page, "Lars Lund", GP)
    browser_support.menu(page, "Statistik").click()
    page.wait_for_url("**/view/statistik")

    assert page.get_by_role("heading", level=1).inner_text() == "Statistik"
    for heading in ("Kommunale prøvesvar (HomeCareObservation)", "Modtaget i lægesystemet",
                    "Diagnosekort og journalnotater (PLSP)", "Visninger på Sundhed.dk"):
        assert page.get_by_role("heading", level=2, name=heading).is_visible()
    charts = page.locator("svg.bars[role=img]")
    assert charts.count() >= 7
    for index in range(charts.count()):
        pair = charts.nth(index).locator("xpath=ancestor::div[contains(@class,'chart-pair')]")
        assert pair.locator("table caption").count() == 1  # the chart's numbers, beside it
        assert charts.nth(index).locator("text.value").count() >= 1  # counts written out, not colour alone
    towns = page.get_by_role("table", name="Meddelelser og resultater pr. kommune")
    assert "Aarhus Kommune" in towns.inner_text()
    copies = page.get_by_role("table", name="Meddelelser delt i DDS, og hvorfor de øvrige ikke er").inner_text()
    assert "Delt i DDS" in copies and "frabedt sig deling" in copies
    systems = page.get_by_role("table", name="Diagnosekort og journalnotater pr. lægesystem").inner_text()
    assert "GP system, Skødstrup Lægepraksis" in systems
    views = page.get_by_role("table", name="Sidevisninger pr. brugertype og side").inner_text()
    assert "Borger" in views and "Prøvesvar" in views
    assert CITIZEN not in page.content()
    assert page.evaluate(browser_support.STRUCTURE_PROBLEMS) == []
    assert page.locator("main p.notice-title").count() == 0  # every actor answered
    assert problems == []  # no inline style or script the policy had to refuse
    browser_support.screenshot(page, "statistik")
