"""ITI-67 Find Document References: every parameter, required parameters, errors and paging."""

from __future__ import annotations

from typing import Any

import pytest
from mhd_client import CPR, CPR_SYSTEM, OTHER_CPR, Mhd, expressions, issues_of

from nsp_sandbox.context import SandboxContext

SOR = "urn:oid:1.2.208.176.1.1"
SKS = "urn:oid:1.2.208.176.2.4"


def _general_practice_entry(mhd: Mhd) -> dict[str, Any]:
    """A DocumentReference unlike the HCO example in every searchable element."""
    dr = mhd.document_reference()
    dr["type"] = {"coding": [{"system": "http://loinc.org", "code": "11450-4"}]}
    dr["category"] = [{"coding": [{"system": "urn:oid:1.2.208.184.100.9", "code": "002"}]}]
    dr["content"][0]["format"] = {"system": "urn:oid:1.2.208.184.100.10", "code": "urn:ad:dk:medcom:plr-v1.0:full"}
    dr["content"][0]["attachment"]["creation"] = "2025-02-01T00:00:00Z"
    dr["securityLabel"] = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                                        "code": "R"}]}]
    dr["date"] = "2025-02-01T12:00:00Z"
    dr["context"].update({
        "facilityType": {"coding": [{"system": "http://snomed.info/sct", "code": "394761003"}]},
        "practiceSetting": {"coding": [{"system": "http://snomed.info/sct", "code": "408443003"}]},
        "event": [{"coding": [{"system": SKS, "code": "ALAL01"}]}],
        "related": [{"identifier": {"system": "urn:oid:1.2.3", "value": "ref-1"}}],
        "period": {"start": "2025-01-01T08:00:00+01:00", "end": "2025-01-31T16:00:00+01:00"},
    })
    organization = next(c for c in dr["contained"] if c["resourceType"] == "Organization")
    organization["identifier"] = [{"system": SOR, "value": "325381000016008"}]
    return dr


@pytest.fixture
def entries(lenient_context: SandboxContext, mhd: Mhd) -> dict[str, str]:
    """Three entries: the HCO example (``hco``), a GP-like one (``gp``), and the HCO of another patient."""
    hco_dr = mhd.document_reference()
    hco_dr["date"] = "2026-04-28T08:20:00Z"
    hco = mhd.provide((hco_dr, mhd.examples.hco))[0]
    gp = mhd.provide((_general_practice_entry(mhd), mhd.examples.condition_list))[0]
    other = mhd.provide_hco(cpr=OTHER_CPR)
    return {"hco": hco, "gp": gp, "other": other}


def _find(mhd: Mhd, **params: str) -> set[str]:
    return set(mhd.found_ids(**{"patient.identifier": f"{CPR_SYSTEM}|{CPR}", "status": "current", **params}))


def test_patient_and_status(mhd: Mhd, entries: dict[str, str]) -> None:
    both = {entries["hco"], entries["gp"]}
    assert _find(mhd) == both
    assert set(mhd.found_ids(**{"patient.identifier": CPR, "status": "current"})) == both
    assert set(mhd.found_ids(**{"patient.identifier": f"|{CPR}", "status": "current"})) == set()
    assert set(mhd.found_ids(patient=f"Patient/{CPR}", status="current")) == both
    assert set(mhd.found_ids(patient=f"http://sandbox.test/Patient/{CPR}", status="current")) == both
    assert set(mhd.found_ids(**{"patient.identifier": f"{CPR},{OTHER_CPR}", "status": "current"})) == \
        both | {entries["other"]}
    assert set(mhd.found_ids(**{"patient:identifier": OTHER_CPR, "status": "current"})) == {entries["other"]}
    assert _find(mhd, status="superseded") == set()


@pytest.mark.parametrize(("param", "hco_value", "gp_value"), [
    ("type", "urn:oid:1.2.208.184.100.1|HCOM", "http://loinc.org|11450-4"),
    ("category", "001", "urn:oid:1.2.208.184.100.9|002"),
    ("format", "urn:ad:dk:medcom:msg:hco-v1.2:full", "urn:oid:1.2.208.184.100.10|urn:ad:dk:medcom:plr-v1.0:full"),
    ("setting", "http://snomed.info/sct|658161000005107", "408443003"),
    ("facility", "http://snomed.info/sct|550621000005101", "http://snomed.info/sct|394761003"),
    ("security-label", "http://terminology.hl7.org/CodeSystem/v3-Confidentiality|N", "R"),
    ("author.identifier", f"{SOR}|937961000016000", f"{SOR}|325381000016008"),
])
def test_token_parameters(mhd: Mhd, entries: dict[str, str], param: str, hco_value: str, gp_value: str) -> None:
    assert _find(mhd, **{param: hco_value}) == {entries["hco"]}
    assert _find(mhd, **{param: gp_value}) == {entries["gp"]}
    assert _find(mhd, **{param: f"{hco_value},{gp_value}"}) == {entries["hco"], entries["gp"]}
    assert _find(mhd, **{param: "no-such-code"}) == set()


def test_token_system_only_and_wrong_system(mhd: Mhd, entries: dict[str, str]) -> None:
    assert _find(mhd, type="http://loinc.org|") == {entries["gp"]}
    assert _find(mhd, type="http://loinc.org|HCOM") == set()
    assert _find(mhd, format="|urn:ad:dk:medcom:plr-v1.0:full") == set()  # it has a system


def test_event_and_related(mhd: Mhd, entries: dict[str, str]) -> None:
    assert _find(mhd, event=f"{SKS}|ALAL01") == {entries["gp"]}
    assert _find(mhd, event="ALAL02") == set()
    assert _find(mhd, related="urn:oid:1.2.3|ref-1") == {entries["gp"]}
    assert _find(mhd, related="ref-2") == set()


def test_identifier_and_id(mhd: Mhd, entries: dict[str, str]) -> None:
    unique_id = mhd.read(entries["gp"])["masterIdentifier"]["value"]
    assert _find(mhd, identifier=unique_id) == {entries["gp"]}
    assert _find(mhd, identifier=f"urn:ietf:rfc:3986|urn:uuid:{entries['hco']}") == {entries["hco"]}
    assert _find(mhd, _id=entries["hco"]) == {entries["hco"]}


def test_date_creation_and_period(mhd: Mhd, entries: dict[str, str]) -> None:
    hco, gp = entries["hco"], entries["gp"]
    assert _find(mhd, date="2026-04-28") == {hco}
    assert _find(mhd, date="ge2026-01-01") == {hco}
    assert _find(mhd, date="lt2026") == {gp}
    assert _find(mhd, date="2025-02") == {gp}
    assert _find(mhd, creation="ge2026-04-28T08:15:52Z") == {hco}
    assert _find(mhd, creation="lt2026-04-28T08:15:52Z") == {gp}
    assert _find(mhd, creation="2026-04-28T10:15:52+02:00") == {hco}
    assert _find(mhd, period="2025-01") == {gp}  # within January
    assert _find(mhd, period="ge2025-01-15") == {hco, gp}  # HCO has only a start: ongoing
    assert _find(mhd, period="lt2025-01-15") == {gp}
    assert _find(mhd, period="gt2025-02-01") == {hco}
    assert _find(mhd, period="ge2025-02-01", date="lt2026") == set()


def test_required_parameters_are_enforced(mhd: Mhd) -> None:
    no_patient = mhd.search(status="current")
    assert no_patient.status_code == 400
    assert expressions(no_patient) == {"patient"}
    no_status = mhd.search(**{"patient.identifier": CPR})
    assert no_status.status_code == 400
    assert expressions(no_status) == {"status"}


@pytest.mark.parametrize(("param", "value"), [
    ("date", "yesterday"), ("date", "2026-13-01"), ("creation", "2026-04-28T10:15"),
    ("type", "a|b|c"), ("status", "approved"), ("status", "http://hl7.org|current"), ("_count", "-1"),
    ("_count", "many"), ("period", "xx2026"),
    # digits to str.isdigit(), not to int() ('²'), or read by int() as another script's ('١٠'), or more of them
    # than int() reads: each a precise 400, never a 500
    ("_count", "\u00b2"), ("_count", "\u0661\u0660"), ("_count", "1" * 5000), ("_page_after", "\u00b2"),
    ("date", "\u0662\u0660\u0662\u0666"),  # an Arabic-Indic 2026: a digit to '\d' without re.ASCII, none to FHIR
])
def test_malformed_values_are_400(mhd: Mhd, param: str, value: str) -> None:
    response = mhd.search(**{"patient.identifier": CPR, "status": "current", param: value})
    assert response.status_code == 400, response.text
    assert issues_of(response)[0]["code"] == "value"


def test_unknown_parameter_ignored_with_warning_or_refused_when_strict(mhd: Mhd) -> None:
    mhd.provide_hco()
    response = mhd.search(**{"patient.identifier": CPR, "status": "current", "colour": "blue"})
    assert response.status_code == 200
    bundle = response.json()
    outcome = [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert outcome and outcome[0]["resource"]["issue"][0]["severity"] == "warning"
    assert "colour" not in bundle["link"][0]["url"]
    strict = mhd.client.get("/dds/fhir/DocumentReference", headers={"Prefer": "handling=strict"},
                            params={"patient.identifier": CPR, "status": "current", "colour": "blue"})
    assert strict.status_code == 400


def test_post_search_form(mhd: Mhd) -> None:
    entry_id = mhd.provide_hco()
    response = mhd.client.post("/dds/fhir/DocumentReference/_search",
                               data={"patient.identifier": f"{CPR_SYSTEM}|{CPR}", "status": "current"})
    assert response.status_code == 200
    assert [e["resource"]["id"] for e in response.json()["entry"]] == [entry_id]
    json_body = mhd.client.post("/dds/fhir/DocumentReference/_search", json={"status": "current"})
    assert json_body.status_code == 415


def test_paging_is_complete_and_stable(lenient_context: SandboxContext, mhd: Mhd) -> None:
    provided = [mhd.provide_hco() for _ in range(5)]
    first = mhd.client.get("/dds/fhir/DocumentReference",
                           params={"patient.identifier": CPR, "status": "current", "_count": "2"}).json()
    assert first["total"] == 5 and first["type"] == "searchset"
    relations = {link["relation"] for link in first["link"]}
    assert relations == {"self", "next"}

    seen: list[str] = []
    page = first
    pages = 0
    while True:
        pages += 1
        assert page["total"] == 5  # every page counts all matches, not those after its cursor
        seen += [e["resource"]["id"] for e in page["entry"]]
        assert all(e["fullUrl"].endswith(f"/DocumentReference/{e['resource']['id']}") for e in page["entry"])
        nxt = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
        if nxt is None:
            break
        page = mhd.client.get(nxt).json()
    assert pages == 3
    assert seen == list(reversed(provided))  # newest first, each exactly once

    previous = next(link["url"] for link in page["link"] if link["relation"] == "previous")
    back = mhd.client.get(previous).json()
    assert [e["resource"]["id"] for e in back["entry"]] == seen[2:4]

    only_total = mhd.client.get("/dds/fhir/DocumentReference",
                                params={"patient.identifier": CPR, "status": "current", "_count": "0"}).json()
    assert only_total["total"] == 5 and only_total["entry"] == []

    # a cursor past the oldest match (as when the entries after it changed meanwhile): no entry, the same total
    past = mhd.client.get("/dds/fhir/DocumentReference", params={
        "patient.identifier": CPR, "status": "current", "_count": "2", "_page_after": "1"}).json()
    assert past["total"] == 5 and past.get("entry", []) == []
