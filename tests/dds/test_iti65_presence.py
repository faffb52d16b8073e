"""Each missing element a provide lacks is named once: by the Danish presence rule when its group
rejects, else by DDS's own mapping requirement (the entry cannot be registered without it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from mhd_client import Mhd, issues_of

from nsp_sandbox.config import Strictness
from nsp_sandbox.context import SandboxContext

if TYPE_CHECKING:
    import httpx


def _rules_at(response: httpx.Response, expression: str) -> list[str]:
    return [c["code"] for i in issues_of(response) if any(e.startswith(expression) for e in i.get("expression", []))
            for c in i.get("details", {}).get("coding", []) if c["system"] == "urn:nsp-sandbox:rule"]


def _without_unique_id(mhd: Mhd) -> dict[str, Any]:
    dr = mhd.document_reference()
    del dr["masterIdentifier"]
    return mhd.bundle((dr, mhd.examples.hco))


def test_a_missing_unique_id_is_named_once_by_the_danish_rule(mhd: Mhd) -> None:
    response = mhd.post(_without_unique_id(mhd))
    assert response.status_code == 422
    rules = _rules_at(response, "Bundle.entry[1].resource.masterIdentifier")
    assert rules.count("dk-xds-unique-id") == 1 and "dds-unique-id-present" not in rules


@pytest.mark.parametrize("strictness", [Strictness.WARNING, Strictness.OFF])
def test_a_missing_unique_id_is_refused_by_the_mapping_when_the_danish_rule_does_not(
        context: SandboxContext, mhd: Mhd, strictness: Strictness) -> None:
    original = context.settings
    context.settings = original.model_copy(update={"dds_rules_metadata": strictness,
                                                   "validation_profile": Strictness.OFF})
    try:
        response = mhd.post(_without_unique_id(mhd))
    finally:
        context.settings = original
    assert response.status_code == 422
    rules = _rules_at(response, "Bundle.entry[1].resource.masterIdentifier")
    assert rules.count("dds-unique-id-present") == 1
    assert ("dk-xds-unique-id" in rules) is (strictness is Strictness.WARNING)


def test_a_missing_patient_is_named_once_per_element(mhd: Mhd) -> None:
    bundle = mhd.bundle((mhd.document_reference(), mhd.examples.hco))
    dr = bundle["entry"][1]["resource"]
    dr.pop("subject")
    response = mhd.post(bundle)
    assert response.status_code == 422
    rules = _rules_at(response, "Bundle.entry[1].resource.subject")
    assert rules.count("dk-xds-patient-cpr") == 1 and "dds-patient-present" not in rules
