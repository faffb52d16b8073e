"""The DDS copy of an HCO message (hco.md §5): found as the citizen finds it — ITI-67 by
``patient.identifier`` with the citizen's own token, then ITI-68 of each HCOM entry to read which
MessageHeader.id it carries (DocumentReference metadata does not say; a vendor names its entries as it
likes). What each entry carries is read once per run."""

from __future__ import annotations

import json
from typing import Any

from nsp_sandbox import fhir_shape as shape
from nsp_sandbox.cpr import CPR_SYSTEM
from nsp_sandbox.fhir_format import parse_xml
from sandbox.runs.suite import CaseContext
from sandbox.runs.suites.eoj.inbox import call_as, citizen

HCOM_TYPE = ("urn:oid:1.2.208.184.100.1", "HCOM")
FORMAT_SYSTEM = "http://medcomfhir.dk/ig/xdsdocuments/CodeSystem/MedComHCOFormatCodeCS"
FORMATS = ("urn:ad:dk:medcom:msg:hco-v1.1:full", "urn:ad:dk:medcom:msg:hco-v1.2:full")
CONTENT_TYPES = ("application/fhir+json", "application/fhir+xml")
CARRIES = "eoj-suite-dds-carries"


def reader(ctx: CaseContext) -> str:
    return f"citizen-{citizen(ctx)}"


async def can_read(ctx: CaseContext) -> None:
    """Skip unless the suite's citizen is one NSP gives a token (DDS copies exist only for CPRs it knows)."""
    answer = await call_as(ctx, reader(ctx), "dds", "GET", "/fhir/DocumentReference",
                           params={"patient.identifier": f"{CPR_SYSTEM}|{citizen(ctx)}", "status": "current",
                                   "_count": "0"})
    if answer is None:
        ctx.skip(f"NSP has no citizen {citizen(ctx)} (persona {reader(ctx)}): the EOJ cannot share a copy of a "
                 "message about a CPR the CPR register does not know; choose a citizen of "
                 "GET /nsp/personas?kind=citizen to run the DDS cases")


async def entries(ctx: CaseContext, status: str) -> list[dict[str, Any]]:
    """The citizen's HCOM DocumentReferences in DDS with ``status``."""
    answer = await call_as(ctx, reader(ctx), "dds", "GET", "/fhir/DocumentReference", params={
        "patient.identifier": f"{CPR_SYSTEM}|{citizen(ctx)}", "status": status, "type": "|".join(HCOM_TYPE),
        "_count": "500"})
    ctx.check(answer is not None and answer.status_code == 200,
              f"DDS ITI-67 for CPR {citizen(ctx)} answered {getattr(answer, 'status_code', 'no token')}; expected 200")
    return [shape.obj(e.get("resource")) for e in answer.json().get("entry", [])
            if shape.obj(e.get("search")).get("mode", "match") == "match"]


async def carried_header(ctx: CaseContext, entry: dict[str, Any]) -> str:
    """The MessageHeader.id of the message an entry holds (ITI-68), '' when it cannot be read."""
    known: dict[str, str] = ctx.shared.setdefault(CARRIES, {})
    key = shape.text(entry.get("id"))
    if key in known:
        return known[key]
    attachment = shape.obj(shape.obj((shape.arr(entry.get("content")) or [{}])[0]).get("attachment"))
    url = shape.text(attachment.get("url"))
    path = "/" + url.rsplit("/dds/", 1)[1] if "/dds/" in url else f"/fhir/{url}"  # DDS's own, or relative
    answer = await call_as(ctx, reader(ctx), "dds", "GET", path)
    header = ""
    if answer is not None and answer.status_code == 200:
        try:
            bundle = (parse_xml(answer.content, ctx.sandbox.validator.structures)
                      if "xml" in answer.headers.get("content-type", "") else json.loads(answer.content))
            header = shape.text((shape.resources(bundle) or [{}])[0].get("id"))
        except (ValueError, KeyError, TypeError):
            header = ""
    if header:  # an entry that could not be read now is asked again next time
        known[key] = header
    return header


async def entry_for(ctx: CaseContext, header_id: str, status: str) -> dict[str, Any] | None:
    """The citizen's entry with ``status`` carrying the message ``header_id``, or None."""
    for entry in await entries(ctx, status):
        if await carried_header(ctx, entry) == header_id:
            return entry
    return None


def metadata_problems(entry: dict[str, Any]) -> list[str]:
    """typeCode HCOM, an HCO formatCode, FHIR content (hco.md §5)."""
    problems = []
    types = [(shape.obj(c).get("system"), shape.obj(c).get("code"))
             for c in shape.arr(shape.obj(entry.get("type")).get("coding"))]
    if HCOM_TYPE not in types:
        problems.append(f"DocumentReference.type is {types}; expected {HCOM_TYPE[0]}#{HCOM_TYPE[1]}")
    content = shape.obj((shape.arr(entry.get("content")) or [{}])[0])
    fmt = shape.obj(content.get("format"))
    if fmt.get("system") != FORMAT_SYSTEM or fmt.get("code") not in FORMATS:
        problems.append(f"DocumentReference.content.format is {fmt.get('system')}#{fmt.get('code')}; expected "
                        f"{FORMAT_SYSTEM}# one of {', '.join(FORMATS)}")
    content_type = shape.obj(content.get("attachment")).get("contentType")
    if content_type not in CONTENT_TYPES:
        problems.append(f"DocumentReference.content.attachment.contentType is {content_type!r}; expected one of "
                        f"{', '.join(CONTENT_TYPES)}")
    return problems
