"""The viewer's statistics: ``/view/statistik`` (charts with their tables) and ``/view/api/statistik``
(JSON), gathered over HTTP from the actors that own the counts, after seeding through the real
flows (EOJ → GP → DDS; LPS → PLSP → DDS) and signing in as each kind of user. Open without sign-in;
never a CPR number; an actor that cannot be reached leaves its section saying so."""

from __future__ import annotations

import re
from typing import Any

import pytest
import seeding
from fastapi.testclient import TestClient
from view_support import CITIZEN, GP, GP_ORGANISATION, RELATIVE, main, sign_in

from nsp_sandbox.context import SandboxContext

AARHUS = "937961000016000"


@pytest.fixture
def seeded(client: TestClient) -> TestClient:
    first = seeding.hco(client, CITIZEN, observations=[{"code": "NPU19748", "value": 26,
                                                         "time": "2026-11-02T10:15:00+01:00"}])
    seeding.hco_modify(client, first, observations=[{"code": "NPU19748", "value": 30}])
    seeding.diagnosis_card(client, CITIZEN)
    seeding.plsp_note(client, CITIZEN, "note-kontrol", "Kontrol efter 14 dage.", "2026-11-18T09:30:00+01:00")
    sign_in(client, f"citizen-{CITIZEN}")
    assert client.get(f"/view/borger/{CITIZEN}/provesvar").status_code == 200
    sign_in(client, RELATIVE)
    assert client.get("/view/hjem").status_code == 200
    sign_in(client, GP)
    assert client.get(f"/view/borger/{CITIZEN}/diagnoser").status_code == 200
    client.cookies.clear()
    return client


def _json(client: TestClient) -> dict[str, Any]:
    response = client.get("/view/api/statistik")
    assert response.status_code == 200, response.text
    assert CITIZEN not in response.text
    return response.json()  # type: ignore[no-any-return]


def test_the_json_gathers_every_actor(seeded: TestClient) -> None:
    stats = _json(seeded)
    sections = stats["sections"]
    assert {name: s["available"] for name, s in sections.items()} == {"hco": True, "gp": True, "plsp": True}
    hco = sections["hco"]["counts"]
    assert hco["messages"]["total"] == 2
    assert hco["by_municipality"][0]["sor"] == AARHUS and hco["by_municipality"][0]["messages"] == 2
    assert {a["outcome"]: a["messages"] for a in hco["acknowledgements"]}["ok"] == 2
    assert hco["dds"]["shared"] == 2
    assert sections["gp"]["counts"]["received"] == 2
    plsp = sections["plsp"]["counts"]
    assert plsp["by_clinic"][0]["sor"] == GP_ORGANISATION
    assert plsp["totals"]["cards_shared"] == 1 and plsp["totals"]["notes_shared"] == 1
    views = {k["kind"]: k["views"] for k in stats["page_views"]["by_kind"]}
    # one page each (sign-in itself renders nothing): results, home, diagnoses
    assert views == {"citizen": 1, "relative": 1, "professional": 1, "assistant": 0}
    pages = {(p["kind"], p["page"]): p["views"] for p in stats["page_views"]["by_kind_and_page"]}
    assert pages == {("citizen", "observations.html"): 1, ("relative", "home.html"): 1,
                     ("professional", "conditions.html"): 1}


def test_the_page_shows_charts_with_their_tables_without_sign_in(seeded: TestClient) -> None:
    response = seeded.get("/view/statistik")
    assert response.status_code == 200
    html = main(response.text)
    assert CITIZEN not in response.text
    assert " style=" not in response.text and "<script" not in response.text
    charts = re.findall(r'<svg class="bars"[^>]*aria-labelledby="([^"]+)"', html)
    assert len(charts) >= 7
    for ids in charts:
        for chart_id in ids.split():
            assert f'id="{chart_id}"' in html
    captions = re.findall(r"<caption>([^<]+)</caption>", html)
    assert "Meddelelser og resultater pr. kommune" in captions
    assert "Diagnosekort og journalnotater pr. lægesystem" in captions
    assert "Aarhus Kommune" in html and "Skødstrup Lægepraksis" in html
    assert "P—C-reaktivt protein" in html
    assert "Ikke tilgængelig" not in html


def test_the_page_is_linked_from_the_menu(seeded: TestClient) -> None:
    sign_in(seeded, f"citizen-{CITIZEN}")
    home = seeded.get("/view/hjem").text
    menu = home.split('aria-label="Hovedmenu"', 1)[1].split("</nav>", 1)[0]
    assert 'href="/view/statistik"' in menu
    page = seeded.get("/view/statistik").text
    assert 'href="/view/statistik" aria-current="page"' in page


def test_an_unreachable_actor_leaves_its_section_saying_so(seeded: TestClient, context: SandboxContext,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(context.peers._urls, "plsp", "http://127.0.0.1:9/plsp")
    stats = _json(seeded)
    assert stats["sections"]["plsp"]["available"] is False
    assert stats["sections"]["plsp"]["counts"] is None and "kunne ikke nås" in stats["sections"]["plsp"]["problem"]
    assert stats["sections"]["hco"]["available"] is True
    html = main(seeded.get("/view/statistik").text)
    plsp_section = html.split('id="plsp"', 1)[1].split("</section>\n</section>", 1)[0]
    assert "Ikke tilgængelig" in plsp_section and "PLSP Health Hub kunne ikke nås" in plsp_section
    assert "Meddelelser og resultater pr. kommune" in html
