"""The 14 stored queries of ITI-18 (ITI TF-2 §3.18.4.1.2.3.7) over DDS's one store.

A query is answered in two steps, matching the guarded read (``services.dds.access.guard``):
:meth:`StoredQuery.patients` names the citizens it concerns (from the patient id, or from the
entries / submission sets its ids name), then :meth:`StoredQuery.run` loads those citizens'
registry content (:class:`World`) as the access grant allows and filters it as the query says.
Every XDS DocumentEntry/SubmissionSet of a citizen is loaded (DDS queries are about one citizen),
so filters are plain Python and match the ITI TF-2 semantics exactly:

* ``…From`` is inclusive (``>=``), ``…To`` exclusive (``<``) (§3.18.4.1.2.3.4); an entry without
  the attribute does not match a time parameter;
* coded parameters match code and ``codingScheme``; the values of one slot are ORed, repeated
  slots of ``$XDSDocumentEntryEventCodeList`` / ``…ConfidentialityCode`` ANDed (§3.18.4.1.2.3.6);
* ``$XDSDocumentEntryType`` defaults to stable entries only (§3.18.4.1.2.3.6.2);
* ``…AuthorPerson`` matches the author's XCN with SQL ``LIKE`` wildcards (``%``, ``_``);
* the status parameters take the ebRS status URNs (Approved, Deprecated).

DDS keeps no Folders, so the Folder queries answer an empty success.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.ebrim import Code
from nsp_sandbox.xds.errors import XdsWireError
from nsp_sandbox.xds.from_mhd import author_classification, unique_id_of
from nsp_sandbox.xds.hl7v2 import CX
from nsp_sandbox.xds.query import AdhocQueryRequest
from nsp_sandbox.xds.rim import Association
from services.dds.domain import AvailabilityStatus, StoredEntry, StoredSubmissionSet
from services.dds.mhd.document_reference import search_codes
from services.dds.mhd.fhir_dates import parse_instant
from services.dds.queries import EntryQuery, SubmissionSetQuery, TokenValue, Withholding
from services.dds.registry import Registry
from services.dds.xds import ebrim_view as view

_DE = "$XDSDocumentEntry"
STATUSES = {v.STATUS_APPROVED: (AvailabilityStatus.CURRENT,),
            v.STATUS_DEPRECATED: (AvailabilityStatus.SUPERSEDED, AvailabilityStatus.ENTERED_IN_ERROR)}
# coded parameter → the registry's code parameter (services.dds.mhd.document_reference.search_codes)
CODED = {f"{_DE}ClassCode": "category", f"{_DE}TypeCode": "type", f"{_DE}PracticeSettingCode": "setting",
         f"{_DE}HealthcareFacilityTypeCode": "facility", f"{_DE}FormatCode": "format",
         f"{_DE}EventCodeList": "event", f"{_DE}ConfidentialityCode": "security-label"}
PAGE = 500
ENTRIES_ONLY = frozenset({"FindDocuments", "FindDocumentsByReferenceId"})  # answer DocumentEntries only


@dataclass
class World:
    """What the registry holds about some citizens, as one look-up may see it."""

    entries: list[StoredEntry] = field(default_factory=list)
    sets: list[StoredSubmissionSet] = field(default_factory=list)
    relations: dict[int, list[tuple[str, str]]] = field(default_factory=dict)  # entry pk → (kind, target id)

    def by_id(self) -> dict[str, StoredEntry]:
        return {e.id: e for e in self.entries}


@dataclass
class Found:
    """A query's result: entries, submission sets and associations (in this order in the answer)."""

    entries: list[StoredEntry] = field(default_factory=list)
    sets: list[StoredSubmissionSet] = field(default_factory=list)
    associations: list[Association] = field(default_factory=list)


def _status_values(request: AdhocQueryRequest, name: str) -> set[AvailabilityStatus] | None:
    values = request.values(name)
    if not values:
        return None
    return {status for value in values for status in STATUSES.get(value, ())}


def _range(request: AdhocQueryRequest, name: str, value: datetime | None) -> bool:
    """``name``From <= value < ``name``To (each bound only when given; no value fails a given bound)."""
    low, high = request.time(f"{name}From"), request.time(f"{name}To")
    if low is None and high is None:
        return True
    if value is None:
        return False
    return (low is None or value >= low) and (high is None or value < high)


def _like(patterns: list[str], text: str) -> bool:
    for pattern in patterns:
        regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
        if re.fullmatch(regex, text, flags=re.IGNORECASE | re.DOTALL):
            return True
    return False


def entries_named(registry: Registry, uuids: list[str], unique_ids: list[str]) -> list[StoredEntry]:
    """The entries with one of these entryUUIDs or XDS uniqueIds (any status, any patient)."""
    candidates = set(uuids)
    for unique_id in unique_ids:
        extension = unique_id.partition("^")[2]
        candidates |= {unique_id, f"urn:oid:{unique_id}", *([extension] if extension else [])}
    if not candidates:
        return []
    page = registry.find_entries(EntryQuery(
        patients=[], tokens=[("identifier", [TokenValue(None, c) for c in sorted(candidates)])], count=PAGE))
    return [e for e in page.items if e.entry_uuid in uuids or unique_id_of(e.resource, e.unique_id) in unique_ids]


class StoredQuery:
    """One ITI-18 request against the registry (synchronous: run it in a thread)."""

    def __init__(self, registry: Registry, request: AdhocQueryRequest, settings: view.ViewSettings) -> None:
        self.registry = registry
        self.request = request
        self.settings = settings
        query = request.stored_query
        assert query is not None  # unknown queries are refused before
        self.name = query.name
        self.cprs: list[str] = []
        self.patient_system: str | None = None

    # ---- step 1: whose documents ------------------------------------------------------------------

    def patients(self) -> list[str]:
        """The CPRs the query concerns (``XdsWireError`` for a malformed parameter)."""
        request = self.request
        for name in (f"{_DE}PatientId", "$XDSSubmissionSetPatientId", "$XDSFolderPatientId", "$patientId"):
            if request.values(name):
                cx = CX.parse(request.single(name) or "", name)
                self.patient_system = f"urn:oid:{cx.authority_oid}"
                self.cprs = [cx.id]
                return self.cprs
        entries = self._entries_named(request.values(f"{_DE}EntryUUID") + request.values("$uuid"),
                                      request.values(f"{_DE}UniqueId"))
        sets = self._sets_named(request.values("$XDSSubmissionSetEntryUUID") + request.values("$uuid"),
                                request.values("$XDSSubmissionSetUniqueId"))
        self.cprs = list(dict.fromkeys([e.patient.value for e in entries] + [s.patient.value for s in sets]))
        return self.cprs

    def _entries_named(self, uuids: list[str], unique_ids: list[str]) -> list[StoredEntry]:
        return entries_named(self.registry, uuids, unique_ids)

    def _sets_named(self, uuids: list[str], unique_ids: list[str]) -> list[StoredSubmissionSet]:
        values = [*uuids, *unique_ids, *(f"urn:oid:{u}" for u in unique_ids)]
        if not values:
            return []
        page = self.registry.find_submission_sets(SubmissionSetQuery(
            patients=[], identifiers=[[TokenValue(None, value) for value in values]], count=PAGE))
        return [s for s in page.items if set(view.submission_set_ids(s)) & {*uuids, *unique_ids}]

    # ---- step 2: the look-up ----------------------------------------------------------------------

    def world(self, withheld: Sequence[Withholding], excluded: Iterable[str]) -> World:
        """The citizens' entries (less those ``withheld`` withholds) and submission sets (less
        ``excluded`` citizens'). FindDocuments answers entries only: for it just the entries that
        can match are loaded (its statuses asked in SQL), no submission sets, no associations."""
        excluded = set(excluded)
        entries_only = self.name in ENTRIES_ONLY
        statuses = _status_values(self.request, f"{_DE}Status") if entries_only else None
        patients = [[TokenValue(self.patient_system, cpr) for cpr in self.cprs]]
        world = World(entries=self.registry.all_entries(EntryQuery(
            patients=patients, withheld=list(withheld),
            statuses=sorted(s.value for s in statuses) if statuses is not None else None))) if self.cprs else World()
        if entries_only:
            return world
        for cpr in self.cprs:
            if cpr not in excluded:
                world.sets += self.registry.find_submission_sets(SubmissionSetQuery(
                    patients=[[TokenValue(self.patient_system, cpr)]], count=PAGE)).items
        world.relations = self.registry.relations_of([e.pk for e in world.entries])
        return world

    def run(self, world: World) -> Found:
        """The query over ``world``."""
        return RUNNERS[self.name](self, world)

    # ---- filters ----------------------------------------------------------------------------------

    def _codes_match(self, entry: StoredEntry, parameter: str) -> bool:
        groups = self.request.codes(parameter)
        if not groups:
            return True
        held = search_codes(entry.resource).get(CODED[parameter], [])
        schemes = [(self.settings.scheme(c.system), c.system, c.code) for c in held]

        def carries(code: Code) -> bool:
            return any(c == code.code and code.scheme in (scheme, system, f"urn:oid:{code.scheme}")
                       for scheme, system, c in schemes)
        return all(any(carries(code) for code in group) for group in groups)

    def _entry_times(self, entry: StoredEntry) -> dict[str, datetime | None]:
        resource = entry.resource
        attachment = next((c.get("attachment") for c in resource.get("content") or [] if isinstance(c, dict)),
                          {}) or {}
        context = resource.get("context") if isinstance(resource.get("context"), dict) else {}
        period = context.get("period") if isinstance(context.get("period"), dict) else {}
        return {"CreationTime": parse_instant(attachment.get("creation")),
                "ServiceStartTime": parse_instant(period.get("start")),
                "ServiceStopTime": parse_instant(period.get("end"))}

    def entry_type_ok(self, entry: StoredEntry) -> bool:
        types = self.request.values(f"{_DE}Type") or [v.DOCUMENT_ENTRY_STABLE]
        return entry.object_type.value in types

    def entry_status_ok(self, entry: StoredEntry) -> bool:
        statuses = _status_values(self.request, f"{_DE}Status")
        return statuses is None or entry.status in statuses

    def content_filters_ok(self, entry: StoredEntry) -> bool:
        """The filters every entry-returning query may carry: type, format and confidentiality code."""
        return self.entry_type_ok(entry) and self._codes_match(entry, f"{_DE}FormatCode") and \
            self._codes_match(entry, f"{_DE}ConfidentialityCode")

    def find_documents_ok(self, entry: StoredEntry) -> bool:
        """FindDocuments' parameters (§3.18.4.1.2.3.7.1) against one entry."""
        if not (self.entry_status_ok(entry) and self.entry_type_ok(entry)):
            return False
        if not all(self._codes_match(entry, parameter) for parameter in CODED):
            return False
        times = self._entry_times(entry)
        if not all(_range(self.request, f"{_DE}{name}", value) for name, value in times.items()):
            return False
        authors = self.request.values(f"{_DE}AuthorPerson")
        if authors:
            author = author_classification(entry.resource, entry.entry_uuid, v.DE_AUTHOR)
            person = author.slot_value("authorPerson") if author is not None else None
            if person is None or not _like(authors, person):
                return False
        references = self.request.values(f"{_DE}ReferenceIdList")
        if references:
            related = {c.code for c in search_codes(entry.resource).get("related", [])}
            if not any(ref.split("^")[0] in related for ref in references):
                return False
        return True

    def set_ok(self, stored: StoredSubmissionSet) -> bool:
        """FindSubmissionSets' parameters (§3.18.4.1.2.3.7.2) against one set."""
        request = self.request
        statuses = request.values("$XDSSubmissionSetStatus")
        if statuses and v.STATUS_APPROVED not in statuses:
            return False
        package = view.registry_package(stored, self.settings)
        sources = request.values("$XDSSubmissionSetSourceId")
        source = package.external_id(v.SS_SOURCE_ID)
        if sources and (source is None or source.value not in sources):
            return False
        time = package.slot_value("submissionTime")
        if not _range(request, "$XDSSubmissionSetSubmissionTime", parse_instant(_iso(time)) if time else None):
            return False
        authors = request.values("$XDSSubmissionSetAuthorPerson")
        person = next((c.slot_value("authorPerson") for c in package.classified(v.SS_AUTHOR)), None)
        if authors and (person is None or not _like(authors, person)):
            return False
        content = request.codes("$XDSSubmissionSetContentType")
        held = [(c.node_representation, c.coding_scheme) for c in package.classified(v.SS_CONTENT_TYPE_CODE)]
        return all(any((code.code, code.scheme) in held for code in group) for group in content)


def _iso(dtm: str) -> str:
    """An XDS DTM as an ISO date-time FHIR's parser reads (UTC)."""
    parts = [dtm[0:4], dtm[4:6] or "01", dtm[6:8] or "01", dtm[8:10] or "00", dtm[10:12] or "00", dtm[12:14] or "00"]
    return f"{parts[0]}-{parts[1]}-{parts[2]}T{parts[3]}:{parts[4]}:{parts[5]}Z"


# ---- associations ---------------------------------------------------------------------------------

def associations(world: World, entries: list[StoredEntry], sets: list[StoredSubmissionSet]) -> list[Association]:
    """Every association among ``world`` touching ``entries`` or ``sets``: HasMember of the sets, and
    the entries' relations (RPLC, APND, XFRM, signs) in either direction."""
    uuids = {e.id: e.entry_uuid for e in world.entries}
    chosen_entries = {e.id for e in entries}
    found: list[Association] = []
    for stored in world.sets:
        set_uuid = view.submission_set_ids(stored)[0]
        for member in stored.member_ids:
            if member in uuids and (stored in sets or member in chosen_entries):
                found.append(view.has_member(set_uuid, uuids[member]))
    for entry in world.entries:
        for kind, target in world.relations.get(entry.pk, []):
            if target in uuids and (entry.id in chosen_entries or target in chosen_entries):
                found.append(view.relation(entry.entry_uuid, kind, uuids[target]))
    return found


def _named_entries(query: StoredQuery, world: World) -> list[StoredEntry]:
    request = query.request
    uuids = set(request.values(f"{_DE}EntryUUID"))
    unique_ids = set(request.values(f"{_DE}UniqueId"))
    return [e for e in world.entries if e.entry_uuid in uuids
            or unique_id_of(e.resource, e.unique_id) in unique_ids]


def _find_documents(query: StoredQuery, world: World) -> Found:
    return Found(entries=[e for e in world.entries if query.find_documents_ok(e)])


def _find_submission_sets(query: StoredQuery, world: World) -> Found:
    return Found(sets=[s for s in world.sets if query.set_ok(s)])


def _no_folders(query: StoredQuery, world: World) -> Found:
    return Found()  # DDS keeps no Folders


def _get_all(query: StoredQuery, world: World) -> Found:
    entries = [e for e in world.entries if query.entry_status_ok(e) and query.content_filters_ok(e)]
    statuses = query.request.values("$XDSSubmissionSetStatus")
    sets = [s for s in world.sets if not statuses or v.STATUS_APPROVED in statuses]
    return Found(entries, sets, associations(world, entries, sets))


def _get_documents(query: StoredQuery, world: World) -> Found:
    return Found(entries=_named_entries(query, world))


def _get_documents_and_associations(query: StoredQuery, world: World) -> Found:
    entries = _named_entries(query, world)
    return Found(entries=entries, associations=associations(world, entries, []))


def _get_associations(query: StoredQuery, world: World) -> Found:
    uuids = set(query.request.values("$uuid"))
    every = associations(world, world.entries, world.sets)
    return Found(associations=[a for a in every if a.source_object in uuids or a.target_object in uuids])


def _get_submission_sets(query: StoredQuery, world: World) -> Found:
    uuids = set(query.request.values("$uuid"))
    members = {e.id for e in world.entries if e.entry_uuid in uuids}
    sets = [s for s in world.sets if members & set(s.member_ids)]
    chosen = [e for e in world.entries if e.id in members]
    found = [a for a in associations(world, chosen, []) if a.association_type == v.ASSOC_HAS_MEMBER]
    return Found(sets=sets, associations=found)


def _get_submission_set_and_contents(query: StoredQuery, world: World) -> Found:
    request = query.request
    wanted = set(request.values("$XDSSubmissionSetEntryUUID")) | set(request.values("$XDSSubmissionSetUniqueId"))
    sets = [s for s in world.sets if set(view.submission_set_ids(s)) & wanted]
    members = {m for s in sets for m in s.member_ids}
    entries = [e for e in world.entries if e.id in members and query.content_filters_ok(e)]
    chosen = {e.id for e in entries}
    found = [a for a in associations(world, entries, sets) if a.association_type == v.ASSOC_HAS_MEMBER
             and any(e.entry_uuid == a.target_object for e in world.entries if e.id in chosen)]
    return Found(entries, sets, found)


def _get_related_documents(query: StoredQuery, world: World) -> Found:
    originals = _named_entries(query, world)
    types = set(query.request.values("$AssociationTypes"))
    related = [a for a in associations(world, originals, []) if a.association_type in types]
    if not related:
        return Found()  # no related documents: nothing, not even the original (§3.18.4.1.2.3.7.13)
    uuids = {a.source_object for a in related} | {a.target_object for a in related}
    entries = [e for e in world.entries if (e.entry_uuid in uuids and query.entry_type_ok(e))
               or e in originals]
    return Found(entries=entries, associations=related)


RUNNERS: dict[str, Callable[[StoredQuery, World], Found]] = {
    "FindDocuments": _find_documents, "FindDocumentsByReferenceId": _find_documents,
    "FindSubmissionSets": _find_submission_sets, "FindFolders": _no_folders, "GetFolders": _no_folders,
    "GetFolderAndContents": _no_folders, "GetFoldersForDocument": _no_folders, "GetAll": _get_all,
    "GetDocuments": _get_documents, "GetDocumentsAndAssociations": _get_documents_and_associations,
    "GetAssociations": _get_associations, "GetSubmissionSets": _get_submission_sets,
    "GetSubmissionSetAndContents": _get_submission_set_and_contents,
    "GetRelatedDocuments": _get_related_documents,
}
assert set(RUNNERS) == set(v.STORED_QUERIES_BY_NAME)


def check_values(request: AdhocQueryRequest) -> None:
    """Every parameter value readable, before anything is looked up (``XdsWireError`` naming it):
    status parameters take ebRS status URNs, ``$XDSDocumentEntryType`` the objectType UUIDs, coded
    parameters ``code^^scheme``, time parameters DTM (ITI TF-2 §3.18.4.1.2.3.6)."""
    for name in (f"{_DE}Status", "$XDSSubmissionSetStatus", "$XDSFolderStatus"):
        for value in request.values(name):
            if value not in (v.STATUS_APPROVED, v.STATUS_DEPRECATED, v.STATUS_SUBMITTED):
                raise XdsWireError(f"{name} value {value!r} is no availability status URN "
                                   f"({v.STATUS_APPROVED}, {v.STATUS_DEPRECATED})", name)
    for value in request.values(f"{_DE}Type"):
        if value not in v.DOCUMENT_ENTRY_TYPES:
            raise XdsWireError(f"{_DE}Type value {value!r} is neither the stable nor the on-demand objectType",
                               f"{_DE}Type")
    for slot in request.slots:
        if slot.name in CODED or slot.name in ("$XDSSubmissionSetContentType", "$XDSFolderCodeList"):
            request.codes(slot.name)
        elif slot.name.endswith(("TimeFrom", "TimeTo")):
            request.time(slot.name)
