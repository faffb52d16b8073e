"""The ``gp-system`` suite against the sandbox's own GP inbox (``/lps/ehmi``, in process): every case passes;
then against the inbox misbehaving — its behaviour switches (``PUT /lps/switches``), the fault switches
of ``/sandbox/faults`` and a small fake GP system that acknowledges acknowledgements — and the cases that
must catch each misbehaviour fail, saying what was wrong."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from actor_tokens import ActorTokens, operator
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from nsp_sandbox.context import SandboxContext
from sandbox.runs.suite import CaseResult, run_suite
from sandbox.runs.suites import suite_named
from services.lps.models import AckOutRow

SUITE = suite_named("gp-system")
FAST = {"timeout_seconds": 2, "quiet_seconds": 0}
SHOWN_CASE = {"receive-test-example-1"}


@pytest.fixture
def gp_context(context: SandboxContext) -> SandboxContext:
    """The sandbox with its GP inbox refusing a correction whose original is missing at once (no hold), so the
    suite need not wait out the hold (docs/runs.md)."""
    context.settings = context.settings.model_copy(update={"lps_hold_minutes": 0})
    return context


@pytest.fixture
def sandbox(gp_context: SandboxContext) -> Iterator[TestClient]:
    from sandbox.app import create_sandbox_app

    app = create_sandbox_app(gp_context, warm_packages=False)
    app.mount("/fake-gp", _acknowledging_everything(gp_context))
    app.mount("/fake-gp-other-id", _acknowledging_everything(gp_context, answering="another-"))
    with TestClient(app, base_url="http://sandbox.test", client=("127.0.0.1", 50000)) as c:
        c.auth = ActorTokens()
        yield c


def _acknowledging_everything(context: SandboxContext, answering: str = "") -> FastAPI:
    """A GP system that wrongly acknowledges an acknowledgement too (answering it to its source.endpoint), with
    a bare acknowledgement (no Provenance, no organisations); ``answering``: put before the MessageHeader.id its
    acknowledgement names in ``response.identifier``."""
    fake = FastAPI()

    @fake.post("/ehmi")
    async def ehmi(request: Request) -> JSONResponse:
        message: dict[str, Any] = await request.json()
        header = message["entry"][0]["resource"]
        answer = {"resourceType": "Bundle", "id": f"ack-of-{message['id']}", "type": "message", "entry": [
            {"fullUrl": "urn:uuid:1", "resource": {
                "resourceType": "MessageHeader", "id": f"ack-of-{header['id']}",
                "eventCoding": {"system": "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-eventCodes",
                                "code": "acknowledgement-message"},
                "source": {"endpoint": "http://fake-gp.test/ehmi"},
                "response": {"identifier": answering + header["id"], "code": "ok"}}}]}
        url = header["source"]["endpoint"]
        if not url.startswith("http://sandbox.internal/"):  # a SOR address: the sender's registered inbox
            url = f"{context.peers.url('eoj')}/ehmi"
        await context.peers.client_for_url(url).post(url, json=answer,
                                                     headers={"Content-Type": "application/fhir+json"})
        return JSONResponse({"taken": True}, status_code=202)

    return fake


def _run(client: TestClient, context: SandboxContext, target: str, only: set[str] | None = None,
         **options: Any) -> dict[str, CaseResult]:
    """Run the suite (or the cases ``only``) in the sandbox's own event loop, as the run engine does."""
    assert SUITE is not None and client.portal is not None
    run = partial(run_suite, context, SUITE, target, {**FAST, **options}, only=only)
    return {r.name: r for r in client.portal.call(run)}


def _inbox(context: SandboxContext) -> str:
    return f"{context.peers.url('lps')}/ehmi"


def _lps(client: TestClient, **values: Any) -> None:
    assert operator(client).put("/lps/switches", json=values).status_code == 200


def _fault(client: TestClient, name: str, **body: Any) -> None:
    answer = client.put(f"/sandbox/faults/lps/{name}", json={"on": True, **body})
    assert answer.status_code == 200, answer.text


def test_the_sandbox_gp_inbox_passes_every_case(sandbox: TestClient, gp_context: SandboxContext) -> None:
    assert SUITE is not None
    results = _run(sandbox, gp_context, _inbox(gp_context))
    assert list(results) == [c.name for c in SUITE.cases]
    failed = {n: r.message for n, r in results.items() if r.status != "passed"}
    assert failed == {}
    example = results["receive-test-example-1"]
    assert any("/eoj/acks" in e.url for e in example.evidence)  # what came back is read over HTTP, kept
    assert any("$validate" in e.url for e in example.evidence)
    registered = next(e for e in sandbox.get("/sandbox/endpoints").json() if e["sor"] == "73091000016008")
    assert registered["url"] == _inbox(gp_context)


def test_the_setup_tells_the_participant_where_acknowledgements_go(sandbox: TestClient,
                                                                   gp_context: SandboxContext) -> None:
    heard: list[tuple[str, str]] = []
    assert SUITE is not None and sandbox.portal is not None
    sandbox.portal.call(partial(run_suite, gp_context, SUITE, _inbox(gp_context), FAST, only=set(),
                                on_instruction=lambda case, text: heard.append((case, text))))
    assert heard == [("setup", "Send each acknowledgement to its message's source.endpoint. Where that is a SOR "
                      "address (https://sor2.sum.dsdn.dk/#id=<SOR>, as in MedCom's material) it means the sandbox's "
                      "EOJ: http://sandbox.internal/eoj/ehmi")]


def test_an_inbox_answering_wrongly_fails_with_what_it_answered(sandbox: TestClient,
                                                                 gp_context: SandboxContext) -> None:
    inbox = _inbox(gp_context)
    for switch, expected in ((
            {"mode": "fatal"}, "response.code is 'fatal-error', expected 'ok'"),
            ({"mode": "transient"}, "response.code is 'transient-error', expected 'ok'"),
            ({"withhold": True}, "0 acknowledgement(s) whose response.identifier is MessageHeader.id"),
            ({"twice": True}, "2 acknowledgements came for 1 transmission(s) of MessageHeader.id")):
        _lps(sandbox, **switch)
        result = _run(sandbox, gp_context, inbox, SHOWN_CASE)["receive-test-example-1"]
        _lps(sandbox, mode="normal", withhold=False, twice=False)
        assert result.status == "failed", switch
        assert result.message.startswith("ReceiveTestExample1 (json): "), result.message
        assert expected in result.message, (switch, result.message)
    # The same switch caught by the cases of the faults: an inbox accepting everything accepts the wrong.
    _lps(sandbox, mode="ok")
    faults = _run(sandbox, gp_context, inbox, {"missing-cpr", "exact-duplicate"})
    _lps(sandbox, mode="normal")
    assert "response.code is 'ok', expected 'fatal-error'" in faults["missing-cpr"].message
    assert faults["exact-duplicate"].status == "passed"  # the same answer twice, as MedCom asks


def test_duplicate_acknowledgements_with_different_content_fail(sandbox: TestClient,
                                                                gp_context: SandboxContext) -> None:
    _fault(sandbox, "ack-duplicate-different")
    result = _run(sandbox, gp_context, _inbox(gp_context), SHOWN_CASE)["receive-test-example-1"]
    assert result.status == "failed"
    assert "2 acknowledgements came for 1 transmission(s)" in result.message
    assert "acknowledgement 2: response.code is 'transient-error', expected 'ok'" in result.message
    assert ("acknowledgement 2 differs in content from acknowledgement 1 at Bundle.entry[0].resource.response.code "
            '("ok" vs "transient-error")') in result.message
    assert "acknowledgement 2 has the same Bundle.id as acknowledgement 1" in result.message


def test_a_late_acknowledgement_fails_with_how_late_it_came(sandbox: TestClient,
                                                            gp_context: SandboxContext) -> None:
    _fault(sandbox, "ack-late", minutes=35)
    gp_context.clock.freeze(gp_context.clock.now())  # the sandbox clock stands still but for the 36 minutes
    peers = gp_context.peers

    def queued() -> int:
        """The acknowledgements the GP system has queued so far (the late one waits there, due 35 minutes on)."""
        with gp_context.database.reading() as s:
            return len(s.scalars(select(AckOutRow.pk)).all())

    async def time_passes(before: int) -> None:
        """Once the inbox has queued its acknowledgement (due 35 minutes on from the standing clock), 36 minutes
        pass on the sandbox clock and it delivers."""
        for _ in range(200):
            if await run_in_threadpool(queued) > before:
                break
            await asyncio.sleep(0.05)
        gp_context.clock.freeze(gp_context.clock.now() + timedelta(minutes=36))
        deliver = f"{peers.url('lps')}/outbox/deliver"
        assert (await peers.client_for_url(deliver).post(deliver)).status_code == 200

    async def late(deadline: int) -> CaseResult:
        assert SUITE is not None
        before = await run_in_threadpool(queued)  # counted before the run starts: its message may come at once
        results, _ = await asyncio.gather(run_suite(gp_context, SUITE, _inbox(gp_context), {
            **FAST, "timeout_seconds": 10, "ack_deadline_minutes": deadline}, only=SHOWN_CASE), time_passes(before))
        return results[0]

    assert sandbox.portal is not None
    result = sandbox.portal.call(late, 30)
    assert result.status == "failed"
    assert "came 36.0 minutes after the message (sandbox clock); the deadline is 30 minutes" in result.message
    assert sandbox.portal.call(late, 40).status == "passed"  # the deadline is the run's option


def test_a_gp_system_acknowledging_acknowledgements_fails(sandbox: TestClient, gp_context: SandboxContext) -> None:
    results = _run(sandbox, gp_context, "http://sandbox.internal/fake-gp/ehmi",
                   {"receive-test-example-1", "no-ack-of-an-acknowledgement"})
    never = results["no-ack-of-an-acknowledgement"]
    assert never.status == "failed"
    assert "The target acknowledged an acknowledgement (json): 1 acknowledgement(s) with response.identifier" in (
        never.message)
    assert "an acknowledgement is never acknowledged" in never.message
    # Its acknowledgements are no MedCom Acknowledgements: the profile and MedCom's TestScript asserts say why.
    example = results["receive-test-example-1"].message
    assert "not a valid MedCom Acknowledgement" in example
    assert ("Confirm that 2 Provenance instances exists. (TestScript acknowledgement-send-ok-hospitalnotification: "
            "Bundle.entry.resource.ofType(Provenance).count() = 2)") in example


def test_against_its_own_inbox_with_the_sandbox_gp_inbox_holding_corrections(sandbox: TestClient,
                                                                             gp_context: SandboxContext) -> None:
    """With the inbox holding a correction whose original is missing (the default 10 minutes), the case says
    so when the wait ends: the refusal must come when the hold ends."""
    gp_context.settings = gp_context.settings.model_copy(update={"lps_hold_minutes": 10})
    held = _run(sandbox, gp_context, _inbox(gp_context), {"correction-of-unknown-original"})
    assert held["correction-of-unknown-original"].status == "failed"
    assert "0 acknowledgement(s) whose response.identifier" in held["correction-of-unknown-original"].message


def test_an_acknowledgement_naming_another_message_is_not_taken_for_its_answer(sandbox: TestClient,
                                                                               gp_context: SandboxContext) -> None:
    result = _run(sandbox, gp_context, "http://sandbox.internal/fake-gp-other-id/ehmi", SHOWN_CASE)
    message = result["receive-test-example-1"].message
    assert result["receive-test-example-1"].status == "failed"
    assert "0 acknowledgement(s) whose response.identifier is MessageHeader.id " in message
    assert "the target took the message with HTTP 202" in message
    assert "acknowledgements that came meanwhile answer other MessageHeader.ids: another-" in message


def test_xml_and_the_sbdh_envelope(sandbox: TestClient, gp_context: SandboxContext) -> None:
    """Each case in FHIR JSON and FHIR XML, every message (and the acknowledgement sent to the target) in EHMI's
    SBDH envelope; a message for an unknown GLN cannot travel in one and the case says why it is skipped."""
    results = _run(sandbox, gp_context, _inbox(gp_context), {
        "receive-test-example-2", "missing-cpr", "unknown-receiver", "no-ack-of-an-acknowledgement"},
        format="both", envelope="sbdh")
    assert {n: r.status for n, r in results.items()} == {
        "receive-test-example-2": "passed", "missing-cpr": "passed", "unknown-receiver": "skipped",
        "no-ack-of-an-acknowledgement": "passed"}, {n: r.message for n, r in results.items()}
    sent = [e for e in results["receive-test-example-2"].evidence if e.url.endswith("/eoj/messages?receiver="
                                                                                   "73091000016008")]
    assert [e.request_headers["content-type"] for e in sent] == ["application/fhir+json", "application/fhir+xml"]
    received = sandbox.get("/lps/received", auth=ActorTokens({"lps": "gp-agerskov"})).json()
    assert {(r["envelope"], r["format"]) for r in received} >= {("sbdh", "json"), ("sbdh", "xml")}
    assert "SBDH envelope" in results["unknown-receiver"].message


def test_options_are_checked(sandbox: TestClient, gp_context: SandboxContext) -> None:
    results = _run(sandbox, gp_context, _inbox(gp_context), SHOWN_CASE, format="yaml", colour="red")
    assert results["receive-test-example-1"].message == (
        "the suite's setup failed: Unknown option(s) colour; this suite takes " + ", ".join(SUITE.options))
