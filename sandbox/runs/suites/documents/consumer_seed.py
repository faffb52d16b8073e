"""What the ``document-consumer`` suite puts in the sandbox before it instructs the participant.

Documents (MedCom's official ConditionList example, put about each test citizen, described by the Danish
DocumentReference of :mod:`nsp_sandbox.mhd_source`) are provided to DDS with ITI-65 by a source system;
treatment relations between the target and the citizens come from the control face's BRS
(``POST /sandbox/nsp/brs/relations``); the blocks are registered by each citizen in Min Spærring
(``POST /nsp/consent/blocks``). Everything over HTTP, kept as the setup's evidence.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from nsp_sandbox.mhd_source import Coding, DocumentMetadata, Organisation, PatientInfo, provide_bundle
from sandbox.runs.suite import CaseContext
from sandbox.runs.suites.documents import watch as w

CONDITION_LIST = ("medcom.fhir.dk.conditionlist", "1.0.1", "example/Bundle-7ffa0111-1aa2-4d68-99f8-1fbf57448c8c.json")
TYPE = Coding("http://loinc.org", "11450-4", "Problem list - Reported")
CLASS = Coding("urn:oid:1.2.208.184.100.9", "001", "Klinisk rapport")
FORMAT = Coding("urn:oid:1.2.208.184.100.10", "urn:ad:dk:medcom:plr-v1.0:full", "DK PLR schema")
FACILITY = Coding("http://snomed.info/sct", "394761003", "almen lægepraksis")
PRACTICE = Coding("http://snomed.info/sct", "408443003", "almen medicin")
SOURCE_ID = "urn:oid:1.2.208.176.43210.8.10.99"


def about(content: bytes, cpr: str) -> bytes:
    """The FHIR JSON document ``content`` about ``cpr``: each Patient's CPR number replaced in place."""
    document = json.loads(content)
    for entry in document.get("entry") or []:
        resource = entry.get("resource") or {}
        if resource.get("resourceType") != "Patient":
            continue
        for identifier in resource.get("identifier") or []:
            old = identifier.get("value")
            if identifier.get("system") == w.CPR_SYSTEM and isinstance(old, str) and old != cpr:
                content = content.replace(f'"{old}"'.encode(), f'"{cpr}"'.encode())
    return content


async def condition_list(ctx: CaseContext) -> bytes:
    """MedCom's ConditionList example document, from the loaded packages."""
    name, version, filename = CONDITION_LIST

    def read() -> bytes | None:
        package = ctx.sandbox.packages.get(name, version)
        return None if package is None else (package.root / filename).read_bytes()

    found = await asyncio.to_thread(read)
    ctx.check(found is not None, f"The package {name}#{version} is not loaded in this sandbox: the suite's documents "
              "are its ConditionList example")
    return found or b""


async def organisation(ctx: CaseContext, sor: str) -> Organisation:
    response = await ctx.actor("nsp", "GET", f"/organisations/{sor}")
    ctx.check(response.status_code == 200, f"SOR {sor} is not in NSP's register: {response.status_code}")
    return Organisation(sor=sor, name=str(response.json().get("name") or sor))


async def provide(ctx: CaseContext, source: str, cpr: str, authors: list[Organisation], content: bytes) -> list[str]:
    """One ITI-65 submission of one document per author about ``cpr``; the new DocumentReferences' ids."""
    now = ctx.now()
    documents: list[tuple[DocumentMetadata, bytes]] = []
    for author in authors:
        documents.append((DocumentMetadata(
            patient=PatientInfo(cpr), author=author, unique_id=f"urn:uuid:{uuid.uuid4()}",
            title=f"Diagnosekort ({author.name})", type=TYPE, category=CLASS, format=FORMAT, facility_type=FACILITY,
            practice_setting=PRACTICE, creation=now), about(content, cpr)))
    bearer = await w.token(ctx, source)
    response = await ctx.actor("dds", "POST", "/fhir", json=provide_bundle(documents, source_id=SOURCE_ID,
                                                                            submitted=now),
                               headers={"Authorization": f"Bearer {bearer}", "Content-Type": "application/fhir+json"})
    ctx.check(response.status_code == 200, f"DDS refused the suite's own documents for CPR {cpr}: HTTP "
              f"{response.status_code} {response.text[:600]}")
    return [str(e["response"]["location"]).split("/")[1] for e in response.json()["entry"]
            if str(e["response"]["location"]).startswith("DocumentReference/")]


async def relate(ctx: CaseContext, professional: str, cpr: str) -> None:
    """A treatment relation between ``professional`` and ``cpr``, as a register adds one."""
    response = await ctx.actor("sandbox", "POST", "/nsp/brs/relations", operator=True,
                               json={"professional": professional, "cpr": cpr})
    ctx.check(response.status_code == 201, f"BRS did not take the treatment relation {professional} – CPR {cpr}: "
              f"HTTP {response.status_code} {response.text[:300]}")


async def block(ctx: CaseContext, cpr: str, what: dict[str, Any] | None = None) -> None:
    """A negative consent item for everyone, registered by the citizen ``cpr`` (all data, or ``what``)."""
    bearer = await w.token(ctx, f"citizen-{cpr}", "nsp")
    body: dict[str, Any] = {"kind": "negative", "who": {"type": "all"}, **({"what": what} if what else {})}
    response = await ctx.actor("nsp", "POST", "/consent/blocks", json=body,
                               headers={"Authorization": f"Bearer {bearer}"})
    ctx.check(response.status_code == 201, f"Min Spærring did not take CPR {cpr}'s block: HTTP "
              f"{response.status_code} {response.text[:300]}")


async def min_log(ctx: CaseContext, cpr: str) -> list[dict[str, Any]]:
    """The entries on ``cpr``'s Min Log, read as the citizen reads them (``GET /nsp/minlog``)."""
    bearer = await w.token(ctx, f"citizen-{cpr}", "nsp")
    response = await ctx.actor("nsp", "GET", "/minlog", headers={"Authorization": f"Bearer {bearer}"})
    ctx.check(response.status_code == 200, f"CPR {cpr}'s Min Log could not be read: HTTP {response.status_code}")
    return list(response.json())
