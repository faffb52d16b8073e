"""The compact real DDS captures (2019, national test STS; ``../shared/xds-captures``) replayed
byte for byte against the sandbox: the national test STS's certificate trusted through
``NSP_SANDBOX_DGWS_TRUSTED_STS_CERTS`` (taken from the capture's KeyInfo) and the sandbox clock
moved inside the card's ``Conditions``. The captured patient and document are seeded through
ITI-65 so the answers have content."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from lxml import etree
from read_support import metadata, provide
from xds_support import REGISTRY, REPOSITORY, capture, dgws_fault, documents, payload, post, status_word, unique_ids

from nsp_sandbox.config import Strictness
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.dgws.namespaces import SAML, q
from nsp_sandbox.dgws.signing import key_info_certificate
from nsp_sandbox.mhd_source import Coding, PatientInfo

NANCY = "2512489996"
INSIDE = datetime(2019, 5, 28, 12, 0, tzinfo=UTC)  # inside both Nancy cards' Conditions
CAPTURED_REPOSITORY = "1.2.208.176.43210.8.20.11"  # TEST2's Aftale DRS repository
CAPTURED_DOCUMENT = "6946778998876148702.7192223840203720416.1528441845022"
ITI43_SOAP_ACTION = '"urn:ihe:iti:2007:RetrieveDocumentSet"'


@pytest.fixture
def national_sts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Trust the national test STS whose certificate signs the captured cards."""
    card = etree.fromstring(capture("ITI-18-Request-Nancy.xml")).find(f".//{q(SAML, 'Assertion')}")
    assert card is not None
    pem = tmp_path / "national-test-sts.pem"
    pem.write_bytes(key_info_certificate(card).public_bytes(serialization.Encoding.PEM))
    monkeypatch.setenv("NSP_SANDBOX_DGWS_TRUSTED_STS_CERTS", str(pem))


@pytest.fixture
def seeded(client: TestClient, context: SandboxContext, national_sts: None) -> Iterator[SandboxContext]:
    """Nancy's appointment (LOINC 39289-4, 2018) and the captured document in TEST2's repository;
    the rules that the captured ids do not meet (the uniqueId is no OID, Nancy is not in the CPR
    register) are off, and so is access control: Nancy is no persona of the sandbox's world."""
    original = context.settings
    context.settings = original.model_copy(update={
        "repository_unique_id": CAPTURED_REPOSITORY, "dds_access_control": False,
        "validation_profile": Strictness.OFF, "dds_rules_patient": Strictness.OFF,
        "dds_rules_codes": Strictness.OFF, "dds_rules_metadata": Strictness.OFF,
        "dds_rules_author": Strictness.OFF, "dds_rules_document_patient": Strictness.OFF})
    patient = PatientInfo(NANCY, "Test", ("Nancy",), "female", "1948-12-25")
    appointment = Coding("http://loinc.org", "39289-4")
    provide(client, metadata(1, NANCY, 2026, patient=patient, type=appointment,
                             service_start=datetime(2018, 6, 8, 10, tzinfo=UTC),
                             service_stop=datetime(2018, 6, 8, 11, tzinfo=UTC)),
            metadata(2, NANCY, 2026, patient=patient, unique_id=CAPTURED_DOCUMENT))
    context.clock.freeze(INSIDE)
    yield context
    context.settings = original


def test_the_captured_find_documents_answers_success(client: TestClient, seeded: SandboxContext) -> None:
    response = post(client, REGISTRY, capture("ITI-18-Request-Nancy.xml"))
    answer = payload(response)
    assert status_word(answer) == "Success"
    assert unique_ids(answer) == ["urn:uuid:00000000-0000-4000-8000-251248999601"]


def test_the_captured_retrieve_answers_success(client: TestClient, seeded: SandboxContext) -> None:
    response = client.post(REPOSITORY, content=capture("ITI-43-Request-Nancy.xml"),
                           headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": ITI43_SOAP_ACTION})
    assert status_word(payload(response)) == "Success"
    assert documents(response) == {CAPTURED_DOCUMENT: f'<prøvesvar nr="2">{NANCY}</prøvesvar>'.encode()}


def test_with_access_control_the_captured_citizen_is_unknown(client: TestClient, context: SandboxContext,
                                                            national_sts: None) -> None:
    context.clock.freeze(INSIDE)
    fault = dgws_fault(post(client, REGISTRY, capture("ITI-18-Request-Nancy.xml")))
    assert fault.code == "not_authorized" and NANCY in fault.message


def test_without_the_national_sts_trusted_the_capture_is_refused(client: TestClient,
                                                                  context: SandboxContext) -> None:
    context.clock.freeze(INSIDE)
    fault = dgws_fault(post(client, REGISTRY, capture("ITI-18-Request-Nancy.xml")))
    assert fault.code == "invalid_certificate"  # not an STS the sandbox trusts


def test_past_the_card_the_capture_is_expired(client: TestClient, context: SandboxContext,
                                              national_sts: None) -> None:
    context.clock.freeze(datetime(2019, 5, 30, tzinfo=UTC))
    assert dgws_fault(post(client, REGISTRY, capture("ITI-18-Request-Nancy.xml"))).code == "expired_idcard"
