"""Correction lifecycle: replace (RPLC), deprecate via RMU (ITI-92), and never delete."""

from __future__ import annotations

from typing import Any

from mhd_client import CPR, FHIR_JSON, OTHER_CPR, Mhd, expressions, ihe_codes, issues_of


def _replacement(mhd: Mhd, target: dict[str, Any], cpr: str = CPR) -> dict[str, Any]:
    dr = mhd.document_reference(cpr=cpr)
    dr["relatesTo"] = [{"code": "replaces", "target": target}]
    return dr


def _statuses(mhd: Mhd, *ids: str) -> list[str]:
    return [mhd.read(i)["status"] for i in ids]


def test_replace_supersedes_the_earlier_entry_and_keeps_it(mhd: Mhd) -> None:
    old = mhd.provide_hco()
    new = mhd.provide((_replacement(mhd, {"reference": f"DocumentReference/{old}"}), mhd.examples.hco))[0]

    assert _statuses(mhd, old, new) == ["superseded", "current"]
    assert mhd.found_ids(**{"patient.identifier": CPR, "status": "current"}) == [new]
    assert mhd.found_ids(**{"patient.identifier": CPR, "status": "superseded"}) == [old]
    assert mhd.read(new)["relatesTo"][0]["target"]["reference"] == f"DocumentReference/{old}"
    # the superseded document stays retrievable
    url = mhd.read(old)["content"][0]["attachment"]["url"]
    assert mhd.client.get(url).content == mhd.examples.hco


def test_replace_by_unique_id_and_by_absolute_reference(mhd: Mhd) -> None:
    first = mhd.provide_hco()
    unique_id = mhd.read(first)["masterIdentifier"]["value"]
    second = mhd.provide((_replacement(mhd, {"identifier": {"value": unique_id}}), mhd.examples.hco))[0]
    absolute = f"http://sandbox.test/dds/fhir/DocumentReference/{second}"
    third = mhd.provide((_replacement(mhd, {"reference": absolute}), mhd.examples.hco))[0]
    assert _statuses(mhd, first, second, third) == ["superseded", "superseded", "current"]


def test_update_document_refs_form_in_the_same_transaction(mhd: Mhd) -> None:
    old = mhd.provide_hco()
    replacement = _replacement(mhd, {"reference": f"DocumentReference/{old}"})
    bundle = mhd.bundle((replacement, mhd.examples.hco))
    superseded = {**mhd.read(old), "status": "superseded"}
    bundle["entry"].append({"fullUrl": f"http://sandbox.test/dds/fhir/DocumentReference/{old}",
                            "resource": superseded, "request": {"method": "PUT", "url": f"DocumentReference/{old}"}})
    response = mhd.post(bundle)
    assert response.status_code == 200, response.text
    assert response.json()["entry"][3]["response"]["status"] == "200 OK"
    assert mhd.read(old)["status"] == "superseded"


def test_update_document_refs_without_a_replacement_is_refused(mhd: Mhd) -> None:
    old = mhd.provide_hco()
    bundle = mhd.bundle((mhd.document_reference(), mhd.examples.hco))
    bundle["entry"].append({"fullUrl": "urn:uuid:0b0e5a4c-0000-4000-8000-000000000001",
                            "resource": {**mhd.read(old), "status": "superseded"},
                            "request": {"method": "PUT", "url": f"DocumentReference/{old}"}})
    response = mhd.post(bundle)
    assert response.status_code == 422
    assert "Bundle.entry[3].resource" in expressions(response)
    assert mhd.read(old)["status"] == "current"


def test_second_replace_of_a_superseded_entry_fails(mhd: Mhd) -> None:
    old = mhd.provide_hco()
    mhd.provide((_replacement(mhd, {"reference": f"DocumentReference/{old}"}), mhd.examples.hco))
    response = mhd.post(mhd.bundle((_replacement(mhd, {"reference": f"DocumentReference/{old}"}),
                                    mhd.examples.hco)))
    assert response.status_code == 409
    assert ihe_codes(response) == {"XDSRegistryDeprecatedDocumentError"}
    assert "Bundle.entry[1].resource.relatesTo[0].target" in expressions(response)
    assert len(mhd.found_ids(**{"patient.identifier": CPR, "status": "current"})) == 1


def test_replacing_twice_in_one_transaction_fails(mhd: Mhd) -> None:
    old = mhd.provide_hco()
    target = {"reference": f"DocumentReference/{old}"}
    response = mhd.post(mhd.bundle((_replacement(mhd, target), mhd.examples.hco),
                                   (_replacement(mhd, target), mhd.examples.hco)))
    assert response.status_code == 409
    assert mhd.read(old)["status"] == "current"


def test_replacing_another_patients_entry_fails(mhd: Mhd) -> None:
    theirs = mhd.provide_hco(cpr=OTHER_CPR)
    response = mhd.post(mhd.bundle((_replacement(mhd, {"reference": f"DocumentReference/{theirs}"}),
                                    mhd.examples.hco)))
    assert response.status_code == 422
    assert "XDSPatientIdDoesNotMatch" in ihe_codes(response)
    assert mhd.read(theirs)["status"] == "current"


def test_replacing_an_unknown_entry_fails(mhd: Mhd) -> None:
    for target in ({"identifier": {"value": "urn:uuid:unknown"}}, {"reference": "DocumentReference/unknown"}):
        response = mhd.post(mhd.bundle((_replacement(mhd, target), mhd.examples.hco)))
        assert response.status_code == 422
        assert "XDSMissingDocument" in ihe_codes(response)
        assert "Bundle.entry[1].resource.relatesTo[0].target" in expressions(response)


def test_deprecate_via_put_status_only(mhd: Mhd) -> None:
    entry_id = mhd.provide_hco()
    current = mhd.read(entry_id)
    response = mhd.put({**current, "status": "entered-in-error"}, **{"If-Match": 'W/"1"'})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "entered-in-error"
    assert response.json()["meta"]["versionId"] == "2"
    assert mhd.found_ids(**{"patient.identifier": CPR, "status": "current"}) == []
    assert mhd.found_ids(**{"patient.identifier": CPR, "status": "entered-in-error"}) == [entry_id]
    # and it cannot come back
    back = mhd.put({**mhd.read(entry_id), "status": "current"})
    assert back.status_code == 409
    assert "XDSRegistryDeprecatedDocumentError" in ihe_codes(back)


def test_put_to_superseded_then_a_stale_if_match_is_refused(mhd: Mhd) -> None:
    entry_id = mhd.provide_hco()
    current = mhd.read(entry_id)
    assert mhd.put({**current, "status": "superseded"}).status_code == 200
    stale = mhd.put({**current, "status": "entered-in-error"}, **{"If-Match": 'W/"1"'})
    assert stale.status_code == 412


def test_put_changing_anything_but_status_is_refused(mhd: Mhd) -> None:
    entry_id = mhd.provide_hco()
    changed = mhd.read(entry_id)
    changed["status"] = "superseded"
    changed["type"]["coding"][0]["code"] = "XYZ"
    changed["description"] = "edited"
    response = mhd.put(changed)
    assert response.status_code == 422
    assert {"DocumentReference.type.coding[0].code", "DocumentReference.description"} <= expressions(response)
    assert all(i["severity"] == "error" for i in issues_of(response))
    assert mhd.read(entry_id)["status"] == "current"


def test_put_unknown_or_mismatched_id(mhd: Mhd) -> None:
    entry_id = mhd.provide_hco()
    resource = mhd.read(entry_id)
    wrong_id = mhd.client.put(f"/dds/fhir/DocumentReference/{entry_id}", json={**resource, "id": "other"},
                              headers={"Content-Type": FHIR_JSON})
    assert wrong_id.status_code == 400
    unknown = mhd.put({**resource, "id": "no-such-entry"})
    assert unknown.status_code == 404


def test_delete_is_refused_on_every_resource(mhd: Mhd) -> None:
    entry_id = mhd.provide_hco()
    url = mhd.read(entry_id)["content"][0]["attachment"]["url"]
    list_id = mhd.client.get("/dds/fhir/List", params={"patient.identifier": CPR}).json()["entry"][0]["resource"]["id"]
    for path in (f"/dds/fhir/DocumentReference/{entry_id}", f"/dds/fhir/List/{list_id}", "/dds/fhir",
                 "/dds/fhir/DocumentReference", url):
        response = mhd.client.delete(path)
        assert response.status_code == 405, path
        assert "never deleted" in issues_of(response)[0]["diagnostics"]
    assert mhd.read(entry_id)["status"] == "current"
    assert mhd.client.get(url).status_code == 200
