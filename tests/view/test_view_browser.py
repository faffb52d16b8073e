"""The viewer in a real browser: Debian's Chromium driven by Playwright against a sandbox server
started here (uvicorn in a thread, SQLite in a temporary folder), seeded through the real flows
(``seeding``: EOJ → GP → DDS for HCO; LPS → PLSP → DDS for the diagnosis card and the notes;
ITI-65 for the note with hostile markup, which PLSP would clean at the source — about the citizen
too: DDS refuses a document about someone other than its entry's patient).

Without ``/usr/bin/chromium`` (or the ``playwright`` package) these tests are skipped with the
reason, except under CI (``CI`` set), where that is a failure. With ``NSP_SANDBOX_SCREENSHOTS`` set
to a folder (e.g. ``docs/screenshots``), the main pages are saved there as PNG.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import seeding
from actor_tokens import ActorTokens
from servers import TLS, free_port
from view_support import CITIZEN, GP, RELATIVE

from nsp_sandbox.clock import Clock
from nsp_sandbox.config import Settings
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.database import Database

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--no-first-run"]
HOSTILE_NOTE = ('<p>Notat med <b>fed</b> tekst</p><script>window.__pwned = "script"</script>'
                '<img src="x" onerror="window.__pwned = \'onerror\'">'
                '<a href="javascript:window.__pwned=\'link\'">klik her</a>'
                '<iframe src="javascript:parent.__pwned=\'iframe\'"></iframe>'
                '<svg><script>window.__pwned = "svg"</script></svg><p style="display:none">skjult</p>')


# What every page must have: Danish language, one h1, a label for every field, named charts and
# tables, and no heading level skipped.
STRUCTURE_PROBLEMS = """() => {
  const problems = [];
  if (document.documentElement.lang !== "da") problems.push("html lang");
  if (document.querySelectorAll("h1").length !== 1) problems.push("one h1");
  for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea"))
    if (!el.labels || el.labels.length === 0) problems.push("no label: " + (el.name || el.id));
  for (const svg of document.querySelectorAll("svg[role=img]"))
    for (const id of (svg.getAttribute("aria-labelledby") || "").split(" "))
      if (!id || !document.getElementById(id)) problems.push("chart without name");
  for (const table of document.querySelectorAll("table"))
    if (!table.querySelector("caption")) problems.push("table without caption");
  let level = 1;
  for (const h of document.querySelectorAll("main h1, main h2, main h3")) {
    const next = Number(h.tagName[1]);
    if (next > level + 1) problems.push("heading skips to " + h.tagName + ": " + h.textContent.trim());
    level = next;
  }
  return problems;
}"""


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run under CI: {reason}")
    pytest.skip(reason)


@dataclass
class Sandbox:
    url: str
    client: httpx.Client


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory, fhir_packages_dir: Path, packages: Any) -> Iterator[Sandbox]:
    """A real sandbox server on a free port, with the scenarios' data."""
    import uvicorn

    from sandbox.app import create_sandbox_app

    folder = tmp_path_factory.mktemp("browser-sandbox")
    settings = Settings(fhir_packages=str(fhir_packages_dir), fhir_package_cache=folder / "cache", data_dir=folder,
                        database_url=f"sqlite:///{folder / 'sandbox.db'}")
    context = SandboxContext(settings, Clock(), Database.from_url(settings.resolved_database_url()))
    context._packages = packages
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_sandbox_app(context, warm_packages=False), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="sandbox-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the sandbox server did not start"
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(verify=TLS, base_url=url, timeout=60, auth=ActorTokens()) as client:
        first = seeding.hco(client, CITIZEN, observations=[
            {"code": "NPU19748", "value": 26, "time": "2026-11-02T10:15:00+01:00"},
            {"code": "NPU22089", "value": 6.8, "comment": "Ikke fastende", "time": "2026-11-02T10:15:00+01:00"}])
        seeding.hco_modify(client, first, observations=[{"code": "NPU19748", "value": 30,
                                                         "comment": "Rettet efter ny analyse"}])
        for day, value, comment in (("05", 41, "Feber, hoster. Lægen kontaktet."),
                                    ("09", 18, "Feberfri, drikker bedre."),
                                    ("14", 9, "Upåfaldende. Afslutter forløbet.")):
            seeding.hco(client, CITIZEN, clinical_comment=comment, observations=[
                {"code": "NPU19748", "value": value, "time": f"2026-11-{day}T09:00:00+01:00"},
                {"code": "NPU22089", "value": 5.9, "time": f"2026-11-{day}T09:00:00+01:00"}])
        wrong = seeding.hco(client, CITIZEN, observations=[{"code": "NPU19748", "value": 99,
                                                            "time": "2026-11-16T09:00:00+01:00"}])
        seeding.hco_retract(client, wrong, "Cancellation due to incorrect CPR-number")
        seeding.diagnosis_card(client, CITIZEN)
        seeding.plsp_note(client, CITIZEN, "note-kontrol", "Kontrol efter 14 dage.\r\nBT 132/80 mmHg.",
                          "2026-11-18T09:30:00+01:00")
        seeding.plsp_note(client, CITIZEN, "note-traethed", "Aktuelt: træthed\r\nPlan: blodprøver om 1 uge",
                          "2026-11-03T08:15:00+01:00", updated="2026-11-04T07:32:00+01:00")
        seeding.note(client, fhir_packages_dir, CITIZEN, body=HOSTILE_NOTE, created="2026-11-20T10:00:00+01:00")
        yield Sandbox(url, client)
    server.should_exit = True
    thread.join(timeout=10)


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


@pytest.fixture
def page(browser: Any, sandbox: Sandbox) -> Iterator[Any]:
    context = browser.new_context(base_url=sandbox.url, locale="da-DK", viewport={"width": 1200, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(15000)
    yield opened
    context.close()


def screenshot(page: Any, name: str) -> None:
    folder = os.environ.get("NSP_SANDBOX_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def menu(page: Any, name: str) -> Any:
    """A link of the main menu."""
    return page.get_by_role("navigation", name="Hovedmenu").get_by_role("link", name=name, exact=True)


def sign_in(page: Any, persona_label: str, persona: str) -> None:
    page.goto("/view/")
    page.get_by_label(re.compile(rf"^{re.escape(persona_label)}")).first.check()
    page.locator(f'input[value="{persona}"]').check()
    page.get_by_role("button", name="Log ind").click()
    page.wait_for_url("**/view/hjem")


def test_observations_page_with_chart_and_a_corrected_result(page: Any, sandbox: Sandbox) -> None:
    sign_in(page, "Bruno Elmer", f"citizen-{CITIZEN}")
    screenshot(page, "forside-borger")
    menu(page, "Prøvesvar fra kommunen").click()
    page.wait_for_url(f"**/borger/{CITIZEN}/provesvar")
    crp = page.locator("section.analysis", has_text="C-reaktivt protein")
    chart = crp.locator("svg.trend")
    assert chart.is_visible()
    assert "Udvikling" in (chart.locator("title").first.text_content() or "")
    assert chart.locator("rect.point.corrected").count() == 1  # the corrected value: a square, labelled R
    assert chart.locator("circle.point").count() == 3
    first_row = crp.locator("tbody tr").last
    assert re.search(r"30\s*R", first_row.locator("td.value").inner_text())
    assert "Rettet efter ny analyse" in first_row.inner_text()
    # the cancelled message is not a result (99 as a value, not inside an id or a time)
    assert not re.search(r"(?<![\w.:-])99(?![\w.:-])", crp.locator("tbody").inner_text())
    cancelled = page.locator("section", has=page.locator("#annullerede"))
    assert "Annulleret" in cancelled.inner_text()
    screenshot(page, "provesvar")
    first_row.get_by_role("link").click()
    page.wait_for_selector("h1")
    assert page.get_by_role("heading", name=re.compile("Oprindelig meddelelse")).is_visible()
    assert "26" in page.locator("section.version").last.inner_text()
    assert page.evaluate(STRUCTURE_PROBLEMS) == []
    screenshot(page, "provesvar-historik")


def test_diagnoses_page(page: Any) -> None:
    sign_in(page, "Bruno Elmer", f"citizen-{CITIZEN}")
    page.goto(f"/view/borger/{CITIZEN}/diagnoser")
    table = page.get_by_role("table", name=re.compile("Diagnoser fra"))
    assert table.is_visible()
    row = table.get_by_role("row", name=re.compile("Type 2-diabetes"))
    assert [c.strip() for c in row.locator("td").all_inner_texts()][:4] == ["T90", "DE11", "Aktuel", "Forløbsdiagnose"]
    assert "Senest opdateret" in page.locator("main").inner_text()
    assert "Tillægstekst" not in page.locator("main").inner_text()
    screenshot(page, "diagnoser")


def test_a_note_with_hostile_html_is_inert(page: Any) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, "Bruno Elmer", f"citizen-{CITIZEN}")
    page.goto(f"/view/borger/{CITIZEN}/journalnotater")
    page.wait_for_load_state("load")
    hostile = page.locator("article.note").first
    assert "Notat med fed tekst" in hostile.inner_text()
    assert hostile.locator(".note-body b").inner_text() == "fed"
    assert hostile.locator(".note-body script, .note-body img, .note-body iframe, .note-body svg, "
                           ".note-body a, .note-body [style]").count() == 0
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned === undefined") and dialogs == []
    updated = page.locator("article.note", has_text="Plan: blodprøver om 1 uge")
    assert "Senest opdateret" in updated.inner_text() and "Plan: blodprøver om 1 uge" in updated.inner_text()
    screenshot(page, "journalnotater")


def test_a_block_empties_the_gps_view_and_vaerdispring_is_logged(page: Any) -> None:
    # the citizen blocks the GP at Min Spærring
    sign_in(page, "Bruno Elmer", f"citizen-{CITIZEN}")
    menu(page, "Min Spærring").click()
    page.get_by_label("En bestemt sundhedsperson").check()
    page.get_by_label("Sundhedsperson", exact=True).select_option(label="Lars Lund (Læge, Skødstrup Lægepraksis)")
    page.get_by_role("button", name="Opret spærring").click()
    assert page.get_by_role("status").inner_text() == "Spærringen er oprettet."
    screenshot(page, "minspaerring")
    page.get_by_role("button", name="Log ud").click()
    # the GP looks the citizen up: nothing, a hint and the værdispring form
    sign_in(page, "Lars Lund", GP)
    page.get_by_label("CPR-nummer").fill(f"{CITIZEN[:6]}-{CITIZEN[6:]}")
    page.get_by_role("button", name="Slå op").click()
    assert page.get_by_role("heading", name="Ingen dokumenter fundet").is_visible()
    assert "kan have spærret" in page.locator("main").inner_text()
    assert page.evaluate(STRUCTURE_PROBLEMS) == []
    screenshot(page, "laege-tomt-opslag")
    page.get_by_role("button", name="Brug værdispring").click()
    assert page.get_by_role("heading", name="Ingen dokumenter fundet").is_visible()  # the reason is required
    page.get_by_label("Begrundelse (skal udfyldes)").fill("Bevidstløs ved ankomst, akut indlæggelse")
    page.get_by_role("button", name="Brug værdispring").click()
    assert page.get_by_role("region", name="Værdispring anvendt").is_visible()
    menu(page, "Prøvesvar").click()
    assert page.locator("section.analysis").count() >= 2
    assert page.get_by_role("region", name="Værdispring anvendt").is_visible()
    screenshot(page, "laege-vaerdispring")
    page.get_by_role("button", name="Afslut værdispring").click()
    page.get_by_role("button", name="Log ud").click()
    # the citizen's Min Log shows it, with the reason; then lifts the block again
    sign_in(page, "Bruno Elmer", f"citizen-{CITIZEN}")
    menu(page, "Min Log").click()
    flagged = page.locator("tr.override").first
    assert "Værdispring" in flagged.inner_text() and "Bevidstløs ved ankomst" in flagged.inner_text()
    assert "Lars Lund" in flagged.inner_text()
    screenshot(page, "minlog")
    menu(page, "Min Spærring").click()
    page.get_by_role("button", name=re.compile("Tilbagekald")).first.click()
    assert page.get_by_role("status").inner_text() == "Spærringen er tilbagekaldt."


def test_a_relative_sees_the_grantors_data(page: Any) -> None:
    sign_in(page, "Emil Elmer", RELATIVE)
    page.get_by_label(re.compile("Bruno Elmer")).check()
    page.get_by_role("button", name="Skift").click()
    page.wait_for_url(f"**/borger/{CITIZEN}")
    assert "Du ser oplysninger for Bruno Elmer" in page.locator("main").inner_text()
    menu(page, "Diagnoser").click()
    assert page.get_by_role("row", name=re.compile("Type 2-diabetes")).is_visible()
    screenshot(page, "paaroerende-diagnoser")


def test_keyboard_only_navigation(page: Any) -> None:
    page.goto("/view/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Gå til indhold"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    assert page.evaluate(STRUCTURE_PROBLEMS) == []
    screenshot(page, "log-ind")
    # choose the citizen with the keyboard only: into the radio group, arrow to the person, Enter submits
    target = f"citizen-{CITIZEN}"
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.name") == "persona":
            break
    for _ in range(40):
        if page.evaluate("document.activeElement.value") == target:
            break
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Space")
    assert page.evaluate("document.activeElement.checked") is True
    page.keyboard.press("Enter")
    page.wait_for_url("**/view/hjem")
    # every main page is reachable by Tab + Enter from the menu, and the skip link lands in main
    for name, path in (("Prøvesvar fra kommunen", "/provesvar"), ("Diagnoser", "/diagnoser"),
                       ("Journalnotater", "/journalnotater"), ("Min Log", "/minlog"),
                       ("Min Spærring", "/minspaerring")):
        for _ in range(40):
            page.keyboard.press("Tab")
            focused = page.evaluate("[document.activeElement.tagName, document.activeElement.textContent.trim()]")
            if focused == ["A", name]:
                break
        else:
            pytest.fail(f"the menu link {name!r} was not reached with Tab")
        page.keyboard.press("Enter")
        page.wait_for_url(f"**{path}")
        assert page.locator("h1").is_visible()
        assert page.evaluate(STRUCTURE_PROBLEMS) == [], path
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")  # the skip link
        assert page.evaluate("document.activeElement.id") == "indhold"


def test_signing_out_kills_the_old_cookie_and_another_sites_form_is_refused(page: Any, sandbox: Sandbox) -> None:
    sign_in(page, "Bruno Elmer", f"citizen-{CITIZEN}")
    [old] = [c for c in page.context.cookies() if c["name"] == "sundhed_session"]
    assert old["httpOnly"] and old["sameSite"] == "Lax" and not old["secure"]  # plain HTTP on 127.0.0.1
    # a form on another site posting to the viewer: refused, and the person stays signed in
    page.set_content(f'<form method="post" action="{sandbox.url}/view/logout"><input name="csrf" value="x">'
                     '<button>Send</button></form>')
    page.get_by_role("button", name="Send").click()
    assert page.get_by_role("heading", name="Formularen blev afvist").is_visible()
    page.goto("/view/hjem")
    assert "Bruno Elmer" in page.locator("header").inner_text()
    # signing out, then replaying the old cookie: no session
    page.get_by_role("button", name="Log ud").click()
    page.wait_for_url("**/view/")
    assert all(c["value"] != old["value"] for c in page.context.cookies() if c["name"] == "sundhed_session")
    page.context.add_cookies([old])
    page.goto("/view/hjem")
    page.wait_for_url("**/view/")
    assert page.get_by_role("heading", name="Log ind").is_visible()
    assert page.get_by_role("button", name="Log ud").count() == 0


DEPARTMENT = ("900008000099016", "Akutafdelingen, Aarhus Universitetshospital")


def _from_the_department(bundle: dict[str, Any]) -> None:
    for organisation in seeding.resources(bundle, "Organization"):
        organisation["identifier"] = [{"system": seeding.SOR_SYSTEM, "value": DEPARTMENT[0]}]
        organisation["name"] = DEPARTMENT[1]


def _notes_of_bruno(page: Any) -> str:
    page.get_by_label("CPR-nummer").fill(f"{CITIZEN[:6]}-{CITIZEN[6:]}")
    page.get_by_role("button", name="Slå op").click()
    menu(page, "Journalnotater").click()
    return str(page.locator("main").inner_text())


def test_blocking_data_from_a_hospital_department(page: Any, sandbox: Sandbox, fhir_packages_dir: Path) -> None:
    from sts_client import add_relation

    seeding.note(sandbox.client, fhir_packages_dir, CITIZEN, body="<p>Udskrevet fra Akutafdelingen</p>",
                 created="2026-11-21T10:00:00+01:00", change=_from_the_department)
    add_relation(sandbox.client, "doctor-auh-acute", CITIZEN)  # the department's own doctor treats him too
    # the citizen blocks data from the hospital department, for every professional
    sign_in(page, "Bruno Elmer", f"citizen-{CITIZEN}")
    menu(page, "Min Spærring").click()
    page.get_by_label("Alle sundhedspersoner").check()
    page.get_by_label("Oplysninger fra et bestemt behandlingssted").check()
    page.get_by_label("Behandlingssted", exact=True).select_option(label=DEPARTMENT[1])
    page.get_by_role("button", name="Opret spærring").click()
    assert page.get_by_role("status").inner_text() == "Spærringen er oprettet."
    row = page.locator("tr.negative").first.inner_text()
    assert f"Data fra {DEPARTMENT[1]}" in row and "Alle sundhedspersoner" in row and "Bruno Elmer" in row
    assert page.evaluate(STRUCTURE_PROBLEMS) == []
    screenshot(page, "minspaerring-afdeling")
    page.get_by_role("button", name="Log ud").click()
    # his GP still sees the rest, not the department's note, and is told something was withheld
    sign_in(page, "Lars Lund", GP)
    notes = _notes_of_bruno(page)
    assert "Kontrol efter 14 dage" in notes and "Udskrevet fra Akutafdelingen" not in notes
    assert "data fra et behandlingssted" in page.get_by_role("note").filter(has_text="Bemærk").inner_text()
    page.get_by_role("button", name="Log ud").click()
    # … and so does the department's own doctor
    sign_in(page, "Rasmus Dahl", "doctor-auh-acute")
    notes = _notes_of_bruno(page)
    assert "Kontrol efter 14 dage" in notes and "Udskrevet fra Akutafdelingen" not in notes
    page.get_by_role("button", name="Log ud").click()
    # the fuldmagt holder still sees it
    sign_in(page, "Emil Elmer", RELATIVE)
    page.get_by_label(re.compile("Bruno Elmer")).check()
    page.get_by_role("button", name="Skift").click()
    page.wait_for_url(f"**/borger/{CITIZEN}")
    menu(page, "Journalnotater").click()
    assert "Udskrevet fra Akutafdelingen" in page.locator("main").inner_text()
    page.get_by_role("button", name="Log ud").click()
    # the citizen still sees it, and Min Log shows the GP's look-up with its fields
    sign_in(page, "Bruno Elmer", f"citizen-{CITIZEN}")
    menu(page, "Journalnotater").click()
    assert "Udskrevet fra Akutafdelingen" in page.locator("main").inner_text()
    menu(page, "Min Log").click()
    looked = page.get_by_role("row", name=re.compile("Lars Lund")).first.inner_text()
    assert "Lars Lund (Læge)" in looked and "Skødstrup Lægepraksis" in looked and "Bruno Elmer" in looked
    assert "Nej" in looked  # no værdispring
    assert page.get_by_role("row", name=re.compile("Rasmus Dahl")).first.is_visible()
    screenshot(page, "minlog-felter")
    menu(page, "Min Spærring").click()
    page.get_by_role("button", name=re.compile("Tilbagekald")).first.click()
    assert page.get_by_role("status").inner_text() == "Spærringen er tilbagekaldt."
