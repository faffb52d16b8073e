"""Shared pieces of the DGWS tests: the real captures (read from ``../shared``), sandbox key pairs
and signed cards, and a one-router app for the ID-card STS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest
from cryptography import x509
from fastapi import FastAPI
from lxml import etree

from nsp_sandbox.dgws.certificates import TrustList
from nsp_sandbox.dgws.idcard import SOR, SYSTEM, USER, CardUser, CareProvider, IdCard, build_idcard
from nsp_sandbox.dgws.keys import KeyPair, self_signed
from nsp_sandbox.dgws.namespaces import SAML, q
from nsp_sandbox.dgws.signing import key_info_certificate, sign_enveloped

CAPTURES = Path(__file__).resolve().parents[3] / "shared" / "xds-captures"
COMPACT = ("ITI-18-Request-Nancy.xml", "ITI-43-Request-Nancy.xml", "iti41/request-soap.xml")
EDITED = ("ITI-41-Request.xml", "iti18/20190613103042-iti18-request.xml", "iti43/20190613113513-iti43-request.xml")
INSIDE_NANCY = datetime(2019, 5, 28, 12, 0, tzinfo=UTC)  # inside the Nancy cards' Conditions
NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def capture(name: str) -> bytes:
    path = CAPTURES / name
    if not path.is_file():
        pytest.skip(f"capture {path} not found")
    return path.read_bytes()


def card_element(raw: bytes) -> etree._Element:
    found = etree.fromstring(raw).find(f".//{q(SAML, 'Assertion')}")
    assert found is not None
    return found


def national_sts_certificate(name: str = COMPACT[0]) -> x509.Certificate:
    """The national test STS's certificate, as its KeyInfo carries it (trusted explicitly by the tests)."""
    return key_info_certificate(card_element(capture(name)))


@cache
def pair(name: str) -> KeyPair:
    """A sandbox key pair per name, made once per test session (RSA generation is slow)."""
    return self_signed(name, "nsp-sandbox tests", NOW)


def system_card(now: datetime = NOW, level: int = 3) -> IdCard:
    return IdCard(card_id="c1", card_type=SYSTEM, authentication_level=level, issuer="NSP-SANDBOX-STS",
                  name_id="CN=test", name_id_format="medcom:other", issue_instant=now, not_before=now,
                  not_on_or_after=now + timedelta(hours=24), it_system_name="Cura (EOJ) Aarhus Kommune",
                  care_provider=CareProvider("937961000016000", SOR, "Aarhus Kommune"))


def employee_card(now: datetime = NOW) -> IdCard:
    user = CardUser(cpr="1203701235", given_name="Lars", surname="Lund", role="Læge", occupation="Læge",
                    authorisation_code="SK7T1")
    return IdCard(card_id="c2", card_type=USER, authentication_level=4, issuer="NSP-SANDBOX-STS",
                  name_id="1203701235", name_id_format="medcom:cprnumber", issue_instant=now, not_before=now,
                  not_on_or_after=now + timedelta(hours=24), it_system_name="nsp-sandbox persona",
                  care_provider=CareProvider("52581000016005", SOR, "Skødstrup Lægepraksis"), user=user)


def signed(card: IdCard, by: KeyPair) -> etree._Element:
    return sign_enveloped(build_idcard(card), by.key, by.certificate)


def trust(*pairs: KeyPair) -> TrustList:
    return TrustList(tuple(p.certificate for p in pairs))


def include(router_factory, deps) -> FastAPI:  # type: ignore[no-untyped-def]
    """A small app holding just the router, with the project's JSON error handlers."""
    from nsp_sandbox.fhir_http import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router_factory(deps))
    return app
