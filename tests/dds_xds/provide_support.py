"""What the ITI-41/57/61 tests share: the provide routers mounted on the sandbox's DDS, and ITI-41
requests built from the real DRS capture (its metadata and CDA document, fresh ids)."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sts_client import READER, add_relation, auth
from xds_support import ACTIONS, capture, envelope, idcard, post

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.ebrim import (
    ProvideAndRegisterDocumentSetRequest,
    parse_provide_and_register,
    write_provide_and_register,
)
from nsp_sandbox.xds.rim import Association
from nsp_sandbox.xds.soap import parse_envelope
from sandbox.lazy_actor import mounted_app
from services.dds.mhd.deps import Deps
from services.dds.xds import dros, iti41, iti57

CPR = "2512489996"  # the patient of the capture


def mount_provide_routers(client: Any, context: SandboxContext) -> None:
    """Include the ITI-41/57/61 routers in the sandbox's DDS app (mounted at ``/dds``), once."""
    dds = mounted_app(next(r.app for r in client.app.routes if getattr(r, "path", None) == "/dds"))
    assert isinstance(dds, FastAPI)
    if any(getattr(r, "path", "") == "/dros" for r in dds.routes):
        return
    deps = Deps.build(context)
    for router in (iti41.router(deps), iti57.router(deps), dros.router(deps)):
        dds.include_router(router)


def capture_request() -> ProvideAndRegisterDocumentSetRequest:
    """The real ITI-41 request of the capture, parsed (its document from the MTOM part)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "xds_wire"))
    from xds_captures import message_of

    message = message_of("iti41/request-mime.txt")
    return parse_provide_and_register(parse_envelope(message.envelope_bytes).payload, message.attachments)


def fresh(request: ProvideAndRegisterDocumentSetRequest) -> ProvideAndRegisterDocumentSetRequest:
    """The request with a new uniqueId for its entry and submission set (so it can be provided again)."""
    for obj in request.submission.objects:
        for ext in getattr(obj, "external_identifiers", []):
            if ext.identification_scheme in (v.DE_UNIQUE_ID, v.SS_UNIQUE_ID):
                ext.value = f"2.25.{uuid.uuid4().int}"
    return request


def entry_uuid_id(request: ProvideAndRegisterDocumentSetRequest) -> str:
    return request.submission.document_entries[0].id


def with_uuid_ids(request: ProvideAndRegisterDocumentSetRequest) -> str:
    """Give the DocumentEntry a ``urn:uuid:`` id (its entryUUID); answer the id."""
    entry = request.submission.document_entries[0]
    new_id = f"urn:uuid:{uuid.uuid4()}"
    old = entry.id
    entry.id = new_id
    for obj in request.submission.objects:
        if isinstance(obj, Association) and obj.target_object == old:
            obj.target_object = new_id
        for item in [*getattr(obj, "classifications", []), *getattr(obj, "external_identifiers", [])]:
            if getattr(item, "classified_object", None) == old:
                item.classified_object = new_id
            if getattr(item, "registry_object", None) == old:
                item.registry_object = new_id
    for document in request.documents:
        if document.id == old:
            document.id = new_id
    return new_id


def replacing(request: ProvideAndRegisterDocumentSetRequest, target_uuid: str) -> None:
    """Add an RPLC association from the request's entry to ``target_uuid``."""
    entry = request.submission.document_entries[0]
    request.submission.objects.append(Association(id=f"urn:uuid:{uuid.uuid4()}", association_type=v.ASSOC_RPLC,
                                                  source_object=entry.id, target_object=target_uuid))


def provide(client: Any, request: ProvideAndRegisterDocumentSetRequest, path: str = "/dds/drs/proxy",
            persona: str = "system-eoj-aarhus") -> Any:
    """POST the request (inline base64) with a card for ``persona`` from the sandbox STS."""
    body = write_provide_and_register(request)
    data = envelope(idcard(client, persona), body, ACTIONS["iti41"])
    return post(client, path, data)


__all__ = [
    "CPR",
    "about",
    "capture",
    "capture_request",
    "find_and_retrieve",
    "fresh",
    "mount_provide_routers",
    "provide",
    "replacing",
    "with_uuid_ids",
]


def about(request: ProvideAndRegisterDocumentSetRequest, cpr: str) -> None:
    """Put the request's metadata about the patient ``cpr`` (patientId and sourcePatientId)."""
    for obj in request.submission.objects:
        for ext in getattr(obj, "external_identifiers", []):
            if ext.identification_scheme in (v.DE_PATIENT_ID, v.SS_PATIENT_ID):
                ext.value = ext.value.replace(CPR, cpr)
        for slot in getattr(obj, "slots", []):
            if slot.name == "sourcePatientId":
                slot.values = [value.replace(CPR, cpr) for value in slot.values]


def find_and_retrieve(client: Any, cpr: str, entry_uuid: str,
                      statuses: str = "current,superseded") -> tuple[dict[str, Any], bytes]:
    """ITI-67 (the entries of ``cpr`` in ``statuses``) then ITI-68 of the entry, as the reader GP with a relation."""
    add_relation(client, READER, cpr)
    headers = auth(client, READER)
    found = client.get("/dds/fhir/DocumentReference", params={
        "patient.identifier": f"urn:oid:1.2.208.176.1.2|{cpr}", "status": statuses}, headers=headers)
    assert found.status_code == 200, found.text
    resources = [e["resource"] for e in found.json().get("entry", [])]
    matching = [r for r in resources if any(i.get("value") == entry_uuid for i in r.get("identifier", []))]
    assert matching, resources
    url = matching[0]["content"][0]["attachment"]["url"]
    retrieved = client.get(url, headers=headers)
    assert retrieved.status_code == 200, retrieved.text
    return matching[0], retrieved.content
