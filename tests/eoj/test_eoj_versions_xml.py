"""The EOJ sends HCO 1.1 or 1.2, in FHIR JSON or FHIR XML: ``POST /eoj/messages`` takes XML and sends
it on as XML (the GP's acknowledgement comes back as XML) and shares it to DDS as XML with the
formatCode of its version, which the viewer renders; the version comes from ``?version=``, the order's
``version``, the receiver's ``hco_version`` in the endpoint register, else the setting."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from actor_tokens import operator
from fastapi.testclient import TestClient
from hco_flow import CPR, SKODSTRUP, lps_received, order, send
from sqlalchemy import inspect
from sts_client import auth

from nsp_sandbox.conformance.validator import Validator
from nsp_sandbox.conformance.xml_json import json_to_xml, xml_to_json
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.hco_terms import NPU_SYSTEM
from nsp_sandbox.schema_stamp import TABLE as STAMPS
from services.eoj_sender.app import create_app
from services.eoj_sender.models import ADDED_COLUMNS
from services.eoj_sender.replay_corpus import restamp

FHIR_XML = {"Content-Type": "application/fhir+xml"}
ONLY_IN_1_2 = "NPU03963"  # in terminology 2.0.2 (HCO 1.2), not in 2.0.0-draft (HCO 1.1)
EXAMPLE = "homecareobservation-1.1.1-trial-use/Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.xml"


@pytest.fixture
def medcom_xml(fhir_packages_dir: Path) -> bytes:
    path = fhir_packages_dir.parent / "fhir-examples-xml" / EXAMPLE
    if not path.is_file():
        pytest.skip(f"MedCom's XML example not found at {path}")
    return path.read_bytes()


def _endpoint(client: TestClient, sor: str = SKODSTRUP, **change: Any) -> dict[str, Any]:
    endpoint = next(e for e in client.get("/eoj/endpoints").json() if e["sor"] == sor)
    response = operator(client).put("/eoj/endpoints", json={**endpoint, **change})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _dds_entry(client: TestClient, entry_id: str) -> dict[str, Any]:
    response = client.get(f"/dds/fhir/DocumentReference/{entry_id}", headers=auth(client, f"citizen-{CPR}"))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_an_xml_message_travels_as_xml_and_is_shared_and_shown_as_xml(client: TestClient, validator: Validator,
                                                                      medcom_xml: bytes) -> None:
    bundle = restamp(xml_to_json(medcom_xml, validator.structures, strict=True))
    response = client.post("/eoj/messages", params={"version": "1.1"},
                           content=json_to_xml(bundle, validator.structures), headers=FHIR_XML)
    assert response.status_code == 201, response.text
    sent = response.json()
    assert (sent["format"], sent["hco_version"], sent["ack"]) == ("xml", "1.1", "ok")  # the XML ack was read
    (received,) = lps_received(client, sent["id"])
    assert (received["format"], received["ack_format"], received["ack_code"]) == ("xml", "xml", "ok")
    entry = _dds_entry(client, sent["dds"]["entry"])
    content = entry["content"][0]
    assert content["format"]["code"] == "urn:ad:dk:medcom:msg:hco-v1.1:full"
    assert content["attachment"]["contentType"] == "application/fhir+xml"
    document = client.get(content["attachment"]["url"], headers=auth(client, f"citizen-{CPR}"))
    assert document.status_code == 200 and document.content.startswith(b"<?xml")
    assert xml_to_json(document.content, validator.structures, strict=True)["id"] == bundle["id"]
    view = client.get(f"/view/api/citizens/{CPR}/observations", headers=auth(client, f"citizen-{CPR}"))
    assert view.status_code == 200, view.text
    body = view.json()
    assert body["invalid"] == []
    assert [m["id"] for m in body["messages"]] == [sent["id"]]
    assert body["analyses"] and all(a["results"] for a in body["analyses"])


def test_json_and_xml_documents_are_shown_side_by_side(client: TestClient, validator: Validator) -> None:
    as_json = send(client)
    bundle = restamp(as_json["bundle"])
    as_xml = client.post("/eoj/messages", content=json_to_xml(bundle, validator.structures), headers=FHIR_XML)
    assert as_xml.status_code == 201, as_xml.text
    assert as_xml.json()["dds"]["entry"] and as_json["dds"]["entry"]
    view = client.get(f"/view/api/citizens/{CPR}/observations", headers=auth(client, f"citizen-{CPR}")).json()
    assert view["invalid"] == []
    assert sorted(m["id"] for m in view["messages"]) == sorted([as_json["id"], as_xml.json()["id"]])


def test_the_endpoint_register_names_the_version_a_receiver_takes(client: TestClient) -> None:
    assert _endpoint(client, hco_version="1.1")["hco_version"] == "1.1"
    sent = send(client)
    assert sent["hco_version"] == "1.1" and sent["ack"] == "ok"
    entry = _dds_entry(client, sent["dds"]["entry"])
    assert entry["content"][0]["format"]["code"] == "urn:ad:dk:medcom:msg:hco-v1.1:full"
    override = send(client, version="1.2")
    assert override["hco_version"] == "1.2"
    assert _dds_entry(client, override["dds"]["entry"])["content"][0]["format"]["code"] == (
        "urn:ad:dk:medcom:msg:hco-v1.2:full")
    assert _endpoint(client, hco_version=None)["hco_version"] is None
    assert send(client)["hco_version"] == "1.2"  # the setting's default
    wrong = operator(client).put("/eoj/endpoints", json={**_endpoint(client), "hco_version": "2.0"})
    assert wrong.status_code == 422 and wrong.json()["issue"][0]["expression"] == ["hco_version"]


def test_an_order_for_1_1_with_a_code_only_1_2_has_is_refused(client: TestClient) -> None:
    observations = [{"code": ONLY_IN_1_2, "value": 1, "unit": "arb.k."}]
    refused = client.post("/eoj/hco", json=order(version="1.1", observations=observations))
    assert refused.status_code == 422, refused.text
    issues = refused.json()["issue"]
    assert any(ONLY_IN_1_2 in i["diagnostics"] and "medcom.fhir.dk.terminology#2.0.2" in i["diagnostics"]
               for i in issues)
    assert client.post("/eoj/hco", json=order(version="1.2", observations=observations)).status_code == 201
    wrong = client.post("/eoj/hco", json=order(version="1.7"))
    assert wrong.status_code == 422 and wrong.json()["issue"][0]["expression"] == ["version"]


def _with_code_only_in_1_2(bundle: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(bundle)
    for entry in changed["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Observation" and resource["code"]["coding"][0]["code"] == "NPU19748":
            resource["code"]["coding"] = [{"system": NPU_SYSTEM, "code": ONLY_IN_1_2,
                                           "display": "U—Erythrocytter; arb.k.(proc.) = ?"}]
    return changed


def test_the_envelope_carries_the_version_to_the_gp(client: TestClient) -> None:
    _endpoint(client, envelope="sbdh")
    template = send(client)["bundle"]
    for version, judged_as_1_1 in (("1.1", True), ("1.2", False)):
        bundle = _with_code_only_in_1_2(restamp(template))
        response = client.post("/eoj/messages", params={"version": version}, json=bundle)
        assert response.status_code == 201, response.text
        assert "SBDH envelope" in response.json()["send_result"]
        (received,) = lps_received(client, response.json()["id"])
        flagged = [i for i in received["issues"] if f"{ONLY_IN_1_2} is not a code of" in i["diagnostics"]]
        assert bool(flagged) is judged_as_1_1, (version, received["issues"])
    wrong = client.post("/eoj/messages", params={"version": "x"}, json=restamp(template))
    assert wrong.status_code == 422 and wrong.json()["issue"][0]["expression"] == ["version"]


def test_tables_of_an_earlier_version_get_the_new_columns(client: TestClient, context: SandboxContext) -> None:
    with context.database.engine.begin() as connection:
        connection.exec_driver_sql(f"DELETE FROM {STAMPS}")  # an earlier version stamped nothing
        for table, column, _ in ADDED_COLUMNS:
            connection.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN {column}")
    create_app(context)  # a start on the earlier tables
    inspector = inspect(context.database.engine)
    for table, column, _ in ADDED_COLUMNS:
        assert column in {c["name"] for c in inspector.get_columns(table)}, (table, column)
    assert send(client)["hco_version"] == "1.2"
