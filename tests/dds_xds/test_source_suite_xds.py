"""The document-source suite through the XDS.b door: a source sending ITI-41 (the real DRS capture) is
seen in DDS's request log with its card's persona, patient and entries, judged by the run's door, and
DDS's RegistryErrors are the case's message."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from provide_support import CPR, capture_request, fresh, provide

from nsp_sandbox.config import Strictness
from nsp_sandbox.context import SandboxContext
from sandbox.runs.suite import CaseResult, run_suite
from sandbox.runs.suites.document_source import SUITE

SOURCE = "system-eoj-aarhus"
CASES = {"provide-accepted", "metadata-codes", "metadata-identifiers"}


def run(context: SandboxContext, client: Any, door: str) -> dict[str, CaseResult]:
    def vendor(case: str, text: str) -> None:
        if case == "provide-accepted":
            provide(client, fresh(capture_request()), persona=SOURCE)

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
    wrong_door = run(warning, client, "mhd")["provide-accepted"]
    assert wrong_door.status == "failed"
    assert wrong_door.message.startswith("The document came as ITI-41, but this run's door is mhd")


def test_an_iti41_refusal_is_the_case_message(context: SandboxContext, client: Any) -> None:
    provided = run(context, client, "either")["provide-accepted"]
    assert provided.status == "failed"
    assert provided.message.startswith("DDS refused the submission (ITI-41 POST /drs/proxy → 200 Failure "
                                       "(XDSRegistryMetadataError)): ExtrinsicObject")
    assert "dk-xds-confidentiality-code" in provided.message
