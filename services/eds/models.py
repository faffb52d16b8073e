"""EDS's own table (prefix ``eds_``): every delivery-status AuditEvent reported, with the values it is
searched by. Times are naive UTC."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class EdsBase(DeclarativeBase):
    pass


class DeliveryStatusRow(EdsBase):
    """One reported AuditEvent; ``report_key`` makes a repeated report of the same event idempotent."""

    __tablename__ = "eds_delivery_status"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    report_key: Mapped[str] = mapped_column(String(500), unique=True)
    subtype: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(200), index=True)  # entity ehmiMessage: MessageHeader.id
    patient: Mapped[str | None] = mapped_column(String(16), index=True)
    sender_sor: Mapped[str] = mapped_column(String(32))
    sender_gln: Mapped[str] = mapped_column(String(16))
    receiver_sor: Mapped[str] = mapped_column(String(32))
    receiver_gln: Mapped[str] = mapped_column(String(16))
    recorded: Mapped[datetime] = mapped_column(DateTime)
    resource: Mapped[dict] = mapped_column(JSON)  # type: ignore[type-arg]

    __table_args__ = (Index("ix_eds_sender", "sender_sor", "sender_gln"),
                      Index("ix_eds_receiver", "receiver_sor", "receiver_gln"))
