"""The documents a page shows: DocumentReferences classified by kind, each document retrieved
through DDS, validated by the conformance engine and read into a view model — or marked invalid.

Kinds (by typeCode, else formatCode): ``hco`` (HCOM, HomeCareObservation message), ``conditionlist``
(LOINC 11450-4, ``urn:ad:dk:medcom:plr-v1.0:full``) and ``notes`` (SNOMED 866144008, the Notes
composition profile). Stored and on-demand entries are treated alike.

Validation is the conformance engine against the standard's Bundle profile (an HCOM as the HCO IG
version its entry's formatCode names, :func:`nsp_sandbox.hco_versions.judge_stored`), then the standard's
business rules (``checks``), then the patient rule: the document must be about the citizen the page
is about (:func:`patient_reasons`: the CPR numbers of the document's patient — a ``document``
Bundle's Composition subject, a ``message`` Bundle's Patients and its focus' subject — are exactly
the citizen's). That holds for stable and on-demand documents alike: an on-demand document is
generated when it is retrieved, so DDS cannot check it at registration. A document with an error
is never half-shown: it becomes :class:`Invalid` with the reasons.

Reading and validating costs milliseconds per document, so what a document yields is cached by
the SHA-256 of its kind and bytes (the same bytes always give the same view model, which holds no
address), together with the document's patient CPR numbers, in the viewer's own tables
(``extract_cache``: every worker and a restart share it); the patient rule depends on the page,
so it is applied to every use of a cached document. New documents are read when DDS notifies of
them, before any page needs them (:meth:`Documents.prefetch_many`, ``prefetch``).
For a citizen reading their own data, a DocumentReference whose ``attachment.hash`` names content
already read is not fetched again: the ITI-67 search DDS just answered with the reader's own token
decided that they may see that entry, and DDS logs no look-up of one's own data. Everyone else's
documents (a professional's, a relative's) are always retrieved, so DDS applies and logs every
retrieval as it does (Min Log).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool

from nsp_sandbox import hco_versions
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.document_patients import document_patients as patients_of
from services.sundhed_view import conditions, hco, notes
from services.sundhed_view.dds import Dds, Reader, Refused
from services.sundhed_view.extract_cache import ExtractCache
from services.sundhed_view.extract_codec import ExtractCodec

HCO_PROFILE = "http://medcomfhir.dk/ig/homecareobservation/StructureDefinition/medcom-homecareobservation-message"
CONDITIONLIST_PROFILE = "http://medcomfhir.dk/ig/conditionlist/StructureDefinition/medcom-conditionlist-bundle"
NOTES_PROFILE = "http://medcomfhir.dk/ig/notes/StructureDefinition/medcom-notes-bundle"
PROFILES = {"hco": HCO_PROFILE, "conditionlist": CONDITIONLIST_PROFILE, "notes": NOTES_PROFILE}
KIND_BY_TYPE = {"HCOM": "hco", "11450-4": "conditionlist", "866144008": "notes"}
KIND_BY_FORMAT = {"urn:ad:dk:medcom:msg:hco-v1.2:full": "hco", "urn:ad:dk:medcom:msg:hco-v1.1:full": "hco",
                  "urn:ad:dk:medcom:plr-v1.0:full": "conditionlist"}
PARALLEL = 8  # retrievals in flight at once

log = logging.getLogger(__name__)


def kind_of(reference: dict[str, Any]) -> str | None:
    for coding in (reference.get("type") or {}).get("coding", []):
        if coding.get("code") in KIND_BY_TYPE:
            return KIND_BY_TYPE[coding["code"]]
    for content in reference.get("content", []):
        code = str((content.get("format") or {}).get("code", ""))
        if code in KIND_BY_FORMAT:
            return KIND_BY_FORMAT[code]
        if "medcom-notes-composition" in code:
            return "notes"
    return None


@dataclass
class Entry:
    """One DocumentReference as the viewer uses it."""

    id: str
    kind: str | None
    status: str  # current | superseded | entered-in-error
    title: str
    url: str | None
    hash: str | None
    created: str | None
    replaces: list[str] = field(default_factory=list)
    comment: str | None = None  # DocumentEntry.comments (``description``): e.g. why it was deprecated
    hco_version: str | None = None  # the HCO IG version the entry's formatCode names (an HCOM is judged as it)

    @classmethod
    def of(cls, reference: dict[str, Any]) -> Entry:
        attachment = ((reference.get("content") or [{}])[0]).get("attachment") or {}
        replaces = [str(r.get("target", {}).get("reference", "")).rsplit("/", 1)[-1]
                    for r in reference.get("relatesTo", []) if r.get("code") == "replaces"]
        return cls(str(reference.get("id")), kind_of(reference), str(reference.get("status", "current")),
                   str(attachment.get("title") or reference.get("description") or ""), attachment.get("url"),
                   attachment.get("hash"), attachment.get("creation"), replaces,
                   reference.get("description") if isinstance(reference.get("description"), str) else None,
                   hco_versions.version_of_entry(reference))


@dataclass
class Invalid:
    """A document that failed validation (or could not be read): shown as "Ugyldigt dokument"."""

    entry_id: str
    title: str
    reasons: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"entry": self.entry_id, "title": self.title, "invalid": True, "reasons": self.reasons}


@dataclass
class Loaded:
    """A document read and valid: its view ``model`` (what the kind's reader made of it)."""

    entry: Entry
    model: Any


@dataclass(frozen=True)
class _Read:
    """What one document's bytes yield: the view model or the reasons it is invalid, and the CPR
    numbers of its patient (None: not read as far as its patient)."""

    outcome: Any  # the view model, or list[str] of reasons
    patients: frozenset[str] | None


Reader_ = Callable[[dict[str, Any]], Any]

# What an extract may be made of: the viewer's tables are read back into these classes only.
EXTRACT_TYPES: tuple[type, ...] = (_Read, Invalid, hco.Result, hco.Message, conditions.Diagnosis,
                                   conditions.ConditionList, notes.Note)


def document_patients(bundle: dict[str, Any]) -> frozenset[str] | None:
    """The CPR numbers a document or message Bundle is about (None: not a Bundle of either kind)."""
    found = patients_of(bundle)
    return None if found is None else frozenset(p.cpr for p in found)


def patient_reasons(patients: frozenset[str] | None, cpr: str) -> list[str]:
    """Why a document about ``patients`` must not be shown on the page of the citizen ``cpr`` (empty:
    it may). The other person's CPR number is never repeated on the page."""
    if patients is None:
        return []
    if not patients:
        return ["Patient.identifier: dokumentet angiver ikke patientens CPR-nummer, så det kan ikke vises "
                "som borgerens (forkert patient)"]
    if patients != {cpr}:
        return ["Patient.identifier: dokumentet handler om en anden person end borgeren; patientens "
                "CPR-nummer i dokumentet er ikke borgerens (forkert patient)"]
    return []


class Documents:
    """Retrieval, validation and reading of documents, with the content-addressed cache."""

    def __init__(self, context: SandboxContext, dds: Dds, readers: dict[str, Reader_],
                 checks: dict[str, Callable[[dict[str, Any]], list[str]]]) -> None:
        self.context = context
        self.dds = dds
        self.readers = readers
        self.checks = checks
        self.cache = ExtractCache(context.database, context.clock, ExtractCodec(EXTRACT_TYPES))

    def _cached_for(self, entry: Entry) -> Any | None:
        return self.cache.for_entry_in_memory((entry.id, entry.hash)) if entry.hash else None

    @staticmethod
    def digest(kind: str, content: bytes, hco_version: str | None) -> str:
        """The cache key of ``content`` read as ``kind`` (an HCOM as HCO IG version ``hco_version``)."""
        return hashlib.sha256(f"{kind}\0{hco_version or ''}\0".encode() + content).hexdigest()

    def _extract(self, kind: str, content: bytes, mime_type: str, hco_version: str | None) -> _Read:
        """What ``content`` yields (the view model or the reasons it is invalid) and its patient, read and validated
        now; an HCOM is judged as the HCO IG version ``hco_version`` (its entry's formatCode)."""
        document, problems = self.context.validator.parse(content, mime_type or "application/fhir+json")
        if document is None:
            return _Read([f"Dokumentet kan ikke læses som FHIR: {p.diagnostics}" for p in problems][:3] or [
                "Dokumentet kan ikke læses som FHIR"], None)
        if document.get("resourceType") != "Bundle":
            return _Read(["Dokumentet er ikke et FHIR Bundle"], None)
        patients = document_patients(document)
        profile: str | None = PROFILES[kind]
        claimed = document.get("meta", {}).get("profile") if isinstance(document.get("meta"), dict) else None
        if isinstance(claimed, list) and claimed and claimed[0] == profile:
            # The document's own first claim: the walk is the same without naming it again (that profile
            # is walked first either way, and it is loaded), and the call is then DDS's, so the findings
            # the engine kept for these bytes, when DDS has just validated them in this process, answer it.
            profile = None
        found = hco_versions.judge_stored(self.context.validator, document, hco_version, profile,
                                          content=content) \
            if kind == "hco" else self.context.validator.validate(document, profile, content=content)
        issues = [i for i in found if i.is_error]
        reasons = [f"{i.expression or ''}: {i.diagnostics}".strip(": ") for i in issues]
        if not reasons:
            reasons = self.checks[kind](document)
        if reasons:
            return _Read(reasons, patients)
        try:
            return _Read(self.readers[kind](document), patients)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            return _Read([f"Dokumentet kunne ikke læses: {type(exc).__name__}"], patients)

    def _read_and_remember(self, entry: Entry, content: bytes, mime_type: str) -> _Read:
        """What the content of ``entry`` yields, from the extracts kept by content (:meth:`digest`) or read now, and
        kept for it: one trip to a worker thread."""
        return self._read_and_remember_many([(entry, content, mime_type)])[0]

    def _read_and_remember_many(self, documents: list[tuple[Entry, bytes, str]]) -> list[_Read]:
        """:meth:`_read_and_remember` each (entry, content, mime type): the extracts already made looked up in one
        query, the new ones and the entries kept in one transaction (the documents of a notification)."""
        digests = []
        for entry, content, _ in documents:
            assert entry.kind is not None
            digests.append(self.digest(entry.kind, content, entry.hco_version))
        made = self.cache.get_many(digests)
        reads: list[_Read] = []
        rows: list[tuple[str, Any, tuple[str, str] | None, bool]] = []
        for (entry, content, mime_type), digest in zip(documents, digests, strict=True):
            value = made.get(digest)
            new = value is None
            if value is None:
                assert entry.kind is not None
                value = made[digest] = self._extract(entry.kind, content, mime_type, entry.hco_version)
            rows.append((digest, value, (entry.id, entry.hash) if entry.hash else None, new))
            reads.append(value)
        self.cache.put_many(rows)
        return reads

    async def prefetch_many(self, reader: Reader, entries: list[Entry]) -> list[str]:
        """Read the documents of ``entries`` (the events of one notification) ahead of any page (see ``prefetch``):
        retrieved one after another with the viewer's own system token, then validated and read as :meth:`load`
        does, in one turn of the CPU lane, and kept by their content and as their entries' in one transaction. Only
        a stable document whose bytes have its entry's ``attachment.hash`` (base64 SHA-1) is kept for the entry.
        Which entries the viewer's tables have the content of is looked up in one query. Answers what happened to
        each, in a word; one DDS refused is ``refused-<HTTP status>``."""
        outcomes = [""] * len(entries)
        wanted: list[int] = []
        for i, entry in enumerate(entries):
            if entry.kind is None:
                outcomes[i] = "not-shown"  # a kind the viewer does not show
            elif not entry.url or not entry.hash:
                outcomes[i] = "on-demand"  # generated when retrieved: read when a page needs it
            elif self._cached_for(entry) is not None:
                outcomes[i] = "known"
            else:
                wanted.append(i)
        known = await run_in_threadpool(self.cache.known_entries,
                                        [(entries[i].id, entries[i].hash or "") for i in wanted]) if wanted else set()
        retrieved: list[tuple[Entry, bytes, str]] = []
        read: list[int] = []
        for i in wanted:
            entry = entries[i]
            assert entry.url is not None and entry.hash is not None
            if (entry.id, entry.hash) in known:
                outcomes[i] = "known"
                continue
            try:
                content, mime_type = await self.dds.retrieve(reader, entry.url)
            except Refused as refused:
                outcomes[i] = f"refused-{refused.status}"
                log.info("prefetch of DocumentReference/%s refused: %s", entry.id, refused.text)
                continue
            if base64.b64encode(hashlib.sha1(content).digest()).decode() != entry.hash:
                outcomes[i] = "hash-differs"
                continue
            retrieved.append((entry, content, mime_type))
            read.append(i)
        if retrieved:
            # In the CPU lane, not beside it on a pool thread: two busy threads take turns on Python's lock and
            # each pays for the other's (nsp_sandbox.cpu_lane). Once the provides queued there are done (or after
            # a bounded wait): reading ahead does not slow the burst it reads; a page reads what it needs itself.
            await self.context.cpu_lane.run_when_idle(self._read_and_remember_many, retrieved)
            for i in read:
                outcomes[i] = "read"
        return outcomes

    async def load(self, reader: Reader, entries: list[Entry], *, use_cache: bool,
                   cpr: str) -> list[Loaded | Invalid]:
        """Every entry's document, in the order given (retrieved ``PARALLEL`` at a time); one that
        is not about the citizen ``cpr`` is :class:`Invalid`."""
        gate = asyncio.Semaphore(PARALLEL)
        if use_cache:
            await run_in_threadpool(self.cache.preload, [(e.id, e.hash) for e in entries if e.hash])

        async def one(entry: Entry) -> Loaded | Invalid:
            cached = self._cached_for(entry) if use_cache else None
            if cached is None:
                if not entry.url or entry.kind is None:
                    return Invalid(entry.id, entry.title, ["DocumentReference har ingen adresse på dokumentet"])
                async with gate:
                    try:
                        content, mime_type = await self.dds.retrieve(reader, entry.url)
                    except Refused as refused:
                        if refused.status in (401, 403):
                            raise
                        return Invalid(entry.id, entry.title, [f"DDS kunne ikke udlevere dokumentet: {refused.text}"])
                cached = await run_in_threadpool(self._read_and_remember, entry, content, mime_type)
            wrong_patient = patient_reasons(cached.patients, cpr)
            if wrong_patient or isinstance(cached.outcome, list):
                return Invalid(entry.id, entry.title,
                               wrong_patient + (cached.outcome if isinstance(cached.outcome, list) else []))
            return Loaded(entry, cached.outcome)

        return list(await asyncio.gather(*(one(e) for e in entries)))
