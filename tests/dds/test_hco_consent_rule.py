"""DDS guards HomeCareObservation messages whatever their source (``dds_rules_hco_consent``): an HCOM
whose message carries refused consent is refused at every strictness but ``off``; before the policy
date (Danish time, sandbox clock) an HCOM is refused at ``reject`` and warned about at ``warning``.
The XDS.b door (ITI-41) is tested in ``tests/xds_client/test_hco_consent_over_xds.py``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from mhd_client import CPR, Examples, Mhd, issues_of

from nsp_sandbox.config import Strictness
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.hco_terms import CONFIDENTIALITY_SYSTEM

REFUSED = "dk-xds-hco-refused-consent"
POLICY = "dk-xds-hco-policy-date"


def refused_consent(content: bytes) -> tuple[bytes, str]:
    """The HCO message with ``R`` on its DiagnosticReport, and where the label sits in the message."""
    bundle = json.loads(content)
    index = next(n for n, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == "DiagnosticReport")
    bundle["entry"][index]["resource"].setdefault("meta", {})["security"] = [
        {"system": CONFIDENTIALITY_SYSTEM, "code": "R", "display": "Restricted"}]
    return json.dumps(bundle).encode(), f"Bundle.entry[{index}].resource.meta.security[0]"


def rule_issues(response: Any, rule: str) -> list[dict[str, Any]]:
    """The issues naming ``rule``: of the refusal, or of the entries' outcomes when it went through."""
    if response.status_code == 200:
        found = [i for e in response.json()["entry"] for i in e["response"].get("outcome", {}).get("issue", [])]
    else:
        found = issues_of(response)
    return [i for i in found if any(c["code"] == rule for c in i.get("details", {}).get("coding", []))]


def _strictness(context: SandboxContext, level: Strictness) -> None:
    context.settings = context.settings.model_copy(update={"dds_rules_hco_consent": level})


@pytest.mark.parametrize("level", [Strictness.REJECT, Strictness.WARNING, Strictness.LOG])
def test_refused_consent_is_refused_naming_the_label_at_every_strictness(mhd: Mhd, context: SandboxContext,
                                                                         level: Strictness) -> None:
    _strictness(context, level)
    content, label = refused_consent(mhd.examples.hco)
    response = mhd.post(mhd.bundle((mhd.document_reference(), content)))
    assert response.status_code == 422, response.text
    [issue] = rule_issues(response, REFUSED)
    assert issue["severity"] == "error"
    # the label in the message, where the message sits in the request, and the entry's typeCode
    assert issue["expression"] == [label, "Bundle.entry[2].resource.data", "Bundle.entry[1].resource.type"]
    assert "refused consent" in issue["diagnostics"]
    mhd.relate(CPR)
    assert mhd.found_ids(**{"patient.identifier": CPR, "status": "current"}) == []


def test_refused_consent_is_taken_only_with_the_rule_off(mhd: Mhd, context: SandboxContext) -> None:
    _strictness(context, Strictness.OFF)
    content, _ = refused_consent(mhd.examples.hco)
    assert len(mhd.provide((mhd.document_reference(), content))) == 1


def test_the_same_message_without_refused_consent_is_taken(mhd: Mhd) -> None:
    response = mhd.post(mhd.bundle((mhd.document_reference(), mhd.examples.hco)))
    assert response.status_code == 200, response.text
    assert rule_issues(response, REFUSED) == [] and rule_issues(response, POLICY) == []


def at(instant: datetime, client: TestClient, examples: Examples, context: SandboxContext) -> Mhd:
    """An MHD client on the sandbox clock moved to ``instant`` (its tokens issued then)."""
    context.clock.travel_to(instant)
    return Mhd(client, examples)


BEFORE = datetime(2026, 1, 14, 22, 55, tzinfo=UTC)  # 23:55 on 14 January in Copenhagen
FROM = datetime(2026, 1, 14, 23, 5, tzinfo=UTC)  # 00:05 on 15 January in Copenhagen (still the 14th in UTC)


def test_before_the_policy_date_an_hcom_is_refused_at_reject(client: TestClient, examples: Examples,
                                                             context: SandboxContext) -> None:
    mhd = at(BEFORE, client, examples, context)
    response = mhd.post(mhd.bundle((mhd.document_reference(), mhd.examples.hco)))
    assert response.status_code == 422, response.text
    [issue] = rule_issues(response, POLICY)
    assert issue["severity"] == "error" and issue["expression"] == ["Bundle.entry[1].resource.type"]
    assert "2026-01-15" in issue["diagnostics"]


def test_before_the_policy_date_an_hcom_is_warned_about_at_warning(client: TestClient, examples: Examples,
                                                                   context: SandboxContext) -> None:
    mhd = at(BEFORE, client, examples, context)
    _strictness(context, Strictness.WARNING)
    response = mhd.post(mhd.bundle((mhd.document_reference(), mhd.examples.hco)))
    assert response.status_code == 200, response.text
    assert [i["severity"] for i in rule_issues(response, POLICY)] == ["warning"]


def test_from_midnight_danish_time_on_the_policy_date_an_hcom_is_taken(client: TestClient, examples: Examples,
                                                                       context: SandboxContext) -> None:
    mhd = at(FROM, client, examples, context)
    response = mhd.post(mhd.bundle((mhd.document_reference(), mhd.examples.hco)))
    assert response.status_code == 200, response.text
    assert rule_issues(response, POLICY) == []


def test_the_policy_date_is_a_setting(mhd: Mhd, context: SandboxContext) -> None:
    context.settings = context.settings.model_copy(update={"hco_policy_date": datetime(2030, 1, 1).date()})
    response = mhd.post(mhd.bundle((mhd.document_reference(), mhd.examples.hco)))
    assert response.status_code == 422 and "2030-01-01" in rule_issues(response, POLICY)[0]["diagnostics"]


def test_other_documents_are_not_judged_by_the_hcom_rules(client: TestClient, examples: Examples,
                                                          context: SandboxContext) -> None:
    mhd = at(BEFORE, client, examples, context)
    dr = mhd.document_reference()
    dr["type"]["coding"][0]["code"] = "NOT-HCOM"  # not an HCOM entry: the HCOM rules do not apply
    response = mhd.post(mhd.bundle((dr, mhd.examples.hco)))
    assert rule_issues(response, POLICY) == [] and rule_issues(response, REFUSED) == []


XML_EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "fhir-examples-xml" / "homecareobservation-1.2.1"


@pytest.mark.skipif(not XML_EXAMPLES.is_dir(), reason="MedCom's XML renderings (../shared/fhir-examples-xml) missing")
def test_refused_consent_in_fhir_xml_is_refused_too(mhd: Mhd) -> None:
    """MedCom's own XML rendering of the refused-consent example (faa0c104), for its patient."""
    content = (XML_EXAMPLES / "Bundle-faa0c104-0ebf-49cb-bad1-9e0f59436e18.xml").read_bytes()
    dr = mhd.document_reference(cpr="2509479989", content_type="application/fhir+xml")
    response = mhd.post(mhd.bundle((dr, content), cpr="2509479989", consistent=False))
    assert response.status_code == 422, response.text
    [issue] = rule_issues(response, REFUSED)
    assert issue["expression"][0].endswith(".resource.meta.security[0]")
    # the same rendering's sibling without the label is not refused by this rule
    plain = (XML_EXAMPLES / "Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.xml").read_bytes()
    dr = mhd.document_reference(cpr="2509479989", content_type="application/fhir+xml")
    assert rule_issues(mhd.post(mhd.bundle((dr, plain), cpr="2509479989", consistent=False)), REFUSED) == []
