"""Min Log in DDS: every look-up with a non-empty result by a health professional becomes one entry
per citizen in NSP's Min Log, flagged when værdispring was used (nspop 121380616). A relative's
look-up (a fuldmagt holder, a custodial parent) becomes an entry on the data subject's log naming
the relative, so the citizen sees who acted for them."""

from __future__ import annotations

from typing import Any

from nsp_sandbox.tokens import Principal

SYSTEM_NAME = "DDS — DokumentDelingsServicen"


REPRESENTATIVE_ROLE = "Pårørende (fuldmagt eller forældremyndighed)"


def entry(principal: Principal, cpr: str, activity: str, override: str | None, addition: str) -> dict[str, Any]:
    if principal.is_citizen:  # acting for ``cpr``: the relative is named, never their CPR
        return {
            "cpr": cpr, "activity": activity, "organisation_id": None, "organisation_name": None,
            "user_identifier": None, "user_name": principal.name, "user_role": REPRESENTATIVE_ROLE,
            "consent_override": False, "reason": None,
            "addition": f"{addition}; on behalf of the citizen; via {principal.system_name or 'unknown system'}",
        }
    return {
        "cpr": cpr, "activity": activity,
        "organisation_id": principal.organisation_sor, "organisation_name": principal.organisation_name,
        "user_identifier": principal.authorisation, "user_name": principal.name, "user_role": principal.role,
        "consent_override": override is not None, "reason": override,
        "addition": f"{addition}; via {principal.system_name or 'unknown system'}",
    }
