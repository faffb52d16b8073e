"""The hub's Notes 1.0.0 documents: valid against the official profile, one note each, true to the note."""

from __future__ import annotations

import base64
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from plsp_document_cases import CEST, CREATED, NOTES, SIDSEL, note

from nsp_sandbox.conformance.validator import Validator
from services.plsp_hub.notes_document import build_note_document
from services.plsp_hub.state import Author

BUNDLE_PROFILE = "http://medcomfhir.dk/ig/notes/StructureDefinition/medcom-notes-bundle"
COMPOSITION_PROFILE = "http://medcomfhir.dk/ig/notes/StructureDefinition/medcom-notes-composition|1.0"
ROLE_SYSTEM = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-core-PractitionerRolesSKSadministrativ"
VALUE_ATTACHMENT = "http://medcomfhir.dk/ig/core/StructureDefinition/medcom-observation-value-attachment-extension"
ASSEMBLED = datetime(2026, 12, 20, 8, 0, tzinfo=UTC)
# Document 2.0.2 invariants medcom-datetime-has-time-offset-zulu, medcom-uuid, medcom-document-bundle-id-uuid
WITH_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
MEDCOM_UUID = re.compile(r"(?i)^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[45][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def errors(validator: Validator, bundle: dict[str, Any]) -> list[str]:
    return [f"{i.expression} [{i.rule}] {i.diagnostics}" for i in validator.validate(bundle) if i.is_error]


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def one(bundle: dict[str, Any], kind: str) -> dict[str, Any]:
    (found,) = resources(bundle, kind)
    return found


def by_ref(bundle: dict[str, Any], ref: dict[str, str]) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["fullUrl"] == ref["reference"])


@pytest.mark.parametrize("case", sorted(NOTES))
def test_notes_validate_with_zero_errors(validator: Validator, case: str) -> None:
    bundle = build_note_document(NOTES[case], assembled=ASSEMBLED)
    assert bundle["meta"]["profile"] == [BUNDLE_PROFILE]
    assert errors(validator, bundle) == []


def test_validation_is_not_vacuous(validator: Validator) -> None:
    bundle = build_note_document(NOTES["organization-only"], assembled=ASSEMBLED)
    one(bundle, "Composition")["event"][0]["period"]["start"] = "2026-05-05T10:11"
    assert errors(validator, bundle) != []


@pytest.mark.parametrize("case", sorted(NOTES))
def test_one_note_per_document_with_the_required_shape(case: str) -> None:
    the_note = NOTES[case]
    bundle = build_note_document(the_note, assembled=ASSEMBLED)
    comp = bundle["entry"][0]["resource"]
    assert comp["resourceType"] == "Composition"
    assert comp["meta"]["profile"] == [COMPOSITION_PROFILE]
    assert len(resources(bundle, "Observation")) == 1
    assert comp["section"] == [{"entry": [{"reference": bundle["entry"][1]["fullUrl"]}]}]
    assert comp["title"] == f"Journalnotat for {the_note.patient.cpr}"
    assert comp["type"]["coding"] == [{"system": "http://snomed.info/sct", "code": "866144008",
                                       "display": "Encounter note"}]
    assert comp["category"][0]["coding"][0]["code"] == "001"
    assert MEDCOM_UUID.match(comp["identifier"]["value"])
    assert uuid.UUID(bundle["id"]).version == 4
    for value in _datetimes(bundle):
        assert WITH_OFFSET.match(value), value
    assert all(e["resource"]["text"]["div"] for e in bundle["entry"])


def _datetimes(bundle: dict[str, Any]) -> list[str]:
    comp, obs = one(bundle, "Composition"), one(bundle, "Observation")
    period = comp["event"][0]["period"]
    return [bundle["timestamp"], comp["date"], obs["effectiveDateTime"], *period.values()]


def test_times_creation_update_and_danish_offsets() -> None:
    bundle = build_note_document(NOTES["updated"], assembled=ASSEMBLED)
    comp, obs = one(bundle, "Composition"), one(bundle, "Observation")
    assert comp["date"] == "2026-05-06T07:32:00+02:00"
    assert comp["event"][0]["period"] == {"start": "2026-05-05T10:11:00+02:00"}
    assert obs["effectiveDateTime"] == comp["event"][0]["period"]["start"]
    assert bundle["timestamp"] == "2026-12-20T09:00:00+01:00"
    winter = build_note_document(NOTES["with-end-winter-time"], assembled=ASSEMBLED)
    assert one(winter, "Composition")["event"][0]["period"] == {"start": "2026-12-12T09:05:00+01:00",
                                                                 "end": "2026-12-12T09:25:00+01:00"}
    assert one(winter, "Composition")["date"] == "2026-12-12T14:50:00+01:00"


def test_an_unupdated_note_has_equal_creation_and_update_times() -> None:
    bundle = build_note_document(NOTES["organization-only"], assembled=ASSEMBLED)
    assert one(bundle, "Composition")["date"] == one(bundle, "Observation")["effectiveDateTime"]


def test_update_before_creation_is_refused() -> None:
    with pytest.raises(ValueError, match="before"):
        build_note_document(note(updated=datetime(2026, 5, 5, 8, 0, tzinfo=UTC)), assembled=ASSEMBLED)


def test_body_is_base64_html_in_the_value_attachment_extension() -> None:
    the_note = NOTES["updated"]
    obs = one(build_note_document(the_note, assembled=ASSEMBLED), "Observation")
    (extension,) = obs["extension"]
    assert extension["url"] == VALUE_ATTACHMENT
    assert extension["valueAttachment"]["contentType"] == "text/html"
    assert base64.b64decode(extension["valueAttachment"]["data"]).decode("utf-8") == the_note.body_html


def test_performers_and_authors_follow_the_author() -> None:
    full = build_note_document(NOTES["practitioner-and-role"], assembled=ASSEMBLED)
    obs, comp = one(full, "Observation"), one(full, "Composition")
    assert [by_ref(full, p)["resourceType"] for p in obs["performer"]] == ["Organization", "PractitionerRole",
                                                                            "Practitioner"]
    assert [by_ref(full, a)["resourceType"] for a in comp["author"]] == ["Organization", "Practitioner"]
    role = one(full, "PractitionerRole")
    assert role["code"] == [{"coding": [{"system": ROLE_SYSTEM, "code": "speciallaegeipraksis"}]}]
    assert by_ref(full, role["practitioner"])["identifier"] == [{"system": SIDSEL.identifier_system,
                                                                 "value": SIDSEL.identifier_value}]
    assert by_ref(full, role["organization"])["identifier"][1] == {"system": "urn:oid:1.2.208.176.1.4",
                                                                   "value": "77410"}
    org_only = build_note_document(NOTES["organization-only"], assembled=ASSEMBLED)
    assert [by_ref(org_only, p)["resourceType"] for p in one(org_only, "Observation")["performer"]] == ["Organization"]
    assert not resources(org_only, "Practitioner") and not resources(org_only, "PractitionerRole")
    text_role = one(build_note_document(NOTES["role-text-only"], assembled=ASSEMBLED), "PractitionerRole")
    assert text_role["code"] == [{"text": "Praksissygeplejerske"}] and "practitioner" not in text_role


def test_composition_identifier_is_per_version_and_bundle_identifiers_are_fresh() -> None:
    v1 = note(author=Author(SIDSEL))
    v2 = note(author=Author(SIDSEL), version=2, updated=datetime(2026, 5, 6, 7, 32, tzinfo=CEST))
    a, b = (build_note_document(v1, assembled=ASSEMBLED) for _ in range(2))
    c = build_note_document(v2, assembled=ASSEMBLED)
    ids = [one(x, "Composition")["identifier"]["value"] for x in (a, b, c)]
    assert ids[0] == ids[1] != ids[2]
    assert len({x["id"] for x in (a, b, c)}) == 3
    assert len({x["identifier"]["value"] for x in (a, b, c)}) == 3
    assert all(x["identifier"]["value"] != f"urn:uuid:{x['id']}" for x in (a, b, c))
    stable = [[(r["id"], r.get("identifier")) for k in ("Patient", "Organization", "Practitioner", "Observation")
               for r in resources(x, k)] for x in (a, c)]
    assert stable[0] == stable[1]
    assert one(a, "Observation")["effectiveDateTime"] == one(c, "Observation")["effectiveDateTime"]


def test_different_notes_have_different_documents() -> None:
    first = build_note_document(note(key="a"), assembled=ASSEMBLED)
    second = build_note_document(note(key="b", created=CREATED), assembled=ASSEMBLED)
    assert one(first, "Composition")["identifier"] != one(second, "Composition")["identifier"]
    assert one(first, "Observation")["id"] != one(second, "Observation")["id"]


def test_protected_and_odd_names_are_escaped_and_kept() -> None:
    bundle = build_note_document(NOTES["escaped-names"], assembled=ASSEMBLED)
    org = one(bundle, "Organization")
    assert org["name"] == "Lægerne <Øst> & Vest"
    assert "&lt;Øst&gt; &amp; Vest" in org["text"]["div"]
    patient = one(build_note_document(NOTES["address-protection"], assembled=ASSEMBLED), "Patient")
    assert patient["name"][0]["family"] == "ADRESSEBESKYTTET"


@pytest.mark.parametrize("moment", [
    datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC), datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
    datetime(2026, 10, 25, 0, 59, 59, tzinfo=UTC), datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
    datetime(2027, 7, 1, 12, 0, tzinfo=UTC), datetime(2027, 1, 1, 0, 0, tzinfo=UTC),
])
def test_danish_offsets_without_a_time_zone_database(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    from services.plsp_hub import document_resources

    if document_resources._CPH is None:
        pytest.skip("no time-zone database on this machine to compare the EU rule with")
    with_database = document_resources.fhir_datetime(moment)
    midnight = document_resources.danish_midnight(moment.date()).isoformat()
    monkeypatch.setattr(document_resources, "_CPH", None)
    assert document_resources.fhir_datetime(moment) == with_database
    assert document_resources.danish_midnight(moment.date()).isoformat() == midnight
