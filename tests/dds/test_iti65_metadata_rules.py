"""The Danish XDS metadata rules as a Document Source meets them through ITI-65."""

from __future__ import annotations

import pytest
from mhd_client import CPR, Mhd, expressions, ihe_codes

from nsp_sandbox.config import Strictness
from nsp_sandbox.context import SandboxContext


def test_bad_cpr_is_refused_naming_the_patient(mhd: Mhd) -> None:
    dr = mhd.document_reference(cpr="3213991234")  # day 32 is no date
    response = mhd.post(mhd.bundle((dr, mhd.examples.hco), cpr="3213991234"))
    assert response.status_code == 422
    assert "XDSUnknownPatientId" in ihe_codes(response)
    assert any(e.startswith("Bundle.entry[1].resource.subject") for e in expressions(response))
    mhd.relate("3213991234")  # so the reader may look: nothing was registered
    assert mhd.found_ids(**{"patient.identifier": "3213991234", "status": "current"}) == []


def test_unknown_codes_are_refused_naming_the_element(mhd: Mhd) -> None:
    dr = mhd.document_reference()
    dr["context"]["facilityType"]["coding"][0]["code"] = "999999999"
    dr["securityLabel"][0]["coding"][0]["code"] = "V"
    response = mhd.post(mhd.bundle((dr, mhd.examples.hco)))
    assert response.status_code == 422
    found = expressions(response)
    assert any(e.startswith("Bundle.entry[1].resource.context.facilityType") for e in found), found
    assert any(e.startswith("Bundle.entry[1].resource.securityLabel") for e in found), found
    assert "XDSRegistryMetadataError" in ihe_codes(response)


def test_rule_group_at_warning_lets_the_provide_through_with_warnings(context: SandboxContext, mhd: Mhd) -> None:
    original = context.settings
    context.settings = original.model_copy(update={"dds_rules_codes": Strictness.WARNING,
                                                   "validation_profile": Strictness.OFF})
    try:
        dr = mhd.document_reference()
        dr["context"]["facilityType"]["coding"][0]["code"] = "999999999"
        response = mhd.post(mhd.bundle((dr, mhd.examples.hco)))
    finally:
        context.settings = original
    assert response.status_code == 200, response.text
    outcome = response.json()["entry"][1]["response"]["outcome"]
    assert any(i["severity"] == "warning" and "Bundle.entry[1].resource.context.facilityType" in
               " ".join(i.get("expression", [])) for i in outcome["issue"])
    assert len(mhd.found_ids(**{"patient.identifier": CPR, "status": "current"})) == 1


@pytest.mark.parametrize("group", ["dds_rules_patient", "dds_rules_codes"])
def test_rule_group_off_skips_its_rules(context: SandboxContext, mhd: Mhd, group: str) -> None:
    original = context.settings
    context.settings = original.model_copy(update={group: Strictness.OFF, "validation_profile": Strictness.OFF})
    try:
        cpr = "3213991234" if group == "dds_rules_patient" else CPR
        dr = mhd.document_reference(cpr=cpr)
        if group == "dds_rules_codes":
            dr["context"]["facilityType"]["coding"][0]["code"] = "999999999"
        response = mhd.post(mhd.bundle((dr, mhd.examples.hco), cpr=cpr))
    finally:
        context.settings = original
    assert response.status_code == 200, response.text
    assert all(e["response"]["status"] == "201 Created" for e in response.json()["entry"])
    assert not [i for e in response.json()["entry"] for i in (e["response"].get("outcome") or {}).get("issue", [])
                if i["severity"] == "error"]
