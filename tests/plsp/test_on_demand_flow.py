"""End to end: GP client → hub → DDS on-demand entries → a reader's ITI-67 search and ITI-68 retrieve,
which makes DDS ask the hub for the current document."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from event_loop import where_it_runs
from fastapi.testclient import TestClient
from plsp_support import (
    CL_TYPE,
    CPR,
    GP,
    NOTE_TYPE,
    Reader,
    a_note,
    card,
    copd,
    depression,
    diabetes,
    note_text,
    plsp,
    resources,
)
from sqlalchemy import update
from sts_client import auth

from nsp_sandbox.conformance.validator import Validator
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.database import CLAIM_SECONDS
from nsp_sandbox.plsp_client import PlspClient
from services.plsp_hub.cards import Cards
from services.plsp_hub.dds_registration import Registrar
from services.plsp_hub.models import EntryRow
from services.plsp_hub.notes import Notes
from services.plsp_hub.purge import Purge
from services.plsp_hub.shared_now import SharedNow


def errors(validator: Validator, bundle: dict) -> list[str]:  # type: ignore[type-arg]
    return [f"{i.expression}: {i.diagnostics}" for i in validator.validate(bundle) if i.is_error]


def test_the_conditionlist_round_trip(client: TestClient, gp: PlspClient, validator: Validator) -> None:
    gp.put_card(CPR, card(diabetes(), copd(), depression(private=True)))
    citizen, doctor = Reader(client, f"citizen-{CPR}"), Reader(client, GP)
    for reader in (citizen, doctor):
        found = reader.search(type_code=CL_TYPE)
        assert len(found) == 1, reader.persona
        reference = found[0]
        attachment = reference["content"][0]["attachment"]
        assert "hash" not in attachment and "size" not in attachment
        document = reader.document(reference)
        assert errors(validator, document) == []
        conditions = resources(document, "Condition")
        assert sorted(c["code"]["text"] for c in conditions) == ["Kronisk obstruktiv lungesygdom", "Type 2-diabetes"]
        assert not any("note" in c for c in conditions)  # Condition.note is never shared
        resolved = next(c for c in conditions if "abatementDateTime" in c)
        assert resolved["clinicalStatus"]["coding"][0]["code"] == "resolved"
    served = gp.events(CPR, kind="served")
    assert len(served) == 2 and served[0]["details"]["bundle_identifier"] != served[1]["details"]["bundle_identifier"]


def test_retrieval_reflects_the_newest_card_with_fresh_bundle_identifiers(client: TestClient, gp: PlspClient,
                                                                          clock: SandboxContext) -> None:
    gp.put_card(CPR, card(diabetes()))
    citizen = Reader(client, f"citizen-{CPR}")
    reference = citizen.search(type_code=CL_TYPE)[0]
    first = citizen.document(reference)
    clock.clock.freeze(clock.clock.now() + timedelta(hours=1))
    gp.put_card(CPR, card(diabetes(status="relevant", abatement="2026-05-06T11:15:00+02:00"), depression(),
                          at="2026-05-06T13:05:00+02:00"))
    assert [r["id"] for r in citizen.search(type_code=CL_TYPE)] == [reference["id"]]  # the entry is kept
    second = citizen.document(reference)
    assert first["identifier"]["value"] != second["identifier"]["value"]
    assert first["id"] != second["id"]
    assert len(resources(second, "Condition")) == 2
    for kind in ("Patient", "Organization"):
        assert resources(first, kind)[0]["identifier"] == resources(second, kind)[0]["identifier"]


def test_an_emptied_or_unapproved_card_is_gone_at_once(client: TestClient, gp: PlspClient) -> None:
    gp.put_card(CPR, card(diabetes()))
    citizen = Reader(client, f"citizen-{CPR}")
    reference = citizen.search(type_code=CL_TYPE)[0]
    gp.put_card(CPR, card())
    assert citizen.search(type_code=CL_TYPE) == []
    assert citizen.retrieve(reference).status_code != 200
    gp.put_card(CPR, card(diabetes()))
    again = citizen.search(type_code=CL_TYPE)
    assert len(again) == 1 and again[0]["id"] != reference["id"]
    gp.put_card(CPR, card(diabetes(), approved=False))
    assert citizen.search(type_code=CL_TYPE) == []
    assert citizen.retrieve(again[0]).status_code != 200


def test_notes_round_trip_newest_version_do_not_share_and_cancel(client: TestClient, gp: PlspClient,
                                                                 validator: Validator) -> None:
    gp.create_note(CPR, a_note("note-1"))
    gp.create_note(CPR, a_note("note-2", body="<p>Kontrol af <b>BT</b></p>", format="html", ended=
                               "2026-05-05T10:30:00+02:00", author={
                                   "practitioner": {"identifier": "SK7T1", "given": ["Lars"], "family": "Lund"},
                                   "role_code": "speciallaegeipraksis"}))
    citizen, doctor = Reader(client, f"citizen-{CPR}"), Reader(client, GP)
    found = doctor.search(type_code=NOTE_TYPE)
    assert len(found) == 2
    for reference in found:
        assert errors(validator, doctor.document(reference)) == []
    gp.update_note("note-1", {"body": "Rettet: BT 128/80 mmHg.", "updated": "2026-05-06T07:32:00+02:00"})
    corrected = next(d for d in (citizen.document(r) for r in citizen.search(type_code=NOTE_TYPE))
                     if "Rettet" in note_text(d))
    composition = resources(corrected, "Composition")[0]
    assert composition["date"] != composition["event"][0]["period"]["start"]
    served = [e["version"] for e in gp.events(CPR, kind="served") if e["subject"] == "note:note-1"]
    assert served[-1] == 2 and 1 in served  # the history: version 1 served, then only the newest
    gp.do_not_share("note-2")
    hidden = [r for r in found if r["id"] not in {x["id"] for x in citizen.search(type_code=NOTE_TYPE)}]
    assert len(hidden) == 1 and citizen.retrieve(hidden[0]).status_code != 200
    gp.cancel("note-1")
    assert citizen.search(type_code=NOTE_TYPE) == []
    assert all(citizen.retrieve(r).status_code != 200 for r in found)


def test_a_block_hides_the_documents_from_a_professional(client: TestClient, gp: PlspClient) -> None:
    gp.put_card(CPR, card(diabetes()))
    gp.create_note(CPR, a_note())
    doctor = Reader(client, GP)
    found = doctor.search()
    assert {c["code"] for r in found for c in r["type"]["coding"]} >= {CL_TYPE, NOTE_TYPE}
    blocked = client.post("/nsp/consent/blocks", headers=auth(client, f"citizen-{CPR}"),
                          json={"who": {"type": "professional", "id": "SK7T1"}})
    assert blocked.status_code == 201, blocked.text
    assert doctor.search() == []
    assert all(doctor.retrieve(r).status_code == 404 for r in found)
    assert len(Reader(client, f"citizen-{CPR}").search(type_code=CL_TYPE)) == 1  # the citizen still sees it


def test_a_fuldmagt_holder_reads_the_principals_note(client: TestClient, clock: SandboxContext) -> None:
    hasseris = plsp(client, "system-lps-hasseris")
    hasseris.create_note("0108629996", a_note(body="Konsultation vedr. knæ."))
    torre = Reader(client, "relative-1207899997")
    found = torre.search(cpr="0108629996", type_code=NOTE_TYPE)
    assert len(found) == 1 and "knæ" in note_text(torre.document(found[0]))
    patient = resources(torre.document(found[0]), "Patient")[0]
    assert patient["name"][0]["family"] == "Moberg"  # from the CPR register


def test_address_protected_citizen_is_adressebeskyttet(client: TestClient, clock: SandboxContext) -> None:
    protected = "0201919990"
    testcenter = plsp(client, "system-lps-medcom-testcenter")
    testcenter.create_note(protected, a_note())
    citizen = Reader(client, f"citizen-{protected}")
    document = citizen.document(citizen.search(cpr=protected, type_code=NOTE_TYPE)[0])
    name = resources(document, "Patient")[0]["name"][0]
    assert name["family"] == "ADRESSEBESKYTTET" and name["given"] == ["ADRESSEBESKYTTET"]


def test_only_dds_retrieves_from_the_hub(client: TestClient, gp: PlspClient) -> None:
    status = gp.put_card(CPR, card(diabetes()))
    url = status["dds"]["retrieve_url"].replace("http://sandbox.internal", "")
    for persona in ("system-lps-skodstrup", "gp-skodstrup", f"citizen-{CPR}", "system-eoj-aarhus"):
        assert client.get(url, headers=auth(client, persona, "plsp")).status_code == 403, persona
    ok = client.get(url, headers=auth(client, "system-dds", "plsp"))
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("application/fhir+json")
    unknown = client.get("/plsp/ondemand/nothing-here", headers=auth(client, "system-dds", "plsp"))
    assert unknown.status_code == 404 and unknown.json()["resourceType"] == "OperationOutcome"
    gp.put_card(CPR, card())
    gone = client.get(url, headers=auth(client, "system-dds", "plsp"))
    assert gone.status_code == 410 and "plsp-card-empty" in gone.text


def test_dds_unreachable_loses_nothing(client: TestClient, gp: PlspClient, clock: SandboxContext,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(clock.peers._urls, "dds", "http://127.0.0.1:9/dds")
    status = gp.put_card(CPR, card(diabetes()))
    assert status["dds"]["state"] == "pending" and status["dds"]["last_error"]
    retry = gp.events(CPR, kind="dds-retry")
    assert len(retry) == 1 and "retries" in retry[0]["text"]
    monkeypatch.setitem(clock.peers._urls, "dds", None)
    assert gp.due()["dds_changes_waiting"] == 0
    assert gp.card(CPR)["dds"]["state"] == "registered"
    assert len(Reader(client, f"citizen-{CPR}").search(type_code=CL_TYPE)) == 1


def test_an_entry_claimed_by_a_push_that_died_is_taken_over_later(gp: PlspClient, clock: SandboxContext,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A push claims an entry before it tells DDS, so that no other push (another worker's) sends it too; a
    claim older than any DDS call takes is a push that died, and the entry is sent by the next one."""
    monkeypatch.setitem(clock.peers._urls, "dds", "http://127.0.0.1:9/dds")
    assert gp.put_card(CPR, card(diabetes()))["dds"]["state"] == "pending"
    monkeypatch.setitem(clock.peers._urls, "dds", None)

    def claimed(seconds_ago: float) -> None:
        with clock.database.session() as s:
            s.execute(update(EntryRow).values(claimed_at=datetime.now(UTC).replace(tzinfo=None)
                                              - timedelta(seconds=seconds_ago)))

    claimed(0)  # a push elsewhere has it now
    assert gp.due()["dds_changes_waiting"] == 1
    assert gp.card(CPR)["dds"]["state"] == "pending"
    claimed(CLAIM_SECONDS + 1)  # that push died
    assert gp.due()["dds_changes_waiting"] == 0
    assert gp.card(CPR)["dds"]["state"] == "registered"


def test_do_not_share_is_honoured_while_dds_cannot_be_told(client: TestClient, gp: PlspClient,
                                                           clock: SandboxContext,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    gp.create_note(CPR, a_note())
    citizen = Reader(client, f"citizen-{CPR}")
    reference = citizen.search(type_code=NOTE_TYPE)[0]
    monkeypatch.setitem(clock.peers._urls, "dds", "http://127.0.0.1:9/dds")
    hidden = gp.do_not_share("note-1")
    assert hidden["dds"]["state"] == "withdrawing" and not hidden["shared"]
    monkeypatch.setitem(clock.peers._urls, "dds", None)
    assert citizen.retrieve(reference).status_code != 200  # DDS still lists it, the hub serves nothing
    gp.due()
    assert gp.note("note-1")["dds"]["state"] == "deprecated"
    assert citizen.search(type_code=NOTE_TYPE) == []
    assert [e["kind"] for e in gp.events(CPR)][-2:] == ["dds-retry", "unshared"]


def test_the_hub_does_its_database_work_off_the_event_loop(client: TestClient, gp: PlspClient,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A card kept, its entry planned, registered in DDS and recorded; a note kept, marked and cancelled; the
    timed work's scan of every patient: the database work on worker threads, so that the event loop goes on
    with other requests meanwhile."""
    calls = {f"{cls.__name__}.{name}": where_it_runs(monkeypatch, cls, name) for cls, name in (
        (Cards, "_keep"), (Cards, "card_status"), (Notes, "_keep"), (Notes, "_mark"), (Notes, "_cancel"),
        (Notes, "note_status"), (SharedNow, "_wanted"), (Registrar, "plan"), (Registrar, "_registered"),
        (Registrar, "_deprecated"), (Purge, "_patients"))}

    def where() -> dict[str, set[str]]:
        found = {name: set(places) for name, places in calls.items() if places}
        for places in calls.values():
            places.clear()
        return found

    gp.put_card(CPR, card(diabetes()))
    assert where() == {"Cards._keep": {"thread"}, "Cards.card_status": {"thread"}, "SharedNow._wanted": {"thread"},
                       "Registrar.plan": {"thread"}, "Registrar._registered": {"thread"}}
    assert len(Reader(client, GP).search(type_code=CL_TYPE)) == 1
    gp.create_note(CPR, a_note())
    gp.do_not_share("note-1")
    gp.cancel("note-1")
    found = where()
    for maybe in ("Registrar._registered", "Registrar._deprecated"):  # as the note's state asks, if at all
        assert found.pop(maybe, {"thread"}) == {"thread"}
    assert found == {"Notes._keep": {"thread"}, "Notes._mark": {"thread"}, "Notes._cancel": {"thread"},
                     "Notes.note_status": {"thread"}, "SharedNow._wanted": {"thread"}, "Registrar.plan": {"thread"}}
    assert gp.due()["patients_checked"] == 1
    assert where() == {"Purge._patients": {"thread"}, "SharedNow._wanted": {"thread"}, "Registrar.plan": {"thread"}}
