"""An independent SOAP stack against DDS's XDS.b face: zeep reads the WSDL (``wsdl/dds.wsdl``), writes
the ITI-18 and ITI-43 requests with WS-Addressing and a DGWS-signed header (the sandbox STS's employee
card, medcom:Header, HSUID), and parses the answers — the AdhocQueryResponse into typed objects, the
MTOM/XOP RetrieveDocumentSetResponse into the document's bytes. In process on both databases (only
the socket is replaced); ``test_xds_command_server`` runs the same over HTTP against ``nsp-sandbox up``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from zeep.exceptions import Fault
from zeep_consumer import Professional, entries, external_id, find_documents, retrieve, session_for, slot

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dds_xds"))
from read_support import GRETHE, LARS, metadata, provide, unique_id

from nsp_sandbox.xds import vocabulary as v

BASE = "http://testserver"


def _card(client: TestClient, persona: str) -> bytes:
    answer = client.post("/nsp/sts/idcard", json={"persona": persona})
    assert answer.status_code == 200, answer.text
    return answer.content


def test_zeep_finds_and_retrieves_through_dgws(client: TestClient) -> None:
    provide(client, metadata(1), metadata(2))
    card, who, session = _card(client, "gp-skodstrup"), Professional(LARS[0], LARS[1], LARS[2], GRETHE), \
        session_for(client)
    answer = find_documents(BASE, session, card, who)
    assert answer.status == v.RESPONSE_SUCCESS and answer.totalResultCount == 2
    found = {external_id(e, v.DE_UNIQUE_ID): e for e in entries(answer)}
    assert set(found) == {unique_id(GRETHE, 1), unique_id(GRETHE, 2)}
    entry = found[unique_id(GRETHE, 2)]
    assert entry.status == v.STATUS_APPROVED and entry.mimeType == "text/xml"
    assert slot(entry, "languageCode") == ["da"]
    repository = slot(entry, "repositoryUniqueId")[0]

    retrieved = retrieve(BASE, session, card, who, repository, unique_id(GRETHE, 2))
    assert retrieved.RegistryResponse.status == v.RESPONSE_SUCCESS
    [document] = retrieved.DocumentResponse
    assert document.mimeType == "text/xml" and document.Document == metadata(2)[1]  # byte-exact through XOP


def test_zeep_gets_the_dgws_fault_of_a_system_card_for_a_professional(client: TestClient) -> None:
    provide(client, metadata(1))
    card = _card(client, "system-eoj-aarhus")  # level 3: a professional's look-up needs level 4
    with pytest.raises(Fault) as raised:
        find_documents(BASE, session_for(client), card, Professional(LARS[0], LARS[1], LARS[2], GRETHE))
    codes = [e.text for e in raised.value.detail.iter("{http://www.medcom.dk/dgws/2006/04/dgws-1.0.xsd}FaultCode")]
    assert codes == ["security_level_failed"]
