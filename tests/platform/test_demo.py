"""Demo data: the official HCO example messages shared to DDS through the MHD interface."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sts_client import auth

from nsp_sandbox.demo import HCO_PACKAGE, SOURCE_ID, read_hco_message, share_hco_examples, system_token
from nsp_sandbox.mhd_source import DocumentSource, RecipientError

CPR = "2509479989"


def test_examples_are_shared_corrected_and_retracted_as_the_hco_rules_say(client: TestClient, packages) -> None:  # type: ignore[no-untyped-def]
    examples = list(packages.get(HCO_PACKAGE).examples())
    lines: list[str] = []
    source = DocumentSource("http://sandbox.test/dds/fhir", source_id=SOURCE_ID, client=client,
                            headers=system_token(client, "http://sandbox.test/nsp"))
    changed = share_hco_examples(source, examples, report=lines.append)
    assert changed == 7, lines
    # The source provides but does not read; the citizen reads their own documents.
    with pytest.raises(RecipientError) as refused:
        source.find(CPR)
    assert refused.value.status == 403
    citizen = DocumentSource("http://sandbox.test/dds/fhir", source_id=SOURCE_ID, client=client,
                             headers=auth(client, f"citizen-{CPR}"))
    assert any("refused consent" in line and "faa0c104" in line for line in lines)
    assert any("eCPR" in line and "0703921VJ5" in line for line in lines)

    current = citizen.find(CPR)
    superseded = citizen.find(CPR, status="superseded")
    retracted = citizen.find(CPR, status="entered-in-error")
    titles = {r["content"][0]["attachment"]["title"] for r in current}
    # The new message 401cbc36 (MessageHeader 489de4f2) was modified, and the modification retracted.
    assert not any("489de4f2" in t or "07eb074b" in t for t in titles)
    assert [r["content"][0]["attachment"]["title"] for r in superseded] == [
        "Kommunale prøvesvar (HCOM-489de4f2-0d8d-4de2-a7ce-ccb93568799f)"]
    assert [r["content"][0]["attachment"]["title"] for r in retracted] == [
        "Kommunale prøvesvar (HCOM-07eb074b-be00-47e5-8bcb-484990a1a97e)"]
    assert len(current) == 4  # add5e7e2 and ReceiveTestExample1, 2, 4
    # The refused-consent message is nowhere in DDS.
    everything = current + superseded + retracted
    assert not any("e9f4cc68" in r["content"][0]["attachment"]["title"] for r in everything)

    # Shared documents are the exact message bytes, retrievable by ITI-68.
    doc = client.get(superseded[0]["content"][0]["attachment"]["url"], headers=citizen.headers)
    assert doc.status_code == 200
    assert doc.json()["id"] == "401cbc36-db1e-4fe0-bf90-6df331dde179"

    # A second run changes nothing.
    assert share_hco_examples(source, examples, report=lines.append) == 0
    assert lines[-1] == "  demo data already present"


def test_reading_an_hco_message(packages) -> None:  # type: ignore[no-untyped-def]
    bundle = packages.get(HCO_PACKAGE).load("example/Bundle-73996cdc-3192-4d15-bd16-c365ef0085e7.json")
    message = read_hco_message(bundle)
    assert message is not None
    assert message.activity == "modified-message"
    assert message.original_header == "489de4f2-0d8d-4de2-a7ce-ccb93568799f"
    assert message.meta.patient.cpr == CPR
    assert message.meta.author.sor == "1144561000016002"
    assert message.meta.unique_id == "urn:uuid:73996cdc-3192-4d15-bd16-c365ef0085e7"
    assert read_hco_message({"resourceType": "Bundle", "entry": []}) is None
