"""``POST /conformance/$validate`` on the whole sandbox: FHIR ``$validate`` semantics."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_validator_xml import to_xml  # the FHIR XML writer of the XML tests

from nsp_sandbox.conformance.packages import PackageRegistry

URL = "/conformance/$validate"
JSON = {"Content-Type": "application/fhir+json"}
CORE_PATIENT = "http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-patient|2.4.0"


@pytest.fixture
def hco(packages: PackageRegistry) -> dict[str, Any]:
    package = packages.get("medcom.fhir.dk.homecareobservation", "1.2.1")
    assert package is not None
    return dict(package.examples())["Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json"]


def errors(outcome: dict[str, Any]) -> list[dict[str, Any]]:
    assert outcome["resourceType"] == "OperationOutcome"
    return [i for i in outcome["issue"] if i["severity"] in ("error", "fatal")]


def test_valid_message(client: TestClient, hco: dict[str, Any]) -> None:
    response = client.post(URL, content=json.dumps(hco), headers=JSON)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert errors(response.json()) == []


def test_errors_are_still_200(client: TestClient, hco: dict[str, Any]) -> None:
    bundle = copy.deepcopy(hco)
    del bundle["entry"][2]["resource"]["status"]
    response = client.post(URL, content=json.dumps(bundle), headers=JSON)
    assert response.status_code == 200
    found = errors(response.json())
    assert any(i["expression"] == ["Bundle.entry[2].resource.status"] and
               {"system": "urn:nsp-sandbox:rule", "code": "cardinality"} in i["details"]["coding"] for i in found)
    source = next(i for i in found if i["expression"] == ["Bundle.entry[2].resource.status"])["extension"][0]
    assert source["valueString"].endswith("medcom-homecareobservation-diagnosticreport#DiagnosticReport.status")


def test_parameters_with_resource_and_profile(client: TestClient) -> None:
    patient = {"resourceType": "Patient", "id": "p", "name": [{"family": "Elmer"}]}
    plain = client.post(URL, json={"resourceType": "Parameters", "parameter": [{"name": "resource",
                                                                                  "resource": patient}]})
    assert plain.status_code == 200 and errors(plain.json()) == []
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": patient}, {"name": "profile", "valueUri": CORE_PATIENT}]}
    profiled = client.post(URL, content=json.dumps(body), headers=JSON)
    assert profiled.status_code == 200
    assert any(i.get("expression") == ["Patient.identifier"] for i in errors(profiled.json()))


def test_profile_query_parameter(client: TestClient) -> None:
    patient = {"resourceType": "Patient", "id": "p", "name": [{"family": "Elmer"}]}
    response = client.post(URL, params={"profile": CORE_PATIENT}, content=json.dumps(patient), headers=JSON)
    assert response.status_code == 200
    assert any(i.get("expression") == ["Patient.identifier"] for i in errors(response.json()))


def test_xml_body(client: TestClient, hco: dict[str, Any]) -> None:
    response = client.post(URL, content=to_xml(hco), headers={"Content-Type": "application/fhir+xml"})
    assert response.status_code == 200
    assert errors(response.json()) == []
    broken = client.post(URL, content=b"<Bundle xmlns='http://hl7.org/fhir'>",
                         headers={"Content-Type": "application/fhir+xml"})
    assert broken.status_code == 400 and broken.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(("body", "content_type", "status"), [
    (b"{not json", "application/fhir+json", 400),
    (b'{"no": "resourceType"}', "application/fhir+json", 400),
    (b"[]", "application/json", 400),
    (b"hello", "text/plain", 415),
])
def test_unusable_requests_are_4xx_outcomes(client: TestClient, body: bytes, content_type: str, status: int) -> None:
    response = client.post(URL, content=body, headers={"Content-Type": content_type})
    assert response.status_code == status
    assert response.json()["resourceType"] == "OperationOutcome"


def test_get_is_not_the_operation(client: TestClient) -> None:
    response = client.get(URL)
    assert response.status_code == 405
    assert response.json()["resourceType"] == "OperationOutcome"


def test_description_page_lists_packages(client: TestClient) -> None:
    response = client.get("/conformance/")
    assert response.status_code == 200
    assert "$validate" in response.text and "medcom.fhir.dk.homecareobservation" in response.text
