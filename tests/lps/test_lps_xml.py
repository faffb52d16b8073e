"""The GP inbox takes FHIR XML as well as FHIR JSON, bare or as SBDH content, and answers in the format
the message came in; the HCO IG version it judges by is the envelope's TypeVersion, else the setting."""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from hco_flow import lps_received, send
from lxml import etree

from nsp_sandbox.conformance.validator import Validator
from nsp_sandbox.conformance.xml_json import json_to_xml, xml_to_json
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.hco_sbdh import SBDH_NS, unwrap, wrap
from nsp_sandbox.hco_terms import NPU_SYSTEM
from services.eoj_sender.replay_corpus import restamp
from services.lps.formats import body_of

FHIR_XML = {"Content-Type": "application/fhir+xml"}
SBDH = {"Content-Type": "application/xml"}
ONLY_IN_1_2 = "NPU03963"  # in terminology 2.0.2 (HCO 1.2), not in 2.0.0-draft (HCO 1.1)


def _fresh(client: TestClient) -> dict[str, Any]:
    return restamp(send(client)["bundle"])


def _enveloped(bundle: dict[str, Any], validator: Validator, version: str) -> bytes:
    raw, _ = wrap(bundle, datetime(2026, 2, 3, 10, 15, tzinfo=UTC), content=json_to_xml(bundle, validator.structures),
                  content_type="application/fhir+xml", type_version=version)
    return raw


def test_xml_in_xml_acknowledgement_out(client: TestClient, validator: Validator) -> None:
    bundle = _fresh(client)
    response = client.post("/lps/ehmi", content=json_to_xml(bundle, validator.structures), headers=FHIR_XML)
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["ack"] == "ok" and "HTTP 202" in answer["delivery"]  # the EOJ read the XML acknowledgement
    (received,) = lps_received(client, bundle["entry"][0]["resource"]["id"])
    assert (received["format"], received["ack_format"], received["envelope"]) == ("xml", "xml", "none")
    json_sent = send(client)
    (plain,) = lps_received(client, json_sent["id"])
    assert (plain["format"], plain["ack_format"]) == ("json", "json")


def test_an_acknowledgement_is_written_as_fhir_xml(client: TestClient, validator: Validator) -> None:
    sent = send(client)
    (received,) = lps_received(client, sent["id"])
    ack = received["ack"]
    body, content_type = body_of(ack, sbdh=False, xml=True, library=validator.structures,
                                 now=datetime(2026, 2, 3, tzinfo=UTC))
    assert content_type == "application/fhir+xml" and body.startswith(b"<?xml")
    assert xml_to_json(body, validator.structures, strict=True) == ack
    enveloped, content_type = body_of(ack, sbdh=True, xml=True, library=validator.structures,
                                      now=datetime(2026, 2, 3, tzinfo=UTC))
    root = etree.fromstring(enveloped)
    binary = root.find(f"{{{SBDH_NS}}}BinaryContent")
    assert content_type == "application/xml" and binary.get("mimeType") == "application/fhir+xml"
    assert xml_to_json(base64.b64decode(binary.text), validator.structures) == ack


def test_sbdh_content_in_xml_is_answered_in_an_envelope_in_xml(client: TestClient, validator: Validator) -> None:
    bundle = _fresh(client)
    raw = _enveloped(bundle, validator, "1.2")
    assert unwrap(raw, lambda b: xml_to_json(b, validator.structures)).bundle == bundle
    response = client.post("/lps/ehmi", content=raw, headers=SBDH)
    assert response.status_code == 202, response.text
    assert response.json()["ack"] == "ok"
    assert "HTTP 202" in response.json()["delivery"]  # the EOJ's /eoj/ehmi read the enveloped XML acknowledgement
    (received,) = lps_received(client, bundle["entry"][0]["resource"]["id"])
    assert (received["envelope"], received["format"], received["ack_envelope"], received["ack_format"]) == (
        "sbdh", "xml", "sbdh", "xml")


def test_an_unknown_xml_element_is_refused_with_its_path(client: TestClient, validator: Validator) -> None:
    bundle = _fresh(client)
    xml = json_to_xml(bundle, validator.structures).replace(b"<timestamp ", b'<colour value="red"/><timestamp ', 1)
    response = client.post("/lps/ehmi", content=xml, headers=FHIR_XML)
    assert response.status_code == 400, response.text
    (issue,) = response.json()["issue"]
    assert issue["expression"] == ["Bundle.colour"] and "Unknown element 'colour'" in issue["diagnostics"]
    assert lps_received(client, bundle["entry"][0]["resource"]["id"]) == []
    raw, _ = wrap(bundle, datetime(2026, 2, 3, tzinfo=UTC), content=xml, content_type="application/fhir+xml")
    enveloped = client.post("/lps/ehmi", content=raw, headers=SBDH)
    assert enveloped.status_code == 400
    assert "colour" in enveloped.json()["issue"][0]["diagnostics"]


def test_other_media_types_are_refused_naming_both_formats(client: TestClient) -> None:
    response = client.post("/lps/ehmi", content=b"hello", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    text = response.json()["issue"][0]["diagnostics"]
    assert "application/fhir+json" in text and "application/fhir+xml" in text


def _with_code_only_in_1_2(bundle: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(bundle)
    for entry in changed["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Observation" and resource["code"]["coding"][0]["code"] == "NPU19748":
            resource["code"]["coding"] = [{"system": NPU_SYSTEM, "code": ONLY_IN_1_2,
                                           "display": "U—Erythrocytter; arb.k.(proc.) = ?"}]
            resource["valueQuantity"] = {"value": 1, "unit": "arb.k.", "system": "urn:oid:1.2.208.176.2.1",
                                         "code": "arb.k."}
    return changed


def _code_issues(client: TestClient, header_id: str) -> list[dict[str, Any]]:
    (received,) = lps_received(client, header_id)
    return [i for i in received["issues"] if ONLY_IN_1_2 in i.get("diagnostics", "")]


def test_the_envelope_names_the_version_a_message_is_judged_by(client: TestClient, validator: Validator) -> None:
    as_1_1 = _with_code_only_in_1_2(_fresh(client))
    response = client.post("/lps/ehmi", content=_enveloped(as_1_1, validator, "1.1"), headers=SBDH)
    assert response.status_code == 202 and response.json()["ack"] == "fatal-error"
    (issue,) = _code_issues(client, as_1_1["entry"][0]["resource"]["id"])
    assert issue["msg_code"] == "MSG_CodeSystem_VALUE_UNKNOWN"
    assert "2.0.0-draft" in issue["diagnostics"] and "medcom.fhir.dk.terminology#2.0.2" in issue["diagnostics"]
    as_1_2 = _with_code_only_in_1_2(_fresh(client))
    response = client.post("/lps/ehmi", content=_enveloped(as_1_2, validator, "1.2"), headers=SBDH)
    assert response.status_code == 202
    assert not [i for i in _code_issues(client, as_1_2["entry"][0]["resource"]["id"]) if i["code"] == "code-invalid"]


def test_a_bare_message_is_judged_by_the_setting(client: TestClient, context: SandboxContext) -> None:
    context.settings = context.settings.model_copy(update={"hco_version": "1.1"})
    bundle = _with_code_only_in_1_2(_fresh(client))
    response = client.post("/lps/ehmi", json=bundle, headers={"Content-Type": "application/fhir+json"})
    assert response.status_code == 202 and response.json()["ack"] == "fatal-error"
    assert _code_issues(client, bundle["entry"][0]["resource"]["id"])
