"""Min Log in DDS: every look-up by a health professional with a non-empty result becomes one entry
per citizen in NSP's Min Log, flagged when værdispring was used (nspop 121380616)."""

from __future__ import annotations

from typing import Any

from nsp_sandbox.tokens import Principal

SYSTEM_NAME = "DDS — DokumentDelingsServicen"


def entry(principal: Principal, cpr: str, activity: str, override: str | None, addition: str) -> dict[str, Any]:
    return {
        "cpr": cpr, "activity": activity,
        "organisation_id": principal.organisation_sor, "organisation_name": principal.organisation_name,
        "user_identifier": principal.authorisation, "user_name": principal.name, "user_role": principal.role,
        "consent_override": override is not None, "reason": override,
        "addition": f"{addition}; via {principal.system_name or 'unknown system'}",
    }
