"""Min Log in DDS: every look-up with a non-empty result by a health professional becomes one entry
per citizen in NSP's Min Log (nspop 121380616), with the citizen's name, whether værdispring was
used, its reason and criticality. An assistant's look-up names both the acting user and the
responsible professional (the medhjælpslog). A relative's look-up (a fuldmagt holder, a custodial
parent) becomes an entry on the data subject's log naming the relative, and one on the relative's
own log saying in which capacity they looked (``acting_as``: fuldmagt, parent, guardian)."""

from __future__ import annotations

from typing import Any

from nsp_sandbox.tokens import Principal
from services.dds.access.consent_override import Override

SYSTEM_NAME = "DDS — DokumentDelingsServicen"
ROLES = {"fuldmagt": "Fuldmagtshaver", "parent": "Forældremyndighedsindehaver", "guardian": "Værge"}


def entries(principal: Principal, cpr: str, person_name: str | None, activity: str, override: Override | None,
            addition: str) -> list[dict[str, Any]]:
    """The Min Log entries of ``principal``'s look-up of ``cpr``'s documents."""
    via = f"via {principal.system_name or 'unknown system'}"
    if principal.is_citizen:  # acting for ``cpr``: the relative is named, never their CPR
        acting_as = principal.relation_to(cpr) or "fuldmagt"
        role = ROLES.get(acting_as, ROLES["fuldmagt"])
        common = {"activity": activity, "person_name": person_name, "organisation_id": None,
                  "organisation_name": None, "user_identifier": None, "user_name": principal.name,
                  "user_role": role, "consent_override": False, "reason": None}
        theirs = {**common, "cpr": cpr, "addition": f"{addition}; on behalf of the citizen; {via}"}
        own = {**common, "cpr": principal.acting_cpr, "acting_as": acting_as,
               "addition": f"{addition}; as {role.lower()} for {person_name or 'the citizen'}; {via}"}
        return [theirs, own] if principal.acting_cpr else [theirs]
    entry: dict[str, Any] = {
        "cpr": cpr, "activity": activity, "person_name": person_name,
        "organisation_id": principal.organisation_sor, "organisation_name": principal.organisation_name,
        "user_identifier": principal.authorisation, "user_name": principal.name, "user_role": principal.role,
        "consent_override": override is not None, "reason": override.reason if override else None,
        "criticality": override.criticality if override else None, "addition": f"{addition}; {via}",
    }
    if principal.responsible:
        entry.update(responsible_user_identifier=principal.responsible,
                     responsible_user_name=principal.responsible_name)
    return [entry]
