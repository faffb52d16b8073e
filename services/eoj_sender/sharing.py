"""Sharing HCO messages to DDS — every rule of it, in one place.

* The message Bundle itself is the document (ITI-65), described by a DocumentReference declaring and
  meeting the ``homecare-observation-documentreference`` profile of ``medcom.fhir.dk.xdsdocuments``
  (typeCode ``urn:oid:1.2.208.184.100.1#HCOM``, formatCode ``urn:ad:dk:medcom:msg:hco-v1.2:full`` or
  ``…hco-v1.1:full`` by the HCO IG version the message follows; content type ``application/fhir+json``
  or ``application/fhir+xml``, the format it was sent in,
  classCode ``001``, facility ``550621000005101``, practice ``658161000005107``, metadata version
  ``2.0``, contained ``medcom-document-patient`` and ``medcom-document-organization``); the EOJ
  provides it with a system token from NSP's STS.
* The patient's name, gender and birth date come from NSP's CPR register, never from guesses; a
  citizen with name and address protection is named ``ADRESSEBESKYTTET`` (MedCom Document 2.0.2).
  A CPR the register does not know is not shared.
* When the message is sent, in parallel with the delivery to the GP — not gated on the GP's
  acknowledgement: in EHMI the DDS copy is a secondary delivery (an SBDH with scope ``XDS_METADATA``
  carrying the DocumentReference), sent by the sender's MSH alongside the primary one (hco.md §4.5, §5).
  A copy DDS could not be reached for (``dds_state`` ``failed``) is kept and retried
  (:meth:`Sharing.retry_due`), never lost; one DDS refused (``refused``) shows DDS's findings. So is a copy
  whose worker stopped before it was made (``pending`` or ``sharing``, its claim older than ``CLAIM_SECONDS``).
* A message whose DiagnosticReport carries security label ``R`` (refused consent) is never shared.
* Before the policy date (``hco_policy_date``, 15 January 2026, a Danish date judged in Danish time on
  the sandbox clock: :mod:`nsp_sandbox.hco_policy`, the reading DDS applies too) nothing is shared
  unless the order carried explicit consent — which the message cannot carry, so DDS itself decides
  (``dds_rules_hco_consent``: refused at ``reject``).
* A patient identified by an eCPR (a replacement number, not a CPR) cannot be registered in DDS.
* A ``modified-message`` replaces the chain's current entry (RPLC: the old one becomes
  ``superseded``); a ``retract-message`` deprecates it (ITI-92, ``entered-in-error``, with the
  retraction's reason as the entry's ``description`` — XDS DocumentEntry.comments — so the citizen
  sees why; over XDS.b ITI-57) and is not itself shared.
* Through DDS's MHD door (default) or its XDS.b door (``NSP_SANDBOX_EOJ_DDS_TRANSPORT=xds``), with the
  same metadata: :mod:`services.eoj_sender.dds_door` decides.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import date, datetime
from typing import Any

import httpx2 as httpx
from sqlalchemy import func, select, update
from starlette.concurrency import run_in_threadpool

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.cpr import is_cpr
from nsp_sandbox.database import claim_time, unclaimed
from nsp_sandbox.fhir_format import FHIR_XML, serialise
from nsp_sandbox.fhir_http import FHIR_JSON, pretty_json_bytes
from nsp_sandbox.hco_policy import before_policy_date
from nsp_sandbox.hco_terms import GLN_SYSTEM, SOR_SYSTEM
from nsp_sandbox.hco_versions import format_code
from nsp_sandbox.mhd_source import (
    CONFIDENTIALITY,
    Coding,
    DocumentMetadata,
    Organisation,
    PatientInfo,
    RecipientError,
    document_reference,
)
from nsp_sandbox.xds.client import XdsClientError
from services.eoj_sender.chain import read_facts
from services.eoj_sender.dds_door import DdsDoor, door
from services.eoj_sender.models import MessageRow
from services.eoj_sender.nsp_registers import NspRegisters, NspUnavailable, Person

HCOM_TYPE = Coding("urn:oid:1.2.208.184.100.1", "HCOM", "HomeCareObservation message")
CLINICAL_REPORT = Coding("http://medcomfhir.dk/ig/document/CodeSystem/MedCom-ihe-classcode-CS-TEMP", "001",
                         "Klinisk rapport")
HCO_FORMAT = Coding("http://medcomfhir.dk/ig/xdsdocuments/CodeSystem/MedComHCOFormatCodeCS",
                    "urn:ad:dk:medcom:msg:hco-v1.2:full", "DK HomeCareObservation message v1.2")
HOME_NURSING_UNIT = Coding("http://snomed.info/sct", "550621000005101", "hjemmesygeplejeenhed")
HOME_NURSING = Coding("http://snomed.info/sct", "658161000005107", "hjemmesygepleje")
NORMAL = Coding(CONFIDENTIALITY, "N", "normal")
HCOM_PROFILE = "http://medcomfhir.dk/ig/xdsdocuments/StructureDefinition/homecare-observation-documentreference"
DOCUMENT_IG = "http://medcomfhir.dk/ig/document/StructureDefinition/"
EARLIER_WAIT_SECONDS = 30.0  # how long a change's copy waits for an earlier version's copy another worker shares
METADATA_VERSION = "2.0"  # the profile's pattern for the DocumentReference.version extension
SOURCE_ID = "urn:oid:1.2.208.176.43210.8.10.99"  # the EOJ's XDS document source id
GLN_SYSTEMS = (GLN_SYSTEM, "http://www.gs1.org/gln")


def as_uuid(text: str) -> uuid.UUID:
    """``text`` when it is a UUID, else a UUID derived from it (XDS uniqueIds are OIDs or UUIDs)."""
    try:
        return uuid.UUID(text)
    except ValueError:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"urn:medcom:hco:{text}")


def document_metadata(bundle: dict[str, Any], person: Person | None = None, *, version: str = "1.2",
                      content_type: str = FHIR_JSON) -> DocumentMetadata:
    """The DocumentEntry of an HCO message Bundle (its uniqueId derives from the Bundle.id); the patient
    as ``person`` (from NSP's CPR register) names them — without it, as the message's Patient does. The
    formatCode follows the HCO IG ``version``; ``content_type`` is the document's FHIR format."""
    resources = [e.get("resource", {}) for e in bundle.get("entry", [])]
    header = resources[0]
    by_ref = {f"{r.get('resourceType')}/{r.get('id')}": r for r in resources}
    sender = by_ref.get(header.get("sender", {}).get("reference", ""), {})
    if person is None:
        patient = next(r for r in resources if r.get("resourceType") == "Patient")
        name = (patient.get("name") or [{}])[0]
        person = Person(next((i.get("value", "") for i in patient.get("identifier", [])), ""),
                        tuple(name.get("given", [])), name.get("family", ""), patient.get("gender"),
                        patient.get("birthDate"), False)
    sor = next((i["value"] for i in sender.get("identifier", []) if i.get("system") == SOR_SYSTEM), "")
    gln = next((i["value"] for i in sender.get("identifier", []) if i.get("system") in GLN_SYSTEMS), None)
    effective = [datetime.fromisoformat(o["effectiveDateTime"]) for o in resources
                 if o.get("resourceType") == "Observation" and "T" in o.get("effectiveDateTime", "")]
    return DocumentMetadata(
        patient=PatientInfo(person.cpr, person.family, person.given, person.gender, person.birth_date),
        author=Organisation(sor, sender.get("name", ""), gln),
        unique_id=f"urn:uuid:{as_uuid(bundle['id'])}",
        title=f"Kommunale prøvesvar (HCOM-{header['id']})",
        type=HCOM_TYPE, category=CLINICAL_REPORT, format=Coding(HCO_FORMAT.system, *format_code(version)),
        content_type=content_type,
        facility_type=HOME_NURSING_UNIT, practice_setting=HOME_NURSING,
        creation=datetime.fromisoformat(bundle["timestamp"]),
        service_start=min(effective) if effective else None,
        service_stop=max(effective) if len(effective) > 1 else None,
        profile=HCOM_PROFILE, version_id=METADATA_VERSION, master_identifier_use="usual",
        patient_profile=DOCUMENT_IG + "medcom-document-patient",
        author_profile=DOCUMENT_IG + "medcom-document-organization", confidentiality=NORMAL, narrative=True,
    )


def why_not_shared(bundle: dict[str, Any], *, consent: bool, now: datetime, policy_date: date) -> str | None:
    """Why this message must not be published to DDS, or None when it may be (``now``: the sandbox clock)."""
    facts = read_facts(bundle)
    if facts is None:
        return "not an HCO message"
    if facts.refused_consent:
        return "refused consent (DiagnosticReport.meta.security R): never shared to DDS"
    if not is_cpr(facts.cpr):
        return f"the patient has no CPR number (eCPR {facts.cpr}), which DDS cannot register"
    if before_policy_date(now, policy_date) and not consent:
        return (f"before the sharing policy date {policy_date.isoformat()} (Danish time) a message is shared only "
                "with the citizen's explicit consent, and the order carried none")
    return None


class Sharing:
    def __init__(self, context: SandboxContext, nsp: NspRegisters) -> None:
        self._context = context
        self._nsp = nsp

    async def _source(self) -> DdsDoor:
        """DDS's MHD or XDS.b door, as ``eoj_dds_transport`` says (:mod:`services.eoj_sender.dds_door`)."""
        return await door(self._context, self._nsp, SOURCE_ID)

    def _record(self, header_id: str, entry: str | None, reason: str | None, state: str) -> None:
        """Keep what became of the DDS copy: ``shared``, ``not-shared`` (the rules say no), ``refused``
        (DDS said no), ``failed`` (DDS or NSP could not be reached: retried)."""
        with self._context.database.session() as s:
            s.execute(update(MessageRow).where(MessageRow.header_id == header_id).values(
                dds_entry=entry, dds_reason=reason, dds_state=state, dds_claimed_at=None,
                dds_attempts=func.coalesce(MessageRow.dds_attempts, 0) + 1))

    async def _recorded(self, header_id: str, entry: str | None, reason: str | None, state: str) -> None:
        """:meth:`_record` on a worker thread."""
        await run_in_threadpool(self._record, header_id, entry, reason, state)

    def _claim(self, header_id: str, sender: bool) -> MessageRow | None:
        """Message ``header_id`` taken to make its DDS copy, unless it has one or another share has it (a claim
        older than ``CLAIM_SECONDS`` is a share that died: taken over): of two shares at once (a retry, a
        second ``POST /eoj/hco/{id}/share``, another worker) one provides it. A message is claimed for its copy
        when it is kept (``pending``), by the worker that sends it: that ``sender`` takes it while it is so."""
        now = claim_time()
        free = unclaimed(MessageRow.dds_claimed_at, now)
        with self._context.database.session() as s:
            taken = s.execute(update(MessageRow).where(
                (MessageRow.header_id == header_id) & MessageRow.dds_entry.is_(None)
                & ((MessageRow.dds_state == "pending") | free if sender else free))
                .values(dds_state="sharing", dds_claimed_at=now)).rowcount
            row = s.scalar(select(MessageRow).where(MessageRow.header_id == header_id)) if taken == 1 else None
            if row is not None:
                s.expunge(row)
            return row

    async def _after_earlier_copies(self, row: MessageRow) -> None:
        """A change's copy replaces the chain's newest one, so the earlier versions' copies come first: in one
        process the chain's changes follow one another (``chain_changes``); another worker's share of an earlier
        version is waited for here (at most :data:`EARLIER_WAIT_SECONDS`), unless its worker stopped (its claim
        is older than ``CLAIM_SECONDS``: that copy is made by the next retry, which finds this later one)."""
        original = row.original_header or row.header_id
        query = select(MessageRow.pk).where(
            MessageRow.of_chain(original) & (MessageRow.pk < row.pk) & MessageRow.dds_state.in_(("pending", "sharing"))
            & ~unclaimed(MessageRow.dds_claimed_at, claim_time())).limit(1)
        deadline = time.monotonic() + EARLIER_WAIT_SECONDS
        while time.monotonic() < deadline:
            if await run_in_threadpool(self._none_of, query):
                return
            await asyncio.sleep(0.05)

    def _none_of(self, query: Any) -> bool:
        with self._context.database.reading() as s:
            return s.scalar(query) is None

    def _current_entry(self, row: MessageRow) -> tuple[str, str, bool] | None:
        """(MessageHeader.id, DDS entry id, whether it is a later version than ``row``) of the chain's newest
        shared version, if any."""
        original = row.original_header or row.header_id
        with self._context.database.reading() as s:
            shared = s.execute(select(MessageRow.header_id, MessageRow.dds_entry, MessageRow.pk).where(
                MessageRow.of_chain(original) & MessageRow.dds_entry.is_not(None)
                & (MessageRow.header_id != row.header_id))
                .order_by(MessageRow.pk.desc()).limit(1)).first()
            return (shared.header_id, shared.dds_entry, shared.pk > row.pk) if shared else None

    def _keep_metadata(self, header_id: str, resource: dict[str, Any]) -> None:
        """The DocumentReference the copy was described by: EHMI's XDS_METADATA for the envelope view."""
        with self._context.database.session() as s:
            row = s.scalar(select(MessageRow).where(MessageRow.header_id == header_id))
            if row is not None:
                row.dds_metadata = resource

    async def retry_due(self) -> list[str]:
        """Provide again every copy that could not reach DDS, and make every copy a worker that stopped left
        unmade (``pending`` or ``sharing`` under a claim older than ``CLAIM_SECONDS``), oldest first; the
        MessageHeader.ids tried."""
        due = await run_in_threadpool(self._due)
        for header_id in due:
            await self.share(header_id)
        return due

    def _due(self) -> list[str]:
        with self._context.database.reading() as s:
            return list(s.scalars(select(MessageRow.header_id).where(
                (MessageRow.dds_state == "failed") | (MessageRow.dds_state.in_(("pending", "sharing"))
                                                      & unclaimed(MessageRow.dds_claimed_at, claim_time())))
                .order_by(MessageRow.pk)))

    async def share(self, header_id: str, *, sender: bool = False) -> None:
        """The DDS copy of message ``header_id``, made when it is sent (by its ``sender``): publish, replace or
        deprecate."""
        row = await run_in_threadpool(self._claim, header_id, sender)
        if row is None:
            return
        bundle = json.loads(row.bundle)
        if read_facts(bundle) is None:  # a faulty message of the replay corpus, sent as it was given
            await self._recorded(header_id, None, "not an HCO message (its MessageHeader's event is not "
                                 "homecareobservation-message)", "not-shared")
            return
        if row.activity != "new-message":
            await self._after_earlier_copies(row)
        now = self._context.clock.now()
        reason = why_not_shared(bundle, consent=row.consent, now=now,
                                policy_date=self._context.settings.hco_policy_date)
        if reason is not None:
            await self._recorded(header_id, None, reason, "not-shared")
            return
        current = await run_in_threadpool(self._current_entry, row)
        if current is not None and current[2]:  # a copy retried after a later version's was made
            await self._recorded(header_id, None, f"a later version of the message (MessageHeader.id {current[0]}) is "
                                 f"shared already, as DocumentReference/{current[1]}", "not-shared")
            return
        try:
            person = None if row.activity == "retract-message" else await self._nsp.person(row.cpr)
        except NspUnavailable as exc:
            await self._recorded(header_id, None, f"the patient could not be looked up: {exc}"[:500], "failed")
            return
        if person is None and row.activity != "retract-message":
            await self._recorded(header_id, None, f"NSP's CPR register does not know CPR {row.cpr}; DDS metadata needs "
                                 "the patient's name, gender and birth date from it", "not-shared")
            return
        try:
            source = await self._source()
            if row.activity == "retract-message":
                if current is None:
                    await self._recorded(header_id, None, "a retraction is not shared, and no earlier version was "
                                         "shared", "not-shared")
                    return
                await source.deprecate(current[1], row.cpr, reason=retraction_reason(bundle))
                await self._recorded(header_id, None, f"a retraction is not shared; it deprecated DocumentReference/"
                                     f"{current[1]} (entered-in-error)", "not-shared")
                return
            assert person is not None
            xml = row.fhir_format == "xml"  # shared in the format it was sent in, for the IG version it follows
            meta = document_metadata(bundle, person, version=row.hco_version,
                                     content_type=FHIR_XML if xml else FHIR_JSON)
            content = (serialise(bundle, "xml", self._context.validator.structures) if xml
                       else pretty_json_bytes(bundle))
            replaces = current[1] if current and row.activity == "modified-message" else None
            entry = await source.provide(meta, content, submitted=now, replaces=replaces)
            await run_in_threadpool(self._keep_metadata, header_id,
                                    document_reference(meta, f"HCOM-{header_id}.json", replaces))
        except RecipientError as exc:
            state = "failed" if exc.status >= 500 else "refused"
            await self._recorded(header_id, None, f"DDS refused: {exc}"[:500], state)
            return
        except XdsClientError as exc:
            state = "failed" if exc.status is None or exc.status >= 500 else "refused"
            await self._recorded(header_id, None, f"DDS refused or could not be reached: {exc}"[:500], state)
            return
        except (NspUnavailable, httpx.HTTPError) as exc:
            await self._recorded(header_id, None, f"DDS could not be reached: {exc}"[:500], "failed")
            return
        await self._recorded(header_id, entry, None, "shared")


def retraction_reason(bundle: dict[str, Any]) -> str | None:
    """The reason a retraction gives (its DiagnosticReport.conclusion), shown to the citizen in DDS."""
    report = next((e.get("resource", {}) for e in bundle.get("entry", [])
                   if e.get("resource", {}).get("resourceType") == "DiagnosticReport"), {})
    conclusion = report.get("conclusion")
    return conclusion.strip()[:1000] if isinstance(conclusion, str) and conclusion.strip() else None
