"""Værdispring (consent override): a professional lifts the citizen's blocks for one call with
``X-Consent-Override: <reason>`` (HSUID ``nsi:ConsentOverride``). The reason goes to Min Log.

HTTP header values are ASCII, so a reason with other characters (æ, ø, å) is sent percent-encoded
as UTF-8 (``Akut%20indl%C3%A6ggelse``) and decoded here."""

from __future__ import annotations

from urllib.parse import unquote

from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.tokens import Principal

HEADER = "X-Consent-Override"
SOURCE = "NSP værdispring (nspop 102389274); HSUID nsi:ConsentOverride"


def override_reason(principal: Principal, value: str | None) -> str | None:
    """The reason given, or None without the header; 400 for an empty reason, 403 for a non-professional."""
    if value is None:
        return None
    try:
        reason = unquote(value, errors="strict").strip() if "%" in value else value.strip()
    except UnicodeDecodeError:
        raise FhirError(400, Issue("error", "invalid", f"{HEADER} is not percent-encoded UTF-8",
                                   expression=HEADER, rule="dds-consent-override-reason", source=SOURCE)) from None
    if not reason:
        raise FhirError(400, Issue("error", "required", f"{HEADER} needs the reason for the override",
                                   expression=HEADER, rule="dds-consent-override-reason", source=SOURCE))
    if not principal.is_professional:
        raise FhirError(403, Issue("error", "forbidden", "Only a health professional may use værdispring",
                                   expression=HEADER, rule="dds-consent-override-user", source=SOURCE))
    return reason
