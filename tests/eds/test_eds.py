"""EDS (EHMI Delivery Status) at ``/eds``: the sandbox's EOJ and GP system report each message's
stations (``msg-created-and-sent``, ``msg-received``, ``msg-received-and-finalized``) and anyone follows
it by message, patient or organisation; reports are idempotent, malformed ones refused by element, and
EDS being down never breaks delivery."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from event_loop import where_it_runs
from fastapi.testclient import TestClient
from hco_flow import CPR, SKODSTRUP, send, status

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.delivery_status import SUBTYPES, delivery_status
from services.eds.store import Store

PRODUCER_SOR = "900001000099016"  # Akutteam Aarhus: the EOJ's producer organisation
GP_GLN = "5790000127092"  # Skødstrup Lægepraksis (as the official examples name it)


def search(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/eds/fhir/AuditEvent", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["resourceType"] == "Bundle" and body["type"] == "searchset" and body["total"] == len(body["entry"])
    return [e["resource"] for e in body["entry"]]


def subtype(event: dict[str, Any]) -> str:
    return str(event["subtype"][0]["code"])


def observer(event: dict[str, Any]) -> str:
    return str(event["source"]["observer"]["display"])


def test_every_station_of_a_message_reports_it(client: TestClient) -> None:
    sent = send(client)
    events = search(client, entity=sent["id"])
    stations = sorted((observer(e).split()[1], subtype(e), e["source"]["type"][0]["code"]) for e in events)
    assert stations == [("EOJ", "msg-created-and-sent", "EUA"), ("EOJ", "msg-sent", "MSH"),
                        ("LPS", "msg-received", "MSH"), ("LPS", "msg-received-and-finalized", "EUA")]
    first = events[0]
    assert first["type"]["code"] == "ehmiMessaging" and first["subtype"][0]["system"] == SUBTYPES
    assert first["outcome"] == "0" and first["action"] == "C"
    roles = {a["type"]["coding"][0]["code"]: a for a in first["agent"]}
    assert roles["ehmiSender"]["who"]["identifier"]["value"] == PRODUCER_SOR
    assert roles["ehmiReceiver"]["who"]["identifier"]["value"] == SKODSTRUP
    assert roles["ehmiReceiver"]["altId"] == GP_GLN
    kinds = {e["type"]["code"]: e for e in first["entity"]}
    assert kinds["ehmiMessageEnvelope"]["what"]["identifier"]["value"] == sent["bundle_id"]
    assert kinds["ehmiPatient"]["what"]["identifier"]["value"] == CPR
    assert {d["type"]: d["valueString"] for d in kinds["ehmiMessage"]["detail"]}["ehmiMessageType"] == \
        "homecareobservation-message"
    # the acknowledgement is reported too (no patient: a basic delivery status), naming the original message
    ack_events = search(client, agent=GP_GLN)
    acks = [e for e in ack_events if any(x["type"]["code"] == "ehmiOrigMessage" for x in e["entity"])]
    assert sorted(subtype(e) for e in acks) == ["msg-created-and-sent", "msg-received-and-finalized"]
    assert all(not any(x["type"]["code"] == "ehmiPatient" for x in e["entity"]) for e in acks)
    assert {e["id"] for e in search(client, patient=CPR)} == {e["id"] for e in events}


def test_reports_are_stored_off_the_event_loop(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each station's report checked and stored on a worker thread: the event loop goes on meanwhile."""
    calls = where_it_runs(monkeypatch, Store, "add")
    sent = send(client)
    assert len(search(client, entity=sent["id"])) == 4
    assert len(calls) >= 4 and set(calls) == {"thread"}


def test_search_by_date_in_danish_time(client: TestClient, context: SandboxContext) -> None:
    context.clock.travel_to(datetime(2026, 2, 2, 23, 30, tzinfo=UTC))  # 00:30 on 3 February in Copenhagen
    sent = send(client)
    assert len(search(client, entity=sent["id"], date="2026-02-03")) == 4
    assert search(client, entity=sent["id"], date="2026-02-02") == []
    assert search(client, entity=sent["id"], date="lt2026-02-03") == []
    assert len(search(client, entity=sent["id"], date=["ge2026-02-02T23:00:00+00:00", "le2026-02-03"])) == 4
    bad = client.get("/eds/fhir/AuditEvent", params={"entity": sent["id"], "date": "yesterday"})
    assert bad.status_code == 400 and bad.json()["issue"][0]["expression"] == ["date"]
    assert client.get("/eds/fhir/AuditEvent").status_code == 400  # who or what is always named
    assert client.get("/eds/fhir/AuditEvent", params={"entity": "x", "colour": "red"}).status_code == 400


def test_reports_are_idempotent_and_checked(client: TestClient, context: SandboxContext) -> None:
    bundle = status(client, send(client)["id"])["bundle"]
    event = delivery_status("msg-sent", bundle, observer="a vendor's MSH", now=context.clock.now())
    first = client.post("/eds/fhir/AuditEvent", json=event)
    assert first.status_code == 201, first.text
    again = client.post("/eds/fhir/AuditEvent", json={**event, "id": "other"})
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    wrong = {**event, "subtype": [{"system": SUBTYPES, "code": "msg-lost"}], "colour": "red"}
    refused = client.post("/eds/fhir/AuditEvent", json=wrong)
    assert refused.status_code == 422 and "colour" in refused.text  # unknown elements named, never dropped
    del wrong["colour"]
    refused = client.post("/eds/fhir/AuditEvent", json=wrong)
    assert refused.status_code == 422 and refused.json()["issue"][0]["expression"] == ["AuditEvent.subtype"]
    nameless = {**event, "entity": [e for e in event["entity"] if e["type"]["code"] != "ehmiMessage"]}
    assert client.post("/eds/fhir/AuditEvent", json=nameless).json()["issue"][0]["expression"] == [
        "AuditEvent.entity"]


def test_eds_down_never_breaks_delivery(client: TestClient, context: SandboxContext) -> None:
    context.peers._urls["eds"] = "http://127.0.0.1:9/eds"  # nothing listens there
    try:
        sent = send(client)
    finally:
        context.peers._urls["eds"] = None
    assert sent["ack"] == "ok" and sent["dds"]["entry"] is not None
    assert search(client, entity=sent["id"]) == []


def test_a_resend_is_reported_by_the_msh_only(client: TestClient, context: SandboxContext) -> None:
    from datetime import timedelta

    from hco_flow import switches

    switches(client, withhold=True)
    sent = send(client)
    context.clock.travel_to(context.clock.now() + timedelta(minutes=31))
    assert client.post(f"/eoj/hco/{sent['id']}/resend").status_code == 200
    eoj = [subtype(e) for e in search(client, entity=sent["id"]) if " EOJ " in observer(e)]
    assert eoj == ["msg-created-and-sent", "msg-sent", "msg-sent"]  # one creation, two transmissions


def _outcome(event: dict[str, Any], validator: Any) -> Any:
    from nsp_sandbox.outcome import FhirError
    from services.eds.checks import checked

    try:
        return checked(event, validator)
    except FhirError as refused:
        return refused.status, [i.to_fhir() for i in refused.issues]


def test_the_engine_reads_a_report_s_structure_as_fhir_resources_does(client: TestClient, context: SandboxContext,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """EDS asks the engine for the base structure's findings: they are ``fhir.resources``' own, and for the
    sandbox's own reports, which the engine's walk finds clean, the model is not built at all."""
    from nsp_sandbox.conformance import validator as engine

    bundle = status(client, send(client)["id"])["bundle"]
    event = delivery_status("msg-sent", bundle, observer="a vendor's MSH", now=context.clock.now())
    agent = event["agent"][0]
    variants = [
        event,
        {**event, "colour": "red"},
        {**event, "id": "not an id"},
        {**event, "subtype": "msg-sent"},
        {**event, "recorded": 20260101},
        {**event, "_recorded": {"extension": [{"valueString": "no url"}]}},
        {**event, "agent": [{**agent, "requestor": "yes"}, *event["agent"][1:]]},
        {**event, "agent": [{**agent, "who": {"identifier": {"value": ""}}}, *event["agent"][1:]]},
        {**event, "entity": [{**event["entity"][0], "what": None}, *event["entity"][1:]]},
        {**event, "outcome": "0", "outcomeDesc": ["not a string"]},
        {**event, "extension": [{"url": "http://example.org/x", "valueInteger": 2**40}]},
    ]
    validator = context.validator
    for variant in variants:
        assert _outcome(variant, validator) == _outcome(variant, None), variant
    models: list[str] = []
    real = engine.base_structure_issues
    monkeypatch.setattr(engine, "base_structure_issues", lambda r: models.append(r["resourceType"]) or real(r))
    assert _outcome(event, validator) == _outcome(event, None)
    assert models == []
    _outcome({**event, "colour": "red"}, validator)
    assert models == ["AuditEvent"]


def test_one_report_sent_at_once_by_several_stations_is_kept_once(client: TestClient, context: SandboxContext) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from services.eds.checks import checked

    bundle = status(client, send(client)["id"])["bundle"]
    event = delivery_status("msg-sent", bundle, observer="a vendor's MSH", now=context.clock.now())
    store = Store(context.database)
    report = checked(event)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda n: store.add(report, {**event, "id": f"sent-{n}"}), range(8)))
    assert sorted(new for _, new in answers) == [False] * 7 + [True]
    assert len({stored["id"] for stored, _ in answers}) == 1
    assert len([e for e in search(client, entity=report.message_id) if observer(e) == "a vendor's MSH"]) == 1
