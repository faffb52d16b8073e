"""What EDS keeps: each reported AuditEvent once (a repeated report of the same station's event for the same
message and envelope is the same report: EHMI requires reports to be idempotent), searchable by message,
patient, organisation (SOR or GLN) and time."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, or_, select

from nsp_sandbox.clock import naive_utc
from nsp_sandbox.database import Database, InsertIfAbsent
from nsp_sandbox.driver_statement import DriverStatement
from services.eds.models import DeliveryStatusRow


@dataclass(frozen=True)
class Report:
    """The searchable facts of one AuditEvent (already checked by :mod:`services.eds.checks`)."""

    subtype: str
    message_id: str
    envelope_id: str
    transport_envelope: str
    patient: str | None
    sender: tuple[str, str]  # SOR, GLN
    receiver: tuple[str, str]
    observer: str
    recorded: datetime

    @property
    def key(self) -> str:
        return json.dumps([self.subtype, self.message_id, self.envelope_id, self.transport_envelope, self.observer])


_TABLE = cast(Table, DeliveryStatusRow.__table__)
# Statements built once, run on the driver's cursor (nsp_sandbox.driver_statement).
_ADD = InsertIfAbsent(_TABLE, ["report_key"], returning=_TABLE.c.pk)
_KEPT = DriverStatement(select(_TABLE.c.resource).where(_TABLE.c.report_key == bindparam("report_key")))


class Store:
    def __init__(self, database: Database) -> None:
        self._database = database

    def add(self, report: Report, resource: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Keep ``resource`` (a new id is given); answers the stored AuditEvent and whether it is new. One unit of work:
        the row added unless its report is kept already (a report raced in from another worker included), else
        the kept one read."""
        stored = {**resource, "id": str(uuid.uuid4())}
        key = report.key[:500]
        with self._database.transaction() as connection:
            if _ADD.rows(connection, {
                    "id": stored["id"], "report_key": key, "subtype": report.subtype,
                    "message_id": report.message_id[:200], "patient": report.patient,
                    "sender_sor": report.sender[0][:32], "sender_gln": report.sender[1][:16],
                    "receiver_sor": report.receiver[0][:32], "receiver_gln": report.receiver[1][:16],
                    "recorded": naive_utc(report.recorded), "resource": stored}):
                return stored, True
            kept = _KEPT.rows(connection, {"report_key": key})
        return dict(kept[0][0]), False

    def search(self, *, entity: str | None, patient: str | None, agent: str | None,
               after: list[tuple[str, datetime]]) -> list[dict[str, Any]]:
        """AuditEvents of message ``entity``, about ``patient`` or with ``agent`` as sender or receiver, whose
        ``recorded`` meets every (comparator, instant) of ``after``; in the order recorded."""
        query = select(DeliveryStatusRow).order_by(DeliveryStatusRow.recorded, DeliveryStatusRow.pk)
        if entity:
            query = query.where(DeliveryStatusRow.message_id == entity)
        if patient:
            query = query.where(DeliveryStatusRow.patient == patient)
        if agent:
            query = query.where(or_(DeliveryStatusRow.sender_sor == agent, DeliveryStatusRow.sender_gln == agent,
                                    DeliveryStatusRow.receiver_sor == agent, DeliveryStatusRow.receiver_gln == agent))
        column = DeliveryStatusRow.recorded
        for comparator, instant in after:
            moment = naive_utc(instant)
            query = query.where({"ge": column >= moment, "gt": column > moment, "le": column <= moment,
                                 "lt": column < moment, "eq": column == moment}[comparator])
        with self._database.session() as s:
            return [dict(r.resource) for r in s.scalars(query.limit(1000))]
