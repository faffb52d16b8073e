"""Værdispring's rule (dds-nsp.md §2.2, the sandbox's rule set): only a health professional's token at
assurance level 4 carrying their own authorisation code; the MHD face needs the reason, may carry a
criticality; the XDS.b face carries no reason, logged as "not given"."""

from __future__ import annotations

from dataclasses import replace

import pytest
from starlette.datastructures import Headers

from nsp_sandbox.outcome import FhirError
from nsp_sandbox.tokens import Principal
from services.dds.access.consent_override import NOT_GIVEN, Override, OverrideRequest, from_headers, grant

GP = Principal(persona="gp-skodstrup", kind="professional", id_card_type="user", assurance_level=4,
               user_type="nsi:HealthcareProfessional", name="Lars Lund", acting_cpr="1203701235",
               authorisation="SK7T1", role="Læge", organisation_sor="52581000016005",
               organisation_name="Skødstrup Lægepraksis", system_name="EPJ", acts_for=(), token_id="t")


def test_a_level_4_professional_with_an_authorisation_code_may() -> None:
    assert grant(GP, OverrideRequest("Akut", "høj")) == Override("Akut", "høj")
    assert grant(GP, OverrideRequest(None)) == Override(NOT_GIVEN, None)  # the XDS.b face
    assert grant(GP, None) is None


@pytest.mark.parametrize(("who", "rule"), [
    (replace(GP, assurance_level=3), "dds-consent-override-level"),
    (replace(GP, authorisation=None), "dds-consent-override-level"),
    (replace(GP, authorisation=None, responsible="SK7T1", responsible_name="Lars Lund", kind="assistant"),
     "dds-consent-override-user"),
    (replace(GP, user_type="nsi:Citizen", authorisation=None), "dds-consent-override-user"),
    (replace(GP, id_card_type="system", user_type=None), "dds-consent-override-user"),
])
def test_everyone_else_is_refused(who: Principal, rule: str) -> None:
    with pytest.raises(FhirError) as refused:
        grant(who, OverrideRequest("Akut"))
    assert refused.value.status == 403 and refused.value.issues[0].rule == rule


def test_the_mhd_headers() -> None:
    asked = from_headers(Headers({"X-Consent-Override": "Akut%20indl%C3%A6ggelse",
                                  "X-Consent-Override-Criticality": "h%C3%B8j"}))
    assert asked == OverrideRequest("Akut indlæggelse", "høj")
    assert from_headers(Headers({"X-Consent-Override": "Akut"})) == OverrideRequest("Akut", None)
    assert from_headers(Headers({})) is None
    for headers in ({"X-Consent-Override": " "}, {"X-Consent-Override-Criticality": "høj"},
                    {"X-Consent-Override": "Akut", "X-Consent-Override-Criticality": "x" * 101}):
        with pytest.raises(FhirError) as refused:
            from_headers(Headers(headers))
        assert refused.value.status == 400
