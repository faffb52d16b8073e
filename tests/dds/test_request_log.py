"""DDS's request log (docs/dds.md, "The request log"): every request kept with its caller, patients,
værdispring header, status, issues and entries; read by the operator only, after a mark."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from access_setup import GRETHE, find
from fastapi.testclient import TestClient
from mhd_client import OTHER_CPR, Mhd
from sqlalchemy import event, select
from sts_client import READER, SOURCE_SYSTEM

from nsp_sandbox.database import Database
from services.dds.request_log import Facts, Received, RequestLog, RequestLogRow


def log(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/dds/requests", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_submissions_accepted_and_refused_are_kept_with_their_outcome(client: TestClient, mhd: Mhd) -> None:
    mark = log(client, _count=0)["last"]
    entry_id = mhd.provide_hco(GRETHE)
    wrong = mhd.bundle((mhd.document_reference(cpr=GRETHE), mhd.examples.hco), cpr=GRETHE, consistent=False)
    wrong_doc = mhd.bundle((mhd.document_reference(cpr=OTHER_CPR), mhd.examples.hco), cpr=OTHER_CPR)
    wrong["entry"][-1] = wrong_doc["entry"][-1]  # the Binary about another patient
    wrong["entry"][1]["resource"]["content"][0]["attachment"]["url"] = wrong_doc["entry"][-1]["fullUrl"]
    assert mhd.post(wrong).status_code == 422
    kept = log(client, after=mark, transaction="ITI-65")["requests"]
    assert [(r["caller"], r["status"], r["patients"][0]) for r in kept] == [
        (SOURCE_SYSTEM, 200, GRETHE), (SOURCE_SYSTEM, 422, GRETHE)]
    assert kept[0]["entries"] == [entry_id] and not [i for i in kept[0]["issues"] if i["severity"] == "error"]
    refused = [i for i in kept[1]["issues"] if i["severity"] == "error"]
    assert {(i["rule"], i["ihe_code"]) for i in refused} == {("dk-xds-document-patient", "XDSPatientIdDoesNotMatch")}
    assert kept[1]["entries"] == []


def test_look_ups_keep_the_query_the_override_and_what_was_answered(client: TestClient, mhd: Mhd) -> None:
    entry_id = mhd.provide_hco(GRETHE)
    mark = log(client, _count=0)["last"]
    assert find(client, READER, GRETHE, override="Akut%20indl%C3%A6ggelse").status_code == 200
    assert mhd.client.get(f"/dds/documents/{entry_id}").status_code == 200
    kept = log(client, after=mark, caller=READER)["requests"]
    assert [r["transaction"] for r in kept] == ["ITI-67", "ITI-68"]
    search, retrieve = kept
    assert f"patient.identifier=urn%3Aoid%3A1.2.208.176.1.2%7C{GRETHE}" in search["query"]
    assert "status=current" in search["query"]
    assert search["consent_override"] == "Akut indlæggelse" and search["criticality"] is None
    assert search["total"] == 1 and search["entries"] == [entry_id] and search["patients"] == [GRETHE]
    assert retrieve["entries"] == [entry_id] and retrieve["patients"] == [GRETHE] and retrieve["status"] == 200
    assert log(client, after=mark, patient=OTHER_CPR)["requests"] == []


def test_a_posted_search_keeps_its_form_body(client: TestClient, mhd: Mhd) -> None:
    mark = log(client, _count=0)["last"]
    response = mhd.client.post("/dds/fhir/DocumentReference/_search",
                               data={"patient.identifier": f"urn:oid:1.2.208.176.1.2|{GRETHE}"})
    assert response.status_code == 400  # no status: refused, and kept so
    kept = log(client, after=mark)["requests"]
    assert kept[0]["transaction"] == "ITI-67" and kept[0]["patients"] == [GRETHE] and kept[0]["status"] == 400
    assert "status" not in kept[0]["query"] and kept[0]["issues"][0]["severity"] == "error"


def test_only_the_operator_reads_it_and_unknown_parameters_are_refused(client: TestClient) -> None:
    remote = TestClient(client.app, base_url=str(client.base_url), client=("192.0.2.10", 40000))
    refused = remote.get("/dds/requests")
    assert refused.status_code == 403
    assert refused.json()["issue"][0]["details"]["coding"][0]["code"] == "sandbox-operator-loopback"
    unknown = client.get("/dds/requests", params={"colour": "red"})
    assert unknown.status_code == 400 and unknown.json()["issue"][0]["expression"] == ["colour"]
    assert client.get("/dds/requests", params={"_count": "x"}).status_code == 400
    assert log(client, _count=0)["requests"] == []


def test_switched_off_nothing_is_kept_and_the_face_says_why(client: TestClient, context: Any, mhd: Mhd) -> None:
    mark = log(client, _count=0)["last"]
    context.settings = context.settings.model_copy(update={"dds_request_log": False})
    mhd.provide_hco(GRETHE)
    refused = client.get("/dds/requests")
    assert refused.status_code == 409
    assert "NSP_SANDBOX_DDS_REQUEST_LOG=false" in refused.json()["issue"][0]["diagnostics"]
    context.settings = context.settings.model_copy(update={"dds_request_log": True})
    assert log(client, after=mark)["requests"] == []


def test_with_an_operator_token_only_that_token_reads_it(context: Any) -> None:
    from sandbox.app import create_sandbox_app

    context.settings = context.settings.model_copy(update={"admin_token": "s3cret"})
    with TestClient(create_sandbox_app(context, warm_packages=False), client=("127.0.0.1", 50000)) as local:
        persona = local.post("/nsp/sts/token", json={"persona": "gp-skodstrup"}).json()["access_token"]
        assert local.get("/dds/requests").status_code == 401
        assert local.get("/dds/requests", headers={"Authorization": f"Bearer {persona}"}).status_code == 401
        assert local.get("/dds/requests", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def _received(n: int) -> Received:
    return Received(datetime(2026, 1, 15, 12, 0, n % 60, tzinfo=UTC), "ITI-67", "GET", "/fhir/DocumentReference",
                    f"n={n}", None, None, 200, Facts(caller="reader", patients=[GRETHE]))


def test_a_burst_is_written_in_a_few_transactions_and_a_reader_sees_all_of_it(database_url: str) -> None:
    database = Database.from_url(database_url)
    log_ = RequestLog(database)
    log_.create_table()
    commits: list[int] = []
    event.listen(database.engine, "commit", lambda _connection: commits.append(1))
    try:
        for n in range(40):
            log_.keep(_received(n))
        kept, last = log_.read(count=100)  # writes what is still queued first
        assert [r["query"] for r in kept] == [f"n={n}" for n in range(40)] and last == kept[-1]["id"]
        assert 1 <= len(commits) <= 3, commits  # not one transaction per request
        log_.keep(_received(40))
        log_.close()  # the app's shutdown: what is queued is written
        assert [r["query"] for r in log_.read(after=last)[0]] == ["n=40"]
    finally:
        database.engine.dispose()


def test_closing_writes_a_gathering_write_at_once(database_url: str, monkeypatch: Any) -> None:
    """The app's shutdown (and every test's end) does not wait out the gathering of a write that has begun."""
    monkeypatch.setattr("services.dds.request_log.GATHER_SECONDS", 60.0)
    database = Database.from_url(database_url)
    log_ = RequestLog(database)
    log_.create_table()
    try:
        log_.keep(_received(1))  # the log's thread now gathers for a minute
        started = time.monotonic()
        log_.close()
        assert time.monotonic() - started < 30, "close waited for the gathering to end"
        assert _written(database) == [("ITI-67", "n=1")]
    finally:
        database.engine.dispose()


def test_a_reset_empties_the_requests_still_queued_too(client: TestClient, mhd: Mhd) -> None:
    mhd.provide_hco(GRETHE)
    assert find(client, READER, GRETHE).status_code == 200
    assert client.post("/dds/sandbox/reset").status_code == 200
    assert log(client)["requests"] == []


def _written(database: Database) -> list[tuple[str, str]]:
    """The rows in the table itself (not through ``read``, which writes the queue first)."""
    with database.session() as session:
        rows = session.scalars(select(RequestLogRow).order_by(RequestLogRow.pk))
        return [(row.transaction, row.query) for row in rows]


def test_shared_by_several_workers_a_request_returns_once_its_row_is_written(database_url: str) -> None:
    database = Database.from_url(database_url)
    log_ = RequestLog(database, shared=True)
    log_.create_table()
    inserts: list[str] = []  # the log's own inserts (one per transaction), not the test's reads
    event.listen(database.engine, "before_cursor_execute", lambda _c, _cur, statement, *_: inserts.append(statement)
                 if statement.startswith("INSERT INTO dds_request_log") else None)

    async def burst() -> list[int]:
        async def one(n: int) -> int:
            await log_.kept(_received(n))
            return len(_written(database))  # its row, and those before it, are there when it returns

        return list(await asyncio.gather(*(one(n) for n in range(40))))

    try:
        seen = asyncio.run(burst())
        assert all(count >= n + 1 for n, count in enumerate(seen)), seen
        assert [query for _, query in _written(database)] == [f"n={n}" for n in range(40)]
        assert len(inserts) <= 10, len(inserts)  # those that came while it was writing share a transaction
    finally:
        log_.close()
        database.engine.dispose()


def test_served_by_several_workers_an_answer_is_complete_once_its_row_is_written(
        client: TestClient, context: Any, mhd: Mhd) -> None:
    """``up --workers N``: a reader or a reset through another worker cannot write this worker's queue."""
    context.workers = 2  # before DDS is built (at its first request)
    mhd.provide_hco(GRETHE)
    assert [transaction for transaction, _ in _written(context.database)] == ["ITI-65"]
    assert find(client, READER, GRETHE).status_code == 200
    assert [transaction for transaction, _ in _written(context.database)] == ["ITI-65", "ITI-67"]


def test_served_by_several_workers_an_answer_is_sent_whole_when_its_row_cannot_be_kept(
        client: TestClient, context: Any, mhd: Mhd, monkeypatch: Any) -> None:
    context.workers = 2

    async def refused(self: RequestLog, received: Received) -> None:
        raise RuntimeError("the log's database is away")

    monkeypatch.setattr(RequestLog, "kept", refused)
    entry_id = mhd.provide_hco(GRETHE)
    answer = find(client, READER, GRETHE)
    assert answer.status_code == 200 and [e["resource"]["id"] for e in answer.json()["entry"]] == [entry_id]
