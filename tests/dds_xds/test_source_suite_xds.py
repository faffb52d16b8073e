"""The document-source suite through the XDS.b door: a source sending ITI-41 (the real DRS capture) is
seen in DDS's request log with its card's persona, patient and entries, judged by the run's door, and
DDS's RegistryErrors are the case's message."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import pytest
from provide_support import CPR, capture_request, fresh, provide, replacing, with_uuid_ids
from xds_support import ACTIONS, envelope, idcard, payload, post, status_word

from nsp_sandbox.config import Strictness
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.ebrim import StatusUpdate, SubmitObjectsRequest, write_submit_objects_request
from nsp_sandbox.xds.rim import Classification, RegistryPackage
from sandbox.runs.suite import CaseResult, run_suite
from sandbox.runs.suites.documents.source import SUITE

SOURCE = "system-eoj-aarhus"
CASES = {"provide-accepted", "metadata-codes", "metadata-identifiers", "replacement-chain", "retraction"}
ENTRY = re.compile(r"DocumentReference/([0-9a-f-]{36})")


def deprecate(client: Any, entry_uuid: str) -> Any:
    """ITI-57: the source's entry Approved → Deprecated."""
    set_id = f"urn:uuid:{uuid.uuid4()}"
    package = RegistryPackage(id=set_id, classifications=[Classification(
        id=f"urn:uuid:{uuid.uuid4()}", classification_node=v.SUBMISSION_SET_NODE, classified_object=set_id)])
    update = StatusUpdate(f"urn:uuid:{uuid.uuid4()}", set_id, entry_uuid, v.STATUS_APPROVED, v.STATUS_DEPRECATED)
    body = write_submit_objects_request(SubmitObjectsRequest([package, update.association()]))
    return payload(post(client, "/dds/ddsregistry/metadataupdate", envelope(idcard(client, SOURCE), body,
                                                                          ACTIONS["iti57"])))


def run(context: SandboxContext, client: Any, door: str) -> dict[str, CaseResult]:
    def vendor(case: str, text: str) -> None:
        request = fresh(capture_request())
        with_uuid_ids(request)
        if case == "provide-accepted":
            provide(client, request, persona=SOURCE)
        elif case == "replacement-chain":
            replacing(request, f"urn:uuid:{ENTRY.findall(text)[0]}")
            provide(client, request, persona=SOURCE)
        elif case == "retraction":
            assert status_word(deprecate(client, f"urn:uuid:{ENTRY.findall(text)[0]}")) == "Success"

    results = asyncio.run(run_suite(context, SUITE, SOURCE, {"citizen": CPR, "door": door, "timeout_seconds": 1},
                                    on_instruction=vendor, only=CASES))
    return {r.name: r for r in results}


@pytest.fixture
def warning(context: SandboxContext) -> SandboxContext:
    context.settings = context.settings.model_copy(update={
        group: Strictness.WARNING for group in ("dds_rules_metadata", "dds_rules_patient", "dds_rules_codes",
                                                "dds_rules_author")})
    return context


def test_an_iti41_source_is_judged_by_its_door_and_dds_warnings(warning: SandboxContext, client: Any) -> None:
    results = run(warning, client, "xds")
    assert results["provide-accepted"].status == "passed", results["provide-accepted"].message
    assert results["provide-accepted"].notes[0].endswith("ITI-41 POST /drs/proxy → 200 PartialSuccess)")
    codes = results["metadata-codes"]
    assert codes.status == "failed" and "DDS warned: " in codes.message
    assert "dk-xds-confidentiality-code" in codes.message and "dk-xds-language-code" in codes.message
    identifiers = results["metadata-identifiers"]  # the 2019 capture sends no sourcePatientInfo
    assert identifiers.status == "failed" and identifiers.message.endswith(
        ".context.sourcePatientInfo is missing; the Danish profile requires it")
    assert results["replacement-chain"].status == "passed", results["replacement-chain"].message  # RPLC
    assert results["retraction"].status == "passed", results["retraction"].message  # ITI-57 Deprecated
    wrong_door = run(warning, client, "mhd")["provide-accepted"]
    assert wrong_door.status == "failed"
    assert wrong_door.message.startswith("The document came as ITI-41, but this run's door is mhd")


def test_an_iti41_refusal_is_the_case_message(context: SandboxContext, client: Any) -> None:
    provided = run(context, client, "either")["provide-accepted"]
    assert provided.status == "failed"
    assert provided.message.startswith("DDS refused the submission (ITI-41 POST /drs/proxy → 200 Failure "
                                       "(XDSRegistryMetadataError)): ExtrinsicObject")
    assert "dk-xds-confidentiality-code" in provided.message
