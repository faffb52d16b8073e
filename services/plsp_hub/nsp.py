"""The hub's client for NSP, over HTTP only: its own system token, the STS keys and personas (who is
calling), the CPR register (the patient) and the SOR register (the clinic).

Patient demographics always come from the CPR register, never from the GP system: a citizen with
name and address protection appears as ``ADRESSEBESKYTTET`` (Document 2.0.2). An invalid CPR is
refused with 422, an unknown one with 404 (MedCom PD02: "missing or unknown CPR").
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from nsp_sandbox.clock import Clock
from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.peers import Peers
from nsp_sandbox.system_tokens import StsUnavailable, SystemTokens
from services.plsp_hub.state import PROTECTED_NAME, Clinic, Patient

CPR_PATTERN = re.compile(r"^\d{10}$")
PD02 = "PD02"  # MedCom/PLSP: the patient is missing or unknown
SOURCE = "CPR register at NSP (GET /nsp/persons/{cpr})"


def nsp_unavailable(why: str) -> FhirError:
    return FhirError(503, Issue("error", "transient", f"NSP could not be asked: {why}", rule="plsp-nsp-available",
                                source="PLSP: no register look-up, no document"), headers={"Retry-After": "5"})


def cpr_birth_date(cpr: str) -> date | None:
    """The birth date in a CPR number (DDMMYY, the century from the 7th digit), or None if it has none."""
    day, month, year, seventh = int(cpr[0:2]), int(cpr[2:4]), int(cpr[4:6]), int(cpr[6])
    if seventh <= 3:
        century = 1900
    elif seventh in (4, 9):
        century = 2000 if year <= 36 else 1900
    else:
        century = 2000 if year <= 57 else 1800
    try:
        return date(century + year, month, day)
    except ValueError:
        return None


def check_cpr(cpr: str, where: str = "cpr") -> None:
    """422 (PD02) for anything that is not a CPR number: 10 digits with a real birth date."""
    if not CPR_PATTERN.match(cpr) or cpr_birth_date(cpr) is None:
        raise FhirError(422, Issue("error", "value", f"'{cpr[:20]}' is not a CPR number (10 digits, DDMMYY a real "
                                   "date); replacement numbers (eCPR) cannot be shared", expression=where,
                                   rule=PD02, source=SOURCE))


def patient_from_register(person: dict[str, Any]) -> Patient:
    """The Patient of a CPR-register answer (given/family, gender and birth date as the register gives
    them; else the name split at its last space, gender and birth date from the CPR number). A missing
    name part, and every name of a protected citizen, is ``ADRESSEBESKYTTET``."""
    cpr = str(person["cpr"])
    born = date.fromisoformat(person["birth_date"]) if person.get("birth_date") else cpr_birth_date(cpr)
    assert born is not None
    gender = person.get("gender") or ("female" if int(cpr[-1]) % 2 == 0 else "male")
    if gender not in ("male", "female", "other", "unknown"):
        gender = "unknown"
    if person.get("name_and_address_protected"):
        return Patient(cpr, (PROTECTED_NAME,), PROTECTED_NAME, gender, born)
    if isinstance(person.get("given"), list) or person.get("family"):
        given = tuple(str(g) for g in person.get("given") or () if str(g).strip())
        family = str(person.get("family") or "")
    else:
        parts = str(person.get("name") or "").split()
        given, family = tuple(parts[:-1]), (parts[-1] if parts else "")
    return Patient(cpr, given or (PROTECTED_NAME,), family.strip() or PROTECTED_NAME, gender, born)


class NspClient:
    def __init__(self, peers: Peers, clock: Clock, persona: str) -> None:
        self.peers = peers
        self.clock = clock
        self.persona = persona
        self._sts = SystemTokens(peers, clock)
        self._jwks: dict[str, Any] | None = None
        self._system_kinds: dict[str, str] = {}

    async def _get(self, path: str, *, token: bool = True, missing_ok: bool = False, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {await self.token('nsp')}"} if token else {}
        try:
            response = await self.peers.client("nsp").get(f"{self.peers.url('nsp')}{path}", headers=headers, **kwargs)
        except Exception as exc:  # any transport failure: NSP cannot be reached
            raise nsp_unavailable(f"GET {path} failed ({type(exc).__name__})") from None
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code >= 300:
            raise nsp_unavailable(f"GET {path} answered HTTP {response.status_code}")
        return response.json()

    async def token(self, audience: str) -> str:
        """The hub's system token for ``audience`` (``nsp`` or ``dds``), reused until near its expiry."""
        try:
            return await self._sts.token(self.persona, audience)
        except StsUnavailable as exc:
            raise nsp_unavailable(str(exc)) from None

    async def jwks(self, refresh: bool = False) -> dict[str, Any]:
        if self._jwks is None or refresh:
            self._jwks = await self._get("/sts/jwks", token=False)
        return self._jwks

    async def system_kind(self, persona: str) -> str | None:
        """The kind of an IT system persona (``gp-system``, ``platform``, …) from NSP's persona list."""
        if persona not in self._system_kinds:
            listed = await self._get("/personas", token=False, params={"kind": "system"})
            self._system_kinds = {p["id"]: str(p.get("system_kind")) for p in listed}
        return self._system_kinds.get(persona)

    async def patient(self, cpr: str, where: str = "cpr") -> Patient:
        check_cpr(cpr, where)
        person = await self._get(f"/persons/{cpr}", missing_ok=True)
        if person is None:
            raise FhirError(404, Issue("error", "not-found", f"No citizen with CPR {cpr} in the CPR register",
                                       expression=where, rule=PD02, source=SOURCE))
        if person.get("ecpr"):
            raise FhirError(422, Issue("error", "value", f"{cpr} is a replacement number (eCPR); documents need a "
                                       "CPR number", expression=where, rule=PD02, source=SOURCE))
        return patient_from_register(person)

    async def clinic(self, sor: str) -> Clinic:
        found = await self._get(f"/organisations/{sor}", token=False, missing_ok=True)
        if found is None:
            raise FhirError(403, Issue("error", "forbidden", f"The token's organisation (SOR {sor}) is not in the "
                                       "SOR register", rule="plsp-clinic-known", source="SOR register at NSP"))
        return Clinic(sor=str(found["sor"]), name=str(found["name"]), ydernummer=found.get("ydernummer"))
