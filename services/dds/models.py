"""DDS storage: the registry's tables (prefix ``dds_``) on the actor's own ``MetaData``.

One row per XDS DocumentEntry (``dds_document_entry``) with the columns ITI-67 filters on, and
its coded and identifier values in ``dds_entry_code`` (one row per coding, so multi-valued
metadata such as eventCodeList or author identifiers is searchable). Documents are stored once
per content (``dds_document``, keyed by SHA-1); an on-demand entry has none, only the URL its
source generates it at. Submission sets, their members, the associations
between entries (RPLC, APND, XFRM, signs) and every status change are kept for ever: nothing here
is ever deleted.

All timestamps are stored as naive UTC so SQLite and PostgreSQL compare them identically.

The tables are created at start-up; ``upgrade`` adds the columns that came later (all nullable or
defaulted) to tables an earlier version created, so an existing database keeps working.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from nsp_sandbox.database import existing_tables
from services.dds.domain import ObjectType


class DdsBase(DeclarativeBase):
    """Declarative base of the DDS actor; its ``metadata`` holds only DDS tables."""


class DocumentRow(DdsBase):
    """Document content, exactly as received, stored once per SHA-1."""

    __tablename__ = "dds_document"

    hash: Mapped[str] = mapped_column(String(40), primary_key=True)  # SHA-1, lower-case hex
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class SubmissionSetRow(DdsBase):
    """An XDS SubmissionSet (MHD: ``List`` with code ``submissionset``)."""

    __tablename__ = "dds_submission_set"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    unique_id: Mapped[str] = mapped_column(String(256), unique=True)
    entry_uuid: Mapped[str] = mapped_column(String(128), unique=True)
    patient_system: Mapped[str | None] = mapped_column(String(128))
    patient_value: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    submission_time: Mapped[datetime | None] = mapped_column(DateTime)
    source_id: Mapped[str | None] = mapped_column(String(256))
    designation_system: Mapped[str | None] = mapped_column(String(256))
    designation_code: Mapped[str | None] = mapped_column(String(256))
    registered_at: Mapped[datetime] = mapped_column(DateTime)
    resource: Mapped[str] = mapped_column(Text)  # the List JSON as registered

    __table_args__ = (Index("ix_dds_submission_set_patient", "patient_value", "pk"),)


class DocumentEntryRow(DdsBase):
    """An XDS DocumentEntry (MHD: ``DocumentReference``) with its searchable columns."""

    __tablename__ = "dds_document_entry"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)  # FHIR logical id
    entry_uuid: Mapped[str] = mapped_column(String(128), unique=True)
    unique_id: Mapped[str] = mapped_column(String(256), unique=True)
    patient_system: Mapped[str | None] = mapped_column(String(128))
    patient_value: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer, default=1)
    mime_type: Mapped[str] = mapped_column(String(128))
    creation: Mapped[datetime | None] = mapped_column(DateTime)
    date: Mapped[datetime] = mapped_column(DateTime)
    period_start: Mapped[datetime | None] = mapped_column(DateTime)
    period_end: Mapped[datetime | None] = mapped_column(DateTime)
    # XDS objectType; an on-demand entry has no stored document, hash or size, but its source's URL.
    object_type: Mapped[str] = mapped_column(String(64), default=ObjectType.STABLE.value)
    document_hash: Mapped[str | None] = mapped_column(ForeignKey("dds_document.hash"))
    size: Mapped[int | None] = mapped_column(Integer)
    source_url: Mapped[str | None] = mapped_column(Text)
    submitter: Mapped[str | None] = mapped_column(String(128))  # persona of the registering token
    submission_set_pk: Mapped[int] = mapped_column(ForeignKey("dds_submission_set.pk"))
    registered_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    resource: Mapped[str] = mapped_column(Text)  # the DocumentReference JSON as registered

    __table_args__ = (
        # ITI-67 always names the patient and (nearly always) the status; results come newest first.
        # The patient's system comes last: the order by pk stays, and counting a patient's entries
        # reads the index alone (no table row per entry).
        Index("ix_dds_entry_patient_status_pk", "patient_value", "status", "pk", "patient_system"),
    )


class EntryCodeRow(DdsBase):
    """One coded or identifier value of an entry, under its ITI-67 parameter name."""

    __tablename__ = "dds_entry_code"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_pk: Mapped[int] = mapped_column(ForeignKey("dds_document_entry.pk"))
    param: Mapped[str] = mapped_column(String(32))  # e.g. "type", "event", "author.identifier"
    system: Mapped[str | None] = mapped_column(String(256))
    code: Mapped[str] = mapped_column(String(256))

    # The system too: a coded parameter's EXISTS look-up per entry is answered by the index alone.
    __table_args__ = (Index("ix_dds_entry_code_match", "entry_pk", "param", "code", "system"),)


class SubmissionMemberRow(DdsBase):
    """A HasMember association: the entries a submission set brought in."""

    __tablename__ = "dds_submission_member"

    submission_set_pk: Mapped[int] = mapped_column(ForeignKey("dds_submission_set.pk"), primary_key=True)
    entry_pk: Mapped[int] = mapped_column(ForeignKey("dds_document_entry.pk"), primary_key=True)


class AssociationRow(DdsBase):
    """An association between two entries: RPLC, APND, XFRM or signs (source → target)."""

    __tablename__ = "dds_association"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    source_entry_pk: Mapped[int] = mapped_column(ForeignKey("dds_document_entry.pk"), index=True)
    target_entry_pk: Mapped[int] = mapped_column(ForeignKey("dds_document_entry.pk"), index=True)
    submission_set_pk: Mapped[int] = mapped_column(ForeignKey("dds_submission_set.pk"))
    created_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (UniqueConstraint("kind", "source_entry_pk", "target_entry_pk"),)


class StatusChangeRow(DdsBase):
    """Every availability-status change of an entry, with why it happened."""

    __tablename__ = "dds_status_change"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_pk: Mapped[int] = mapped_column(ForeignKey("dds_document_entry.pk"), index=True)
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(256))
    changed_at: Mapped[datetime] = mapped_column(DateTime)


class SubscriptionRow(DdsBase):
    """An IHE DSUBm subscription (FHIR R4 ``Subscription``, rest-hook) held by DDS as Resource
    Notification Broker: whose entries (one patient, or every patient) and where to notify."""

    __tablename__ = "dds_subscription"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    # owner, patient and endpoint: one subscription per owner for the same entries and endpoint.
    key: Mapped[str] = mapped_column(String(512), unique=True)
    owner: Mapped[str] = mapped_column(String(128))  # persona of the subscribing system's token
    topic: Mapped[str] = mapped_column(String(256))
    patient_value: Mapped[str | None] = mapped_column(String(64), index=True)  # None: every patient
    endpoint: Mapped[str] = mapped_column(Text)
    base_url: Mapped[str] = mapped_column(Text)  # DDS as the subscriber reached it (attachment.url)
    status: Mapped[str] = mapped_column(String(20))  # active | error
    error: Mapped[str | None] = mapped_column(Text)
    events: Mapped[int] = mapped_column(Integer, default=0)  # events-since-subscription-start
    # The backport's channel max-count: at most this many events in one notification (1: each on its own).
    max_count: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    resource: Mapped[str] = mapped_column(Text)  # the Subscription JSON as accepted


class NotificationRow(DdsBase):
    """One event to send to one subscription: the entries a provide or status change touched.
    Written in the registering transaction; sent after it committed, by the background sender."""

    __tablename__ = "dds_notification"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_pk: Mapped[int] = mapped_column(Integer)
    event_number: Mapped[int] = mapped_column(Integer)
    entry_ids: Mapped[str] = mapped_column(Text)  # JSON list of DocumentReference ids
    state: Mapped[str] = mapped_column(String(16))  # pending | sent | failed (gave up)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (
        Index("ix_dds_notification_due", "state", "next_attempt_at"),
        # A subscription's events being sent now (``services.dds.notifier``: none is taken while an earlier one is
        # in flight): found among the few in flight, not by reading every event the subscription ever had.
        Index("ix_dds_notification_in_flight", "subscription_pk", "state", "claimed_until"),
    )


log = logging.getLogger("services.dds.models")

#: Columns added after the first version of the tables: (table, column, SQL type and default).
ADDED_COLUMNS = (
    ("dds_document_entry", "object_type", f"VARCHAR(64) DEFAULT '{ObjectType.STABLE.value}'"),
    ("dds_document_entry", "source_url", "TEXT"),
    ("dds_document_entry", "submitter", "VARCHAR(128)"),
    ("dds_subscription", "max_count", "INTEGER DEFAULT 1"),
)
#: Indexes an earlier version made that later ones replace: (table, index), dropped at start-up.
REPLACED_INDEXES = (("dds_document_entry", "ix_dds_entry_patient_status"),
                    ("dds_entry_code", "ix_dds_entry_code_lookup"),
                    ("dds_notification", "ix_dds_notification_subscription_pk"))
#: Columns that became nullable (an on-demand entry has no stored document).
NOW_NULLABLE = (("dds_document_entry", "document_hash"), ("dds_document_entry", "size"))


def upgrade(engine: Engine) -> None:
    """Bring tables created by an earlier version up to this one: add the later columns and
    indexes, drop the indexes they replace; on PostgreSQL drop NOT NULL where it went (SQLite
    cannot: on-demand entries then need a new file). An index built on a large registry takes
    its time once, at that start-up."""
    existing = existing_tables(engine, DdsBase.metadata.tables, indexes=True)
    columns, indexes = existing.columns, existing.indexes
    with engine.begin() as connection:
        existing.add_missing_indexes(connection, DdsBase.metadata)
        for table_name, name in REPLACED_INDEXES:
            if name in indexes.get(table_name, set()):
                connection.exec_driver_sql(f"DROP INDEX {name}")
        existing.add_missing_columns(connection, ADDED_COLUMNS)
        for table, column in NOW_NULLABLE:
            if table not in columns or columns[table][column]["nullable"]:
                continue
            if engine.dialect.name == "postgresql":
                connection.exec_driver_sql(f"ALTER TABLE {table} ALTER COLUMN {column} DROP NOT NULL")
            else:
                log.warning("%s.%s is NOT NULL (made by an earlier version): on-demand entries cannot be "
                            "registered in this database; start with a new one to register them", table, column)
