"""The sandbox's endpoint register over HTTP (docs/control.md): where the sandbox's EOJ sends messages
for a GP system or another receiver — the register is the EOJ's (``GET|PUT /eoj/endpoints``), and
this face reads from and forwards to it over HTTP.

* ``GET /sandbox/endpoints``                   every registered receiver
* ``PUT /sandbox/endpoints/{GLN or SOR}``      ``{"url", "message_types", "hco_version"}`` (and, for a
  receiver not yet registered and not in NSP's SOR register, ``"sor"``, ``"gln"``, ``"name"``,
  ``"ydernummer"``; ``"envelope"``: ``none`` or ``sbdh``)

A receiver already registered keeps what is not given; a new one takes its name, GLN and ydernummer
from NSP's SOR register (``GET /nsp/organisations/{sor}``). ``hco_version`` (the HomeCareObservation
version the receiver takes, e.g. ``1.2``) is handed to the EOJ and, while the EOJ's register does not
keep it, kept here (table ``sandbox_endpoint_hco_version``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import String, delete, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from nsp_sandbox import openapi_description as oa
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.database import Database
from nsp_sandbox.fhir_http import read_json_object
from nsp_sandbox.hco_terms import valid_gln
from nsp_sandbox.outcome import FhirError, Issue
from sandbox.control.actor_calls import call, passed_on

SOURCE = "nsp-sandbox control face: the endpoint register (docs/control.md)"
FIELDS = ("url", "message_types", "hco_version", "sor", "gln", "name", "ydernummer", "envelope")
VERSION = re.compile(r"^\d+\.\d+(\.\d+)?\Z", re.ASCII)


class _Base(DeclarativeBase):
    pass


class HcoVersionRow(_Base):
    __tablename__ = "sandbox_endpoint_hco_version"
    sor: Mapped[str] = mapped_column(String(32), primary_key=True)
    hco_version: Mapped[str] = mapped_column(String(16))


def _refused(text: str, where: str, rule: str = "sandbox-endpoint") -> FhirError:
    return FhirError(422, Issue("error", "invalid", text, expression=where, rule=rule, source=SOURCE))


def check(body: dict[str, Any]) -> None:
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise _refused(f"Unknown field(s) {', '.join(unknown)}; an endpoint takes {', '.join(FIELDS)}", unknown[0],
                       "sandbox-unknown-field")
    for field in ("url", "hco_version", "sor", "gln", "name", "ydernummer", "envelope"):
        if field in body and not isinstance(body[field], str):
            raise _refused(f"'{field}' is a string", field)
    types = body.get("message_types")
    if types is not None and not (isinstance(types, list) and types and all(isinstance(t, str) for t in types)):
        raise _refused("'message_types' is a non-empty list of event codes", "message_types")
    if "hco_version" in body and not VERSION.match(body["hco_version"]):
        raise _refused("'hco_version' is a version such as 1.2 or 1.2.1", "hco_version")


class Versions:
    def __init__(self, database: Database) -> None:
        self._database = database
        database.create_tables(_Base.metadata)

    def put(self, sor: str, version: str) -> None:
        with self._database.writing("endpoint-version", sor) as session:  # set at once by two: one row
            row = session.get(HcoVersionRow, sor) or HcoVersionRow(sor=sor)
            row.hco_version = version
            session.add(row)

    def all(self) -> dict[str, str]:
        with self._database.session() as session:
            return {r.sor: r.hco_version for r in session.scalars(select(HcoVersionRow))}

    def clear(self) -> None:
        with self._database.session() as session:  # one statement: another worker clearing too is no error
            session.execute(delete(HcoVersionRow))


def router(context: SandboxContext, operator: Callable[[Request], None]) -> APIRouter:
    api = APIRouter(prefix="/endpoints", tags=["endpoints"], dependencies=[Depends(operator)])
    versions = Versions(context.database)

    async def registered() -> list[dict[str, Any]]:
        answer = await call(context, "eoj", "GET", "/endpoints")
        if answer.status_code != 200:
            raise FhirError(502, Issue("error", "transient", f"The EOJ's register answered HTTP {answer.status_code}",
                                       rule="sandbox-actor-reachable", source=SOURCE))
        kept = versions.all()
        return [{**e, "hco_version": e.get("hco_version") or kept.get(e["sor"])} for e in answer.json()]

    async def new_entry(key: str, body: dict[str, Any]) -> dict[str, Any]:
        if len(key) == 13 and valid_gln(key):
            return {"gln": key}
        found = await call(context, "nsp", "GET", f"/organisations/{quote(key, safe='')}")  # any key is a path segment
        if found.status_code != 200:
            if "gln" in body and "name" in body:
                return {"sor": key}
            raise FhirError(404, Issue("error", "not-found", f"{key} is neither registered nor an organisation in "
                                       "NSP's SOR register; give 'sor', 'gln', 'name' and 'ydernummer'",
                                       expression="key", rule="sandbox-endpoint-known", source=SOURCE))
        org = found.json()
        return {"sor": key, "gln": org.get("gln"), "name": org.get("name"), "ydernummer": org.get("ydernummer")}

    @api.get("")
    async def list_endpoints() -> list[dict[str, Any]]:
        return await registered()

    @api.put("/{key}", response_model=None, responses=oa.errors(404, 413, 422, 502), openapi_extra=oa.json_body(
        {"type": "object"}, "The receiver: url, message_types, hco_version (sor, gln, name, ydernummer if new)"))
    async def put_endpoint(key: str, request: Request) -> Response | dict[str, Any]:
        body = await read_json_object(request, 64 * 1024)
        check(body)
        entry = next((e for e in await registered() if key in (e["sor"], e["gln"])), None)
        merged = {**(entry or await new_entry(key, body)), **body}
        merged = {k: v for k, v in merged.items() if v is not None}
        answer = await call(context, "eoj", "PUT", "/endpoints", body=merged)
        if answer.status_code != 200:
            return passed_on(answer)
        stored = answer.json()
        version = body.get("hco_version") or (entry or {}).get("hco_version")
        if version:
            versions.put(stored["sor"], version)
        return {**stored, "hco_version": stored.get("hco_version") or version}

    return api
