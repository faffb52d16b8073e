"""DDS as IHE DSUBm Resource Notification Broker: the subscriptions it holds and the events it queues.

A subscription (FHIR R4 ``Subscription`` with the R4 Subscriptions Backport, as DSUBm profiles it)
names DocumentReferences — of one patient, or of every patient — and a rest-hook endpoint. It is
accepted (:func:`accepted`) in either form:

* DSUBm's: ``criteria`` is a DSUBm SubscriptionTopic canonical (:data:`TOPICS`) and the filter is
  the backport's ``_criteria`` extension ``backport-filter-criteria``, e.g.
  ``DocumentReference?patient.identifier=urn:oid:1.2.208.176.1.2|0602631234``; the multi-patient
  topics need no filter;
* plain R4: ``criteria`` is ``DocumentReference?patient.identifier=…`` or ``DocumentReference``
  (every patient).

``channel.type`` is ``rest-hook``, ``channel.endpoint`` an absolute http(s) URL, ``channel.payload``
``application/fhir+json`` (full-resource: the notification carries the DocumentReferences). Only a
system whose token carries NSP's right ``dsubm-subscribe`` may subscribe, and it sees and deletes
only its own subscriptions. A second subscription by the same system for the same entries and
endpoint is the first one again (answered 200, not created twice), so every worker process of a
subscriber can register at start-up.

When entries are registered or change status (MHD ITI-65, RMU; XDS.b ITI-41, ITI-57, ITI-61), the
registry calls :meth:`Subscriptions.queue` in the same database transaction: one
``dds_notification`` row per matching subscription. They are sent after the commit, off the
request path, by :mod:`services.dds.notifier`; a provide never waits for a recipient.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import Connection, bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from nsp_sandbox.clock import naive_utc
from nsp_sandbox.database import Database
from nsp_sandbox.driver_statement import DriverStatement
from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.tokens import Principal
from services.dds.domain import CPR_SYSTEM
from services.dds.models import NotificationRow, SubscriptionRow

SOURCE = "IHE ITI DSUBm (Resource Notification Broker); HL7 FHIR R4 Subscriptions Backport"
RIGHT = "dsubm-subscribe"
BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
FILTER_CRITERIA = BACKPORT + "backport-filter-criteria"
#: On ``Subscription.channel``: at most this many events (triggering DocumentReferences) in one notification.
MAX_COUNT = BACKPORT + "backport-max-count"
_TOPIC = "https://profiles.ihe.net/ITI/DSUBm/SubscriptionTopic/"
#: The DSUBm topics on DocumentReference this broker serves: patient-dependent ones need a filter naming
#: the patient; multi-patient ones notify of every patient's entries.
PATIENT_TOPICS = tuple(_TOPIC + t for t in (
    "DSUBm-SubscriptionTopic-DocumentReference-PatientDependent",
    "DSUBm-SubscriptionTopic-DocReference-PatientDependent-MinUpdate",
    "DSUBm-SubscriptionTopic-DocReference-PatientDependent-AllEvents"))
MULTI_PATIENT_TOPICS = tuple(_TOPIC + t for t in (
    "DSUBm-SubscriptionTopic-DocumentReference-MultiPatient",
    "DSUBm-SubscriptionTopic-DocReference-MultiPatient-MinUpdate",
    "DSUBm-SubscriptionTopic-DocReference-MultiPatient-AllEvents"))
TOPICS = PATIENT_TOPICS + MULTI_PATIENT_TOPICS
PLAIN_TOPIC = "DocumentReference"  # what a plain R4 criteria subscribes to
PAYLOAD = "application/fhir+json"


@dataclass(frozen=True)
class Wanted:
    """What a Subscription resource asks for, once it is acceptable."""

    topic: str
    patient: str | None  # CPR number; None: every patient
    endpoint: str
    resource: dict[str, Any]
    max_count: int = 1  # events in one notification at most (the channel's backport-max-count)


def _refused(message: str, expression: str, status: int = 400, code: str = "invalid",
             rule: str = "dds-subscription") -> FhirError:
    return FhirError(status, Issue("error", code, message, expression=expression, rule=rule, source=SOURCE))


def require_subscriber(principal: Principal | None) -> None:
    """403 unless the caller is a system NSP granted ``dsubm-subscribe`` (access control off: anyone)."""
    if principal is None:
        return
    if not principal.is_system or RIGHT not in principal.rights:
        raise _refused(f"{principal.name} may not subscribe: only an IT system with NSP's right '{RIGHT}' "
                       "is a Resource Notification Recipient of DDS", "Subscription", 403, "forbidden",
                       "dds-subscriber")


def _patient_of(criteria: str, expression: str) -> str | None:
    """The CPR a ``DocumentReference?…`` criteria names (None: ``DocumentReference`` alone)."""
    path, _, query = criteria.partition("?")
    if path != "DocumentReference":
        raise _refused(f"Only DocumentReference can be subscribed to, not '{path[:80]}'", expression,
                       code="not-supported")
    if not query:
        return None
    pairs = parse_qsl(query, keep_blank_values=True)
    names = {name for name, _ in pairs}
    if names - {"patient.identifier", "patient"} or len(pairs) != 1:
        raise _refused("The criteria takes one parameter: patient.identifier (urn:oid:1.2.208.176.1.2|<CPR>) "
                       "or patient (Patient/<CPR>)", expression, code="not-supported")
    name, value = pairs[0]
    cpr = value.partition("|")[2] if name == "patient.identifier" else value.removeprefix("Patient/")
    if name == "patient.identifier" and value.partition("|")[0] not in (CPR_SYSTEM, ""):
        raise _refused(f"patient.identifier names the CPR system {CPR_SYSTEM}", expression)
    if len(cpr) != 10 or not cpr.isdigit():
        raise _refused("The criteria names a patient by a CPR number of 10 digits", expression)
    return cpr


def accepted(resource: Any, principal: Principal | None) -> Wanted:
    """The subscription ``resource`` asks for (400 OperationOutcome naming what is wrong with it)."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Subscription":
        raise _refused("The body is not a FHIR Subscription", "Subscription")
    criteria = resource.get("criteria")
    if not isinstance(criteria, str) or not criteria:
        raise _refused("Subscription.criteria is required", "Subscription.criteria")
    if criteria in TOPICS:
        filters = [e.get("valueString") for e in ((resource.get("_criteria") or {}).get("extension") or [])
                   if isinstance(e, dict) and e.get("url") == FILTER_CRITERIA]
        if criteria in MULTI_PATIENT_TOPICS and not filters:
            patient = None
        elif len(filters) != 1 or not isinstance(filters[0], str):
            raise _refused("A patient-dependent DSUBm topic takes one backport-filter-criteria naming the patient",
                           "Subscription._criteria")
        else:
            patient = _patient_of(filters[0], "Subscription._criteria")
        topic = criteria
    else:
        patient = _patient_of(criteria, "Subscription.criteria")
        topic = PLAIN_TOPIC
    if criteria in PATIENT_TOPICS and patient is None:
        raise _refused("A patient-dependent DSUBm topic names the patient", "Subscription._criteria")
    channel = resource.get("channel")
    if not isinstance(channel, dict):
        raise _refused("Subscription.channel is required", "Subscription.channel")
    if channel.get("type") != "rest-hook":
        raise _refused("Only channel.type rest-hook is supported", "Subscription.channel.type", code="not-supported")
    endpoint = channel.get("endpoint")
    parts = urlsplit(endpoint) if isinstance(endpoint, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or len(str(endpoint)) > 2000:
        raise _refused("channel.endpoint is an absolute http(s) URL", "Subscription.channel.endpoint")
    if channel.get("payload") not in (PAYLOAD, None):
        raise _refused(f"channel.payload is {PAYLOAD} (full-resource)", "Subscription.channel.payload",
                       code="not-supported")
    status = resource.get("status")
    if status not in (None, "requested", "active"):
        raise _refused("A new subscription's status is requested (or active)", "Subscription.status")
    return Wanted(topic, patient, str(endpoint), resource, _max_count(channel))


def _max_count(channel: dict[str, Any]) -> int:
    """The channel's ``backport-max-count`` (1 without one: each event in a notification of its own)."""
    extensions = channel.get("extension") or []
    if not isinstance(extensions, list):
        raise _refused("channel.extension is a list of extensions", "Subscription.channel.extension")
    counts = [e for e in extensions if isinstance(e, dict) and e.get("url") == MAX_COUNT]
    if not counts:
        return 1
    value = counts[0].get("valuePositiveInt")
    if len(counts) > 1 or isinstance(value, bool) or not isinstance(value, int) or value < 1 \
            or set(counts[0]) != {"url", "valuePositiveInt"}:
        raise _refused("channel takes one backport-max-count extension, with a valuePositiveInt",
                       "Subscription.channel.extension")
    return value


def to_fhir(row: SubscriptionRow, fhir_base: str) -> dict[str, Any]:
    """The subscription as DDS answers it: as accepted, with its id, status and error."""
    resource = json.loads(row.resource)
    resource.update(id=row.id, status=row.status)
    resource.setdefault("reason", "Document entries registered in DDS")
    resource["channel"] = {**(resource.get("channel") or {}), "payload": PAYLOAD}
    if row.error:
        resource["error"] = row.error
    else:
        resource.pop("error", None)
    resource.pop("_status", None)
    return {"resourceType": "Subscription", **{k: v for k, v in resource.items() if k != "resourceType"}}


@dataclass(frozen=True)
class Changed:
    """An entry a registry transaction created or changed, for the notifications it causes."""

    entry_id: str
    patient: str


#: The subscriptions a registration concerns: every patient's, and those of the patients in ``patients``.
_MATCHING = select(SubscriptionRow.pk, SubscriptionRow.patient_value).where(
    or_(SubscriptionRow.patient_value.is_(None),
        SubscriptionRow.patient_value.in_(bindparam("patients", expanding=True)))
).order_by(SubscriptionRow.pk)
# The same for the changes of one patient (nearly all): a plain parameter, where an expanding one is rendered
# again at every execution.
_MATCHING_ONE = DriverStatement(select(SubscriptionRow.pk, SubscriptionRow.patient_value).where(
    or_(SubscriptionRow.patient_value.is_(None), SubscriptionRow.patient_value == bindparam("patient"))
).order_by(SubscriptionRow.pk))
_SUBSCRIPTIONS = SubscriptionRow.__table__
# The subscription's next event number, and the event: statements in the registering transaction, run on the
# driver's cursor (every provide to a subscribed patient runs them).
_NEXT_EVENT = DriverStatement(update(_SUBSCRIPTIONS).where(_SUBSCRIPTIONS.c.pk == bindparam("subscription"))
                              .values(events=_SUBSCRIPTIONS.c.events + 1).returning(_SUBSCRIPTIONS.c.events))
_INSERT_NOTIFICATION = DriverStatement(insert(NotificationRow.__table__))


class Subscriptions:
    """The subscriptions and their queued events, in DDS's database."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def create(self, wanted: Wanted, owner: str, base_url: str, now: datetime) -> tuple[SubscriptionRow, bool]:
        """The subscription (and whether it is new): the owner's own for the same entries and endpoint
        if it has one already, with the channel's max-count asked for now (a subscriber started again with
        another one, or one registered before DDS read it)."""
        key = f"{owner}|{wanted.topic}|{wanted.patient or '*'}|{wanted.endpoint}"[:512]
        existing = self._by_key(key)
        if existing is not None:
            return self._with_max_count(existing, wanted), False
        resource = {k: v for k, v in wanted.resource.items() if k not in ("id", "meta", "status", "error")}
        row = SubscriptionRow(id=str(uuid.uuid4()), key=key, owner=owner, topic=wanted.topic,
                              patient_value=wanted.patient, endpoint=wanted.endpoint, base_url=base_url,
                              status="active", error=None, events=0, max_count=wanted.max_count,
                              created_at=naive_utc(now), resource=json.dumps(resource, ensure_ascii=False))
        try:
            with self.database.session() as session:
                session.add(row)
                session.flush()
                session.expunge(row)
        except IntegrityError:  # the same subscription registered at the same moment by another worker
            existing = self._by_key(key)
            if existing is None:
                raise
            return self._with_max_count(existing, wanted), False
        return row, True

    def _with_max_count(self, row: SubscriptionRow, wanted: Wanted) -> SubscriptionRow:
        """``row`` with ``wanted``'s channel max-count, and its channel as ``wanted`` has it, stored."""
        if row.max_count == wanted.max_count:
            return row
        resource = json.loads(row.resource)
        resource["channel"] = wanted.resource.get("channel")
        with self.database.session() as session:
            session.execute(update(SubscriptionRow).where(SubscriptionRow.pk == row.pk).values(
                max_count=wanted.max_count, resource=json.dumps(resource, ensure_ascii=False)))
        return self._by_key(row.key) or row

    def _by_key(self, key: str) -> SubscriptionRow | None:
        with self.database.session() as session:
            row = session.scalars(select(SubscriptionRow).where(SubscriptionRow.key == key)).first()
            if row is not None:
                session.expunge(row)
            return row

    def get(self, subscription_id: str) -> SubscriptionRow | None:
        with self.database.session() as session:
            row = session.scalars(select(SubscriptionRow).where(SubscriptionRow.id == subscription_id)).first()
            if row is not None:
                session.expunge(row)
            return row

    def delete(self, row: SubscriptionRow) -> None:
        """End the subscription: it and its unsent events are gone."""
        with self.database.session() as session:
            session.execute(delete(NotificationRow).where(NotificationRow.subscription_pk == row.pk))
            session.execute(delete(SubscriptionRow).where(SubscriptionRow.pk == row.pk))

    def covers(self, owner: str, patient: str) -> bool:
        """Whether ``owner`` holds a subscription to ``patient``'s entries (or to every patient's)."""
        with self.database.session() as session:
            return session.scalars(select(SubscriptionRow.pk).where(
                SubscriptionRow.owner == owner,
                or_(SubscriptionRow.patient_value.is_(None), SubscriptionRow.patient_value == patient))
            ).first() is not None

    def queue(self, connection: Connection, changed: Sequence[Changed], now: datetime) -> bool:
        """Queue one event per matching subscription for ``changed`` (in the caller's transaction);
        True when anything was queued."""
        patients = {c.patient for c in changed}
        if not patients:
            return False
        if len(patients) == 1:
            rows: Sequence[Any] = _MATCHING_ONE.rows(connection, {"patient": next(iter(patients))})
        else:
            rows = connection.execute(_MATCHING, {"patients": sorted(patients)}).all()
        now = naive_utc(now)
        for pk, patient in rows:
            ids = [c.entry_id for c in changed if patient is None or c.patient == patient]
            numbered = _NEXT_EVENT.rows(connection, {"subscription": pk})
            if not numbered:
                continue  # ended meanwhile (on PostgreSQL, by another worker since the look-up): nothing to tell
            number = numbered[0][0]
            _INSERT_NOTIFICATION.run(connection, {
                "subscription_pk": pk, "event_number": number, "entry_ids": json.dumps(ids), "state": "pending",
                "attempts": 0, "next_attempt_at": now, "created_at": now})
        return bool(rows)
