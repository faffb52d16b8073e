"""The DDS suites run against vendors played here: one that does what each instruction asks passes every
case; ones that get a thing wrong fail the case that judges it, with a message naming what and where."""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dds_vendor import ConsumerVendor, SourceVendor, run
from fastapi.testclient import TestClient

from nsp_sandbox.config import Strictness
from nsp_sandbox.context import SandboxContext
from sandbox.runs.suites.documents.consumer import SUITE as CONSUMER_SUITE
from sandbox.runs.suites.documents.source import SUITE as SOURCE_SUITE
from sandbox.runs.suites.documents.source_metadata import check_codes, check_document_and_author, check_identifiers

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dds"))
from mhd_client import CONDITION_LIST, CPR, DR_EXAMPLE, HCO, NOTES, XDSDOCUMENTS, Bundles, Examples, about

SOURCE = "system-eoj-aarhus"
FAST = {"timeout_seconds": 1, "retry_window_seconds": 0.2}


@pytest.fixture(scope="session")
def examples(packages: Any) -> Examples:
    """The official examples the played vendors send (as tests/dds builds them)."""
    def raw(name: str, version: str, filename: str) -> bytes:
        return about((packages.get(name, version).root / filename).read_bytes(), CPR)

    return Examples(copy.deepcopy(packages.get(*XDSDOCUMENTS).load(DR_EXAMPLE)), raw(*HCO), raw(*CONDITION_LIST),
                    raw(*NOTES))


@pytest.fixture
def bundles(examples: Examples) -> Bundles:
    return Bundles(examples)


def test_a_source_that_does_what_it_is_told_passes(context: SandboxContext, client: TestClient,
                                                   bundles: Bundles) -> None:
    vendor = SourceVendor(client, bundles, SOURCE)
    results = run(context, SOURCE_SUITE, SOURCE, FAST, vendor)
    assert {n: (r.status, r.message) for n, r in results.items() if r.status != "passed"} == {}
    assert vendor.sent == [200, 200, 200, 422, 422]
    assert "Sent once and refused" in results["refused-consent-not-retried"].notes[0]
    assert any("/dds/requests" in e.url for e in results["provide-accepted"].evidence)


@pytest.fixture
def warning_codes(context: SandboxContext) -> Iterator[SandboxContext]:
    original = context.settings
    context.settings = original.model_copy(update={"dds_rules_codes": Strictness.WARNING,
                                                   "validation_profile": Strictness.WARNING})
    yield context
    context.settings = original


def test_wrong_codes_accepted_with_a_warning_fail_the_codes_case(warning_codes: SandboxContext, client: TestClient,
                                                                 bundles: Bundles) -> None:
    vendor = SourceVendor(client, bundles, SOURCE, frozenset({"codes"}))
    results = run(warning_codes, SOURCE_SUITE, SOURCE, FAST, vendor)
    assert results["provide-accepted"].status == "passed", results["provide-accepted"].message
    codes = results["metadata-codes"]
    assert codes.status == "failed"
    assert codes.message.startswith("The coded metadata is not as the Danish profile wants it: DDS warned: "
                                    "Bundle.entry[1].resource.context.facilityType.coding[0]")
    assert "dk-xds-facility-type-code-valueset" in codes.message and "urn:oid:1.2.3.4" in codes.message
    assert results["metadata-identifiers"].status == "passed"


def test_wrong_codes_refused_fail_the_provide_case_and_name_the_element(context: SandboxContext, client: TestClient,
                                                                        bundles: Bundles) -> None:
    vendor = SourceVendor(client, bundles, SOURCE, frozenset({"codes"}))
    results = run(context, SOURCE_SUITE, SOURCE, FAST, vendor)
    provided = results["provide-accepted"]
    assert provided.status == "failed" and provided.message.startswith("DDS refused the submission (ITI-65 POST /fhir")
    assert "context.facilityType" in provided.message and "XDSRegistryMetadataError" in provided.message
    assert results["metadata-codes"].message.startswith("No document of this run was registered")
    assert results["replacement-chain"].status == "failed"


def test_a_standalone_correction_a_superseded_retraction_and_a_resend_fail_their_cases(
        context: SandboxContext, client: TestClient, bundles: Bundles) -> None:
    vendor = SourceVendor(client, bundles, SOURCE, frozenset({"standalone", "resend"}))
    results = run(context, SOURCE_SUITE, SOURCE, FAST, vendor)
    chain = results["replacement-chain"]
    assert chain.status == "failed" and ".relatesTo does not replace DocumentReference/" in chain.message
    resend = results["refused-consent-not-retried"]
    assert resend.status == "failed" and "refused the message for refused consent 2 times" in resend.message
    vendor = SourceVendor(client, bundles, SOURCE, frozenset({"superseded"}))
    retraction = run(context, SOURCE_SUITE, SOURCE, FAST, vendor)["retraction"]
    assert retraction.status == "failed"
    assert "status is 'superseded' after the retraction" in retraction.message
    assert "entered-in-error wanted" in retraction.message


def test_a_source_that_sends_nothing_fails_naming_what_was_awaited(context: SandboxContext, client: TestClient) -> None:
    results = run(context, SOURCE_SUITE, SOURCE, {**FAST, "timeout_seconds": 0.3}, lambda case, text: None)
    provided = results["provide-accepted"]
    assert provided.status == "failed"
    assert provided.message.startswith(f"Waited 0.3 s for a submission about CPR 0602631234 from {SOURCE}")
    assert "No submission with refused consent reached DDS" in results["refused-consent-not-retried"].notes[0]


def test_a_target_that_is_no_persona_fails_the_setup(context: SandboxContext, client: TestClient) -> None:
    results = run(context, SOURCE_SUITE, "my-epj", FAST, lambda case, text: None)
    assert {r.status for r in results.values()} == {"failed"}
    assert "The target 'my-epj' is no persona of NSP's STS" in results["provide-accepted"].message


def test_the_metadata_checks_name_the_element_the_value_and_what_is_wanted(examples: Examples) -> None:
    dr = copy.deepcopy(examples.document_reference)
    dr["id"] = "e1"
    assert check_codes(dr) == [] and check_identifiers(dr, "0602631234") == []
    dr["securityLabel"][0]["coding"][0]["code"] = "R"
    dr["category"][0]["coding"][0]["code"] = "999"
    del dr["type"]["coding"][0]["system"]
    assert check_codes(dr) == [
        "DocumentReference/e1.type.coding[0] has no system: a code means nothing without its code system",
        "DocumentReference/e1.category[0].coding[0].code is '999'; wanted 001 or 002 or 003 or 004 or 005 or 006",
        "DocumentReference/e1.securityLabel is ['R']; exactly one confidentiality code N "
        "(http://terminology.hl7.org/CodeSystem/v3-Confidentiality) wanted: Denmark uses N only"]
    dr["masterIdentifier"]["value"] = "doc 1"
    dr["identifier"][0]["value"] = dr["identifier"][0]["value"].upper()
    dr["content"][0]["attachment"]["creation"] = "2026-04-28T10:15:52"
    problems = check_identifiers(dr, "2509479989")
    assert problems[0] == ("DocumentReference/e1.subject names CPR 0602631234; wanted the test citizen 2509479989")
    assert [p.split(" ")[0] for p in problems] == [
        "DocumentReference/e1.subject", "DocumentReference/e1.context.sourcePatientInfo",
        "DocumentReference/e1.masterIdentifier.value", "DocumentReference/e1.identifier",
        "DocumentReference/e1.content[0].attachment.creation"]
    dr["content"][0]["attachment"]["size"] = 10
    dr["author"] = [{"reference": "#nowhere"}]
    problems, sors = check_document_and_author(dr)
    assert sors == [] and problems == [
        "DocumentReference/e1.content[0].attachment has size but not hash: a stable document has both, an on-demand "
        "one neither", "DocumentReference/e1.author[0] cannot be resolved in the DocumentReference",
        "DocumentReference/e1.author names no author institution by SOR code (urn:oid:1.2.208.176.1.1)"]


CONSUMER = "doctor-auh-acute"  # no treatment relations of its own: the run gives it those it needs


def test_a_consumer_that_does_what_it_is_told_passes(context: SandboxContext, client: TestClient) -> None:
    results = run(context, CONSUMER_SUITE, CONSUMER, FAST, ConsumerVendor(client, CONSUMER))
    assert {n: (r.status, r.message) for n, r in results.items() if r.status != "passed"} == {}
    assert results["consent-override-reason"].notes == ["Reason 'Akut indlæggelse', criticality 'høj'"]
    assert results["blocked-citizen-silent"].notes[0].startswith("Next request after the empty answer: ITI-67")
    assert "dds-consent-filtered" in results["filtered-with-warning"].notes[0]


def test_a_consumer_with_the_wrong_patient_form_and_no_reason_fails_those_cases(context: SandboxContext,
                                                                                 client: TestClient) -> None:
    vendor = ConsumerVendor(client, CONSUMER, frozenset({"patient-form", "no-reason"}))
    results = run(context, CONSUMER_SUITE, CONSUMER, FAST, vendor)
    form = results["query-patient-identifier"]
    assert form.status == "failed" and form.message == (
        "The look-up named the patient as patient=Patient/0108629996; DDS wants "
        "patient.identifier=urn:oid:1.2.208.176.1.2|0108629996 (the CPR number with its system, docs/dds.md ITI-67)")
    reason = results["consent-override-reason"]
    assert reason.status == "failed"
    assert reason.message.startswith("The look-up of CPR 1207899997 (ITI-67 GET /fhir/DocumentReference?patient=")
    assert "carried no X-Consent-Override header" in reason.message
    assert results["query-status-current"].status == "passed"
    logged = results["min-log-written"]
    assert logged.status == "passed"  # no værdispring sent: nothing to find on the blocked citizen's log


def test_a_consumer_without_status_or_retrieval_fails_those_cases(context: SandboxContext, client: TestClient) -> None:
    results = run(context, CONSUMER_SUITE, CONSUMER, FAST, ConsumerVendor(client, CONSUMER, frozenset({"no-status"})))
    status = results["query-status-current"]
    assert status.status == "failed" and "had no status parameter; ask for status=current" in status.message
    assert results["query-patient-identifier"].status == "passed"
    vendor = ConsumerVendor(client, CONSUMER, frozenset({"no-retrieve"}))
    results = run(context, CONSUMER_SUITE, CONSUMER, FAST, vendor)
    retrieval = results["retrieve-listed"]
    assert retrieval.status == "failed" and retrieval.message.startswith("Not retrieved (ITI-68): DocumentReference/")
    assert "of the 4 document(s) listed for CPR 0108629996" in retrieval.message  # both runs' documents
    logged = results["min-log-written"]
    assert logged.status == "failed" and "has no 'ITI-68 Retrieve Document' entry by AU5R1" in logged.message


def test_a_consumer_target_must_be_a_professional(context: SandboxContext, client: TestClient) -> None:
    results = run(context, CONSUMER_SUITE, "system-eoj-aarhus", FAST, lambda case, text: None)
    assert "The target 'system-eoj-aarhus' is a system" in results["query-patient-identifier"].message
