"""Værdispring (consent override): a professional lifts the citizen's blocks for one look-up.

On the MHD face the reason is required, ``X-Consent-Override: <reason>``, and a criticality may
come in ``X-Consent-Override-Criticality`` (default: not given). The XDS.b face carries only
HSUID's boolean ``nsi:ConsentOverride``: no reason, logged as :data:`NOT_GIVEN`. Both faces hand
the guard an :class:`OverrideRequest`; the rule is the same (dds-nsp.md §2.2, the sandbox's rule
set): only a health professional's token at assurance level 4 carrying their own authorisation
code may use it — not a system, not a citizen, not an assistant acting for someone. Reason and
criticality go to Min Log.

HTTP header values are ASCII, so a reason with other characters (æ, ø, å) is sent percent-encoded
as UTF-8 (``Akut%20indl%C3%A6ggelse``) and decoded here."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from starlette.datastructures import Headers

from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.tokens import Principal

HEADER = "X-Consent-Override"
CRITICALITY_HEADER = "X-Consent-Override-Criticality"
NOT_GIVEN = "not given"
MAX_CRITICALITY = 100
LEVEL = 4
SOURCE = "NSP værdispring (nspop 102389274); HSUID nsi:ConsentOverride; DGWS level 4 (nspop 102375905)"


@dataclass(frozen=True)
class OverrideRequest:
    """What a caller sent to lift the blocks: the reason (None: the face carries none) and criticality."""

    reason: str | None
    criticality: str | None = None


@dataclass(frozen=True)
class Override:
    """A granted værdispring, as Min Log records it."""

    reason: str
    criticality: str | None


def _decoded(value: str, header: str) -> str:
    try:
        return unquote(value, errors="strict").strip() if "%" in value else value.strip()
    except UnicodeDecodeError:
        raise FhirError(400, Issue("error", "invalid", f"{header} is not percent-encoded UTF-8",
                                   expression=header, rule="dds-consent-override-reason", source=SOURCE)) from None


def from_headers(headers: Headers) -> OverrideRequest | None:
    """The MHD face's request: None without ``X-Consent-Override``; 400 for an empty reason or a
    criticality without one."""
    value, criticality = headers.get(HEADER), headers.get(CRITICALITY_HEADER)
    if value is None:
        if criticality is not None:
            raise FhirError(400, Issue("error", "invalid", f"{CRITICALITY_HEADER} goes with {HEADER}",
                                       expression=CRITICALITY_HEADER, rule="dds-consent-override-reason",
                                       source=SOURCE))
        return None
    reason = _decoded(value, HEADER)
    if not reason:
        raise FhirError(400, Issue("error", "required", f"{HEADER} needs the reason for the override",
                                   expression=HEADER, rule="dds-consent-override-reason", source=SOURCE))
    level = _decoded(criticality, CRITICALITY_HEADER) if criticality is not None else None
    if level is not None and not 0 < len(level) <= MAX_CRITICALITY:
        raise FhirError(400, Issue("error", "invalid", f"{CRITICALITY_HEADER} is a short text (1-{MAX_CRITICALITY} "
                                   "characters)", expression=CRITICALITY_HEADER, rule="dds-consent-override-reason",
                                   source=SOURCE))
    return OverrideRequest(reason, level)


def grant(principal: Principal, asked: OverrideRequest | None) -> Override | None:
    """The værdispring granted (None when not asked); 403 for a caller who may not use it."""
    if asked is None:
        return None
    if not principal.is_professional or principal.responsible:
        who = "an assistant acting for a professional" if principal.responsible else "not a health professional"
        raise FhirError(403, Issue("error", "forbidden", f"Only a health professional may use værdispring ({who})",
                                   expression=HEADER, rule="dds-consent-override-user", source=SOURCE))
    if principal.assurance_level < LEVEL or not principal.authorisation:
        raise FhirError(403, Issue("error", "forbidden", f"Værdispring needs assurance level {LEVEL} and an "
                                   f"authorisation code (the token has level {principal.assurance_level}"
                                   f"{'' if principal.authorisation else ', no authorisation code'})",
                                   expression=HEADER, rule="dds-consent-override-level", source=SOURCE))
    return Override(asked.reason or NOT_GIVEN, asked.criticality)
