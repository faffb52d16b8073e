"""The world as NSP serves it: the shipped world (``world/*.json``) with every vendor world file
loaded since (``POST /nsp/sandbox/world``, table ``nsp_world_addition``), so every NSP process on
the database serves the same personas: a process notices a new file (or a reset) within
:data:`REFRESH_SECONDS` and rebuilds its world. The rebuilt world replaces the contents of the one
:class:`~services.nsp.world.World` object every NSP face holds, attribute by attribute."""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, func, select
from sqlalchemy.orm import Mapped, mapped_column

from nsp_sandbox.clock import naive_utc
from nsp_sandbox.database import Database
from services.nsp.models import NspBase
from services.nsp.world import (
    Citizen,
    Organisation,
    PowerOfAttorney,
    Professional,
    Relation,
    System,
    World,
    _date,
)

REFRESH_SECONDS = 0.5


class WorldAdditionRow(NspBase):
    """One world file loaded through the control face (its sections, as checked)."""

    __tablename__ = "nsp_world_addition"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sections: Mapped[dict] = mapped_column(JSON)  # type: ignore[type-arg]
    loaded_at: Mapped[datetime] = mapped_column(DateTime)


def extended(base: World, files: list[dict[str, list[dict[str, Any]]]]) -> World:
    """``base`` with ``files`` applied in order (an entry with a key already there replaces it)."""
    orgs, citizens = dict(base.organisations), dict(base.citizens)
    professionals, systems, powers = dict(base.professionals), dict(base.systems), list(base.powers)
    relations = [r for r in base.relations if not r.basis.startswith("GP: ")]
    for sections in files:
        for o in sections.get("organisations", []):
            orgs[o["sor"]] = Organisation(o["sor"], o["name"], o["kind"], o.get("parent"), o.get("municipality"),
                                          o.get("gln"), o.get("producent_id"), o.get("ydernummer"))
        for c in sections.get("citizens", []):
            citizens[c["cpr"]] = Citizen(c["cpr"], c["name"], c.get("gp"), c.get("address"), bool(c.get("ecpr")),
                                         bool(c.get("name_and_address_protected")), _date(c.get("deceased")),
                                         tuple(c.get("custodial_parents") or ()))
        for p in sections.get("professionals", []):
            professionals[p["id"]] = Professional(p["id"], p["name"], p["cpr"], p["authorisation"], p["role"],
                                                  p["organisation"])
        for s in sections.get("systems", []):
            systems[s["id"]] = System(s["id"], s["name"], s["kind"], s.get("organisation"),
                                        rights=tuple(s.get("rights", ())), certificate=s.get("certificate"))
        for r in sections.get("relatives", []):
            if r["basis"] == "custody":
                child = citizens[r["acts_for"]]
                if r["cpr"] not in child.custodial_parents:
                    citizens[child.cpr] = replace(child, custodial_parents=(*child.custodial_parents, r["cpr"]))
            else:
                powers.append(PowerOfAttorney(r["acts_for"], r["cpr"], r.get("scope") or "sundhedsjournal",
                                              _date(r.get("valid_from")), _date(r.get("valid_to"))))
        relations += [Relation(professionals[r["professional"]].authorisation, r["cpr"], _date(r.get("valid_from")),
                               _date(r.get("valid_to")), "seeded (BRS)") for r in sections.get("relations", [])]
    world = World(list(orgs.values()), list(citizens.values()), powers, list(professionals.values()),
                  list(systems.values()), [])
    world.relations += relations  # GP relations are made afresh from the citizens' GPs
    return world


class LiveWorld:
    """The world one NSP process serves: ``world`` (a copy of the shipped one), kept in step with the table."""

    def __init__(self, database: Database, base: World) -> None:
        self._database = database
        self._base = base
        self.world = copy.copy(base)  # its attributes are replaced, never changed in place
        self._lock = threading.Lock()
        self._loaded: tuple[int, int] = (0, 0)
        self._checked = -1e9
        database.create_tables(NspBase.metadata)

    def add(self, sections: dict[str, list[dict[str, Any]]], now: datetime) -> None:
        with self._database.session() as session:
            session.add(WorldAdditionRow(sections=sections, loaded_at=naive_utc(now)))
        self.refresh(force=True)

    def due(self) -> bool:
        """Whether :meth:`refresh` would read the table now (:data:`REFRESH_SECONDS` have passed)."""
        return time.monotonic() - self._checked >= REFRESH_SECONDS

    def refresh(self, force: bool = False) -> None:
        """Follow the table (at most every :data:`REFRESH_SECONDS` unless ``force``)."""
        if not force and not self.due():
            return
        with self._lock:
            with self._database.reading() as session:
                count, last = session.execute(select(func.count(), func.max(WorldAdditionRow.pk))).one()
                signature = (int(count or 0), int(last or 0))
                files = ([dict(r.sections) for r in session.scalars(select(WorldAdditionRow)
                                                                     .order_by(WorldAdditionRow.pk))]
                         if signature != self._loaded else None)
            self._checked = time.monotonic()
            if files is not None:
                self.world.__dict__.update(extended(self._base, files).__dict__)
                self._loaded = signature
