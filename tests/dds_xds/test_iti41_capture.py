"""The real ITI-41 DRS capture replayed byte for byte (HTTP headers then the MTOM package) on the
DRS proxy, with the national test STS's certificate trusted (from the capture's KeyInfo) and the
sandbox clock inside the card: registered at strictness ``warning`` — the findings real DDS did not
report (confidentialityCode, languageCode, sourcePatientInfo are missing) as warnings — and refused
at ``reject`` with the Danish rules named."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from test_iti41_provide import _strict, xds  # noqa: F401 (the fixture)
from xds_support import payload, post, registry_errors, status_word

from nsp_sandbox.config import Strictness
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.dgws.idcard import parse_idcard
from nsp_sandbox.dgws.signing import key_info_certificate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "xds_wire"))
from xds_captures import _split_http, capture

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"


@pytest.fixture
def replay(xds: Any, context: SandboxContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:  # noqa: F811
    raw = capture("iti41/request-mime.txt")
    content_type, body = _split_http(raw)
    card = etree.fromstring(body[body.index(b"<soap:Envelope"):body.index(b"</soap:Envelope>") + 16]
                            ).find(f".//{{{SAML}}}Assertion")
    assert card is not None
    pem = tmp_path / "national-test-sts.pem"
    pem.write_bytes(key_info_certificate(card).public_bytes(Encoding.PEM))
    monkeypatch.setenv("NSP_SANDBOX_DGWS_TRUSTED_STS_CERTS", str(pem))
    idcard = parse_idcard(card)
    # The capture's IT system ('XDS Code Camp', CVR 46837428) is no sandbox persona: the replay checks the
    # DGWS card (its signature, the trusted STS, the clock) with DDS's access control off.
    context.settings = context.settings.model_copy(update={"dds_access_control": False})
    context.clock.freeze(idcard.not_before + (idcard.not_on_or_after - idcard.not_before) / 2)
    return lambda: post(xds, "/dds/drs/proxy", body, content_type)


def test_capture_registered_at_warning(replay: Any, context: SandboxContext) -> None:
    _strict(context, Strictness.WARNING)
    answer = payload(replay())
    errors = registry_errors(answer)
    assert status_word(answer) == "PartialSuccess", errors
    assert {severity for _, severity, _ in errors} == {"Warning"}
    text = " ".join(c for _, _, c in errors)
    for rule in ("dk-xds-confidentiality-code", "dk-xds-language-code", "sourcePatientInfo"):
        assert rule in text


def test_capture_refused_at_reject(replay: Any, context: SandboxContext) -> None:
    _strict(context, Strictness.REJECT)
    answer = payload(replay())
    assert status_word(answer) == "Failure"
    text = " ".join(c for _, _, c in registry_errors(answer))
    for rule in ("dk-xds-confidentiality-code", "dk-xds-language-code"):
        assert rule in text
