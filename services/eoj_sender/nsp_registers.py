"""What the EOJ asks NSP, over HTTP only: its system token (STS), who it is (the organisation of its
system persona ``settings.eoj_persona`` and, below it in the SOR tree, the municipal acute team that
produces the results, with SOR, GLN and ProducentID), and the patient's demographics from the CPR
register (name, gender, birth date; name and address protection)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx2 as httpx

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.nsp_client import NspClient
from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.protected_names import shared_name

SOURCE = "NSP (STS, SOR and CPR registers)"
ACUTE_TEAM = "acute-team"


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


def _unavailable(why: str, _response: httpx.Response | None) -> NspUnavailable:
    return NspUnavailable(f"NSP could not answer: {why}")


class NspRegisters:
    def __init__(self, context: SandboxContext) -> None:
        self._context = context
        self._producers: dict[str, Producer] = {}
        self._nsp = NspClient(context.peers, context.clock, persona=context.settings.eoj_persona,
                              on_failure=_unavailable)

    async def token(self, audience: str) -> str:
        """A system token for the EOJ's persona and ``audience`` (NSP's STS), reused until near its expiry."""
        return await self._nsp.system_token(audience)

    async def producer(self) -> Producer:
        """The acute team the EOJ's system persona speaks for: the persona's organisation if it is an
        acute team, else the first acute team below it in the SOR tree. 502 when NSP lacks it."""
        persona = self._context.settings.eoj_persona
        if persona in self._producers:
            return self._producers[persona]
        try:
            mine = next((p for p in await self._nsp.personas("system") if p.get("id") == persona), None)
            if mine is None or not mine.get("organisation"):
                raise _nsp_error(f"NSP knows no system persona '{persona}' with an organisation "
                                 "(NSP_SANDBOX_EOJ_PERSONA)", "eoj-persona-known")
            top = await self._organisation(mine["organisation"])
            candidates = [top] + [await self._organisation(sor) for sor in top.get("sub_units", [])]
        except (NspUnavailable, TypeError, AttributeError) as exc:
            raise _nsp_error(f"NSP could not be reached or answered unreadably: {exc or type(exc).__name__}",
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
        found = await self._nsp.organisation(sor)
        if found is None:
            raise _nsp_error(f"NSP's SOR register does not know SOR {sor}", "eoj-sor-known")
        return found

    async def person(self, cpr: str) -> Person | None:
        """The citizen with ``cpr`` from the CPR register, or None when the register does not know them."""
        found = await self._nsp.person(cpr)
        if found is None:
            return None
        protected = bool(found.get("name_and_address_protected"))
        given, family = shared_name(found.get("given") or (), found.get("family"), protected=protected)
        return Person(cpr, given, family, found.get("gender"), found.get("birth_date"), protected)
