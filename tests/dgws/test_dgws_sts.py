"""NSP's ID-card STS through HTTP on a small app holding just its router (built as NSP's app
builds its deps): the certificate, ``POST /sts/idcard`` for personas, and the WS-Trust
NewSecurityTokenService with client certificates accepted or refused."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from cryptography import x509
from dgws_helpers import NOW, employee_card, include, pair, signed, system_card
from fastapi import FastAPI
from fastapi.testclient import TestClient
from lxml import etree

from nsp_sandbox.clock import Clock
from nsp_sandbox.database import Database
from nsp_sandbox.dgws.certificates import TrustList
from nsp_sandbox.dgws.faults import DgwsFault, read_fault
from nsp_sandbox.dgws.idcard import CVR, SOR, build_idcard, parse_idcard
from nsp_sandbox.dgws.medcom_header import MedcomHeader
from nsp_sandbox.dgws.request_envelope import request_envelope
from nsp_sandbox.dgws.security import check_security, parse_envelope
from nsp_sandbox.dgws.settings import DgwsSettings
from nsp_sandbox.dgws.signing import verify_enveloped
from nsp_sandbox.dgws.trust import sandbox_sts_certificate, trusted_sts
from nsp_sandbox.dgws.wstrust import WST13, build_request, read_response
from nsp_sandbox.peers import Peers
from services.nsp import dgws_sts
from services.nsp.personas import personas
from services.nsp.world import shipped_world

WS_TRUST = "/sts/services/NewSecurityTokenService"


def make_client(database_url: str, accepted: TrustList | None = None) -> tuple[TestClient, Database]:
    world, clock = shipped_world(), Clock()
    clock.freeze(NOW)
    database = Database.from_url(database_url)
    deps = dgws_sts.DgwsStsDeps(database, clock, world, lambda: personas(world, clock.now(), {}),
                                DgwsSettings(TrustList(()), accepted))
    return TestClient(include(dgws_sts.router, deps)), database


@pytest.fixture
def sts(database_url: str) -> Iterator[TestClient]:
    client, database = make_client(database_url)
    yield client
    database.engine.dispose()


def sts_certificate(client: TestClient) -> x509.Certificate:
    response = client.get("/sts/certificate")
    assert response.status_code == 200 and response.text.startswith("-----BEGIN CERTIFICATE-----")
    return x509.load_pem_x509_certificate(response.content)


def idcard(client: TestClient, persona: str) -> Any:
    return client.post("/sts/idcard", json={"persona": persona})


def test_key_is_kept_across_restarts(database_url: str) -> None:
    first, database = make_client(database_url)
    second, again = make_client(database_url)
    assert sts_certificate(first) == sts_certificate(second)
    database.engine.dispose()
    again.engine.dispose()


def test_system_persona_gets_a_level_3_system_card(sts: TestClient) -> None:
    response = idcard(sts, "system-eoj-aarhus")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/xml")
    signed_card, _ = verify_enveloped(etree.fromstring(response.content), TrustList((sts_certificate(sts),)), NOW)
    card = parse_idcard(signed_card)
    assert (card.card_type, card.authentication_level, card.issuer) == ("system", 3, "NSP-SANDBOX-STS")
    assert card.it_system_name == "Cura (EOJ) Aarhus Kommune"
    assert (card.care_provider.id, card.care_provider.id_format) == ("937961000016000", SOR)
    assert card.not_on_or_after - card.not_before == timedelta(hours=24)


def test_national_system_gets_the_national_cvr(sts: TestClient) -> None:
    card = parse_idcard(etree.fromstring(idcard(sts, "system-dds").content))
    assert (card.care_provider.id_format, card.care_provider.name) == (CVR, "Sundhedsdatastyrelsen")


def test_professional_gets_a_level_4_employee_card(sts: TestClient) -> None:
    element = etree.fromstring(idcard(sts, "gp-skodstrup").content)
    card = parse_idcard(element)
    assert (card.card_type, card.authentication_level) == ("user", 4)
    assert card.user is not None and card.user.authorisation_code == "SK7T1" and card.user.cpr == "1203701235"
    assert (card.user.given_name, card.user.surname, card.user.role) == ("Lars", "Lund", "Læge")
    request = parse_envelope(request_envelope(element, MedcomHeader(security_level=4, message_id="m"),
                                              etree.Element("Ping"), NOW))
    assert check_security(request, TrustList((sts_certificate(sts),)), NOW, level=4).card == card


@pytest.mark.parametrize("body,status", [({"persona": "citizen-2509479989"}, 403), ({"persona": "nobody"}, 404),
                                         ({}, 400)])
def test_idcard_refusals(sts: TestClient, body: dict[str, Any], status: int) -> None:
    response = sts.post("/sts/idcard", json=body)
    assert response.status_code == status
    assert response.json()["resourceType"] == "OperationOutcome"


def ws_trust(client: TestClient, requested: etree._Element, trust_ns: str | None = None) -> Any:
    body = build_request(requested, "test client", NOW, *([trust_ns] if trust_ns else []))
    return client.post(WS_TRUST, content=body, headers={"content-type": "text/xml"})


def test_ws_trust_issues_a_system_card(sts: TestClient) -> None:
    client = pair("client")
    response = ws_trust(sts, signed(system_card(), client))
    assert response.status_code == 200, response.text
    issued = read_response(response.content)
    signed_card, signer = verify_enveloped(issued, TrustList((sts_certificate(sts),)), NOW)
    card = parse_idcard(signed_card)
    assert signer == sts_certificate(sts) and card.it_system_name == "Cura (EOJ) Aarhus Kommune"
    assert card.name_id == client.certificate.subject.rfc4514_string() and card.cert_hash


def test_ws_trust_1_3_issues_an_employee_card(sts: TestClient) -> None:
    response = ws_trust(sts, signed(employee_card(), pair("client")), WST13)
    assert response.status_code == 200, response.text
    assert WST13.encode() in response.content
    card = parse_idcard(read_response(response.content))
    assert card.authentication_level == 4 and card.user is not None and card.user.authorisation_code == "SK7T1"


def fault_code(response: Any) -> str | None:
    assert response.status_code == 500 and response.headers["content-type"].startswith("text/xml")
    fault = read_fault(response.content)
    return fault.code if fault else None


def test_ws_trust_refusals(sts: TestClient) -> None:
    client = pair("client")
    tampered = signed(system_card(), client)
    tampered.set("IssueInstant", "2020-01-01T00:00:00Z")
    assert fault_code(ws_trust(sts, tampered)) == "invalid_signature"
    assert fault_code(ws_trust(sts, build_idcard(system_card()))) == "invalid_signature"  # unsigned
    unknown = system_card().__class__(**{**system_card().__dict__, "it_system_name": "Nobody's system"})
    assert fault_code(ws_trust(sts, signed(unknown, client))) == "not_authorized"
    assert fault_code(sts.post(WS_TRUST, content=b"<not-soap/>")) == "syntax_error"
    assert fault_code(sts.post(WS_TRUST, content=b"<broken")) == "syntax_error"


def test_only_configured_client_certificates(database_url: str) -> None:
    accepted, other = pair("client"), pair("other")
    client, database = make_client(database_url, TrustList((accepted.certificate,)))
    assert ws_trust(client, signed(system_card(), accepted)).status_code == 200
    assert fault_code(ws_trust(client, signed(system_card(), other))) == "invalid_certificate"
    database.engine.dispose()


def test_client_certificate_never_signs_id_cards(sts: TestClient) -> None:
    """A card the client signed itself is not an STS card, even when the STS accepts that client."""
    client = pair("client")
    request = parse_envelope(request_envelope(signed(system_card(), client), MedcomHeader(message_id="m"),
                                              etree.Element("Ping"), NOW))
    with pytest.raises(DgwsFault) as caught:
        check_security(request, TrustList((sts_certificate(sts),)), NOW)
    assert caught.value.code == "invalid_certificate"


def test_dds_learns_the_sandbox_sts_certificate_over_http(database_url: str) -> None:
    client, database = make_client(database_url)
    root = FastAPI()
    root.mount("/nsp", client.app)
    peers = Peers({})
    peers.attach(root)
    learnt = asyncio.run(sandbox_sts_certificate(peers))
    assert learnt == sts_certificate(client)
    national = pair("national")
    settings = DgwsSettings(TrustList((national.certificate,)), TrustList((pair("client").certificate,)))
    trusted = trusted_sts(learnt, settings)
    assert learnt in trusted and national.certificate in trusted and pair("client").certificate not in trusted
    with pytest.raises(DgwsFault) as caught:
        asyncio.run(sandbox_sts_certificate(Peers({"nsp": "http://127.0.0.1:9"})))
    assert caught.value.code == "processing_problem"
    database.engine.dispose()
