"""The ``eoj`` suite against the sandbox's own EOJ playing the vendor: as each instruction appears, the
test places the asked order at ``/eoj`` over HTTP with the EOJ's token — every case passes; then
misbehaving vendors (wrong values, a broken correction chain, a new MessageHeader.id for a resend,
nothing sent, another sender) make exactly the cases that check those things fail, saying what was
wrong."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.testclient import TestClient

from nsp_sandbox.context import SandboxContext
from sandbox.runs.suite import CaseResult, run_suite
from sandbox.runs.suites import suite_named

AARHUS_ACUTE = "900001000099016"  # Akutteam Aarhus: the producer of the sandbox EOJ's messages
AARHUS_ACUTE_GLN = "5790009900016"
COPENHAGEN_ACUTE = "900004000099016"
SKODSTRUP = "52581000016005"
CPR = "2509479989"
NEW = {"cpr": CPR, "family": "Elmer", "given": ["Bruno"], "receiver": SKODSTRUP, "initials": "SDaA",
       "clinical_comment": "Borger afkræftet, drikker sparsomt.",
       "observations": [{"code": "NPU19748", "value": 26},
                        {"code": "NPU22089", "value": 6.8, "comment": "Ikke fastende"},
                        {"code": "MCS88122", "value": 25, "comparator": ">"},
                        {"code": "NPU21578", "value": "Negative"}]}
FAST = {"timeout_seconds": 20, "dds_grace_seconds": 0.5}

Vendor = Callable[[str, str], Awaitable[None]]


class SandboxEoj:
    """The sandbox's EOJ as the vendor: orders over HTTP with its own system token; ``change`` bends orders."""

    def __init__(self, context: SandboxContext, change: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None):
        self.context = context
        self.change = change or (lambda _case, body: body)
        self.sent: dict[str, str] = {}  # case → MessageHeader.id

    async def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        peers = self.context.peers
        token = (await peers.client("nsp").post(f"{peers.url('nsp')}/sts/token", json={
            "persona": "system-eoj-aarhus", "audience": "eoj"})).json()["access_token"]
        answer = await peers.client("eoj").post(f"{peers.url('eoj')}{path}", json=body,
                                                headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code in (200, 201), answer.text
        return dict(answer.json())

    async def order(self, case: str, **change: Any) -> None:
        self.sent[case] = (await self.post("/hco", self.change(case, {**NEW, **change})))["id"]

    async def __call__(self, case: str, text: str) -> None:
        if case == "new-message-content":
            await self.order(case)
        elif case == "modified-message":
            body = {"observations": [{"code": "NPU19748", "value": 31}],
                    "clinical_comment": "Borger afkræftet; CRP målt igen efter en time."}
            self.sent[case] = (await self.post(f"/hco/{self.sent['new-message-content']}/modify",
                                               self.change(case, body)))["id"]
        elif case == "retract-message":
            await self.post(f"/hco/{self.sent['modified-message']}/retract",
                            {"reason": "Sendt på forkert CPR-nummer"})
        elif case == "initials-unknown":
            await self.order(case, initials=None, clinical_comment=None,
                             observations=[{"code": "NPU22089", "value": 5.9}])
        elif case == "refused-consent":
            await self.order(case, refused_consent=True, observations=[{"code": "NPU19748", "value": 12}])
        elif case == "ack-withheld-resend" and "Resend it" in text:
            await self.post(f"/hco/{self.sent[case]}/resend")
        elif case == "ack-withheld-resend":
            await self.order(case, observations=[{"code": "NPU22089", "value": 7.2}])


async def after(earlier: list[asyncio.Task[None]], then: Awaitable[None]) -> None:
    await asyncio.gather(*earlier)
    await then


def run(context: SandboxContext, vendor: Vendor | None, options: dict[str, Any], only: set[str] | None = None,
        target: str = AARHUS_ACUTE) -> tuple[dict[str, CaseResult], list[tuple[str, str]]]:
    """Run the suite with ``vendor`` answering each instruction; the results by case, and what was instructed."""
    heard: list[tuple[str, str]] = []

    async def go() -> list[CaseResult]:
        tasks: list[asyncio.Task[None]] = []

        def instructed(case: str, text: str) -> None:
            heard.append((case, text))
            if vendor is not None:  # in order: an instruction may come before the last order's answer has
                tasks.append(asyncio.get_running_loop().create_task(after(tasks[-1:], vendor(case, text))))

        results = await run_suite(context, suite_named("eoj"), target, {**FAST, **options},  # type: ignore[arg-type]
                                  on_instruction=instructed, only=only)
        await asyncio.gather(*tasks)
        return results

    return {r.name: r for r in asyncio.run(go())}, heard


def statuses(results: dict[str, CaseResult]) -> dict[str, str]:
    return {name: r.status for name, r in results.items()}


def test_the_sandbox_eoj_passes_every_case(client: TestClient, context: SandboxContext) -> None:
    endpoint = next(e for e in client.get("/eoj/endpoints").json() if e["sor"] == SKODSTRUP)
    assert client.put("/eoj/endpoints", json={**endpoint, "envelope": "sbdh"}).status_code == 200
    results, heard = run(context, SandboxEoj(context), {"clock_cases": True, "envelope": "sbdh"})
    assert statuses(results) == {name: "passed" for name in results}, {
        n: r.message for n, r in results.items() if r.status != "passed"}
    assert len(results) == 12
    first = dict(heard)["new-message-content"]
    for said in ("SOR 52581000016005", "GLN 5790000127092", "/lps/ehmi", "CPR 2509479989",
                 "C-reactive protein (NPU19748) 26 mg/L",
                 "glucose (NPU22089) 6.8 mmol/L with the analysis comment 'Ikke fastende'",
                 "respiration frequency per minute (MCS88122) >25", "urine nitrite (NPU21578) Negative", "'SDaA'"):
        assert said in first, said
    assert [c for c, _ in heard].count("ack-withheld-resend") == 2  # send, then resend once the clock moved
    assert client.get("/lps/switches").json()["withhold"] is False  # put back


def test_wrong_values_fail_the_content_case_by_element(context: SandboxContext, client: TestClient) -> None:
    def wrong(case: str, body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "initials": "XY", "observations": [
            {"code": "NPU19748", "value": 62}, {"code": "NPU22089", "value": 6.8},
            {"code": "MCS88122", "value": 25, "comparator": "<"}, {"code": "NPU21578", "value": "Negative"}]}

    results, _ = run(context, SandboxEoj(context, wrong), {"envelope": "sbdh"},
                     {"new-message-content", "new-message-accepted", "sbdh-envelope"},
                     target=AARHUS_ACUTE_GLN)  # the EOJ named by its GLN this time
    content = results["new-message-content"]
    assert content.status == "failed"
    for said in ("Observation NPU19748.valueQuantity.value is 62; expected 26",
                 "Observation NPU22089.note is ''; expected the analysis comment 'Ikke fastende'",
                 "Observation MCS88122.valueQuantity.comparator is '<'; expected '>'",
                 "contact.name.given is ['XY']; expected the GP's initials 'SDaA'"):
        assert said in content.message, content.message
    assert "NPU21578" not in content.message  # what was right is not blamed
    assert results["new-message-accepted"].status == "passed"  # a valid message, only not the one asked for
    header = results["new-message-content"].notes[0].split("MessageHeader.id ")[1].split(",")[0]
    assert results["sbdh-envelope"].message == (
        f"messages arrived with envelope {{'{header}': 'none'}}; expected 'sbdh' for every message")


def test_a_message_never_shared_fails_the_dds_case(context: SandboxContext, client: TestClient) -> None:
    # before the policy date (15 Jan 2026) the EOJ shares nothing without consent: the GP gets it, DDS does not
    assert client.put("/sandbox/clock", json={"now": "2026-01-10T10:00:00+01:00"}).status_code == 200
    vendor = SandboxEoj(context)
    # 5 s: the sandbox EOJ's message must come within the wait, also on a worker busy with the rest of the suite
    results, _ = run(context, vendor, {"timeout_seconds": 5}, {"new-message-content", "dds-copy-new"})
    assert results["new-message-content"].status == "passed"
    assert results["dds-copy-new"].message == (
        "Waited 5 s for a current HCOM DocumentReference in DDS for CPR 2509479989 holding the message "
        f"{vendor.sent['new-message-content']}; it did not come")


def test_a_modification_naming_another_message_fails_the_chain(context: SandboxContext, client: TestClient) -> None:
    answer = client.put("/sandbox/faults/eoj/broken-chain", json={"on": True})
    assert answer.status_code == 200, answer.text
    vendor = SandboxEoj(context)
    results, _ = run(context, vendor, {}, {"new-message-content", "modified-message"})
    assert results["new-message-content"].status == "passed"
    chain = results["modified-message"]
    assert chain.status == "failed"
    original = vendor.sent["new-message-content"]
    assert "the own Provenance's entity.what.reference is ['MessageHeader/" in chain.message
    assert f"expected MessageHeader/{original} (the MessageHeader.id of the message it changes)" in chain.message
    assert "'held' with acknowledgement 'none yet'; expected accepted and 'ok'" in chain.message


def test_a_new_message_instead_of_a_modification_is_named_when_the_wait_ends(context: SandboxContext,
                                                                             client: TestClient) -> None:
    class NewInsteadOfModified(SandboxEoj):
        async def __call__(self, case: str, text: str) -> None:
            await self.order(case)

    vendor = NewInsteadOfModified(context)
    results, _ = run(context, vendor, {"timeout_seconds": 2}, {"new-message-content", "modified-message"})
    assert results["modified-message"].message.startswith("Waited 2 s for the modified-message of case "
                                                          "modified-message")
    assert results["modified-message"].message.endswith(
        f"; what came instead: new-message {vendor.sent['modified-message']} (accepted)")


def test_a_resend_with_a_new_message_header_fails(context: SandboxContext, client: TestClient) -> None:
    class NewInsteadOfResend(SandboxEoj):
        async def __call__(self, case: str, text: str) -> None:
            await self.order(case, observations=[{"code": "NPU22089", "value": 7.2}])

    results, _ = run(context, NewInsteadOfResend(context), {"clock_cases": "true"}, {"ack-withheld-resend"})
    resend = results["ack-withheld-resend"]
    assert resend.status == "failed"
    assert "the resend has MessageHeader.id" in resend.message and "expected the original's" in resend.message
    skipped, _ = run(context, None, {}, {"ack-withheld-resend"})
    assert skipped["ack-withheld-resend"].status == "skipped"
    assert "option clock_cases true" in skipped["ack-withheld-resend"].message


def test_nothing_sent_times_out_and_another_sender_is_not_taken(context: SandboxContext, client: TestClient) -> None:
    only = {"new-message-content", "new-message-accepted", "dds-copy-new"}
    results, _ = run(context, None, {"timeout_seconds": 1}, only)
    assert results["new-message-content"].message == (
        "Waited 1 s for the new message of case new-message-content (new-message for CPR 2509479989 from "
        "900001000099016 at Skødstrup Lægepraksis); it did not come")
    assert {n: r.status for n, r in results.items()} == {
        "new-message-content": "failed", "new-message-accepted": "skipped", "dds-copy-new": "skipped"}
    assert "needs the message of new-message-content" in results["dds-copy-new"].message
    # the sandbox EOJ (Aarhus) sends, but the run waits for Copenhagen's acute team: not its message
    others, _ = run(context, SandboxEoj(context), {"timeout_seconds": 2}, {"new-message-content"}, COPENHAGEN_ACUTE)
    assert others["new-message-content"].status == "failed"
    assert "from 900004000099016" in others["new-message-content"].message


def test_a_target_that_names_no_eoj_fails_every_case_in_setup(context: SandboxContext, client: TestClient) -> None:
    results, _ = run(context, None, {}, {"new-message-content"}, target="acute-team")
    assert results["new-message-content"].message.startswith(
        "the suite's setup failed: target 'acute-team' is neither a SOR code")
