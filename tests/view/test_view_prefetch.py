"""The viewer as DSUBm Resource Notification Recipient: it subscribes at DDS at start-up, reads each
new document when DDS notifies of it (with its own system identity, no Min Log entry), keeps what it
read in its own tables, and a citizen's first Prøvesvar page then retrieves nothing; a professional
still retrieves through DDS, which logs it; a DDS without DSUBm leaves the viewer working as before."""

from __future__ import annotations

import sys
import threading
import traceback
from pathlib import Path
from typing import Any

import pytest
import seeding
from event_loop import SNAPSHOTS, threads_it_runs_on
from fastapi import FastAPI
from fastapi.responses import Response
from fastapi.testclient import TestClient
from sqlalchemy import delete, event
from starlette.routing import Route
from view_support import CITIZEN, GP, sign_in

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.peers import IN_PROCESS_ORIGIN
from services.sundhed_view.models import EntryContentRow, ExtractRow
from services.sundhed_view.prefetch import Prefetch
from services.sundhed_view.views import Views

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dds"))
from dsubm_recipient import wait_for

from sandbox.lazy_actor import mounted_app

VIEWER = "system-sundhed-dk"


@pytest.fixture(autouse=True)
def viewer_subscribes(context: SandboxContext) -> None:
    """The viewer subscribes at DDS when its app is built (the tests' settings have it off elsewhere)."""
    context.settings = context.settings.model_copy(update={"view_dsubm": True})


def _viewer(client: TestClient) -> FastAPI:
    app = mounted_app(next(r.app for r in client.app.routes if getattr(r, "path", None) == "/view"))
    assert isinstance(app, FastAPI)
    return app


def _prefetch(client: TestClient) -> Prefetch:
    prefetch = _viewer(client).state.prefetch
    assert isinstance(prefetch, Prefetch)
    return prefetch


def _retrievals(client: TestClient, after: int, caller: str | None = None) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"after": after, "transaction": "ITI-68", "_count": 1000}
    if caller:
        params["caller"] = caller
    response = client.get("/dds/requests", params=params)
    assert response.status_code == 200, response.text
    return response.json()["requests"]  # type: ignore[no-any-return]


def _mark(client: TestClient) -> int:
    return int(client.get("/dds/requests", params={"_count": 0}).json()["last"])


def _hco_entries(client: TestClient) -> list[dict[str, Any]]:
    response = client.get("/dds/fhir/DocumentReference", params={
        "patient.identifier": CITIZEN, "status": "current", "type": "HCOM"},
        headers={"Authorization": f"Bearer {seeding.token(client, f'citizen-{CITIZEN}', 'dds')}"})
    assert response.status_code == 200, response.text
    return [e["resource"] for e in response.json()["entry"] if e["search"]["mode"] == "match"]


def _seed_and_settle(client: TestClient, messages: int) -> list[dict[str, Any]]:
    """``messages`` HCO messages shared, and every one of them read by the viewer's prefetch."""
    prefetch = _prefetch(client)
    assert prefetch.settled.wait(30) and prefetch.subscription_id, "the viewer did not subscribe at DDS"
    for n in range(messages):
        seeding.hco(client, CITIZEN, observations=[
            {"code": "NPU19748", "value": 20 + n, "time": f"2026-11-0{n + 1}T10:15:00+01:00"}])
    cache = _viewer(client).state.views.documents.cache
    entries = wait_for(lambda: (found := _hco_entries(client)) and len(found) == messages and found)
    wait_for(lambda: all(cache.has_entry(e["id"], e["content"][0]["attachment"]["hash"]) for e in entries))
    return entries


def test_new_documents_are_read_ahead_and_the_first_view_retrieves_nothing(client: TestClient) -> None:
    entries = _seed_and_settle(client, 3)
    # the viewer's system retrieved each document once, and no citizen's Min Log got an entry for it
    assert sorted(r["path"] for r in _retrievals(client, 0, VIEWER)) == sorted(
        f"/documents/{e['id']}" for e in entries)
    minlog = client.get("/nsp/minlog", headers={
        "Authorization": f"Bearer {seeding.token(client, f'citizen-{CITIZEN}', 'nsp')}"})
    assert minlog.status_code == 200 and minlog.json() == []
    # another worker, or a restart: nothing in process memory, the viewer's tables have it all
    views: Views = _viewer(client).state.views
    views.documents.cache._memory.clear()
    views.documents.cache._entries.clear()
    mark = _mark(client)
    sign_in(client, f"citizen-{CITIZEN}")
    page = client.get(f"/view/borger/{CITIZEN}/provesvar?alle=1")
    assert page.status_code == 200 and "C-reaktivt protein" in page.text
    assert _retrievals(client, mark) == []


def test_a_professional_still_retrieves_through_dds_and_min_log_shows_it(client: TestClient) -> None:
    entries = _seed_and_settle(client, 2)
    mark = _mark(client)
    sign_in(client, GP)
    page = client.get(f"/view/borger/{CITIZEN}/provesvar")
    assert page.status_code == 200 and "C-reaktivt protein" in page.text
    assert sorted(r["path"] for r in _retrievals(client, mark, GP)) == sorted(
        f"/documents/{e['id']}" for e in entries)
    minlog = client.get("/nsp/minlog", headers={
        "Authorization": f"Bearer {seeding.token(client, f'citizen-{CITIZEN}', 'nsp')}"})
    activities = {(e["user_name"], e["activity"]) for e in minlog.json()}
    assert ("Lars Lund", "ITI-68 Retrieve Document") in activities
    assert not any("Sundhed.dk" in str(e) for e in minlog.json())


def test_notifications_come_only_from_dds(client: TestClient) -> None:
    bundle = {"resourceType": "Bundle", "type": "history", "entry": []}
    assert client.post("/view/dsubm/notify", json=bundle,
                       headers={"Content-Type": "application/fhir+json"}).status_code == 401
    for persona in (VIEWER, "system-eoj-aarhus"):
        refused = client.post("/view/dsubm/notify", json=bundle, headers={
            "Content-Type": "application/fhir+json",
            "Authorization": f"Bearer {seeding.token(client, persona, 'view')}"})
        assert refused.status_code == 403 and refused.json()["resourceType"] == "OperationOutcome"
    dds = {"Content-Type": "application/fhir+json",
           "Authorization": f"Bearer {seeding.token(client, 'system-dds', 'view')}"}
    assert client.post("/view/dsubm/notify", json=bundle, headers=dds).status_code == 200
    wrong = client.post("/view/dsubm/notify", json={"resourceType": "Bundle", "type": "batch"}, headers=dds)
    assert wrong.status_code == 400


def test_a_notification_of_several_events_reads_what_is_new_and_leaves_what_is_known(client: TestClient) -> None:
    """DDS may send several events in one notification (the viewer's subscription asks for up to 20): the
    viewer looks them all up in its tables at once, and retrieves only the documents it has not read."""
    assert _prefetch(client).settled.wait(30)
    subscription = client.get(f"/dds/fhir/Subscription/{_prefetch(client).subscription_id}", headers={
        "Authorization": f"Bearer {seeding.token(client, VIEWER, 'dds')}"}).json()
    assert subscription["channel"]["extension"] == [{
        "url": "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-max-count",
        "valuePositiveInt": 20}]
    read = _seed_and_settle(client, 2)
    cache = _viewer(client).state.views.documents.cache
    cache._memory.clear()  # as another worker: only the tables know them
    cache._entries.clear()
    with cache.database.transaction() as connection:  # and one of them is not known there either
        connection.execute(delete(EntryContentRow.__table__).where(EntryContentRow.entry_id == read[1]["id"]))
    mark = _mark(client)
    dds = {"Content-Type": "application/fhir+json",
           "Authorization": f"Bearer {seeding.token(client, 'system-dds', 'view')}"}
    for entry in read:  # at DDS as the viewer reaches it (as DDS notifies it), not as the test's client did
        attachment = entry["content"][0]["attachment"]
        attachment["url"] = f"{IN_PROCESS_ORIGIN}/dds/documents/{entry['id']}"
    bundle = {"resourceType": "Bundle", "type": "history", "entry": [
        {"resource": {"resourceType": "Parameters"}}, *({"resource": e} for e in read)]}
    answer = client.post("/view/dsubm/notify", json=bundle, headers=dds)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"documents": {"known": 1, "read": 1}}
    assert [r["path"] for r in _retrievals(client, mark, VIEWER)] == [f"/documents/{read[1]['id']}"]


@pytest.fixture
def vendor_dds(context: SandboxContext) -> None:
    """The viewer does not subscribe when its app is built; the test starts it against a DDS without DSUBm."""
    context.settings = context.settings.model_copy(update={"view_dsubm": False})


def test_a_dds_without_dsubm_leaves_the_viewer_working(vendor_dds: None, client: TestClient,
                                                       context: SandboxContext) -> None:
    async def no_such_route(_request: Any) -> Response:
        return Response(status_code=404)

    client.app.router.routes.insert(0, Route("/dds/fhir/Subscription", no_such_route, methods=["POST"]))
    context.settings = context.settings.model_copy(update={"view_dsubm": True})
    prefetch = _prefetch(client)
    prefetch.settled.clear()
    prefetch.start()
    assert prefetch.settled.wait(30)
    assert prefetch.unsupported and prefetch.subscription_id is None
    seeding.hco(client, CITIZEN)
    mark = _mark(client)
    sign_in(client, f"citizen-{CITIZEN}")
    page = client.get(f"/view/borger/{CITIZEN}/provesvar")
    assert page.status_code == 200 and "C-reaktivt protein" in page.text
    # read when the page needed it, with the citizen's own token, as without a subscription
    assert [r["caller"] for r in _retrievals(client, mark)] == [f"citizen-{CITIZEN}"]
    assert _retrievals(client, 0, VIEWER) == []


def test_in_one_process_the_viewer_takes_the_engine_s_findings_for_what_dds_has_just_validated(
        client: TestClient, context: SandboxContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """DDS validates each provided message, and the viewer then validates the very bytes it retrieves;
    in one process the engine answers the viewer from what it found for DDS (same bytes, same IG
    version), so the viewer walks nothing again, and still shows each message."""
    validator = context.validator
    walked: list[tuple[str, str]] = []
    real = validator.validate_layers

    def counted(resource: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        if resource.get("resourceType") == "Bundle" and resource.get("type") == "message":
            callers = {frame.filename for frame in traceback.extract_stack()}
            actor = "dds" if any(f.endswith("/dds/validation.py") for f in callers) else "viewer" if any(
                f.endswith("/sundhed_view/documents.py") for f in callers) else "other"
            walked.append((actor, str(resource.get("id"))))
        return real(resource, *args, **kwargs)

    monkeypatch.setattr(validator, "validate_layers", counted)
    _seed_and_settle(client, 2)
    by_dds = [message for actor, message in walked if actor == "dds"]
    assert len(by_dds) == len(set(by_dds)) == 2
    assert [message for actor, message in walked if actor == "viewer"] == []
    sign_in(client, f"citizen-{CITIZEN}")
    page = client.get(f"/view/borger/{CITIZEN}/provesvar?alle=1")
    assert page.status_code == 200 and page.text.count("C-reaktivt protein") >= 2


def test_the_viewer_reads_a_notified_document_in_the_cpu_lane_in_turn_with_the_provides(
        client: TestClient, context: SandboxContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading and keeping a notified document is CPU work, as a provide is: it runs in the process's CPU
    lane (nsp_sandbox.cpu_lane), one job after another with DDS's provides, not on a pool thread that
    would take turns with them on Python's lock."""
    threads = threads_it_runs_on(monkeypatch, _prefetch(client).documents, "_read_and_remember_many")
    _seed_and_settle(client, 2)
    assert 1 <= len(threads) <= 2 and all(name.startswith(f"{context.cpu_lane.name}_") for name in threads), threads


def test_the_documents_of_one_notification_are_read_in_one_lane_job_with_two_units_of_work(
        client: TestClient, context: SandboxContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """A notification's new documents are retrieved one after another and then read together: one job in the
    CPU lane, in which the extracts already made are looked up in one query and the new ones kept in one
    transaction, not a job, a look-up and a transaction per document."""
    read = _seed_and_settle(client, 3)
    cache = _viewer(client).state.views.documents.cache
    cache._memory.clear()  # read before by no one: neither in memory nor in the tables
    cache._entries.clear()
    with cache.database.transaction() as connection:
        connection.execute(delete(EntryContentRow.__table__))
        connection.execute(delete(ExtractRow.__table__))
    jobs = threads_it_runs_on(monkeypatch, _prefetch(client).documents, "_read_and_remember_many")
    begun: list[str] = []

    def begin(connection: Any) -> None:
        # Not the shared clock's snapshot, read again in whatever job asks the time once it is half a second old
        # (a loaded machine makes this test's steps slower than that).
        if not any(frame.filename.endswith(path) and frame.name == function
                   for frame in traceback.extract_stack() for path, function in SNAPSHOTS):
            begun.append(threading.current_thread().name)

    event.listen(cache.database.engine, "begin", begin)
    try:
        dds = {"Content-Type": "application/fhir+json",
               "Authorization": f"Bearer {seeding.token(client, 'system-dds', 'view')}"}
        for entry in read:
            attachment = entry["content"][0]["attachment"]
            attachment["url"] = f"{IN_PROCESS_ORIGIN}/dds/documents/{entry['id']}"
        answer = client.post("/view/dsubm/notify", headers=dds, json={
            "resourceType": "Bundle", "type": "history", "entry": [{"resource": e} for e in read]})
    finally:
        event.remove(cache.database.engine, "begin", begin)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"documents": {"read": 3}}
    assert len(jobs) == 1 and jobs[0].startswith(f"{context.cpu_lane.name}_"), jobs
    assert [name for name in begun if name == jobs[0]] == [jobs[0]] * 2, begun
    assert all(cache.has_entry(e["id"], e["content"][0]["attachment"]["hash"]) for e in read)
    assert cache.count() == 3
