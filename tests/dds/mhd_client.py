"""An IHE MHD client for the DDS tests, and the official examples it builds requests from.

Documents are the official MedCom examples, read from the packages at run time: the
HomeCareObservation message Bundle (``medcom.fhir.dk.homecareobservation`` 1.2.1), a ConditionList
and a Notes document Bundle, each put about the patient ``CPR`` (:func:`about`). DocumentReferences
are built from the HCO DocumentReference example of ``medcom.fhir.dk.xdsdocuments`` with fresh ids
and uniqueIds. A transaction built here puts each document about its DocumentReference's patient, as
DDS requires (``dk-xds-document-patient``), unless asked not to.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient
from sts_client import READER, SOURCE_SYSTEM, add_relation, auth

from nsp_sandbox.cpr import CPR_SYSTEM

CPR = "0602631234"  # the patient of the xdsdocuments HCO DocumentReference example
OTHER_CPR = "2509479989"  # the patient of the ConditionList examples
FHIR_JSON = "application/fhir+json"
XDSDOCUMENTS = ("medcom.fhir.dk.xdsdocuments", "0.1.0-homecareobservation-draft-2")
DR_EXAMPLE = "example/DocumentReference-16002002-ac41-45de-ad6b-eb02b098e859.json"
HCO = ("medcom.fhir.dk.homecareobservation", "1.2.1", "example/Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json")
CONDITION_LIST = ("medcom.fhir.dk.conditionlist", "1.0.1", "example/Bundle-7ffa0111-1aa2-4d68-99f8-1fbf57448c8c.json")
NOTES = ("medcom.fhir.dk.notes", "1.0.0", "example/Bundle-9521a7f0-bad4-4a46-8c51-cd8378b24106.json")
LIST_TYPES = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes"


@dataclass(frozen=True)
class Examples:
    document_reference: dict[str, Any]
    hco: bytes
    condition_list: bytes
    notes: bytes


def about(content: bytes, cpr: str) -> bytes:
    """The FHIR JSON document ``content`` about the patient ``cpr``: the CPR numbers of its Patient
    resources replaced in place (same length, so the rest of the bytes stay as they are). Content
    that is not a FHIR Bundle with such Patients is returned unchanged."""
    try:
        document = json.loads(content)
    except ValueError:
        return content
    entries = document.get("entry") if isinstance(document, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or resource.get("resourceType") != "Patient":
            continue
        for identifier in resource.get("identifier") or []:
            if not isinstance(identifier, dict) or identifier.get("system") != CPR_SYSTEM:
                continue
            old = identifier.get("value")
            if isinstance(old, str) and old != cpr:
                content = content.replace(f'"{old}"'.encode(), f'"{cpr}"'.encode())
    return content


def entry_cpr(dr: dict[str, Any]) -> str | None:
    """The CPR number of the contained Patient a DocumentReference built here refers to."""
    for resource in dr.get("contained") or []:
        if isinstance(resource, dict) and resource.get("resourceType") == "Patient":
            for identifier in resource.get("identifier") or []:
                if isinstance(identifier, dict) and identifier.get("system") == CPR_SYSTEM:
                    return identifier.get("value")  # type: ignore[no-any-return]
    return None


def sha1_b64(content: bytes) -> str:
    return base64.b64encode(hashlib.sha1(content).digest()).decode()


def urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


class Bundles:
    """ITI-65 transactions built from the official examples (no HTTP)."""

    def __init__(self, examples: Examples) -> None:
        self.examples = examples

    # ---- building ------------------------------------------------------------------------------

    def document_reference(self, *, cpr: str = CPR, content_type: str = FHIR_JSON,
                           unique_id: str | None = None) -> dict[str, Any]:
        """The xdsdocuments HCO example with a fresh uniqueId and entryUUID, for patient ``cpr``."""
        dr = copy.deepcopy(self.examples.document_reference)
        entry_uuid = uuid.uuid4()
        dr["id"] = str(entry_uuid)  # the HCO profile requires an id; the registry uses the entryUUID's
        dr["masterIdentifier"]["value"] = unique_id or urn()
        dr["identifier"][0]["value"] = f"urn:uuid:{entry_uuid}"
        patient = next(c for c in dr["contained"] if c["resourceType"] == "Patient")
        patient["identifier"][0]["value"] = cpr
        dr["context"]["sourcePatientInfo"]["identifier"]["value"] = cpr
        dr["content"][0]["attachment"]["contentType"] = content_type
        return dr

    def bundle(self, *items: tuple[dict[str, Any], bytes], cpr: str = CPR, inline: bool = False,
               consistent: bool = True) -> dict[str, Any]:
        """An ITI-65 transaction: a SubmissionSet, each DocumentReference and its document.

        ``consistent``: each FHIR document is put about its DocumentReference's patient
        (:func:`about`); False sends the documents exactly as given.
        """
        entries: list[dict[str, Any]] = []
        members: list[dict[str, Any]] = []
        binaries: list[dict[str, Any]] = []
        for dr, given in items:
            patient = entry_cpr(dr) if consistent else None
            content = about(given, patient) if patient else given
            dr_url = urn()
            attachment = dr["content"][0]["attachment"]
            if inline:
                attachment.pop("url", None)
                attachment["data"] = base64.b64encode(content).decode()
            else:
                binary_url = urn()
                attachment["url"] = binary_url
                binaries.append({"fullUrl": binary_url, "resource": {
                    "resourceType": "Binary", "contentType": attachment["contentType"],
                    "data": base64.b64encode(content).decode()}, "request": {"method": "POST", "url": "Binary"}})
            entries.append({"fullUrl": dr_url, "resource": dr,
                            "request": {"method": "POST", "url": "DocumentReference"}})
            members.append({"item": {"reference": dr_url}})
        submission_set = {
            "resourceType": "List",
            "extension": [{"url": "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId",
                           "valueIdentifier": {"value": "urn:oid:1.2.208.176.43210.8.10.99"}}],
            "identifier": [{"use": "usual", "system": "urn:ietf:rfc:3986", "value": urn()},
                           {"use": "official", "system": "urn:ietf:rfc:3986", "value": urn()}],
            "status": "current", "mode": "working", "title": "HCO til deling",
            "code": {"coding": [{"system": LIST_TYPES, "code": "submissionset"}]},
            "subject": {"identifier": {"system": CPR_SYSTEM, "value": cpr}},
            "date": "2026-04-28T10:20:00+02:00",
            "entry": members,
        }
        return {"resourceType": "Bundle", "type": "transaction", "entry": [
            {"fullUrl": urn(), "resource": submission_set, "request": {"method": "POST", "url": "List"}},
            *entries, *binaries]}

class Mhd(Bundles):
    """An IHE MHD Document Source and Consumer talking to ``/dds/fhir`` of the sandbox.

    Its client carries proper tokens: requests that provide or update (``POST /dds/fhir``, ``PUT``)
    the source system's (Aarhus Kommune's EOJ), every other DDS request the reader's (a GP). Each
    patient it provides for gets a treatment relation with the reader in BRS, as a referral would
    give. A request that already has an ``Authorization`` header is left as it is.
    """

    base = "/dds/fhir"

    def __init__(self, client: TestClient, examples: Examples) -> None:
        self.client = TestClient(client.app, base_url=str(client.base_url))
        self.client.event_hooks = {"request": [self._authorise], "response": [self._relate_provided]}
        super().__init__(examples)
        self.source_headers = auth(self.client, SOURCE_SYSTEM)
        self.reader_headers = auth(self.client, READER)
        self._related: set[str] = set()

    def _authorise(self, request: httpx.Request) -> None:
        if "authorization" in request.headers or not request.url.path.startswith("/dds/"):
            return
        provides = request.method in ("POST", "PUT") and not request.url.path.endswith("/_search")
        request.headers.update(self.source_headers if provides else self.reader_headers)
        request.extensions["mhd_authorised"] = True

    def _relate_provided(self, response: httpx.Response) -> None:
        request = response.request
        if (response.status_code == 200 and request.method == "POST" and request.url.path.rstrip("/") == self.base
                and request.extensions.get("mhd_authorised")):
            for cpr in _patients_in(request.content):
                self.relate(cpr)

    def relate(self, cpr: str) -> None:
        """A treatment relation between the reader and ``cpr`` (once)."""
        if cpr not in self._related and len(cpr) == 10:
            add_relation(self.client, READER, cpr)
            self._related.add(cpr)

    # ---- talking ---------------------------------------------------------------------------------

    def post(self, bundle: dict[str, Any]) -> httpx.Response:
        return self.client.post(self.base, json=bundle, headers={"Content-Type": FHIR_JSON})

    def provide(self, *items: tuple[dict[str, Any], bytes], cpr: str = CPR, inline: bool = False) -> list[str]:
        """Provide and assert success; answer the ids of the new DocumentReferences in order."""
        response = self.post(self.bundle(*items, cpr=cpr, inline=inline))
        assert response.status_code == 200, response.text
        locations = [e["response"]["location"] for e in response.json()["entry"]]
        return [loc.split("/")[-1] for loc in locations if loc.startswith("DocumentReference/")]

    def provide_hco(self, cpr: str = CPR, **changes: Any) -> str:
        dr = self.document_reference(cpr=cpr)
        dr.update(changes)
        return self.provide((dr, self.examples.hco), cpr=cpr)[0]

    def read(self, entry_id: str) -> dict[str, Any]:
        response = self.client.get(f"{self.base}/DocumentReference/{entry_id}")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def search(self, **params: str) -> httpx.Response:
        return self.client.get(f"{self.base}/DocumentReference", params=params)

    def found_ids(self, **params: str) -> list[str]:
        response = self.search(**params)
        assert response.status_code == 200, response.text
        return [e["resource"]["id"] for e in response.json()["entry"] if e["search"]["mode"] == "match"]

    def put(self, resource: dict[str, Any], **headers: str) -> httpx.Response:
        return self.client.put(f"{self.base}/DocumentReference/{resource['id']}", json=resource,
                               headers={"Content-Type": FHIR_JSON, **headers})


def _patients_in(content: bytes) -> list[str]:
    """The patient identifier values an ITI-65 body names (best effort: bodies may be broken on purpose)."""
    try:
        bundle = json.loads(content)
    except ValueError:
        return []
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("system") == CPR_SYSTEM and isinstance(node.get("value"), str):
                found.append(node["value"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(bundle)
    return list(dict.fromkeys(found))


def issues_of(response: httpx.Response) -> list[dict[str, Any]]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    return body["issue"]  # type: ignore[no-any-return]


def ihe_codes(response: httpx.Response) -> set[str]:
    return {c["code"] for i in issues_of(response) for c in i.get("details", {}).get("coding", [])
            if c["system"] == "urn:ihe:iti:xds:errorCode"}


def expressions(response: httpx.Response) -> set[str]:
    return {e for i in issues_of(response) for e in i.get("expression", [])}


