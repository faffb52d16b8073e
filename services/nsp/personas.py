"""Personas: everyone who can ask the STS for a token — citizens, relatives (parents and
fuldmagt holders acting for someone), health professionals, assistants (medhjælpere acting for
a responsible professional) and IT systems."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.nsp.world import World


@dataclass(frozen=True)
class Persona:
    id: str
    kind: str  # citizen | relative | professional | assistant | system
    name: str
    cpr: str | None = None
    acts_for: tuple[str, ...] = ()
    organisation: str | None = None
    authorisation: str | None = None
    role: str | None = None
    relations: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self, world: World) -> dict[str, Any]:
        org = world.organisations.get(self.organisation or "")
        return {"id": self.id, "kind": self.kind, "name": self.name, "cpr": self.cpr,
                "acts_for": list(self.acts_for), "organisation": self.organisation,
                "organisation_name": org.name if org else None, "authorisation": self.authorisation,
                "role": self.role, "relations": list(self.relations), **self.extra}


def citizen_details(world: World, cpr: str, *, show_address: bool) -> dict[str, Any]:
    """What a persona list or person look-up shows of a citizen; a protected address only to authorities."""
    citizen = world.citizens[cpr]
    details: dict[str, Any] = {
        "gp": citizen.gp, "ecpr": citizen.ecpr,
        "name_and_address_protected": citizen.name_and_address_protected,
        "deceased": citizen.deceased.isoformat() if citizen.deceased else None,
    }
    if show_address or not citizen.name_and_address_protected:
        details["address"] = citizen.address
    return details


def personas(world: World, now: datetime, added_relations: dict[str, set[str]]) -> list[Persona]:
    """Every persona at ``now``; ``added_relations`` are BRS relations (authorisation → CPRs) beyond the world's."""
    today = now.date()
    out: list[Persona] = []
    for c in world.citizens.values():
        out.append(Persona(f"citizen-{c.cpr}", "citizen", c.name, cpr=c.cpr,
                           extra=citizen_details(world, c.cpr, show_address=False)))
    for cpr in world.relatives():
        person = world.citizens[cpr]
        out.append(Persona(f"relative-{cpr}", "relative", person.name, cpr=cpr,
                           acts_for=tuple(world.acts_for(cpr, now)),
                           extra={"children_in_custody": world.children_in_custody(cpr, now),
                                  "power_of_attorney_from": world.grantors(cpr, now),
                                  "power_of_attorney_scopes": world.powers_of(cpr, now),
                                  "acting_as": world.acting_as(cpr, now)}))
    for p in world.professionals.values():
        related = {r.cpr for r in world.relations if r.authorisation == p.authorisation and r.active(today)}
        related |= added_relations.get(p.authorisation, set())
        out.append(Persona(p.id, "professional", p.name, organisation=p.organisation,
                           authorisation=p.authorisation, role=p.role, relations=tuple(sorted(related))))
    for a in world.assistants.values():
        responsible = world.professionals[a.responsible]
        out.append(Persona(a.id, "assistant", a.name, cpr=a.cpr, organisation=a.organisation, role=a.role,
                           extra={"responsible": responsible.authorisation, "responsible_name": responsible.name,
                                  "responsible_persona": responsible.id}))
    for s in world.systems.values():
        out.append(Persona(s.id, "system", s.name, organisation=s.organisation,
                           extra={"system_kind": s.kind, "rights": list(s.rights)}))
    return out
