"""ITI-65: the patient inside a provided document must be the patient of its DocumentReference
(``dk-xds-document-patient``, ``XDSPatientIdDoesNotMatch``), refused atomically and at its strictness."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mhd_client import CPR, OTHER_CPR, Mhd, about, ihe_codes, issues_of

from nsp_sandbox.config import Strictness
from nsp_sandbox.context import SandboxContext

RULE = "dk-xds-document-patient"
ECPR_EXAMPLE = ("medcom.fhir.dk.homecareobservationtestscripts", "1.0.0-draft",
                "example/Bundle-3.4.1-TemporaryCPRAndNoComments.json")


def _rule_issues(response: Any) -> list[dict[str, Any]]:
    return [i for i in issues_of(response)
            if any(c["code"] == RULE for c in i.get("details", {}).get("coding", []))]


def _nothing_registered_for(mhd: Mhd, cpr: str) -> bool:
    mhd.relate(cpr)
    return mhd.found_ids(**{"patient.identifier": cpr, "status": "current"}) == []


@pytest.fixture
def strict(context: SandboxContext) -> Any:
    """Only the rule under test at its default (reject): the others cannot hide or explain a refusal."""
    original = context.settings
    context.settings = original.model_copy(update={
        "validation_profile": Strictness.OFF, "dds_rules_codes": Strictness.OFF,
        "dds_rules_metadata": Strictness.OFF, "dds_rules_author": Strictness.OFF})
    yield context
    context.settings = original


def test_a_message_about_another_patient_is_refused_naming_both_elements(mhd: Mhd) -> None:
    dr = mhd.document_reference(cpr=CPR)
    response = mhd.post(mhd.bundle((dr, about(mhd.examples.hco, OTHER_CPR)), consistent=False))
    assert response.status_code == 422, response.text
    [issue] = _rule_issues(response)
    assert issue["severity"] == "error"
    assert "XDSPatientIdDoesNotMatch" in ihe_codes(response)
    # the entry's patient element and where the document sits in the request
    assert issue["expression"] == ["Bundle.entry[1].resource.subject", "Bundle.entry[2].resource.data"]
    assert CPR in issue["diagnostics"] and OTHER_CPR in issue["diagnostics"]
    assert "Patient" in issue["diagnostics"] and ".identifier[0]" in issue["diagnostics"]
    assert _nothing_registered_for(mhd, CPR) and _nothing_registered_for(mhd, OTHER_CPR)


def test_the_refusal_is_atomic_with_a_consistent_entry_in_the_same_submission(mhd: Mhd) -> None:
    good = mhd.document_reference(cpr=CPR)
    bad = mhd.document_reference(cpr=CPR)
    response = mhd.post(mhd.bundle((good, mhd.examples.hco), (bad, about(mhd.examples.hco, OTHER_CPR)),
                                   consistent=False))
    assert response.status_code == 422
    assert [i["expression"][0] for i in _rule_issues(response)] == ["Bundle.entry[2].resource.subject"]
    assert _nothing_registered_for(mhd, CPR)


def test_a_document_bundle_is_read_by_its_composition_subject(strict: SandboxContext, mhd: Mhd) -> None:
    notes = about(mhd.examples.notes, OTHER_CPR)
    dr = mhd.document_reference(cpr=CPR)
    response = mhd.post(mhd.bundle((dr, notes), inline=True, consistent=False))
    assert response.status_code == 422, response.text
    [issue] = _rule_issues(response)
    assert issue["expression"] == ["Bundle.entry[1].resource.subject",
                                   "Bundle.entry[1].resource.content[0].attachment.data"]
    assert "Composition's subject" in issue["diagnostics"]
    # the same document about the entry's patient goes in
    assert mhd.provide((mhd.document_reference(cpr=CPR), about(notes, CPR)), inline=True)


def test_the_composition_subject_decides_not_another_patient_in_the_bundle(strict: SandboxContext,
                                                                           mhd: Mhd) -> None:
    document = json.loads(mhd.examples.notes)
    stray = next(e for e in document["entry"] if e["resource"]["resourceType"] == "Patient")
    document["entry"].append({"fullUrl": "urn:uuid:4c3d2ca5-0b0a-4f7e-9f3e-1e0f6b9e9a11", "resource": {
        **stray["resource"], "id": "another", "identifier": [{"system": "urn:oid:1.2.208.176.1.2",
                                                             "value": OTHER_CPR}]}})
    assert mhd.provide((mhd.document_reference(cpr=CPR), json.dumps(document).encode()), inline=True)
    composition = document["entry"][0]["resource"]
    composition["subject"] = {"reference": "urn:uuid:4c3d2ca5-0b0a-4f7e-9f3e-1e0f6b9e9a11"}
    response = mhd.post(mhd.bundle((mhd.document_reference(cpr=CPR), json.dumps(document).encode()),
                                   inline=True, consistent=False))
    assert response.status_code == 422
    assert [OTHER_CPR in i["diagnostics"] for i in _rule_issues(response)] == [True]


def test_the_rule_reads_the_document_with_the_profile_layer_off(strict: SandboxContext, mhd: Mhd) -> None:
    response = mhd.post(mhd.bundle((mhd.document_reference(cpr=CPR), about(mhd.examples.hco, OTHER_CPR)),
                                   consistent=False))
    assert response.status_code == 422
    assert len(_rule_issues(response)) == 1


@pytest.mark.parametrize("strictness", [Strictness.WARNING, Strictness.LOG, Strictness.OFF])
def test_the_rule_has_its_own_strictness(context: SandboxContext, mhd: Mhd, strictness: Strictness) -> None:
    original = context.settings
    context.settings = original.model_copy(update={"dds_rules_document_patient": strictness})
    try:
        response = mhd.post(mhd.bundle((mhd.document_reference(cpr=CPR), about(mhd.examples.hco, OTHER_CPR)),
                                       consistent=False))
    finally:
        context.settings = original
    assert response.status_code == 200, response.text
    outcomes = [i for e in response.json()["entry"] for i in e["response"].get("outcome", {}).get("issue", [])
                if any(c["code"] == RULE for c in i.get("details", {}).get("coding", []))]
    if strictness is Strictness.WARNING:
        assert [i["severity"] for i in outcomes] == ["warning"]
    else:
        assert outcomes == []


def test_a_document_with_no_cpr_at_all_keeps_being_accepted(packages, mhd: Mhd) -> None:  # type: ignore[no-untyped-def]
    """An HCO message about a patient known only by an eCPR replacement number names no CPR to compare."""
    name, version, filename = ECPR_EXAMPLE
    package = packages.get(name, version)
    assert package is not None
    ecpr_message = (package.root / filename).read_bytes()
    assert b"urn:oid:1.2.208.176.1.2\"" not in ecpr_message
    response = mhd.post(mhd.bundle((mhd.document_reference(cpr=CPR), ecpr_message), consistent=False))
    assert response.status_code == 200, response.text
    assert RULE not in response.text


def test_a_document_about_the_entry_patient_is_accepted_without_findings(mhd: Mhd) -> None:
    response = mhd.post(mhd.bundle((mhd.document_reference(cpr=OTHER_CPR), about(mhd.examples.hco, OTHER_CPR)),
                                   cpr=OTHER_CPR, consistent=False))
    assert response.status_code == 200, response.text
    assert RULE not in json.dumps(response.json())
