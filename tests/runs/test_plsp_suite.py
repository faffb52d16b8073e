"""The ``gp-system-plsp`` suite judged against GP systems whose behaviour is known: a test plays the vendor's GP
system (Skødstrup Lægepraksis' persona), doing in PLSP over HTTP what each instruction asks as it appears — as a
GP system should (every case passes), and as one that misbehaves (the cases naming each fault fail, saying what
was wrong)."""

from __future__ import annotations

import asyncio
import re
import secrets
from datetime import UTC, datetime
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from nsp_sandbox.context import SandboxContext
from sandbox.runs.suite import CaseResult, run_suite
from sandbox.runs.suites import suite_named
from sandbox.runs.suites.plsp.card_cases import in_step

CPR = "2509479989"  # Bruno Elmer
PERSONA = "system-lps-skodstrup"
FAST = {"citizen": CPR, "timeout_seconds": 5, "poll_seconds": 0.05, "unapproved_wait_seconds": 2}
APPROVER = {"identifier": "SK7T1", "given": ["Lars"], "family": "Lund"}


def quoted(pattern: str, text: str) -> str:
    """The text the instruction asks for, in single quotes after ``pattern``."""
    found = re.search(pattern + r" '([^']+)'", text)
    assert found, f"no '{pattern}' in the instruction: {text}"
    return found.group(1)


class GpSystem:
    """A GP system at Skødstrup Lægepraksis, doing in PLSP what each instruction asks (``faults`` make it
    misbehave: ``auto-approve``, ``private-shared``, ``tillaegstekst-in-text``, ``correction-as-new``,
    ``never-approves``, ``ignores-do-not-share``, ``ignores-cancel``; or keep to what
    is allowed: ``approval-only`` sends the card first when it is approved)."""

    def __init__(self, app: Any, context: SandboxContext, faults: frozenset[str] = frozenset(), *,
                 persona: str = PERSONA, cpr: str = CPR) -> None:
        self.app, self.context, self.faults, self.persona, self.cpr = app, context, faults, persona, cpr
        self.heard: list[tuple[str, str]] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.diagnoses: dict[str, dict[str, Any]] = {}
        run = secrets.token_hex(3)  # note keys of this GP system's own: a later run on the citizen needs new ones
        self.note_a, self.note_b = f"note-a-{run}", f"note-b-{run}"
        self.lock: asyncio.Lock | None = None

    def hear(self, case: str, text: str) -> None:
        self.heard.append((case, text))
        self.tasks.append(asyncio.get_running_loop().create_task(self.act(case, text)))

    async def settle(self) -> None:
        await asyncio.gather(*self.tasks)

    def now(self) -> str:
        return self.context.clock.now().astimezone(UTC).isoformat()

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://sandbox.test") as h:
            token = (await h.post("/nsp/sts/token", json={"persona": self.persona, "audience": "plsp"})).json()
            response = await h.request(method, f"/plsp{path}", json=body,
                                       headers={"Authorization": f"Bearer {token['access_token']}"})
        assert response.status_code in (200, 201), f"{method} {path}: {response.text}"

    async def put_card(self, approved: bool) -> None:
        body: dict[str, Any] = {"diagnoses": list(self.diagnoses.values())}
        if approved:
            body["approval"] = {"by": APPROVER, "at": self.now()}
        await self.call("PUT", f"/patients/{self.cpr}/conditionlist", body)

    async def act(self, case: str, text: str) -> None:
        self.lock = self.lock or asyncio.Lock()
        async with self.lock:
            await self._act(case, text)

    async def _act(self, case: str, text: str) -> None:
        if case == "unapproved-card-not-shared":
            self.diagnoses = {
                "dx-t90": {"key": "dx-t90", "icpc2": "T90", "sks": "DE119A", "text": "Type 2-diabetes",
                           "status": "current", "recorded": "2019-03-04"},
                "dx-r95": {"key": "dx-r95", "icpc2": "R95", "sks": "DJ449", "text": "Kronisk obstruktiv lungesygdom",
                           "status": "relevant", "onset": "2003-01-01", "abatement": "2023-03-03",
                           "recorded": "2003-02-01", "internal_note": quoted("tillægstekst", text)},
                "dx-p76": {"key": "dx-p76", "icpc2": "P76", "sks": "DF339", "text": "Depression", "status": "current",
                           "recorded": "2024-05-06", "private": "private-shared" not in self.faults}}
            if "tillaegstekst-in-text" in self.faults:  # the tillægstekst put in the diagnosis text
                r95 = self.diagnoses["dx-r95"]
                r95["text"], r95["internal_note"] = f"{r95['text']}. {r95['internal_note']}", None
            if "approval-only" not in self.faults:
                await self.put_card(approved="auto-approve" in self.faults)
        elif case == "approved-card-shared" and not {"auto-approve", "never-approves"} & self.faults:
            await self.put_card(approved=True)
        elif case == "diagnosis-correction-replaces":
            corrected = dict(self.diagnoses["dx-t90"], text=quoted("change its text to", text))
            key = "dx-t90-b" if "correction-as-new" in self.faults else "dx-t90"
            self.diagnoses[key] = dict(corrected, key=key)
            await self.put_card(approved=True)
        elif case == "note-shared":
            await self.call("POST", f"/patients/{self.cpr}/notes", {"key": self.note_a, "created": self.now(),
                                                               "body": quoted("with the text", text)})
        elif case == "note-correction-replaces":
            body = quoted("change its text to", text)
            if "correction-as-new" in self.faults:
                await self.call("POST", f"/patients/{self.cpr}/notes",
                                {"key": f"{self.note_a}-2", "created": self.now(), "body": body})
            else:
                await self.call("PUT", f"/notes/{self.note_a}", {"body": body})
        elif case == "note-do-not-share" and "ignores-do-not-share" not in self.faults:
            await self.call("POST", f"/notes/{self.note_a}/do-not-share")
        elif case == "note-cancel-stops-sharing" and text.startswith("Write"):
            await self.call("POST", f"/patients/{self.cpr}/notes", {"key": self.note_b, "created": self.now(),
                                                               "body": quoted("with the text", text)})
        elif case == "note-cancel-stops-sharing" and "ignores-cancel" not in self.faults:
            await self.call("POST", f"/notes/{self.note_b}/cancel")


def run(client: TestClient, context: SandboxContext, gp: GpSystem, target: str = PERSONA,
        options: dict[str, Any] | None = None, only: set[str] | None = None) -> dict[str, CaseResult]:
    suite = suite_named("gp-system-plsp")
    assert suite is not None

    async def go() -> list[CaseResult]:
        results = await run_suite(context, suite, target, FAST if options is None else options,
                                  on_instruction=gp.hear, only=only)
        await gp.settle()
        return results

    return {r.name: r for r in asyncio.run(go())}


def failures(results: dict[str, CaseResult]) -> dict[str, str]:
    return {name: r.message for name, r in results.items() if r.status != "passed"}


def test_a_gp_system_that_follows_the_rules_passes_every_case(client: TestClient, context: SandboxContext) -> None:
    gp = GpSystem(client.app, context)
    results = run(client, context, gp)
    assert len(results) == 13 and failures(results) == {}
    assert [case for case, _ in gp.heard] == [
        "unapproved-card-not-shared", "approved-card-shared", "diagnosis-correction-replaces", "note-shared",
        "note-correction-replaces", "note-do-not-share", "note-cancel-stops-sharing", "note-cancel-stops-sharing"]
    assert any("keeps the unapproved card" in n for n in results["unapproved-card-not-shared"].notes)
    assert results["private-diagnosis-not-shared"].notes == ["PLSP withholds as private: ['dx-p76']"]
    assert results["conditionlist-valid"].evidence[-1].url.endswith("/conformance/$validate")
    # the purge case moved the clock a day on and put it back to real time
    assert abs((context.clock.now() - datetime.now(UTC)).total_seconds()) < 60


def test_a_misbehaving_gp_system_fails_the_cases_that_name_its_faults(client: TestClient,
                                                                       context: SandboxContext) -> None:
    gp = GpSystem(client.app, context, frozenset({"auto-approve", "private-shared", "tillaegstekst-in-text",
                                                  "correction-as-new"}))
    failed = failures(run(client, context, gp))
    assert set(failed) == {"unapproved-card-not-shared", "private-diagnosis-not-shared", "internal-note-not-shared",
                           "diagnosis-correction-replaces", "note-correction-replaces"}, failed
    assert "already approved — approval by Lars Lund (SK7T1)" in failed["unapproved-card-not-shared"]
    assert "DDS already lists it: DocumentReference/" in failed["unapproved-card-not-shared"]
    assert re.search(r"marked Privat: Bundle\.entry\[\d+\]\.resource \(ICPC-2 P76, SKS-D DF339, text 'Depression'\)",
                     failed["private-diagnosis-not-shared"]), failed["private-diagnosis-not-shared"]
    assert "\"private\": true" in failed["private-diagnosis-not-shared"]
    assert re.search(r"The tillægstekst 'Rygning og asbest \(PLSP-[0-9A-F]{6}\)' of ICPC-2 R95 is in the ConditionList "
                     r"DDS serves for 2509479989, at Bundle\.entry\[0\]\.resource\.section\[0\]\.text\.div, "
                     r"Bundle\.entry\[(\d+)\]\.resource\.text\.div, Bundle\.entry\[\1\]\.resource\.code\.text: ",
                     failed["internal-note-not-shared"]), failed["internal-note-not-shared"]
    assert "holds 2 Conditions coded ICPC-2 T90" in failed["diagnosis-correction-replaces"]
    assert "with its earlier key (diagnoses[].key)" in failed["diagnosis-correction-replaces"]
    assert (f"as a new note (key '{gp.note_a}-2', version 1) beside the original note (key '{gp.note_a}', version 1, "
            "still shared as DocumentReference/") in failed["note-correction-replaces"]
    assert f"PUT /plsp/notes/{gp.note_a} with the new body" in failed["note-correction-replaces"]


def test_a_card_sent_on_approval_only_is_allowed_and_one_never_approved_is_named(
        client: TestClient, context: SandboxContext) -> None:
    cases = {"unapproved-card-not-shared", "approved-card-shared"}
    options = dict(FAST, unapproved_wait_seconds=0.5)
    allowed = run(client, context, GpSystem(client.app, context, frozenset({"approval-only"})), options=options,
                  only=cases)
    assert failures(allowed) == {}
    assert "sends the card on approval only" in allowed["unapproved-card-not-shared"].notes[0]
    never = failures(run(client, context, GpSystem(client.app, context, frozenset({"never-approves"})),
                         options=dict(options, timeout_seconds=1), only=cases))
    assert list(never) == ["approved-card-shared"]
    assert never["approved-card-shared"].startswith(
        f"Waited 1 s for an approved card for {CPR} at PLSP, shared in DDS; it did not come. PLSP has version 2, "
        "approved False, shared False, DDS entry deprecated; why the card is not shared: ['plsp-card-approved: "
        "The card has no approval"), never


def _card(shared: bool, state: str) -> dict[str, Any]:
    return {"shared": shared, "dds": {"state": state}}


@pytest.mark.parametrize(("status", "settled"), [
    (None, True),  # no card: nothing to bring in step
    (_card(True, "registered"), True),
    (_card(False, "deprecated"), True),
    (_card(False, "none"), True),
    (_card(False, "registered"), False),  # a new unapproved version kept, its plan not made yet
    (_card(True, "deprecated"), False),  # an approved version kept, its entry not planned yet
    (_card(True, "pending"), False),
    (_card(False, "withdrawing"), False),
])
def test_a_card_is_settled_when_its_dds_entry_is_what_its_status_says(status: dict[str, Any] | None,
                                                                       settled: bool) -> None:
    assert in_step(status) is settled


VENDOR_WORLD = """organisations:
  - {sor: "900010000099016", name: Vendor Lægehus, kind: gp-clinic, municipality: Aarhus}
citizens:
  - {cpr: "1212821234", name: Anna Vendortest, gp: "900010000099016"}
systems:
  - {id: system-lps-vendor, name: Vendor GP system, kind: gp-system, organisation: "900010000099016"}
"""


def test_a_vendors_gp_system_that_ignores_do_not_share_and_cancel_is_told_what_it_must_send(
        client: TestClient, context: SandboxContext) -> None:
    loaded = client.post("/sandbox/world", content=VENDOR_WORLD.encode(), headers={"Content-Type": "application/yaml"})
    assert loaded.status_code == 200, loaded.text
    gp = GpSystem(client.app, context, frozenset({"ignores-do-not-share", "ignores-cancel"}),
                  persona="system-lps-vendor", cpr="1212821234")
    options = dict(FAST, citizen="1212821234", timeout_seconds=3)
    results = run(client, context, gp, "system-lps-vendor", options, only={
        "note-shared", "note-do-not-share", "note-cancel-stops-sharing", "cancelled-note-purged"})
    failed = failures(results)
    assert gp.heard[0][1].startswith("Write a journal note for citizen 1212821234 ")  # the vendor's own citizen
    assert any("author.identifier=urn%3Aoid%3A1.2.208.176.1.1%7C900010000099016" in e.url
               for e in results["note-shared"].evidence)  # and DDS is asked for the vendor clinic's entries
    assert list(failed) == ["note-do-not-share", "note-cancel-stops-sharing", "cancelled-note-purged"], failed
    assert re.match(rf"Waited 3 s for 'do not share' on note A at PLSP; it did not come\. PLSP has note '{gp.note_a}' "
                    r"version 1: state active, do_not_share False, .*, DDS entry registered: the GP system must tell "
                    rf"PLSP at once \(POST /plsp/notes/{gp.note_a}/do-not-share\)$", failed["note-do-not-share"])
    assert re.match(rf"Waited 3 s for the cancellation of note '{gp.note_b}' at PLSP; it did not come\. PLSP has note "
                    rf"'{gp.note_b}' version 1: state active, .*: the GP system must send the cancellation "
                    rf"\(POST /plsp/notes/{gp.note_b}/cancel\) when the note is deleted$",
                    failed["note-cancel-stops-sharing"])
    assert failed["cancelled-note-purged"].startswith("No note was cancelled")


@pytest.mark.parametrize(("target", "options", "wanted"), [
    ("system-eoj-aarhus", FAST, "The target 'system-eoj-aarhus' is a system of kind eoj"),
    ("system-lps-vendor", FAST, "The target 'system-lps-vendor' is no system persona at NSP"),
    (PERSONA, {"timeout_seconds": 1}, "The option 'citizen' is missing"),
    (PERSONA, {"citizen": "0101010000"}, "The citizen 0101010000 (option citizen) is not in the sandbox's world"),
])
def test_a_target_or_citizen_plsp_does_not_know_fails_the_run_at_setup(
        client: TestClient, context: SandboxContext, target: str, options: dict[str, Any], wanted: str) -> None:
    gp = GpSystem(client.app, context)
    results = run(client, context, gp, target, options, only={"approved-card-shared", "note-shared"})
    assert [r.status for r in results.values()] == ["failed", "failed"] and gp.heard == []
    assert all(r.message.startswith(f"the suite's setup failed: {wanted}") for r in results.values())
