"""The synthetic Danish world NSP knows: citizens (CPR), organisations (SOR), professionals
(authorisation), IT systems, powers of attorney, custody and seeded treatment relations.

Read from the JSON files in ``world/`` shipped with the project (documented in ``docs/nsp.md``).
Everything that depends on time (age, a fuldmagt's validity) is judged at the ``now`` passed in,
which callers take from the sandbox clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from nsp_sandbox.cpr import age_at as years_at

WORLD_DIR = Path(__file__).parent / "world"
CUSTODY_AGE = 15  # parents act digitally for a child under 15 (sundhedsloven §39a-b, L 44 2023-24)


def age_at(number: str, today: date) -> int:
    """Completed years of the citizen with CPR/eCPR ``number`` at ``today`` (the world holds valid numbers)."""
    age = years_at(number, today)
    if age is None:
        raise ValueError(f"{number} encodes no birth date")
    return age


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _within(today: date, start: date | None, end: date | None) -> bool:
    return (start is None or start <= today) and (end is None or today <= end)


@dataclass(frozen=True)
class Organisation:
    sor: str
    name: str
    kind: str
    parent: str | None
    municipality: str | None
    gln: str | None = None  # the unit's GLN (EAN location number) in EHMI's endpoint register
    producent_id: str | None = None  # MedCom ProducentID, e.g. KAF for a municipal acute team
    ydernummer: str | None = None  # a general practice's provider number with the regions
    cvr: str | None = None  # the legal entity's CVR number (synthetic); Min Log's "sløring" names CVRs


@dataclass(frozen=True)
class Citizen:
    cpr: str
    name: str
    gp: str | None
    address: str | None
    ecpr: bool = False  # a substitute number (eCPR), not a CPR number
    name_and_address_protected: bool = False  # CPR protection type 00001
    deceased: date | None = None
    custodial_parents: tuple[str, ...] = ()
    guardian: str | None = None  # a værge appointed for an adult (acts for them regardless of age)


@dataclass(frozen=True)
class PowerOfAttorney:
    """A fuldmagt: ``grantor`` lets ``proxy`` act for them in ``scope``."""

    grantor: str
    proxy: str
    scope: str
    valid_from: date | None
    valid_to: date | None


@dataclass(frozen=True)
class Professional:
    id: str
    name: str
    cpr: str
    authorisation: str
    role: str
    organisation: str


@dataclass(frozen=True)
class Assistant:
    """A medhjælper: no authorisation of their own, acting for ``responsible`` (a professional's persona id)."""

    id: str
    name: str
    cpr: str
    role: str
    organisation: str
    responsible: str


@dataclass(frozen=True)
class System:
    id: str
    name: str
    kind: str
    organisation: str | None
    rights: tuple[str, ...] = ()  # e.g. "brs-register": treatment relations for its organisation's staff
    certificate: str | None = None  # PEM, for a system a vendor loaded with its own certificate


@dataclass(frozen=True)
class Relation:
    """A treatment relation (BRS): ``authorisation`` treats ``cpr`` in the period."""

    authorisation: str
    cpr: str
    valid_from: date | None
    valid_to: date | None
    basis: str

    def active(self, today: date) -> bool:
        return _within(today, self.valid_from, self.valid_to)


class World:
    def __init__(self, organisations: list[Organisation], citizens: list[Citizen],
                 powers: list[PowerOfAttorney], professionals: list[Professional], systems: list[System],
                 extra_relations: list[dict[str, Any]], assistants: list[Assistant] | None = None) -> None:
        self.organisations = {o.sor: o for o in organisations}
        self.assistants = {a.id: a for a in assistants or []}
        self.citizens = {c.cpr: c for c in citizens}
        self.powers = powers
        self.professionals = {p.id: p for p in professionals}
        self.by_authorisation = {p.authorisation: p for p in professionals}
        self.systems = {s.id: s for s in systems}
        relations = [Relation(p.authorisation, c.cpr, None, None, f"GP: {self.organisations[c.gp].name}")
                     for c in citizens if c.gp for p in professionals if p.organisation == c.gp]
        for r in extra_relations:
            relations.append(Relation(self.professionals[r["professional"]].authorisation, r["cpr"],
                                      _date(r.get("valid_from")), _date(r.get("valid_to")), "seeded (BRS)"))
        self.relations = relations

    @classmethod
    def load(cls, folder: Path = WORLD_DIR) -> World:
        def read(name: str) -> dict[str, Any]:
            return json.loads((folder / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]

        orgs = [Organisation(o["sor"], o["name"], o["kind"], o.get("parent"), o.get("municipality"), o.get("gln"),
                             o.get("producent_id"), o.get("ydernummer"), o.get("cvr"))
                for o in read("organisations.json")["organisations"]]
        people = read("citizens.json")
        citizens = [Citizen(c["cpr"], c["name"], c.get("gp"), c.get("address"), bool(c.get("ecpr")),
                            bool(c.get("name_and_address_protected")), _date(c.get("deceased")),
                            tuple(c.get("custodial_parents", ())), c.get("guardian")) for c in people["citizens"]]
        powers = [PowerOfAttorney(p["grantor"], p["proxy"], p["scope"], _date(p.get("valid_from")),
                                  _date(p.get("valid_to"))) for p in people.get("powers_of_attorney", [])]
        staff = read("professionals.json")
        professionals = [Professional(p["id"], p["name"], p["cpr"], p["authorisation"], p["role"],
                                      p["organisation"]) for p in staff["professionals"]]
        systems = [System(s["id"], s["name"], s["kind"], s.get("organisation"), tuple(s.get("rights", ())))
                   for s in read("systems.json")["systems"]]
        assistants = [Assistant(a["id"], a["name"], a["cpr"], a["role"], a["organisation"], a["responsible"])
                      for a in staff.get("assistants", [])]
        return cls(orgs, citizens, powers, professionals, systems, staff.get("treatment_relations", []), assistants)

    # ---- organisations -----------------------------------------------------------------------

    def sub_units(self, sor: str) -> list[str]:
        """``sor`` and every organisation below it in the SOR tree."""
        out, todo = [], [sor]
        while todo:
            current = todo.pop()
            out.append(current)
            todo.extend(o.sor for o in self.organisations.values() if o.parent == current)
        return out

    def ancestors(self, sor: str) -> list[str]:
        out: list[str] = []
        current = self.organisations.get(sor)
        while current is not None and current.parent:
            out.append(current.parent)
            current = self.organisations.get(current.parent)
        return out

    def cvr_of(self, sor: str | None) -> str | None:
        """The CVR number of the legal entity ``sor`` belongs to (its own, else its nearest parent's)."""
        for code in ([sor, *self.ancestors(sor)] if sor else []):
            found = self.organisations.get(code)
            if found is not None and found.cvr:
                return found.cvr
        return None

    # ---- people ------------------------------------------------------------------------------

    def children_in_custody(self, parent_cpr: str, now: datetime) -> list[str]:
        today = now.date()
        return [c.cpr for c in self.citizens.values()
                if parent_cpr in c.custodial_parents and age_at(c.cpr, today) < CUSTODY_AGE and c.deceased is None]

    def powers_of(self, proxy_cpr: str, now: datetime) -> dict[str, str]:
        """The fuldmagter ``proxy_cpr`` holds at ``now``: grantor → scope. One lapses when its period
        ends and when the grantor dies (a fuldmagt does not outlive the one who gave it)."""
        today = now.date()
        out: dict[str, str] = {}
        for p in self.powers:
            grantor = self.citizens.get(p.grantor)
            dead = grantor is not None and grantor.deceased is not None and grantor.deceased <= today
            if p.proxy == proxy_cpr and _within(today, p.valid_from, p.valid_to) and not dead:
                out[p.grantor] = p.scope
        return out

    def grantors(self, proxy_cpr: str, now: datetime) -> list[str]:
        return sorted(self.powers_of(proxy_cpr, now))

    def wards(self, guardian_cpr: str, now: datetime) -> list[str]:
        """The living citizens ``guardian_cpr`` is værge for."""
        today = now.date()
        return [c.cpr for c in self.citizens.values() if c.guardian == guardian_cpr
                and (c.deceased is None or c.deceased > today)]

    def acts_for(self, cpr: str, now: datetime) -> list[str]:
        """The CPRs ``cpr`` may act for at ``now``: children under 15 in custody, wards, fuldmagt grantors."""
        return sorted(set(self.acting_as(cpr, now)))

    def acting_as(self, cpr: str, now: datetime) -> dict[str, str]:
        """How ``cpr`` acts for each citizen they act for: ``parent`` (custody of a child under 15),
        ``guardian`` (værge) or ``fuldmagt``; custody and guardianship go before a fuldmagt."""
        out = {grantor: "fuldmagt" for grantor in self.grantors(cpr, now)}
        out.update({ward: "guardian" for ward in self.wards(cpr, now)})
        out.update({child: "parent" for child in self.children_in_custody(cpr, now)})
        return out

    def relatives(self) -> list[str]:
        """Citizens who are custodial parents, guardians (værger) or fuldmagt proxies."""
        parents = {p for c in self.citizens.values() for p in c.custodial_parents}
        guardians = {c.guardian for c in self.citizens.values() if c.guardian}
        return sorted(parents | guardians | {p.proxy for p in self.powers})


@cache
def shipped_world() -> World:
    """The world shipped with the project, read once."""
    return World.load()
