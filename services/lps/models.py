"""The GP system's own tables (prefix ``lps_``): received messages with the acknowledgement each got,
acknowledgements waiting to be delivered, the SBDH envelopes messages came in (acknowledgements go back
the same way), corrections held until their original arrives, the behaviour switches, return
addresses. Times are naive UTC."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Engine, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from nsp_sandbox.database import add_indexes


class LpsBase(DeclarativeBase):
    pass


class ReceivedRow(LpsBase):
    """One received transmission (an envelope: a Bundle.id), and the acknowledgement it got."""

    __tablename__ = "lps_received"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bundle_id: Mapped[str] = mapped_column(String(200), unique=True)
    header_id: Mapped[str] = mapped_column(String(200), index=True)
    sender_sor: Mapped[str] = mapped_column(String(32))
    receiver_sor: Mapped[str] = mapped_column(String(32))
    cpr: Mapped[str] = mapped_column(String(16), index=True)
    activity: Mapped[str] = mapped_column(String(32))
    previous_header: Mapped[str | None] = mapped_column(String(200), index=True)  # what a held one waits for
    original_header: Mapped[str | None] = mapped_column(String(200), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    bundle: Mapped[str] = mapped_column(Text)
    verdict: Mapped[str] = mapped_column(String(32))  # accepted | rejected | duplicate | transient
    ack_code: Mapped[str] = mapped_column(String(32))
    ack: Mapped[dict] = mapped_column(JSON)  # type: ignore[type-arg]
    issues: Mapped[list[dict]] = mapped_column(JSON)  # type: ignore[type-arg]


class AckOutRow(LpsBase):
    """An acknowledgement to deliver: at once, later (delay) or never (withheld)."""

    __tablename__ = "lps_ack_out"
    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(500))
    ack: Mapped[dict] = mapped_column(JSON)  # type: ignore[type-arg]
    copies: Mapped[int] = mapped_column(Integer, default=1)
    due_at: Mapped[datetime | None] = mapped_column(DateTime)  # None: withheld
    state: Mapped[str] = mapped_column(String(32))  # waiting | withheld | delivered | failed
    result: Mapped[str | None] = mapped_column(String(500))


class EnvelopeRow(LpsBase):
    """A transmission (a received message or an outgoing acknowledgement, by Bundle.id) that travels in an
    SBDH envelope; one without a row travels as bare FHIR JSON."""

    __tablename__ = "lps_envelope"
    bundle_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    instance_identifier: Mapped[str] = mapped_column(String(200))
    sender_gln: Mapped[str] = mapped_column(String(16))
    receiver_gln: Mapped[str] = mapped_column(String(16))


class XmlRow(LpsBase):
    """A transmission (a received message or an outgoing acknowledgement, by Bundle.id) in FHIR XML; one
    without a row is FHIR JSON. An acknowledgement is answered in the format its message came in."""

    __tablename__ = "lps_xml"
    bundle_id: Mapped[str] = mapped_column(String(200), primary_key=True)


class SettingRow(LpsBase):
    """A behaviour switch (``mode``, ``withhold``, ``twice``, ``delay_minutes``) or a return address."""

    __tablename__ = "lps_setting"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON)  # type: ignore[type-arg]


def upgrade(engine: Engine) -> None:
    """Bring tables an earlier version made up to this one: add the later indexes."""
    add_indexes(engine, LpsBase.metadata)
