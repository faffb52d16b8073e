"""Data for the viewer's tests, put in place only through the sandbox's HTTP faces, and always
about the citizen it is seeded for.

* **HomeCareObservation** results go the real way: an order to the EOJ (``POST /eoj/hco``), which
  sends the message to the GP emulator, gets it acknowledged and shares it to DDS; corrections and
  cancellations through ``/eoj/hco/{id}/modify`` and ``/retract``.
* **Diagnosis cards and notes** go the real way too: the citizen's GP system hands them to the PLSP
  Health Hub through the LPS client (``nsp_sandbox/plsp_client.py``), and the hub registers them
  in DDS on demand (:func:`diagnosis_card`, :func:`plsp_card`, :func:`plsp_note`).
* **Crafted documents** the hub would never produce — a note with hostile markup (the hub cleans
  HTML at the source), notes and cards breaking the standards' business rules for the viewer to
  refuse — are the official examples of the MedCom packages (read from the package archives at
  test time), made wholly about the citizen (:func:`retarget`: CPR number, name, gender and birth
  date from NSP's CPR register, the citizen's GP clinic and one of its doctors as author, narratives
  rewritten) and provided to DDS through ITI-65 (:func:`conditionlist`, :func:`note`).

Every function takes an ``httpx`` client of the sandbox (a ``TestClient`` or a client of a real
server), so the browser tests seed a running server the same way.
"""

from __future__ import annotations

import base64
import copy
import json
import tarfile
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from html import escape
from pathlib import Path
from typing import Any

import httpx2 as httpx
from sts_client import token

from nsp_sandbox.cpr import CPR_SYSTEM
from nsp_sandbox.mhd_source import Coding, DocumentMetadata, Organisation, PatientInfo, provide_bundle
from nsp_sandbox.plsp_client import PlspClient, Practitioner, approval, practitioner

SOR_SYSTEM = "urn:oid:1.2.208.176.1.1"
SOURCE_SYSTEM = "system-plsp"  # the PLSP Health Hub's system persona: the source of cards and notes
SOURCE_ID = "urn:oid:1.2.208.176.43210.8.10.77"
SKODSTRUP = "52581000016005"

CONDITIONLIST_TYPE = Coding("http://loinc.org", "11450-4", "Problem list - Reported")
CONDITIONLIST_FORMAT = Coding("http://medcomfhir.dk/ig/xdsmetadata/CodeSystem/MedCom-ihe-formatcode-CS",
                              "urn:ad:dk:medcom:plr-v1.0:full", "DK PLR Diagnoseoversigt")
NOTES_TYPE = Coding("http://snomed.info/sct", "866144008", "Encounter note")
NOTES_FORMAT = Coding("urn:ietf:rfc:3986", "http://medcomfhir.dk/ig/notes/StructureDefinition/medcom-notes-composition|1.0")
CLINICAL_REPORT = Coding("http://medcomfhir.dk/ig/xdsmetadata/CodeSystem/MedCom-ihe-classcode-CS", "001",
                         "Klinisk rapport")
GP_FACILITY = Coding("http://snomed.info/sct", "394761003", "almen lægepraksis")
GENERAL_PRACTICE = Coding("http://snomed.info/sct", "408443003", "almen medicin")

HCOM_TYPE = Coding("urn:oid:1.2.208.184.100.1", "HCOM", "HomeCareObservation message")
HCOM_CLASS = Coding("http://medcomfhir.dk/ig/document/CodeSystem/MedCom-ihe-classcode-CS-TEMP", "001")
HCOM_FORMAT = Coding("http://medcomfhir.dk/ig/xdsdocuments/CodeSystem/MedComHCOFormatCodeCS",
                     "urn:ad:dk:medcom:msg:hco-v1.2:full")
HCOM_FORMAT_1_1 = Coding(HCOM_FORMAT.system, "urn:ad:dk:medcom:msg:hco-v1.1:full")
HOME_NURSING_UNIT = Coding("http://snomed.info/sct", "550621000005101")
HOME_NURSING = Coding("http://snomed.info/sct", "658161000005107")
HCOM_SOURCE_ID = "urn:oid:1.2.208.176.43210.8.10.98"

CONDITIONLIST_MAXIMUM = "Bundle-23d8ece4-7cff-47c1-9680-571377c6ea74.json"  # 3 diagnoses, with a note
NOTES_EXTENDED = "Bundle-ba7d908a-0134-4f28-b5f5-0fcaf088e60b.json"  # practitioner, role, XHTML body
NOTES_MINIMAL = "Bundle-9521a7f0-bad4-4a46-8c51-cd8378b24106.json"


# ---- the official examples ---------------------------------------------------------------------

@cache
def _example(packages_dir: str, package: str, filename: str) -> str:
    archives = sorted(Path(packages_dir).glob(f"{package}-*.tgz"))
    if not archives:
        raise FileNotFoundError(f"no {package} package in {packages_dir}")
    with tarfile.open(archives[-1]) as tar:
        member = tar.extractfile(f"package/example/{filename}")
        if member is None:
            raise FileNotFoundError(filename)
        return member.read().decode("utf-8")


def example(packages_dir: Path, package: str, filename: str) -> dict[str, Any]:
    """A fresh copy of an example resource of ``package`` (e.g. ``medcom.fhir.dk.notes``)."""
    return json.loads(_example(str(packages_dir), package, filename))  # type: ignore[no-any-return]


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", []) if e.get("resource", {}).get("resourceType") == kind]


@dataclass(frozen=True)
class Doctor:
    authorisation: str
    given: tuple[str, ...]
    family: str


@dataclass(frozen=True)
class Citizen:
    """What NSP's registers say about a citizen: name, gender, birth date, and their GP clinic with
    its GP-system persona (None: the clinic has none in the sandbox) and a doctor working there."""

    cpr: str
    given: tuple[str, ...]
    family: str
    gender: str | None
    birth_date: str | None
    clinic_sor: str
    clinic_name: str
    gp_system: str | None
    doctor: Doctor | None


def citizen(client: httpx.Client, cpr: str) -> Citizen:
    """The citizen ``cpr`` as NSP's CPR, SOR and persona registers know them."""
    person = client.get(f"/nsp/persons/{cpr}", headers={
        "Authorization": f"Bearer {token(client, SOURCE_SYSTEM, 'nsp')}"})
    assert person.status_code == 200, person.text
    found = person.json()
    sor = str(found["gp"])
    clinic = client.get(f"/nsp/organisations/{sor}")
    assert clinic.status_code == 200, clinic.text
    systems = client.get("/nsp/personas", params={"kind": "system"}).json()
    gp_system = next((p["id"] for p in systems if p.get("system_kind") == "gp-system" and p["organisation"] == sor),
                     None)
    professionals = client.get("/nsp/personas", params={"kind": "professional"}).json()
    doctor = next((p for p in professionals if p["organisation"] == sor and p.get("role") == "Læge"), None)
    return Citizen(cpr, tuple(found["given"]), str(found["family"]), found.get("gender"), found.get("birth_date"),
                   sor, str(clinic.json()["name"]), gp_system,
                   Doctor(doctor["authorisation"], tuple(doctor["name"].split()[:-1]), doctor["name"].split()[-1])
                   if doctor else None)


def _narrative(*lines: str) -> dict[str, str]:
    paragraphs = "".join(f"<p>{escape(line, quote=False)}</p>" for line in lines if line)
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{paragraphs}</div>'}


def _full_name(name: dict[str, Any]) -> str:
    return " ".join([*name.get("given", []), name.get("family", "")]).strip()


def retarget(bundle: dict[str, Any], who: Citizen, *, family: str | None = None,
             given: list[str] | None = None) -> dict[str, Any]:
    """The document wholly about the citizen ``who``, with new document identities
    (Bundle.id/identifier): the Patient's CPR number, name (``family`` / ``given`` instead if given),
    gender and birth date; the author organisation is the citizen's GP clinic (SOR code and name),
    every practitioner a doctor there; every narrative says so (the examples' narratives name their
    own patient and authors)."""
    out = copy.deepcopy(bundle)
    out["id"] = str(uuid.uuid4())
    out["identifier"] = {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"}
    for patient in resources(out, "Patient"):
        for element in ("address", "telecom", "contact"):
            patient.pop(element, None)
        patient["identifier"] = [{"system": CPR_SYSTEM, "value": who.cpr}]
        patient["name"] = [{"use": "official", "family": who.family if family is None else family,
                            "given": list(who.given) if given is None else given}]
        if who.gender:
            patient["gender"] = who.gender
        if who.birth_date:
            patient["birthDate"] = who.birth_date
        patient["text"] = _narrative(f"Patient: {_full_name(patient['name'][0])}", f"CPR-nummer: {who.cpr}")
    for organisation in resources(out, "Organization"):
        organisation["identifier"] = [{"system": SOR_SYSTEM, "value": who.clinic_sor}]
        organisation["name"] = who.clinic_name
        organisation["text"] = _narrative(f"Organisation: {who.clinic_name}", f"SOR-kode: {who.clinic_sor}")
    for person in resources(out, "Practitioner"):
        if who.doctor is not None:
            person["name"] = [{"use": "official", "family": who.doctor.family, "given": list(who.doctor.given)}]
        person["text"] = _narrative(f"Behandler: {_full_name((person.get('name') or [{}])[0])}")
    for role in resources(out, "PractitionerRole"):
        role["text"] = _narrative(f"Rolle hos {who.clinic_name}")
    for composition in resources(out, "Composition"):
        kind = "Diagnoseoversigt" if composition["title"].startswith("Diagnoseoversigt") else "Journalnotat"
        composition["title"] = f"{kind} for {who.cpr}"
        if "identifier" in composition:
            composition["identifier"] = {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"}
        composition["text"] = _narrative(composition["title"], f"Fra {who.clinic_name}")
    for kind, label in (("Observation", "Journalnotat"), ("Condition", "Diagnose")):
        for resource in resources(out, kind):
            if "text" in resource:
                text = (resource.get("code") or {}).get("text") if kind == "Condition" else None
                resource["text"] = _narrative(f"{label}{f': {text}' if text else ''}", f"Patient: {who.cpr}")
    return out


# ---- providing to DDS --------------------------------------------------------------------------

def _author(bundle: dict[str, Any]) -> Organisation:
    composition = resources(bundle, "Composition")[0]
    orgs = {f"Organization/{o['id']}": o for o in resources(bundle, "Organization")}
    org = next(orgs[a["reference"]] for a in composition["author"] if a.get("reference") in orgs)
    sor = next((i["value"] for i in org.get("identifier", []) if i.get("system") == SOR_SYSTEM), SKODSTRUP)
    return Organisation(sor, org.get("name") or "Lægepraksis")


def _metadata(bundle: dict[str, Any], kind: str, described_as: Citizen | None) -> DocumentMetadata:
    composition = resources(bundle, "Composition")[0]
    if described_as is None:
        patient = resources(bundle, "Patient")[0]
        name = (patient.get("name") or [{}])[0]
        info = PatientInfo(patient["identifier"][0]["value"], name.get("family"), tuple(name.get("given", [])),
                           patient.get("gender"), patient.get("birthDate"))
    else:
        info = PatientInfo(described_as.cpr, described_as.family, described_as.given, described_as.gender,
                           described_as.birth_date)
    notes = kind == "notes"
    start = composition.get("event", [{}])[0].get("period", {}).get("start") if notes else None
    title = composition["title"] if described_as is None else f"{composition['title'].split(' for ')[0]} for {info.cpr}"
    return DocumentMetadata(
        patient=info, author=_author(bundle), title=title,
        unique_id=bundle["identifier"]["value"] if described_as is None else f"urn:uuid:{uuid.uuid4()}",
        type=NOTES_TYPE if notes else CONDITIONLIST_TYPE, category=CLINICAL_REPORT,
        format=NOTES_FORMAT if notes else CONDITIONLIST_FORMAT,
        facility_type=GP_FACILITY, practice_setting=GENERAL_PRACTICE,
        creation=_instant(composition["date"]),
        service_start=_instant(start) if start else None)


def _submit(client: httpx.Client, submission: dict[str, Any]) -> str:
    response = client.post("/dds/fhir", json=submission, headers={
        "Content-Type": "application/fhir+json", "Authorization": f"Bearer {token(client, SOURCE_SYSTEM, 'dds')}"})
    assert response.status_code == 200, response.text
    location = next(e["response"]["location"] for e in response.json()["entry"]
                    if e["response"]["location"].startswith("DocumentReference/"))
    return str(location.split("/")[1])


def provide_document(client: httpx.Client, bundle: dict[str, Any], kind: str, *,
                     described_as: Citizen | None = None) -> str:
    """ITI-65 of one ConditionList (``kind='conditionlist'``) or Notes document; the new entry's id.

    The entry's patient is the document's own Patient (DDS refuses a document about someone other
    than its entry's patient); ``described_as`` registers it under another citizen instead, for
    what the viewer must do when DDS was configured not to check that (``dds_rules_document_patient``).
    """
    composition = resources(bundle, "Composition")[0]
    content = json.dumps(bundle, ensure_ascii=False).encode("utf-8")
    return _submit(client, provide_bundle([(_metadata(bundle, kind, described_as), content)], source_id=SOURCE_ID,
                                          submitted=_instant(composition["date"])))


def on_demand_entry(client: httpx.Client, bundle: dict[str, Any], kind: str, url: str, *,
                    described_as: Citizen | None = None) -> str:
    """An on-demand entry whose source generates its document at ``url`` when DDS retrieves it,
    described like ``bundle`` (or as about ``described_as``): registered by the hub's system
    persona through ITI-65, with no document; the new entry's id."""
    composition = resources(bundle, "Composition")[0]
    submission = provide_bundle([(_metadata(bundle, kind, described_as), b"")], source_id=SOURCE_ID,
                                submitted=_instant(composition["date"]))
    submission["entry"] = [e for e in submission["entry"] if e["resource"]["resourceType"] != "Binary"]
    reference = next(e["resource"] for e in submission["entry"]
                     if e["resource"]["resourceType"] == "DocumentReference")
    reference["content"][0]["attachment"]["url"] = url
    return _submit(client, submission)


def _instant(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:  # a date-only ConditionList value: midnight, Danish time
        moment = datetime.fromisoformat(f"{value[:10]}T00:00:00+01:00")
    return moment


def conditionlist(client: httpx.Client, packages_dir: Path, cpr: str, *,
                  filename: str = CONDITIONLIST_MAXIMUM, change: Any = None) -> str:
    """The official ConditionList example ``filename`` made about ``cpr`` (:func:`retarget`) in DDS through
    ITI-65; ``change(bundle)`` edits it first. Only for what the hub would not produce (a
    ``Condition.note``, ``code.display``, a broken document): the card itself is :func:`diagnosis_card`."""
    bundle = retarget(example(packages_dir, "medcom.fhir.dk.conditionlist", filename), citizen(client, cpr))
    if change is not None:
        change(bundle)
    return provide_document(client, bundle, "conditionlist")


def note(client: httpx.Client, packages_dir: Path, cpr: str, *, body: str | None = None,
         created: str | None = None, updated: str | None = None, organisation: str | None = None,
         family: str | None = None, given: list[str] | None = None, filename: str = NOTES_EXTENDED,
         change: Any = None) -> str:
    """An official Notes example made about ``cpr`` (:func:`retarget`) in DDS through ITI-65, with the
    note text ``body`` (HTML or plain text), creation time ``created`` (effectiveDateTime and
    event.period.start), update time ``updated`` (Composition.date) and author organisation name
    ``organisation`` if given. Only for notes the hub would not produce (markup it cleans, broken
    business rules): an ordinary note is :func:`plsp_note`."""
    bundle = retarget(example(packages_dir, "medcom.fhir.dk.notes", filename), citizen(client, cpr),
                      family=family, given=given)
    composition = resources(bundle, "Composition")[0]
    observation = resources(bundle, "Observation")[0]
    if body is not None:
        attachment = observation["extension"][0]["valueAttachment"]
        attachment["data"] = base64.b64encode(body.encode("utf-8")).decode("ascii")
    if created is not None:
        observation["effectiveDateTime"] = created
        composition["event"][0]["period"]["start"] = created
        composition["date"] = created
    if updated is not None:
        composition["date"] = updated
    if organisation is not None:
        for org in resources(bundle, "Organization"):
            org["name"] = organisation
    if change is not None:
        change(bundle)
    return provide_document(client, bundle, "notes")


# ---- HomeCareObservation through the EOJ -----------------------------------------------------

def hco_order(cpr: str, **change: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "cpr": cpr, "family": "Elmer", "given": ["Bruno"], "receiver": SKODSTRUP, "initials": "SDaA",
        "clinical_comment": "Borger afkræftet, drikker sparsomt.",
        "observations": [{"code": "NPU19748", "value": 26, "time": "2026-11-02T10:15:00+01:00"},
                         {"code": "NPU22089", "value": 6.8, "comment": "Ikke fastende",
                          "time": "2026-11-02T10:15:00+01:00"}],
    }
    base.update(change)
    return base


def hco(client: httpx.Client, cpr: str, **change: Any) -> str:
    """A new HCO message sent, acknowledged and shared; its MessageHeader.id."""
    response = client.post("/eoj/hco", json=hco_order(cpr, **change))
    assert response.status_code == 201, response.text
    return _shared(client, response.json()["id"])


def hco_modify(client: httpx.Client, header_id: str, **change: Any) -> str:
    """A ``modified-message`` of the chain of ``header_id``, shared to DDS (replacing); its id."""
    response = client.post(f"/eoj/hco/{header_id}/modify", json=change)
    assert response.status_code == 201, response.text
    return _shared(client, response.json()["id"])


def hco_retract(client: httpx.Client, header_id: str, reason: str) -> str:
    """A ``retract-message`` of the chain of ``header_id`` (its DDS entry deprecated); its id."""
    response = client.post(f"/eoj/hco/{header_id}/retract", json={"reason": reason})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def provide_hco_message(client: httpx.Client, bundle: dict[str, Any], format: Coding = HCOM_FORMAT) -> str:
    """An HCO message Bundle provided to DDS as the EOJ describes it (for a sender that shares
    what the sandbox's EOJ does not, e.g. a retraction), under formatCode ``format``; the new entry's id."""
    header = resources(bundle, "MessageHeader")[0]
    patient = resources(bundle, "Patient")[0]
    name = (patient.get("name") or [{}])[0]
    sender = next(o for o in resources(bundle, "Organization")
                  if header["sender"]["reference"].endswith(o["id"]))
    sor = next(i["value"] for i in sender["identifier"] if i.get("system") == SOR_SYSTEM)
    meta = DocumentMetadata(
        patient=PatientInfo(patient["identifier"][0]["value"], name.get("family"), tuple(name.get("given", [])),
                            patient.get("gender"), patient.get("birthDate")),
        author=Organisation(sor, sender["name"]), unique_id=f"urn:uuid:{bundle['id']}",
        title=f"Kommunale prøvesvar (HCOM-{header['id']})", type=HCOM_TYPE, category=HCOM_CLASS,
        format=format, facility_type=HOME_NURSING_UNIT, practice_setting=HOME_NURSING,
        creation=_instant(bundle["timestamp"]))
    content = json.dumps(bundle, ensure_ascii=False).encode("utf-8")
    submission = provide_bundle([(meta, content)], source_id=HCOM_SOURCE_ID, submitted=meta.creation)
    response = client.post("/dds/fhir", json=submission, headers={
        "Content-Type": "application/fhir+json",
        "Authorization": f"Bearer {token(client, 'system-eoj-aarhus', 'dds')}"})
    assert response.status_code == 200, response.text
    return str(next(e["response"]["location"] for e in response.json()["entry"]
                    if e["response"]["location"].startswith("DocumentReference/")).split("/")[1])


def _shared(client: httpx.Client, header_id: str) -> str:
    status = client.get(f"/eoj/hco/{header_id}").json()
    assert status["dds"]["entry"], status["dds"]
    return header_id


# ---- the PLSP Health Hub: the GP system's cards and notes, shared on demand ----------------------

def gp_system(client: httpx.Client, cpr: str, persona: str | None = None) -> tuple[PlspClient, Practitioner]:
    """The LPS client of the hub as the GP system of the citizen's clinic (or ``persona``), and the
    doctor of that clinic who writes and approves."""
    who = citizen(client, cpr)
    persona = persona or who.gp_system
    assert persona is not None, f"the GP clinic of {cpr} has no GP system in the sandbox"
    assert who.doctor is not None, f"the GP clinic of {cpr} has no doctor in the sandbox"
    doctor = practitioner(who.doctor.authorisation, list(who.doctor.given), who.doctor.family)
    return PlspClient.for_persona(client, persona), doctor


def plsp_card(client: httpx.Client, cpr: str, diagnoses: list[dict[str, Any]], *, gp_system_persona: str | None = None,
              updated: str = "2026-05-06T11:15:00+02:00") -> dict[str, Any]:
    """The citizen's GP system's approved diagnosis card handed to PLSP, which registers it in DDS on demand."""
    plsp, doctor = gp_system(client, cpr, gp_system_persona)
    return plsp.put_card(cpr, {"updated": updated, "diagnoses": diagnoses, "approval": approval(
        doctor["identifier"], doctor["given"], doctor["family"], updated)})


def plsp_note(client: httpx.Client, cpr: str, key: str, body: str, created: str, *, updated: str | None = None,
              html: bool = False, gp_system_persona: str | None = None) -> dict[str, Any]:
    """A journal note handed to PLSP by the citizen's GP system (shared on demand through DDS); its
    last update ``updated`` if it has been updated since ``created``."""
    plsp, doctor = gp_system(client, cpr, gp_system_persona)
    note: dict[str, Any] = {"key": key, "created": created, "format": "html" if html else "text", "body": body,
                            "author": {"practitioner": doctor, "role_code": "speciallaegeipraksis"}}
    if updated is not None:
        note["updated"] = updated
    return plsp.create_note(cpr, note)


DIABETES = {"key": "dx-diabetes", "sks": "DE11", "icpc2": "T90", "text": "Type 2-diabetes", "status": "current",
            "type": "problem-list-item", "onset": "2020-02-20", "recorded": "2023-03-15",
            "internal_note": "Tillægstekst: må ikke deles"}
MELANOMA = {"key": "dx-melanoma", "sks": "DC43", "icpc2": "S77", "text": "Modermærkekræft", "status": "relevant",
            "type": "encounter-diagnosis", "onset": "2023-03-20", "abatement": "2023-06-07", "recorded": "2023-05-01"}


def diagnosis_card(client: httpx.Client, cpr: str) -> str:
    """The citizen's diagnosis overview in DDS, the real way (LPS → PLSP → DDS, on demand): Type
    2-diabetes (T90, DE11, Aktuel, Forløbsdiagnose) with a tillægstekst that must not show, and
    Modermærkekræft (S77, DC43, Relevant, Kontaktdiagnose); the DDS entry's id."""
    answer = plsp_card(client, cpr, [DIABETES, MELANOMA])
    assert answer["shared"], answer
    return str(answer["dds"]["entry"])


# ---- access set-up through NSP ---------------------------------------------------------------

def block(client: httpx.Client, cpr: str, who: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A Min Spærring block made by the citizen ``cpr`` at NSP."""
    response = client.post("/nsp/consent/blocks", json={"who": who, **extra},
                           headers={"Authorization": f"Bearer {token(client, f'citizen-{cpr}', 'nsp')}"})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]
