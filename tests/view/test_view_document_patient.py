"""A document about someone other than the citizen a page is about is never rendered: it is shown as
"Ugyldigt dokument" with the reason (wrong patient), on the pages and under ``invalid`` in the JSON
API — stored documents (which DDS, configured not to check, let through) and on-demand documents
(generated at retrieval, so DDS cannot check them at registration) alike."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import seeding
from fastapi.testclient import TestClient
from sts_client import auth
from view_support import CITIZEN, RELATIVE, csrf, main, sign_in

from nsp_sandbox.config import Strictness

OTHER = "0505059996"  # Emil Elmer: the same GP clinic as Bruno Elmer, and Bruno's proxy (fuldmagt)
WRONG_PATIENT = "en anden person end borgeren"


def notes_api(client: TestClient, persona: str, cpr: str) -> dict[str, Any]:
    answer = client.get(f"/view/api/citizens/{cpr}/notes",
                        headers=auth(client, persona))
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def emils_note_registered_for_bruno(client: TestClient, packages_dir: Path, context: Any, body: str) -> str:
    """One Notes document about Emil, in DDS as Emil's entry and (DDS not checking) as Bruno's."""
    emil = seeding.citizen(client, OTHER)
    document = seeding.retarget(seeding.example(packages_dir, "medcom.fhir.dk.notes", seeding.NOTES_EXTENDED), emil)
    seeding.resources(document, "Observation")[0]["extension"][0]["valueAttachment"]["data"] = \
        base64.b64encode(body.encode()).decode()
    seeding.provide_document(client, document, "notes")
    context.settings.dds_rules_document_patient = Strictness.OFF
    return seeding.provide_document(client, document, "notes", described_as=seeding.citizen(client, CITIZEN))


def test_a_stored_document_about_someone_else_is_invalid_on_the_page_and_in_the_api(
        client: TestClient, packages_dir: Path, context: Any) -> None:
    entry = emils_note_registered_for_bruno(client, packages_dir, context, "<p>Emils blodtryk</p>")
    seeding.note(client, packages_dir, CITIZEN, body="<p>Brunos eget notat</p>")
    sign_in(client, f"citizen-{CITIZEN}")
    body = main(client.get(f"/view/borger/{CITIZEN}/journalnotater").text)
    assert body.count("Ugyldigt dokument") == 1 and WRONG_PATIENT in body
    assert "Brunos eget notat" in body
    assert "Emils blodtryk" not in body and "Emil" not in body and OTHER not in body  # nothing of the other person
    answer = notes_api(client, f"citizen-{CITIZEN}", CITIZEN)
    assert [n["patient"] for n in answer["notes"]] == ["Bruno Elmer"]
    [invalid] = answer["invalid"]
    assert invalid["entry"] == entry and invalid["invalid"] is True
    assert any(WRONG_PATIENT in reason for reason in invalid["reasons"])
    assert OTHER not in str(invalid)


def test_the_same_document_is_shown_on_its_own_patients_page_only(client: TestClient, packages_dir: Path,
                                                                  context: Any) -> None:
    """The viewer caches what a document yields by its bytes; the patient rule still holds per page."""
    emils_note_registered_for_bruno(client, packages_dir, context, "<p>Emils blodtryk</p>")
    sign_in(client, RELATIVE)  # Emil, who also acts for Bruno
    assert "Emils blodtryk" in main(client.get(f"/view/borger/{OTHER}/journalnotater").text)
    client.post("/view/handler-for", data={"csrf": csrf(client, "/view/hjem"), "cpr": CITIZEN})
    brunos = main(client.get(f"/view/borger/{CITIZEN}/journalnotater").text)
    assert "Ugyldigt dokument" in brunos and "Emils blodtryk" not in brunos
    assert notes_api(client, RELATIVE, CITIZEN)["notes"] == []
    assert len(notes_api(client, RELATIVE, OTHER)["notes"]) == 1


def test_an_on_demand_document_about_someone_else_is_invalid(client: TestClient, packages_dir: Path) -> None:
    """A source that generates Emil's note for an entry registered as Bruno's: DDS registered the entry
    with no document, so only the viewer can see whose the document is."""
    answer = seeding.plsp_note(client, OTHER, "note-emil", "Emils kontrol", "2026-05-05T10:11:00+02:00")
    url = answer["dds"]["retrieve_url"]
    assert url
    descriptor = seeding.retarget(seeding.example(packages_dir, "medcom.fhir.dk.notes", seeding.NOTES_EXTENDED),
                                  seeding.citizen(client, CITIZEN))
    entry = seeding.on_demand_entry(client, descriptor, "notes", url)
    sign_in(client, f"citizen-{CITIZEN}")
    body = main(client.get(f"/view/borger/{CITIZEN}/journalnotater").text)
    assert "Ugyldigt dokument" in body and WRONG_PATIENT in body and "Emils kontrol" not in body
    [invalid] = notes_api(client, f"citizen-{CITIZEN}", CITIZEN)["invalid"]
    assert invalid["entry"] == entry and any(WRONG_PATIENT in r for r in invalid["reasons"])
    # the same source's document on Emil's own page is his note
    assert [n["body_html"] for n in notes_api(client, f"citizen-{OTHER}", OTHER)["notes"]] == ["Emils kontrol"]
