"""An assistant (sundhedsfaglig medhjælp, e.g. a GP's secretary) signs in and looks citizens up as the
professional they act for does: DDS judges the treatment relation and the blocks on that professional,
and Min Log names both."""

from __future__ import annotations

import seeding
from fastapi.testclient import TestClient
from view_support import CITIZEN, csrf, sign_in

ASSISTANT = "secretary-skodstrup"  # Birgitte Juul, Lægesekretær at Skødstrup, for Lars Lund (gp-skodstrup)


def test_the_chooser_lists_assistants_with_for_whom_they_act(client: TestClient) -> None:
    page = client.get("/view/")
    assert "<legend>Sundhedsfaglig medhjælp</legend>" in page.text
    group = page.text.split("<legend>Sundhedsfaglig medhjælp</legend>")[1].split("</fieldset>")[0]
    assert f'value="{ASSISTANT}"' in group and "Birgitte Juul" in group
    assert "Lægesekretær, Skødstrup Lægepraksis — medhjælp for Lars Lund" in " ".join(group.split())
    professionals = page.text.split("<legend>Sundhedsperson</legend>")[1].split("</fieldset>")[0]
    assert ASSISTANT not in professionals


def test_an_assistant_looks_up_on_the_professionals_relation_and_is_logged(client: TestClient) -> None:
    seeding.hco(client, CITIZEN)
    sign_in(client, ASSISTANT)
    home = client.get("/view/hjem").text
    assert "Slå en borger op" in home and 'name="cpr"' in home
    assert "Sundhedsfaglig medhjælp, Skødstrup Lægepraksis, for Lars Lund" in home
    overview = client.get("/view/opslag", params={"cpr": CITIZEN})
    assert overview.status_code == 200 and "Borger: <strong>Bruno Elmer</strong>" in overview.text
    assert "C-reaktivt protein" in client.get(f"/view/borger/{CITIZEN}/provesvar").text
    response = client.get("/nsp/minlog", headers={
        "Authorization": f"Bearer {seeding.token(client, f'citizen-{CITIZEN}', 'nsp')}"})
    entries = response.json()
    assert entries and {(e["user_name"], e["responsible_user_name"]) for e in entries} == \
        {("Birgitte Juul", "Lars Lund")}


def test_a_block_on_the_responsible_professional_empties_an_assistants_view(client: TestClient) -> None:
    seeding.hco(client, CITIZEN)
    seeding.block(client, CITIZEN, {"type": "professional", "id": "SK7T1"})  # Lars Lund
    sign_in(client, ASSISTANT)
    empty = client.get(f"/view/borger/{CITIZEN}")
    assert empty.status_code == 200 and "Ingen dokumenter fundet" in empty.text
    assert "C-reaktivt protein" not in client.get(f"/view/borger/{CITIZEN}/provesvar").text
    assert client.post("/view/logout", data={"csrf": csrf(client, "/view/hjem")},
                       follow_redirects=False).status_code == 303


def test_an_assistant_is_not_offered_vaerdispring_and_cannot_set_one(client: TestClient) -> None:
    seeding.hco(client, CITIZEN)
    seeding.block(client, CITIZEN, {"type": "all"})
    sign_in(client, ASSISTANT)
    empty = client.get(f"/view/borger/{CITIZEN}")
    assert "Ingen dokumenter fundet" in empty.text
    assert "vaerdispring" not in empty.text and "kan kun bruges af en autoriseret sundhedsperson" in empty.text
    tried = client.post(f"/view/borger/{CITIZEN}/vaerdispring", follow_redirects=False,
                        data={"csrf": csrf(client, f"/view/borger/{CITIZEN}"), "reason": "akut"})
    assert tried.status_code == 303
    again = client.get(f"/view/borger/{CITIZEN}").text
    assert "Værdispring anvendt" not in again and "C-reaktivt protein" not in \
        client.get(f"/view/borger/{CITIZEN}/provesvar").text
