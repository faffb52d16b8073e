"""DDS judges a provided HomeCareObservation message as the HCO IG version its entry's formatCode names
(``…hco-v1.1:full`` / ``…hco-v1.2:full``), at both doors (ITI-65 and ITI-41): a message with a code only
the 1.2 terminology has (terminology 2.0.2, not 2.0.0-draft) is refused under the v1.1 formatCode and
taken under the v1.2 one."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hco_flow import CPR, send, status
from sts_client import token

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.mhd_source import document_reference, provide_bundle
from nsp_sandbox.xds import from_mhd
from nsp_sandbox.xds.client import XdsClient
from nsp_sandbox.xds.ebrim import Document
from services.eoj_sender.nsp_registers import Person
from services.eoj_sender.sharing import SOURCE_ID, document_metadata

EOJ = "system-eoj-aarhus"
NPU_SYSTEM = "urn:oid:1.2.208.176.2.1"
ONLY_IN_1_2 = "NPU03963"  # U—Erythrocytter; arb.k.(proc.): in terminology 2.0.2 (HCO 1.2), not in 2.0.0-draft
BRUNO = Person(CPR, ("Bruno",), "Elmer", "male", "1947-09-25", False)


def _message_with_code_only_in_1_2(client: TestClient) -> tuple[dict[str, Any], int]:
    """A message the EOJ sent, under a new Bundle.id, its first NPU-coded Observation recoded to a code of
    terminology 2.0.2 only; and that Observation's entry index."""
    bundle = status(client, send(client)["id"])["bundle"]
    bundle["id"] = str(uuid.uuid4())
    for n, entry in enumerate(bundle["entry"]):
        resource = entry["resource"]
        if resource["resourceType"] == "Observation" and resource["code"]["coding"][0]["system"] == NPU_SYSTEM:
            resource["code"]["coding"] = [{"system": NPU_SYSTEM, "code": ONLY_IN_1_2,
                                           "display": "U—Erythrocytter; arb.k.(proc.) = ?"}]
            return bundle, n
    raise AssertionError("no NPU-coded Observation in the message")


def _iti65(client: TestClient, bundle: dict[str, Any], version: str) -> Any:
    meta = document_metadata(bundle, BRUNO, version=version)
    content = json.dumps(bundle, ensure_ascii=False).encode("utf-8")
    submission = provide_bundle([(meta, content)], source_id=SOURCE_ID, submitted=meta.creation)
    return client.post("/dds/fhir", json=submission, headers={
        "Content-Type": "application/fhir+json", "Authorization": f"Bearer {token(client, EOJ, 'dds')}"})


def _iti41(client: TestClient, context: SandboxContext, bundle: dict[str, Any], version: str) -> Any:
    meta = document_metadata(bundle, BRUNO, version=version)
    entry = from_mhd.document_entry(document_reference(meta, f"urn:uuid:{uuid.uuid4()}"))
    info = from_mhd.SubmissionSetInfo(SOURCE_ID, CPR, context.clock.now())
    xds = XdsClient("http://testserver/dds", nsp_url="http://testserver/nsp", persona=EOJ, client=client,  # type: ignore[arg-type]
                    now=context.clock.now)
    content = json.dumps(bundle, ensure_ascii=False).encode("utf-8")
    return xds.provide(from_mhd.submission([entry], info), [Document(entry.id, content)])


def _flagged(diagnostics: str) -> bool:
    return f"{ONLY_IN_1_2} is not a code of {NPU_SYSTEM}|2.0.0-draft" in diagnostics


def test_iti65_judges_the_message_as_the_version_its_format_code_names(client: TestClient) -> None:
    bundle, index = _message_with_code_only_in_1_2(client)
    as_1_1 = _iti65(client, bundle, "1.1")
    assert as_1_1.status_code == 422, as_1_1.text
    flagged = [i for i in as_1_1.json()["issue"] if _flagged(i["diagnostics"])]
    assert flagged and all(i["severity"] == "error" for i in flagged), as_1_1.json()["issue"]
    # where the message sits in the request (the Binary's data), then the element in the message
    assert [e for i in flagged for e in i["expression"]] == \
        [f"Bundle.entry[2].resource.data.entry[{index}].resource.code.coding[0].code"] * len(flagged)
    bundle["id"] = str(uuid.uuid4())
    as_1_2 = _iti65(client, bundle, "1.2")
    assert as_1_2.status_code == 200, as_1_2.text
    outcomes = [i for e in as_1_2.json()["entry"] for i in e["response"].get("outcome", {}).get("issue", [])]
    assert not any(ONLY_IN_1_2 in i["diagnostics"] for i in outcomes)


@pytest.mark.parametrize(("version", "taken"), [("1.1", False), ("1.2", True)])
def test_iti41_judges_the_message_as_the_version_its_format_code_names(client: TestClient, context: SandboxContext,
                                                                      version: str, taken: bool) -> None:
    bundle, _ = _message_with_code_only_in_1_2(client)
    answer = _iti41(client, context, bundle, version)
    codes = " ".join(f"{e.error_code} {e.code_context}" for e in answer.errors)
    assert (answer.status_word in ("Success", "PartialSuccess")) is taken, codes
    assert _flagged(codes) is not taken, codes
