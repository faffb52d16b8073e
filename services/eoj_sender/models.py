"""The EOJ's own tables (prefix ``eoj_``): the endpoint register, sent messages with their
acknowledgement state and DDS entry, and the log of acknowledgements received. Times are naive UTC."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ColumnElement, DateTime, Engine, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from nsp_sandbox.database import add_columns, add_indexes


class EojBase(DeclarativeBase):
    pass


#: Columns added after the first version of the tables (:func:`upgrade`).
ADDED_COLUMNS = (
    ("eoj_endpoint", "hco_version", "VARCHAR(32)"),
    ("eoj_message", "hco_version", "VARCHAR(32) DEFAULT '1.2'"),
    ("eoj_message", "fhir_format", "VARCHAR(8) DEFAULT 'json'"),
    ("eoj_message", "dds_state", "VARCHAR(16)"),
    ("eoj_message", "dds_attempts", "INTEGER DEFAULT 0"),
    ("eoj_message", "dds_metadata", "JSON"),
    ("eoj_ack_log", "bundle", "JSON"),
    ("eoj_message", "dds_claimed_at", "TIMESTAMP"),
)


def upgrade(engine: Engine) -> None:
    """Bring tables an earlier version made up to this one: add the later columns and indexes."""
    add_columns(engine, ADDED_COLUMNS)
    add_indexes(engine, EojBase.metadata)


class EndpointRow(EojBase):
    """One receiving organisation (EER-like): SOR/GLN → endpoint URL and the message types it takes."""

    __tablename__ = "eoj_endpoint"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sor: Mapped[str] = mapped_column(String(32), unique=True)
    gln: Mapped[str] = mapped_column(String(13), unique=True)
    ydernummer: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(500))
    message_types: Mapped[list[str]] = mapped_column(JSON)
    sbdh: Mapped[bool] = mapped_column(Boolean, default=False)
    hco_version: Mapped[str | None] = mapped_column(String(32))  # the HCO IG version it takes; None: the setting


class MessageRow(EojBase):
    """One HCO message sent (or resent) by the EOJ; ``header_id`` is its MessageHeader.id."""

    __tablename__ = "eoj_message"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    header_id: Mapped[str] = mapped_column(String(64), unique=True)
    bundle_id: Mapped[str] = mapped_column(String(64))
    activity: Mapped[str] = mapped_column(String(32))
    original_header: Mapped[str | None] = mapped_column(String(64), index=True)  # first message of the chain
    previous_header: Mapped[str | None] = mapped_column(String(64))
    cpr: Mapped[str] = mapped_column(String(16), index=True)
    order: Mapped[dict | None] = mapped_column(JSON)  # type: ignore[type-arg]
    bundle: Mapped[str] = mapped_column(Text)
    endpoint_url: Mapped[str] = mapped_column(String(500))
    sent_at: Mapped[datetime] = mapped_column(DateTime)
    send_result: Mapped[str] = mapped_column(String(500))
    ack: Mapped[str] = mapped_column(String(32), default="pending")  # pending | ok | fatal-error | transient-error
    ack_bundle_id: Mapped[str | None] = mapped_column(String(64))
    ack_outcome: Mapped[dict | None] = mapped_column(JSON)  # type: ignore[type-arg]
    ack_at: Mapped[datetime | None] = mapped_column(DateTime)
    resends: Mapped[list[dict]] = mapped_column(JSON, default=list)  # type: ignore[type-arg]
    refused_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    dds_entry: Mapped[str | None] = mapped_column(String(64))
    dds_reason: Mapped[str | None] = mapped_column(String(500))
    hco_version: Mapped[str] = mapped_column(String(32), default="1.2")  # the HCO IG version it follows
    fhir_format: Mapped[str] = mapped_column(String(8), default="json")  # json | xml: as sent (and shared)
    # pending | sharing (a share has it) | shared | not-shared | refused | failed
    dds_state: Mapped[str | None] = mapped_column(String(16))
    dds_claimed_at: Mapped[datetime | None] = mapped_column(DateTime)  # when a share took it (real time, UTC)
    dds_attempts: Mapped[int] = mapped_column(Integer, default=0)
    dds_metadata: Mapped[dict | None] = mapped_column(JSON)  # type: ignore[type-arg]  # the DocumentReference

    @staticmethod
    def of_chain(original: str) -> ColumnElement[bool]:
        """The messages of the chain whose first message is ``original`` (its MessageHeader.id): it and every
        later version of it."""
        return (MessageRow.header_id == original) | (MessageRow.original_header == original)


class AckLogRow(EojBase):
    """Every acknowledgement that arrived, including duplicates and unmatched ones (logged, ignored)."""

    __tablename__ = "eoj_ack_log"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    bundle_id: Mapped[str] = mapped_column(String(64), index=True)  # a copy of one that came is a duplicate
    response_to: Mapped[str | None] = mapped_column(String(64), index=True)
    code: Mapped[str | None] = mapped_column(String(32))
    verdict: Mapped[str] = mapped_column(String(32))  # applied | duplicate | unknown-message | contradicts
    bundle: Mapped[dict | None] = mapped_column(JSON)  # type: ignore[type-arg]  # the acknowledgement as read


class ReceiptRow(EojBase):
    """An SBDH envelope the EOJ sent asking for a receipt, and the receipt that came (EHMI envelope receipts)."""

    __tablename__ = "eoj_receipt"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    envelope_id: Mapped[str] = mapped_column(String(200), unique=True)  # the SBDH InstanceIdentifier sent
    header_id: Mapped[str] = mapped_column(String(64), index=True)
    sent_at: Mapped[datetime] = mapped_column(DateTime)
    expected_by: Mapped[datetime] = mapped_column(DateTime)
    received_at: Mapped[datetime | None] = mapped_column(DateTime)
    kind: Mapped[str | None] = mapped_column(String(32))  # ReceiptAcknowledgement | ReceiptException
    reason: Mapped[str | None] = mapped_column(String(1000))
