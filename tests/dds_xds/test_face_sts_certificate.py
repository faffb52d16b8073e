"""The sandbox STS's certificate on DDS's XDS.b face: fetched from NSP once and kept (as the MHD face
keeps the STS's JWKS), fetched again when a card's signer is not the certificate kept (NSP's STS may
have a new key), and a card still refused when its signer is not the STS's even then."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from read_support import as_gp, metadata, provide
from xds_support import dgws_fault, find_documents, payload, status_word

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.dgws.keys import self_signed
from services.dds.xds import face


@pytest.fixture
def fetches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the face's fetches of the STS certificate from NSP."""
    calls: list[int] = []
    fetch = face.sandbox_sts_certificate

    async def counted(peers: Any) -> Any:
        calls.append(1)
        return await fetch(peers)

    monkeypatch.setattr(face, "sandbox_sts_certificate", counted)
    return calls


def test_the_sts_certificate_is_fetched_once_and_again_for_a_new_signer(
        client: TestClient, context: SandboxContext, fetches: list[int]) -> None:
    provide(client, metadata(1))
    for _ in range(3):
        assert status_word(payload(as_gp(client, find_documents("0602631234")))) == "Success"
    assert len(fetches) == 1
    # what the sandbox kept is now a stale certificate: NSP's answer is fetched again, once
    face._STS_CERTIFICATES[context.peers] = self_signed("old STS", "NSP", datetime.now(UTC)).certificate
    assert status_word(payload(as_gp(client, find_documents("0602631234")))) == "Success"
    assert len(fetches) == 2


def test_a_card_of_an_unknown_signer_is_refused_after_one_fetch_more(
        client: TestClient, context: SandboxContext, monkeypatch: pytest.MonkeyPatch, fetches: list[int]) -> None:
    provide(client, metadata(1))
    assert status_word(payload(as_gp(client, find_documents("0602631234")))) == "Success"
    other = self_signed("another STS", "NSP", datetime.now(UTC)).certificate
    face._STS_CERTIFICATES[context.peers] = other
    real = face.sandbox_sts_certificate

    async def rotated(peers: Any) -> Any:  # NSP now answers another certificate than the cards' signer
        await real(peers)
        return other

    monkeypatch.setattr(face, "sandbox_sts_certificate", rotated)
    fault = dgws_fault(as_gp(client, find_documents("0602631234")))
    assert fault.code == "invalid_certificate"
    assert len(fetches) == 2
