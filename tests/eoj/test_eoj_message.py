"""The EOJ builds complete HCO 1.2 messages that the official profile accepts, and refuses bad orders."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from actor_tokens import operator
from event_loop import database_work_on_the_loop
from fastapi.testclient import TestClient
from hco_flow import AGERSKOV, CPR, SKODSTRUP, order, profile_errors, send, status
from sts_client import auth

from nsp_sandbox.context import SandboxContext

HCO_MESSAGE = "http://medcomfhir.dk/ig/homecareobservation/StructureDefinition/medcom-homecareobservation-message"


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_a_new_message_is_complete_and_valid(client: TestClient, validator) -> None:  # type: ignore[no-untyped-def]
    sent = send(client, attachments=[{"title": "EKG", "content_type": "image/png", "data": "iVBORw0KGgo="}])
    bundle = sent["bundle"]
    assert profile_errors(validator, bundle, HCO_MESSAGE) == []
    header = bundle["entry"][0]["resource"]
    assert header["id"] == sent["id"] and bundle["id"] == sent["bundle_id"]
    assert header["eventCoding"]["code"] == "homecareobservation-message"
    assert header["definition"].endswith("MedComHomeCareObservationMessageDefinition|1.1")
    assert header["source"]["endpoint"].endswith("/eoj/ehmi")
    (provenance,) = _resources(bundle, "Provenance")
    assert provenance["activity"]["coding"][0]["code"] == "new-message"
    producer = next(o for o in _resources(bundle, "Organization") if o["id"] == header["sender"]["reference"][13:])
    assert {"system": "http://medcomfhir.dk/ig/terminology/CodeSystem/MedComProducentID", "value": "KAF",
            "use": "official"} in producer["identifier"]
    receiver = next(o for o in _resources(bundle, "Organization")
                    if f"Organization/{o['id']}" == header["destination"][0]["receiver"]["reference"])
    assert {"system": "urn:oid:1.2.208.176.1.1", "value": SKODSTRUP} in receiver["identifier"]
    assert receiver["contact"][0]["name"]["given"] == ["SDaA"]
    observations = {o["code"]["coding"][0]["code"]: o for o in _resources(bundle, "Observation")}
    assert observations["NPU22089"]["valueQuantity"] == {"value": 6.8, "unit": "mmol/L"}
    assert observations["NPU22089"]["note"] == [{"text": "Ikke fastende"}]
    assert observations["MCS88122"]["valueQuantity"]["comparator"] == ">"
    assert observations["NPU21578"]["valueString"] == "Negative"
    assert all(o["interpretation"][0]["coding"][0]["code"] == "NI" and o["status"] == "final"
               for o in observations.values())
    (report,) = _resources(bundle, "DiagnosticReport")
    assert report["conclusion"] == "Borger afkræftet, drikker sparsomt."
    assert len(report["media"]) == 1 and "security" not in report["meta"]


@pytest.mark.parametrize("change", [
    {"initials": None},  # unknown initials: data-absent-reason
    {"cpr": "0703921VJ5", "family": "Hansen", "given": ["Peter"]},  # x-eCPR
    {"refused_consent": True},
    {"receiver": AGERSKOV, "clinical_comment": None},
], ids=["initials-unknown", "x-ecpr", "refused-consent", "other-gp-no-comment"])
def test_variants_are_valid(client: TestClient, validator, change: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    bundle = send(client, **change)["bundle"]
    assert profile_errors(validator, bundle, HCO_MESSAGE) == []
    if change.get("refused_consent"):
        (report,) = _resources(bundle, "DiagnosticReport")
        assert report["meta"]["security"][0]["code"] == "R"


def test_modification_and_retraction_are_new_messages_linked_by_provenance(client: TestClient, validator) -> None:  # type: ignore[no-untyped-def]
    first = send(client)
    modified = client.post(f"/eoj/hco/{first['id']}/modify", json={
        "observations": [{"code": "NPU22089", "value": 7.4}], "clinical_comment": "Rettet vurdering"})
    assert modified.status_code == 201, modified.text
    mod = modified.json()
    assert mod["id"] != first["id"] and mod["bundle_id"] != first["bundle_id"]
    assert profile_errors(validator, mod["bundle"], HCO_MESSAGE) == []
    own = next(p for p in _resources(mod["bundle"], "Provenance")
               if p["target"][0]["reference"] == f"MessageHeader/{mod['id']}")
    assert own["activity"]["coding"][0]["code"] == "modified-message"
    assert own["entity"] == [{"role": "revision", "what": {"reference": f"MessageHeader/{first['id']}"}}]
    old_obs = {o["code"]["coding"][0]["code"]: o for o in _resources(first["bundle"], "Observation")}
    new_obs = {o["code"]["coding"][0]["code"]: o for o in _resources(mod["bundle"], "Observation")}
    assert new_obs["NPU22089"]["valueQuantity"]["value"] == 7.4
    assert new_obs["NPU22089"]["id"] == old_obs["NPU22089"]["id"]  # the same result, corrected
    assert new_obs["NPU22089"]["effectiveDateTime"] == old_obs["NPU22089"]["effectiveDateTime"]
    assert new_obs["NPU19748"] == old_obs["NPU19748"]  # untouched results travel along unchanged

    retracted = client.post(f"/eoj/hco/{first['id']}/retract", json={"reason": "Cancellation due to incorrect "
                                                                                "CPR-number"})
    assert retracted.status_code == 201, retracted.text
    ret = retracted.json()
    assert profile_errors(validator, ret["bundle"], HCO_MESSAGE) == []
    own = next(p for p in _resources(ret["bundle"], "Provenance")
               if p["target"][0]["reference"] == f"MessageHeader/{ret['id']}")
    assert own["activity"]["coding"][0]["code"] == "retract-message"
    assert own["entity"] == [{"role": "removal", "what": {"reference": f"MessageHeader/{mod['id']}"}}]
    assert _resources(ret["bundle"], "DiagnosticReport")[0]["conclusion"] == "Cancellation due to incorrect CPR-number"
    chain = status(client, first["id"])["chain"]
    assert [m["activity"] for m in chain] == ["new-message", "modified-message", "retract-message"]

    again = client.post(f"/eoj/hco/{mod['id']}/modify", json={"clinical_comment": "x"})
    assert again.status_code == 409
    assert again.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(("change", "rule"), [
    ({"observations": [{"code": "NPU2026", "value": 1}]}, "hco-national-repertoire"),
    ({"observations": [{"code": "NPU21578", "value": "1234567890123"}]}, "hco-result-length"),
    ({"observations": [{"code": "NPU22089", "value": 123456789012, "comparator": "<"}]}, "hco-result-length"),
    ({"observations": [{"code": "NPU22089"}]}, "hco-result-value"),
    ({"cpr": "12345"}, "hco-patient-cpr"),
    ({"receiver": "99999999999"}, "eer-receiver-known"),
])
def test_orders_the_eoj_refuses(client: TestClient, change: dict[str, Any], rule: str) -> None:
    response = client.post("/eoj/hco", json=order(**change))
    assert response.status_code == 422, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert rule in {c["code"] for i in outcome["issue"] for c in i.get("details", {}).get("coding", [])}, outcome
    assert client.get("/lps/received").json() == []  # nothing was sent


def test_unknown_message_and_malformed_bodies_are_outcomes(client: TestClient) -> None:
    assert client.get("/eoj/hco/nope").status_code == 404
    assert client.post("/eoj/hco/nope/modify", json={}).status_code == 404
    bad = client.post("/eoj/hco", content=b"{not json", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.json()["resourceType"] == "OperationOutcome"
    extra = client.post("/eoj/hco", json=order(surprise=1))
    assert extra.status_code == 422 and extra.json()["resourceType"] == "OperationOutcome"


def test_endpoint_register_is_seeded_and_editable(client: TestClient) -> None:
    seeded = {e["sor"]: e for e in client.get("/eoj/endpoints").json()}
    assert {SKODSTRUP, AGERSKOV} <= set(seeded)  # the GPs of the official examples
    assert all(e["url"].endswith("/lps/ehmi") for e in seeded.values())
    vendor = {"sor": "123456789012", "gln": "5790001111113", "ydernummer": "099999", "name": "Vendor GP",
              "url": "http://127.0.0.1:9/ehmi"}
    bad = operator(client).put("/eoj/endpoints", json={**vendor, "gln": "5790001111112"})
    assert bad.status_code == 422
    assert "dk-core-gln" in bad.text
    response = operator(client).put("/eoj/endpoints", json=vendor)
    assert response.status_code == 200, response.text
    assert response.json()["url"] == vendor["url"]
    # A vendor that cannot be reached: the message is kept, unacknowledged, and the failure shown.
    sent = send(client, receiver="5790001111113")
    assert sent["send_result"].startswith("not delivered")
    assert sent["ack"] == "pending"
    assert sent["cpr"] == CPR


def test_changes_of_one_message_sent_at_once_follow_one_another(context: SandboxContext) -> None:
    """Four modifications of one message sent at the same moment over real HTTP: each builds on the one before
    (the chain stays a line), though each waits for the CPU lane between its look-up and its send."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dds"))
    from served import Racers, serve

    with serve(context) as base_url, Racers(base_url, 4) as racers, httpx.Client(base_url=base_url, timeout=60) as one:
        _, chain = modified_at_once(racers, one, auth(one, "system-eoj-aarhus", "eoj"))
    assert [m["activity"] for m in chain] == ["new-message"] + ["modified-message"] * 4
    assert [m["previous"] for m in chain[1:]] == [m["id"] for m in chain[:-1]]  # a line, not a fork


def test_changes_of_one_message_sent_at_once_to_two_workers_follow_one_another(context: SandboxContext,
                                                                              database_url: str) -> None:
    """The same through two sandboxes on one database, as ``up --workers 2`` runs: neither's lock holds the
    other back, so the database decides which change builds on which, and the chain stays a line."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dds"))
    from served import Racers, two_workers

    with two_workers(context, database_url) as (first, second), Racers([first, second], 6) as racers, \
            httpx.Client(base_url=first, timeout=60) as one:
        eoj = auth(one, "system-eoj-aarhus", "eoj")
        sent, chain = modified_at_once(racers, one, eoj)
        header_id = sent["id"]
        # each version's DDS copy replaced the one before, in the chain's order: the newest alone is current
        assert [one.get(f"/eoj/hco/{m['id']}", headers=eoj).json()["dds"]["state"] for m in chain] == \
            ["shared"] * 7
        citizen = auth(one, f"citizen-{CPR}", "dds")
        statuses = [one.get(f"/dds/fhir/DocumentReference/{m['dds_entry']}", headers=citizen).json()["status"]
                    for m in chain]
        # a ready-made message sent through both at once: sent once, the other copies refused (409)
        text = json.dumps(sent["bundle"])
        ready = json.loads(text.replace(header_id, str(uuid.uuid4())).replace(sent["bundle"]["id"], str(uuid.uuid4())))
        copies = racers.race([lambda c: c.post("/eoj/messages", json=ready, headers=eoj)] * 6)
        assert sorted(a.status_code for a in copies) == [201] + [409] * 5, [a.text for a in copies]
    assert [m["activity"] for m in chain] == ["new-message"] + ["modified-message"] * 6
    assert [m["previous"] for m in chain[1:]] == [m["id"] for m in chain[:-1]]  # a line, not a fork
    assert statuses == ["superseded"] * 6 + ["current"]


def modified_at_once(racers: Any, one: httpx.Client, headers: dict[str, str]) -> tuple[dict[str, Any], list[Any]]:
    """A message sent, then modified by every one of ``racers`` at once (each modification answered 201): the
    message as sent and its chain afterwards."""
    sent = one.post("/eoj/hco", json=order(), headers=headers)
    assert sent.status_code == 201, sent.text
    header_id = sent.json()["id"]
    answers = racers.race([lambda c, n=n: c.post(f"/eoj/hco/{header_id}/modify", headers=headers,
                                                 json={"clinical_comment": f"Rettelse {n}"})
                           for n in range(racers.width)])
    assert [a.status_code for a in answers] == [201] * racers.width, [a.text for a in answers]
    return sent.json(), one.get(f"/eoj/hco/{header_id}", headers=headers).json()["chain"]


def test_the_eoj_does_its_database_work_off_the_event_loop(client: TestClient,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A message sent in an SBDH envelope (its receipt and acknowledgement coming back), shared to DDS, modified,
    retracted, sent ready-made and resent when due; the endpoint register changed: the EOJ's database work runs
    on worker threads, so that the event loop goes on with other requests meanwhile."""
    endpoint = next(e for e in client.get("/eoj/endpoints").json() if e["sor"] == SKODSTRUP)
    on_the_loop = database_work_on_the_loop(monkeypatch, "services/eoj_sender/")
    assert operator(client).put("/eoj/endpoints", json={**endpoint, "envelope": "sbdh"}).status_code == 200
    sent = send(client)
    assert sent["ack"] == "ok" and sent["dds"]["state"] == "shared"
    assert [r["state"] for r in sent["receipts"]] == ["received"]
    modified = client.post(f"/eoj/hco/{sent['id']}/modify", json={"clinical_comment": "Tilføjelse"})
    assert modified.status_code == 201 and modified.json()["dds"]["state"] == "shared", modified.text
    retracted = client.post(f"/eoj/hco/{modified.json()['id']}/retract", json={"reason": "Forkert borger"})
    assert retracted.status_code == 201, retracted.text
    ready = json.loads(json.dumps(sent["bundle"]))
    ready["id"] = str(uuid.uuid4())
    ready["entry"][0]["resource"]["id"] = str(uuid.uuid4())
    assert client.post("/eoj/messages", json=ready).status_code == 201
    assert client.post("/eoj/hco/resend-due").status_code == 200
    assert on_the_loop == []
