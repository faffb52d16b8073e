"""Runs the replay corpus against a GP system: sends each case through the outbox and compares the
acknowledgement that came back with the one the rules expect.

Every case exists in FHIR JSON and FHIR XML (``hco.md`` §7.3): the XML form is the JSON case
converted by the project's one FHIR JSON⇄XML converter (:func:`nsp_sandbox.fhir_format.serialise`)
when it is sent, as ``application/fhir+xml`` (inside the SBDH envelope when the receiver's endpoint
uses one), and owes the same acknowledgement. A run takes ``format`` (``json``, ``xml`` or
``both``), and a case's name may carry the suffix ``:xml`` or ``:json`` to run it in that format."""

from __future__ import annotations

from typing import Any

from nsp_sandbox.hco_examples import example_messages
from services.eoj_sender.chain import read_facts
from services.eoj_sender.outbox import Outbox
from services.eoj_sender.replay_corpus import (
    FAULTS,
    PROTOCOL,
    REUSED_BUNDLE_ID,
    Case,
    Fixture,
    protocol_message,
    readdress,
    restamp,
    testscript_messages,
)

ORDER = {"new-message": 0, "modified-message": 1, "retract-message": 2}
GROUPS = ("examples", "protocol", "testscripts", "faults")
FORMATS = ("json", "xml")
RUN_FORMATS = (*FORMATS, "both")


def _fixtures(packages: Any) -> list[tuple[Fixture, dict[str, Any] | None]]:
    """MedCom's receive-test material: the protocol fixtures (read when sent) and the test-script Bundles."""
    out: list[tuple[Fixture, dict[str, Any] | None]] = [(f, None) for f in PROTOCOL]
    return out + [(f, b) for f, b in testscript_messages(packages)]


def _group(fixture: Fixture) -> str:
    return "testscripts" if fixture.name.startswith("testscript:") else "protocol"


def _case_name(fixture: Fixture) -> str:
    return fixture.name if _group(fixture) == "testscripts" else f"protocol:{fixture.name}"


def catalogue(packages: Any) -> list[dict[str, Any]]:
    cases = [{"name": f"example:{name}", "description": "official example, re-stamped", "expected": "ok",
              "expected_issue": None} for name, _ in example_messages(packages)]
    cases += [{"name": _case_name(f), "description": f.description, "expected": f.expected_code,
               "expected_issue": f.expected_issue, "expected_warning": f.expected_warning}
              for f, _ in _fixtures(packages)]
    cases += [{"name": c.name, "description": c.description, "expected": c.expected_code,
               "expected_issue": c.expected_issue} for c in (*FAULTS, REUSED_BUNDLE_ID)]
    return [case | {"formats": list(FORMATS)} for case in cases]


def split_case(case: str | None, fhir_format: str) -> tuple[str | None, tuple[str, ...]]:
    """``case`` without a ``:xml`` / ``:json`` suffix, and the formats to run it in (the suffix wins over
    ``fhir_format``: ``json``, ``xml`` or ``both``)."""
    for suffix in FORMATS:
        if case is not None and case.endswith(f":{suffix}"):
            return case.removesuffix(f":{suffix}"), (suffix,)
    return case, FORMATS if fhir_format == "both" else (fhir_format,)


def runnable(packages: Any) -> list[str]:
    """What ``case`` of :func:`run` may name: a group, or one case of MedCom's material or of the faults."""
    return [*GROUPS, *(_case_name(f) for f, _ in _fixtures(packages)), *(c.name for c in (*FAULTS, REUSED_BUNDLE_ID))]


def _verdict(name: str, description: str, expected: str, issue: str | None, status: dict[str, Any]) -> dict[str, Any]:
    codes = [c.get("code") for i in (status.get("ack_outcome") or {}).get("issue", [])
             for c in (i.get("details") or {}).get("coding", [])]
    passed = status["ack"] == expected and (issue is None or issue in codes)
    return {"case": name, "description": description, "message": status["id"], "format": status["format"],
            "expected": expected, "expected_issue": issue, "ack": status["ack"], "issues": codes,
            "result": "pending" if status["ack"] == "pending" else ("pass" if passed else "FAIL")}


async def run(outbox: Outbox, packages: Any, receiver: str, only: str | None = None,
              formats: tuple[str, ...] = ("json",)) -> list[dict[str, Any]]:
    """Send the corpus (or ``only``: a group of :data:`GROUPS` or one case's name) to ``receiver`` (SOR or
    GLN in the endpoint register), once in each of ``formats``."""
    results = []
    for fhir_format in formats:
        results += await _run_in(outbox, packages, receiver, only, fhir_format)
    return results


async def _run_in(outbox: Outbox, packages: Any, receiver: str, only: str | None,
                  fhir_format: str) -> list[dict[str, Any]]:
    results = []
    if only in (None, "examples"):
        examples = sorted(example_messages(packages),
                          key=lambda e: ORDER.get(getattr(read_facts(e[1]), "activity", "new-message"), 9))
        header_ids: dict[str, str] = {}
        for name, bundle in examples:
            status = await outbox.send_ready(restamp(bundle, header_ids), None, fhir_format=fhir_format)
            results.append(_verdict(f"example:{name}", "official example, re-stamped", "ok", None, status))
    for fixture, bundle in _fixtures(packages):
        if only in (None, _group(fixture), _case_name(fixture)):
            message = readdress(restamp(bundle or protocol_message(fixture.name)), await outbox.base_message(receiver))
            status = await outbox.send_faulty(message, receiver, fhir_format)
            verdict = _verdict(_case_name(fixture), fixture.description, fixture.expected_code,
                               fixture.expected_issue, status)
            results.append(verdict | {"expected_warning": fixture.expected_warning})
    for case in FAULTS:
        if only in (None, "faults", case.name):
            status = await outbox.send_faulty(case.mutate(await outbox.base_message(receiver)), receiver, fhir_format)
            results.append(_verdict(case.name, case.description, case.expected_code, case.expected_issue, status))
    if only in (None, "faults", REUSED_BUNDLE_ID.name):
        results.extend(await _reused_bundle_id(outbox, receiver, REUSED_BUNDLE_ID, fhir_format))
    return results


async def _reused_bundle_id(outbox: Outbox, receiver: str, case: Case, fhir_format: str) -> list[dict[str, Any]]:
    first = await outbox.send_faulty(await outbox.base_message(receiver), receiver, fhir_format)
    second = await outbox.base_message(receiver)
    second["id"] = first["bundle_id"]
    status = await outbox.send_faulty(second, receiver, fhir_format)
    return [_verdict(f"{case.name} (first use)", "the envelope id's first use", "ok", None, first),
            _verdict(case.name, case.description, case.expected_code, case.expected_issue, status)]
