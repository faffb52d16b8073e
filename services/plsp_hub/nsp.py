"""The hub's client for NSP, over HTTP only: its own system token, the STS keys and personas (who is
calling), the CPR register (the patient) and the SOR register (the clinic).

Patient demographics always come from the CPR register, never from the GP system: a citizen with
name and address protection appears as ``ADRESSEBESKYTTET`` (Document 2.0.2). An invalid CPR is
refused with 422, an unknown one with 404 (MedCom PD02: "missing or unknown CPR").
"""

from __future__ import annotations

from datetime import date
from typing import Any

from nsp_sandbox.clock import Clock
from nsp_sandbox.cpr import birth_date, is_cpr
from nsp_sandbox.cpr import gender as cpr_gender
from nsp_sandbox.nsp_client import NspClient
from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.peers import Peers
from nsp_sandbox.protected_names import shared_name
from services.plsp_hub.state import Clinic, Patient

PD02 = "PD02"  # MedCom/PLSP: the patient is missing or unknown
SOURCE = "CPR register at NSP (GET /nsp/persons/{cpr})"


def nsp_unavailable(why: str) -> FhirError:
    return FhirError(503, Issue("error", "transient", f"NSP could not be asked: {why}", rule="plsp-nsp-available",
                                source="PLSP: no register look-up, no document"), headers={"Retry-After": "5"})


def check_cpr(cpr: str, where: str = "cpr") -> None:
    """422 (PD02) for anything that is not a CPR number: 10 digits with a real birth date."""
    if not is_cpr(cpr):
        raise FhirError(422, Issue("error", "value", f"'{cpr[:20]}' is not a CPR number (10 digits, DDMMYY a real "
                                   "date); replacement numbers (eCPR) cannot be shared", expression=where,
                                   rule=PD02, source=SOURCE))


def patient_from_register(person: dict[str, Any]) -> Patient:
    """The Patient of a CPR-register answer (given/family, gender and birth date as the register gives
    them; else the name split at its last space, gender and birth date from the CPR number). A missing
    name part, and every name of a protected citizen, is ``ADRESSEBESKYTTET``."""
    cpr = str(person["cpr"])
    born = date.fromisoformat(person["birth_date"]) if person.get("birth_date") else birth_date(cpr)
    assert born is not None
    gender = person.get("gender") or cpr_gender(cpr)
    if gender not in ("male", "female", "other", "unknown"):
        gender = "unknown"
    if isinstance(person.get("given"), list) or person.get("family"):
        given, family = tuple(str(g) for g in person.get("given") or ()), str(person.get("family") or "")
    else:
        parts = str(person.get("name") or "").split()
        given, family = tuple(parts[:-1]), (parts[-1] if parts else "")
    given, family = shared_name(given, family, protected=bool(person.get("name_and_address_protected")))
    return Patient(cpr, given, family, gender, born)


class HubNsp:
    """NSP as the hub reaches it (through the platform's NSP client, as the hub's own system)."""

    def __init__(self, peers: Peers, clock: Clock, persona: str) -> None:
        self.clock = clock
        self.client = NspClient(peers, clock, persona=persona, on_failure=lambda why, _: nsp_unavailable(why))
        self._jwks: dict[str, Any] | None = None
        self._system_kinds: dict[str, str] = {}

    async def token(self, audience: str) -> str:
        """The hub's system token for ``audience`` (``nsp`` or ``dds``), reused until near its expiry."""
        return await self.client.system_token(audience)

    async def jwks(self, refresh: bool = False) -> dict[str, Any]:
        if self._jwks is None or refresh:
            self._jwks = await self.client.jwks()
        return self._jwks

    async def system_kind(self, persona: str) -> str | None:
        """The kind of an IT system persona (``gp-system``, ``platform``, …) from NSP's persona list."""
        if persona not in self._system_kinds:
            listed = await self.client.personas("system")
            self._system_kinds = {p["id"]: str(p.get("system_kind")) for p in listed}
        return self._system_kinds.get(persona)

    async def patient(self, cpr: str, where: str = "cpr") -> Patient:
        check_cpr(cpr, where)
        person = await self.client.person(cpr)
        if person is None:
            raise FhirError(404, Issue("error", "not-found", f"No citizen with CPR {cpr} in the CPR register",
                                       expression=where, rule=PD02, source=SOURCE))
        if person.get("ecpr"):
            raise FhirError(422, Issue("error", "value", f"{cpr} is a replacement number (eCPR); documents need a "
                                       "CPR number", expression=where, rule=PD02, source=SOURCE))
        return patient_from_register(person)

    async def clinic(self, sor: str) -> Clinic:
        found = await self.client.organisation(sor)
        if found is None:
            raise FhirError(403, Issue("error", "forbidden", f"The token's organisation (SOR {sor}) is not in the "
                                       "SOR register", rule="plsp-clinic-known", source="SOR register at NSP"))
        return Clinic(sor=str(found["sor"]), name=str(found["name"]), ydernummer=found.get("ydernummer"))
