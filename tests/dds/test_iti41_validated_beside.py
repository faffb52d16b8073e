"""ITI-41 provides validated in the validation process (``nsp_sandbox.validation_process``, as ``nsp-sandbox up``
runs one), as ITI-65 provides are: the converted request's validations are made there, the lane makes none of
them, and every RegistryResponse is the one the lane alone gives."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hco_flow import CPR, send, status
from servers import validation_process_ready
from test_hco_consent_rule import refused_consent
from test_provides_validated_beside import beside, counted_in_lane, lane_validations  # noqa: F401 (fixtures)

from nsp_sandbox.config import Strictness
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.mhd_source import document_reference
from nsp_sandbox.xds import from_mhd
from nsp_sandbox.xds.client import XdsClient
from nsp_sandbox.xds.ebrim import Document
from nsp_sandbox.xds.registry_response import RegistryResponse
from nsp_sandbox.xds.rim import Slot
from services.eoj_sender.nsp_registers import Person
from services.eoj_sender.sharing import SOURCE_ID, document_metadata

EOJ = "system-eoj-aarhus"
NPU_SYSTEM = "urn:oid:1.2.208.176.2.1"
ONLY_IN_1_2 = "NPU03963"  # in terminology 2.0.2 (HCO 1.2), not in 2.0.0-draft
BRUNO = Person(CPR, ("Bruno",), "Elmer", "male", "1947-09-25", False)


@pytest.fixture
def lane_structures(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The resource types whose base structure the lane's thread checks (``base_structure_issues``), in order: the
    converted DocumentReference and List declare no profile, so that is their structure layer."""
    from nsp_sandbox.conformance import base_structure

    return counted_in_lane(monkeypatch, base_structure, "base_structure_issues")


def _message(client: TestClient) -> dict[str, Any]:
    return status(client, send(client)["id"])["bundle"]  # type: ignore[no-any-return]


def _provide(client: TestClient, context: SandboxContext, bundle: dict[str, Any], *, version: str = "1.2",
             content: bytes | None = None, hash_slot: str | None = None) -> RegistryResponse:
    """ITI-41 of ``bundle`` (under a new Bundle.id; or of ``content``) as an HCOM entry, with the EOJ's card."""
    bundle = {**bundle, "id": str(uuid.uuid4())}
    meta = document_metadata(bundle, BRUNO, version=version)
    entry = from_mhd.document_entry(document_reference(meta, f"urn:uuid:{uuid.uuid4()}"))
    if hash_slot is not None:
        entry.slots = [s for s in entry.slots if s.name != "hash"] + [Slot("hash", [hash_slot])]
    info = from_mhd.SubmissionSetInfo(SOURCE_ID, CPR, context.clock.now())
    xds = XdsClient("http://testserver/dds", nsp_url="http://testserver/nsp", persona=EOJ, client=client,  # type: ignore[arg-type]
                    now=context.clock.now)
    data = content if content is not None else json.dumps(bundle, ensure_ascii=False).encode("utf-8")
    return xds.provide(from_mhd.submission([entry], info), [Document(entry.id, data)])


def _recoded(bundle: dict[str, Any]) -> dict[str, Any]:
    """``bundle`` with its first NPU-coded Observation recoded to a code only HCO 1.2's terminology has."""
    bundle = json.loads(json.dumps(bundle))
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Observation" and resource["code"]["coding"][0]["system"] == NPU_SYSTEM:
            resource["code"]["coding"] = [{"system": NPU_SYSTEM, "code": ONLY_IN_1_2, "display": "?"}]
            return bundle
    raise AssertionError("no NPU-coded Observation in the message")


def _requests(client: TestClient, context: SandboxContext) -> list[Callable[[], RegistryResponse]]:
    """ITI-41 provides, each judged in another place: taken; the profile (a code of the other HCO version); the
    base structure of the message; the HCOM rule (refused consent); the declared hash; a document that is not JSON."""
    message = _message(client)
    broken = {**message, "type": "not-a-bundle-type"}
    refused, _ = refused_consent(json.dumps(message).encode())
    return [lambda: _provide(client, context, message),
            lambda: _provide(client, context, _recoded(message), version="1.1"),
            lambda: _provide(client, context, broken),
            lambda: _provide(client, context, message, content=refused),
            lambda: _provide(client, context, message, hash_slot="00" * 20),
            lambda: _provide(client, context, message, content=b"\x00\x01 not json")]


def test_the_lane_validates_nothing_the_process_has_validated(
        client: TestClient, context: SandboxContext, beside: Any,  # noqa: F811
        lane_validations: list[str], lane_structures: list[str]) -> None:  # noqa: F811
    message = _message(client)
    lane_validations.clear()  # the EOJ's, the GP system's and DDS's validations of the message the EOJ sent
    lane_structures.clear()
    answer = _provide(client, context, message)
    assert answer.status_word in ("Success", "PartialSuccess"), answer.errors
    assert lane_validations == [] and lane_structures == []


def test_without_the_process_the_lane_validates(client: TestClient, context: SandboxContext,
                                                lane_validations: list[str], lane_structures: list[str]) -> None:  # noqa: F811
    message = _message(client)
    lane_validations.clear()
    lane_structures.clear()
    answer = _provide(client, context, message)
    assert answer.status_word in ("Success", "PartialSuccess"), answer.errors
    assert lane_validations == ["Bundle"]  # the HCO message
    assert lane_structures == ["DocumentReference", "List"]


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SHA1 = re.compile(r"'[A-Za-z0-9+/]{27}='")  # a document's SHA-1, Base64: each request's message has a new id


def _said(answer: RegistryResponse) -> tuple[str, list[tuple[str, str, str, str]]]:
    """The answer's status and errors, the ids the client gave each request (and its document's hash) left out."""
    return answer.status_word, [(e.error_code, e.severity, SHA1.sub("…", UUID.sub("…", e.code_context)),
                                 UUID.sub("…", e.location or "")) for e in answer.errors]


@pytest.mark.parametrize("level", [Strictness.REJECT, Strictness.WARNING])
def test_every_answer_is_the_one_the_lane_alone_gives(client: TestClient, context: SandboxContext,
                                                      level: Strictness) -> None:
    context.settings = context.settings.model_copy(update={
        "validation_profile": level, "dds_rules_hco_consent": level, "dds_rules_document_patient": level})
    requests = _requests(client, context)
    alone = [_said(provide()) for provide in requests]
    process = validation_process_ready(context.start_validation_process())
    try:
        served = [_said(provide()) for provide in requests]
    finally:
        process.close()
        context.validation_process = None
    words = [word for word, _ in alone]
    assert words[0] in ("Success", "PartialSuccess"), alone[0]
    if level is Strictness.REJECT:
        assert words[1:] == ["Failure"] * (len(requests) - 1), alone
    assert served == alone
