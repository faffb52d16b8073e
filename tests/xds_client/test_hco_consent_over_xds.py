"""DDS's HCOM rules at its XDS.b door: an R-flagged HomeCareObservation message provided straight to DDS
by ITI-41 (bypassing the sandbox's EOJ) is refused with the named rule, as at ITI-65; before the policy
date (Danish time on the sandbox clock) an HCOM is refused, from midnight Danish time it is taken."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hco_flow import CPR, send, status

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.hco_terms import CONFIDENTIALITY_SYSTEM
from nsp_sandbox.mhd_source import document_reference
from nsp_sandbox.xds import from_mhd
from nsp_sandbox.xds.client import XdsClient
from nsp_sandbox.xds.ebrim import Document
from services.eoj_sender.nsp_registers import Person
from services.eoj_sender.sharing import SOURCE_ID, document_metadata

EOJ = "system-eoj-aarhus"


@pytest.fixture
def sandbox(client: TestClient) -> TestClient:
    """The sandbox; DDS's XDS.b door (DROS) is part of it."""
    return client


def _provide(client: TestClient, context: SandboxContext, bundle: dict[str, Any]) -> Any:
    """ITI-41 of ``bundle`` as an HCOM entry, straight to DDS with the EOJ's system ID card."""
    bundle = {**bundle, "id": str(uuid.uuid4())}
    meta = document_metadata(bundle, Person(CPR, ("Bruno",), "Elmer", "male", "1947-09-25", False))
    entry = from_mhd.document_entry(document_reference(meta, f"urn:uuid:{uuid.uuid4()}"))
    info = from_mhd.SubmissionSetInfo(SOURCE_ID, CPR, context.clock.now())
    xds = XdsClient("http://testserver/dds", nsp_url="http://testserver/nsp", persona=EOJ, client=client,  # type: ignore[arg-type]
                    now=context.clock.now)
    content = json.dumps(bundle, ensure_ascii=False).encode("utf-8")
    return xds.provide(from_mhd.submission([entry], info), [Document(entry.id, content)])


def _message(client: TestClient) -> dict[str, Any]:
    return status(client, send(client)["id"])["bundle"]  # type: ignore[no-any-return]


def _codes(answer: Any) -> str:
    return " ".join(f"{e.error_code} {e.code_context}" for e in answer.errors)


def test_refused_consent_straight_to_dds_by_iti41_is_refused(sandbox: TestClient, context: SandboxContext) -> None:
    bundle = _message(sandbox)
    report = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DiagnosticReport")
    report.setdefault("meta", {})["security"] = [{"system": CONFIDENTIALITY_SYSTEM, "code": "R",
                                                  "display": "Restricted"}]
    answer = _provide(sandbox, context, bundle)
    assert answer.status_word == "Failure"
    assert "dk-xds-hco-refused-consent" in _codes(answer) and "XDSRegistryMetadataError" in _codes(answer)
    # without the label the same message goes in
    del report["meta"]["security"]
    if not report["meta"]:
        del report["meta"]
    assert _provide(sandbox, context, bundle).status_word in ("Success", "PartialSuccess")


@pytest.mark.parametrize(("instant", "taken"), [
    (datetime(2026, 1, 14, 22, 55, tzinfo=UTC), False),  # 23:55 on 14 January in Copenhagen
    (datetime(2026, 1, 14, 23, 5, tzinfo=UTC), True),  # 00:05 on 15 January in Copenhagen
])
def test_the_policy_date_at_the_xds_door_in_danish_time(sandbox: TestClient, context: SandboxContext,
                                                         instant: datetime, taken: bool) -> None:
    bundle = _message(sandbox)
    context.clock.travel_to(instant)
    answer = _provide(sandbox, context, bundle)
    assert (answer.status_word in ("Success", "PartialSuccess")) is taken, _codes(answer)
    assert ("dk-xds-hco-policy-date" in _codes(answer)) is not taken
