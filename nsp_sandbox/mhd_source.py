"""An IHE MHD Document Source: builds ITI-65 Provide Document Bundles and talks to a Document Recipient.

Any actor that shares documents (the municipal EHR, PLSP, the demo) describes each document with
:class:`DocumentMetadata` and gets from here the Danish DocumentReference (as the MedCom
``homecare-observation-documentreference`` profile shapes it: contained Patient and author
Organization, SOR-identified institution, confidentiality ``N``), the SubmissionSet ``List`` and the
transaction Bundle — then provides it over HTTP (ITI-65), replaces an entry (``relatesTo``
``replaces``) or deprecates one (ITI-92 status update). It speaks only the standard interface,
so the recipient can be the sandbox's DDS or any other MHD Document Recipient.
"""

from __future__ import annotations

import base64
import html
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx2 as httpx

from nsp_sandbox.cpr import CPR_SYSTEM

SOR_SYSTEM = "urn:oid:1.2.208.176.1.1"  # SOR: the Danish register of health-care organisations
GLN_SYSTEM = "http://www.gs1.org/gln"
LIST_TYPES = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes"
SOURCE_ID_EXTENSION = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
VERSION_EXTENSION = "http://hl7.org/fhir/5.0/StructureDefinition/extension-DocumentReference.version"
XHTML = "http://www.w3.org/1999/xhtml"
FHIR_JSON = "application/fhir+json"


@dataclass(frozen=True)
class Coding:
    system: str
    code: str
    display: str | None = None

    def to_fhir(self) -> dict[str, str]:
        out = {"system": self.system, "code": self.code}
        if self.display:
            out["display"] = self.display
        return out


@dataclass(frozen=True)
class Organisation:
    sor: str
    name: str
    gln: str | None = None


@dataclass(frozen=True)
class PatientInfo:
    cpr: str
    family: str | None = None
    given: tuple[str, ...] = ()
    gender: str | None = None
    birth_date: str | None = None


@dataclass
class DocumentMetadata:
    """What XDS needs to know of one document (the DocumentEntry), in FHIR terms."""

    patient: PatientInfo
    author: Organisation
    unique_id: str  # XDS uniqueId: the document's own id, e.g. urn:uuid:<Bundle.id>
    title: str
    type: Coding
    category: Coding
    format: Coding
    facility_type: Coding
    practice_setting: Coding
    creation: datetime
    content_type: str = FHIR_JSON
    language: str = "da"
    service_start: datetime | None = None
    service_stop: datetime | None = None
    profile: str | None = None  # DocumentReference profile to declare in meta.profile
    entry_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    # Optional, for profiles that ask for more (e.g. MedCom's homecare-observation-documentreference):
    version_id: str | None = None  # the metadata version, as the R5 DocumentReference.version extension
    master_identifier_system: str = "urn:ietf:rfc:3986"
    master_identifier_use: str | None = None
    patient_profile: str | None = None  # meta.profile of the contained Patient
    author_profile: str | None = None  # meta.profile of the contained author Organization
    confidentiality: Coding | None = None  # default: v3-Confidentiality N without display
    narrative: bool = False  # a generated text on the DocumentReference and its contained resources


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("XDS times need a time zone")
    return moment.isoformat(timespec="seconds")


def _narrative(*lines: str) -> dict[str, str]:
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    return {"status": "generated", "div": f'<div xmlns="{XHTML}">{body}</div>'}


def _with_text(resource: dict[str, Any], *lines: str) -> dict[str, Any]:
    """``resource`` with a generated narrative placed after its id and meta."""
    head = {k: resource[k] for k in ("resourceType", "id", "meta") if k in resource}
    return {**head, "text": _narrative(*lines), **{k: v for k, v in resource.items() if k not in head}}


def document_reference(meta: DocumentMetadata, attachment_url: str,
                       replaces: str | None = None) -> dict[str, Any]:
    """The DocumentReference describing ``meta``; ``replaces`` is the id of the entry it corrects."""
    patient_id, org_id = "patient", "author"
    patient: dict[str, Any] = {"resourceType": "Patient", "id": patient_id,
                               "identifier": [{"system": CPR_SYSTEM, "value": meta.patient.cpr}]}
    if meta.patient.family or meta.patient.given:
        name: dict[str, Any] = {"use": "official"}
        if meta.patient.family:
            name["family"] = meta.patient.family
        if meta.patient.given:
            name["given"] = list(meta.patient.given)
        patient["name"] = [name]
    if meta.patient.gender:
        patient["gender"] = meta.patient.gender
    if meta.patient.birth_date:
        patient["birthDate"] = meta.patient.birth_date
    organisation: dict[str, Any] = {"resourceType": "Organization", "id": org_id,
                                    "identifier": [{"system": SOR_SYSTEM, "value": meta.author.sor}],
                                    "name": meta.author.name}
    if meta.author.gln:
        organisation["identifier"].append({"system": GLN_SYSTEM, "value": meta.author.gln})
    if meta.patient_profile:
        patient = {"resourceType": "Patient", "id": patient_id, "meta": {"profile": [meta.patient_profile]},
                   **{k: v for k, v in patient.items() if k not in ("resourceType", "id")}}
    if meta.author_profile:
        organisation = {"resourceType": "Organization", "id": org_id, "meta": {"profile": [meta.author_profile]},
                        **{k: v for k, v in organisation.items() if k not in ("resourceType", "id")}}
    if meta.narrative:
        person = " ".join([*meta.patient.given, meta.patient.family or ""]).strip()
        patient = _with_text(patient, f"CPR: {meta.patient.cpr}", f"Name: {person}",
                             f"Gender: {meta.patient.gender or 'unknown'}",
                             f"Birth date: {meta.patient.birth_date or 'unknown'}")
        organisation = _with_text(organisation, f"Name: {meta.author.name}", f"SOR: {meta.author.sor}",
                                  *([f"GLN: {meta.author.gln}"] if meta.author.gln else []))
    attachment = {"contentType": meta.content_type, "language": meta.language, "url": attachment_url,
                  "title": meta.title, "creation": _iso(meta.creation)}
    context: dict[str, Any] = {
        "facilityType": {"coding": [meta.facility_type.to_fhir()]},
        "practiceSetting": {"coding": [meta.practice_setting.to_fhir()]},
        "sourcePatientInfo": {"reference": f"#{patient_id}",
                              "identifier": {"system": CPR_SYSTEM, "value": meta.patient.cpr}},
    }
    if meta.service_start or meta.service_stop:
        context["period"] = {k: _iso(v) for k, v in (("start", meta.service_start), ("end", meta.service_stop))
                             if v is not None}
    dr: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "id": meta.entry_uuid,
        "contained": [patient, organisation],
        "masterIdentifier": {**({"use": meta.master_identifier_use} if meta.master_identifier_use else {}),
                             "system": meta.master_identifier_system, "value": meta.unique_id},
        "identifier": [{"use": "official", "system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{meta.entry_uuid}"}],
        "status": "current",
        "type": {"coding": [meta.type.to_fhir()]},
        "category": [{"coding": [meta.category.to_fhir()]}],
        "subject": {"reference": f"#{patient_id}"},
        "author": [{"reference": f"#{org_id}"}],
        "securityLabel": [{"coding": [meta.confidentiality.to_fhir() if meta.confidentiality
                                      else {"system": CONFIDENTIALITY, "code": "N"}]}],
        "content": [{"attachment": attachment, "format": meta.format.to_fhir()}],
        "context": context,
    }
    if meta.version_id:
        dr = {"resourceType": "DocumentReference", "id": meta.entry_uuid,
              "extension": [{"url": VERSION_EXTENSION, "valueString": meta.version_id}],
              **{k: v for k, v in dr.items() if k not in ("resourceType", "id")}}
    if meta.profile:
        dr["meta"] = {"profile": [meta.profile]}
    if replaces:
        dr["relatesTo"] = [{"code": "replaces", "target": {"reference": f"DocumentReference/{replaces}"}}]
    if meta.narrative:
        dr = _with_text(dr, f"{meta.type.display or meta.type.code}: {meta.title}",
                        f"Patient: CPR {meta.patient.cpr}", f"Author: {meta.author.name} (SOR {meta.author.sor})",
                        f"Created: {_iso(meta.creation)}")
    return dr


def provide_bundle(documents: list[tuple[DocumentMetadata, bytes]], *, source_id: str, submitted: datetime,
                   title: str | None = None, replaces: dict[str, str] | None = None) -> dict[str, Any]:
    """An ITI-65 transaction Bundle: the SubmissionSet, each DocumentReference and its Binary.

    ``replaces`` maps a document's ``unique_id`` to the id of the entry it corrects.
    """
    if not documents:
        raise ValueError("a submission holds at least one document")
    cprs = {meta.patient.cpr for meta, _ in documents}
    if len(cprs) != 1:
        raise ValueError("all documents of one submission are about one patient")
    replaces = replaces or {}
    references, binaries, members = [], [], []
    for meta, content in documents:
        dr_url, binary_url = f"urn:uuid:{uuid.uuid4()}", f"urn:uuid:{uuid.uuid4()}"
        references.append({"fullUrl": dr_url, "request": {"method": "POST", "url": "DocumentReference"},
                           "resource": document_reference(meta, binary_url, replaces.get(meta.unique_id))})
        binaries.append({"fullUrl": binary_url, "request": {"method": "POST", "url": "Binary"},
                         "resource": {"resourceType": "Binary", "contentType": meta.content_type,
                                      "data": base64.b64encode(content).decode("ascii")}})
        members.append({"item": {"reference": dr_url}})
    submission_set = {
        "resourceType": "List",
        "extension": [{"url": SOURCE_ID_EXTENSION, "valueIdentifier": {"value": source_id}}],
        "identifier": [{"use": "usual", "system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"},
                       {"use": "official", "system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"}],
        "status": "current", "mode": "working",
        "code": {"coding": [{"system": LIST_TYPES, "code": "submissionset"}]},
        "subject": {"identifier": {"system": CPR_SYSTEM, "value": cprs.pop()}},
        "date": _iso(submitted),
        "entry": members,
    }
    if title:
        submission_set["title"] = title
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "request": {"method": "POST", "url": "List"},
         "resource": submission_set},
        *references, *binaries]}


class RecipientError(Exception):
    """The Document Recipient refused a request; ``outcome`` is its OperationOutcome (if any)."""

    def __init__(self, status: int, outcome: dict[str, Any] | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.outcome = outcome


class DocumentSource:
    """Talks to one MHD Document Recipient at ``fhir_base`` (e.g. ``http://localhost:8080/dds/fhir``)."""

    def __init__(self, fhir_base: str, *, source_id: str, client: httpx.Client | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.fhir_base = fhir_base.rstrip("/")
        self.source_id = source_id
        self.client = client or httpx.Client(timeout=30)
        self.headers = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON, **(headers or {})}

    def provide(self, documents: list[tuple[DocumentMetadata, bytes]], *, submitted: datetime,
                replaces: dict[str, str] | None = None, title: str | None = None) -> list[str]:
        """ITI-65; answers the ids of the new DocumentReferences, in the order given."""
        bundle = provide_bundle(documents, source_id=self.source_id, submitted=submitted, title=title,
                                replaces=replaces)
        response = self.client.post(self.fhir_base, json=bundle, headers=self.headers)
        self._raise_for(response, "ITI-65 provide")
        locations = [e.get("response", {}).get("location", "") for e in response.json().get("entry", [])]
        return [loc.split("/")[1] for loc in locations if loc.startswith("DocumentReference/")]

    def find(self, cpr: str, *, status: str = "current", **params: str) -> list[dict[str, Any]]:
        """ITI-67 for one patient; answers the matching DocumentReferences (first page)."""
        response = self.client.get(f"{self.fhir_base}/DocumentReference", headers=self.headers, params={
            "patient.identifier": f"{CPR_SYSTEM}|{cpr}", "status": status, **params})
        self._raise_for(response, "ITI-67 find")
        return [e["resource"] for e in response.json().get("entry", [])
                if e.get("search", {}).get("mode", "match") == "match"]

    def deprecate(self, entry_id: str, status: str = "entered-in-error") -> dict[str, Any]:
        """ITI-92 (RMU): change only the status of entry ``entry_id``."""
        response = self.client.get(f"{self.fhir_base}/DocumentReference/{entry_id}", headers=self.headers)
        self._raise_for(response, "read")
        resource = response.json()
        resource["status"] = status
        response = self.client.put(f"{self.fhir_base}/DocumentReference/{entry_id}", json=resource,
                                   headers=self.headers)
        self._raise_for(response, "ITI-92 update")
        return response.json()  # type: ignore[no-any-return]

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> DocumentSource:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @staticmethod
    def _raise_for(response: httpx.Response, what: str) -> None:
        if response.status_code < 400:
            return
        try:
            outcome = response.json()
        except ValueError:
            outcome = None
        texts = [i.get("diagnostics", "") for i in (outcome or {}).get("issue", [])]
        raise RecipientError(response.status_code, outcome,
                             f"{what} answered HTTP {response.status_code}: {'; '.join(texts)[:500]}")


class AsyncDocumentSource:
    """:class:`DocumentSource` for async callers (an actor calling DDS while serving a request)."""

    def __init__(self, fhir_base: str, *, source_id: str, client: httpx.AsyncClient,
                 headers: dict[str, str] | None = None) -> None:
        self.fhir_base = fhir_base.rstrip("/")
        self.source_id = source_id
        self.client = client
        self.headers = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON, **(headers or {})}

    async def provide(self, documents: list[tuple[DocumentMetadata, bytes]], *, submitted: datetime,
                      replaces: dict[str, str] | None = None, title: str | None = None) -> list[str]:
        """ITI-65; answers the ids of the new DocumentReferences, in the order given."""
        bundle = provide_bundle(documents, source_id=self.source_id, submitted=submitted, title=title,
                                replaces=replaces)
        response = await self.client.post(self.fhir_base, json=bundle, headers=self.headers)
        DocumentSource._raise_for(response, "ITI-65 provide")
        locations = [e.get("response", {}).get("location", "") for e in response.json().get("entry", [])]
        return [loc.split("/")[1] for loc in locations if loc.startswith("DocumentReference/")]

    async def deprecate(self, entry_id: str, status: str = "entered-in-error", *,
                        description: str | None = None) -> dict[str, Any]:
        """ITI-92 (RMU): change the status of entry ``entry_id`` (with ``description``: and say why, as
        XDS DocumentEntry.comments — DDS takes it only with ``entered-in-error``)."""
        response = await self.client.get(f"{self.fhir_base}/DocumentReference/{entry_id}", headers=self.headers)
        DocumentSource._raise_for(response, "read")
        resource = response.json()
        resource["status"] = status
        if description:
            resource["description"] = description
        response = await self.client.put(f"{self.fhir_base}/DocumentReference/{entry_id}", json=resource,
                                         headers=self.headers)
        DocumentSource._raise_for(response, "ITI-92 update")
        return response.json()  # type: ignore[no-any-return]
