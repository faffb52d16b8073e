"""What the EOJ asks NSP, over HTTP only: its system token (STS), who it is (the organisation of its
system persona ``settings.eoj_persona`` and, below it in the SOR tree, the municipal acute team that
produces the results, with SOR, GLN and ProducentID), and the patient's demographics from the CPR
register (name, gender, birth date; name and address protection)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx2 as httpx

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.system_tokens import StsUnavailable, SystemTokens

SOURCE = "NSP (STS, SOR and CPR registers)"
ACUTE_TEAM = "acute-team"
PROTECTED = "ADRESSEBESKYTTET"  # MedCom Document 2.0.2: the name fields of a protected citizen


@dataclass(frozen=True)
class Producer:
    """The sending acute team (producer organisation): SOR says which municipality."""

    sor: str
    gln: str
    name: str
    producent_id: str = "KAF"


@dataclass(frozen=True)
class Person:
    """A citizen as the CPR register answers a system; protected names are already masked."""

    cpr: str
    given: tuple[str, ...]
    family: str
    gender: str | None
    birth_date: str | None
    protected: bool


class NspUnavailable(Exception):
    """NSP could not answer a question the EOJ must have answered."""


def _nsp_error(text: str, rule: str) -> FhirError:
    return FhirError(502, Issue("error", "processing", text, rule=rule, source=SOURCE))


class NspRegisters:
    def __init__(self, context: SandboxContext) -> None:
        self._context = context
        self._producers: dict[str, Producer] = {}
        self._sts = SystemTokens(context.peers, context.clock)

    async def _get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        peers = self._context.peers
        return await peers.client("nsp").get(f"{peers.url('nsp')}{path}", headers=headers or {})

    async def token(self, audience: str) -> str:
        """A system token for the EOJ's persona and ``audience`` (NSP's STS), reused until near its expiry."""
        try:
            return await self._sts.token(self._context.settings.eoj_persona, audience)
        except StsUnavailable as exc:
            raise NspUnavailable(str(exc)) from None

    async def producer(self) -> Producer:
        """The acute team the EOJ's system persona speaks for: the persona's organisation if it is an
        acute team, else the first acute team below it in the SOR tree. 502 when NSP lacks it."""
        persona = self._context.settings.eoj_persona
        if persona in self._producers:
            return self._producers[persona]
        try:
            personas = (await self._get("/personas?kind=system")).json()
            mine = next((p for p in personas if p.get("id") == persona), None)
            if mine is None or not mine.get("organisation"):
                raise _nsp_error(f"NSP knows no system persona '{persona}' with an organisation "
                                 "(NSP_SANDBOX_EOJ_PERSONA)", "eoj-persona-known")
            top = await self._organisation(mine["organisation"])
            candidates = [top] + [await self._organisation(sor) for sor in top.get("sub_units", [])]
        except (httpx.HTTPError, ValueError, TypeError, AttributeError) as exc:
            raise _nsp_error(f"NSP could not be reached or answered unreadably: {type(exc).__name__}",
                             "eoj-nsp-reachable") from None
        team = next((o for o in candidates if o.get("kind") == ACUTE_TEAM), None)
        if team is None:
            raise _nsp_error(f"NSP's SOR register has no acute team at or below {top.get('name')} "
                             f"(SOR {top.get('sor')})", "eoj-producer-acute-team")
        if not team.get("gln") or not team.get("producent_id"):
            raise _nsp_error(f"NSP's SOR register lacks the GLN or ProducentID of {team.get('name')} "
                             f"(SOR {team.get('sor')}); MedCom's producer organisation needs both",
                             "eoj-producer-identifiers")
        producer = Producer(team["sor"], team["gln"], team["name"], team["producent_id"])
        self._producers[persona] = producer
        return producer

    async def _organisation(self, sor: str) -> dict[str, Any]:
        response = await self._get(f"/organisations/{sor}")
        if response.status_code != 200:
            raise _nsp_error(f"NSP's SOR register answered HTTP {response.status_code} for SOR {sor}",
                             "eoj-sor-known")
        return response.json()  # type: ignore[no-any-return]

    async def person(self, cpr: str) -> Person | None:
        """The citizen with ``cpr`` from the CPR register, or None when the register does not know them."""
        token = await self.token("nsp")
        try:
            response = await self._get(f"/persons/{cpr}", {"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise NspUnavailable(f"NSP's CPR register could not be reached: {type(exc).__name__}") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise NspUnavailable(f"NSP's CPR register answered HTTP {response.status_code}")
        try:
            found = response.json()
        except ValueError:
            raise NspUnavailable("NSP's CPR register answered with something that is not JSON") from None
        if not isinstance(found, dict):
            raise NspUnavailable("NSP's CPR register answered with something that is not a person")
        protected = bool(found.get("name_and_address_protected"))
        given = tuple(found.get("given") or ())
        family = found.get("family") or ""
        # MedCom Document 2.0.2: a name the source must not (or cannot) give is ADRESSEBESKYTTET.
        if protected or not given:
            given = (PROTECTED,)
        if protected or not family:
            family = PROTECTED
        return Person(cpr, given, family, found.get("gender"), found.get("birth_date"), protected)
