"""What a registry query asks for (FindDocuments / FindSubmissionSets), and its SQL conditions.

The MHD face parses ITI-67 / ITI-66 parameters into these objects; the registry turns them into
SQL. Semantics follow FHIR search: values inside one parameter are OR-ed, repeated parameters are
AND-ed; dates compare as ranges at the precision given (``2026-04`` is the whole month).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, and_, exists, func, not_, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute

from services.dds.metadata.author import SOR_SYSTEM
from services.dds.models import DocumentEntryRow, EntryCodeRow

DatePrefix = Literal["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb"]


@dataclass(frozen=True)
class TokenValue:
    """One ``system|code`` alternative. ``system`` None: any system; "" : no system. ``code`` None: any."""

    system: str | None
    code: str | None


@dataclass(frozen=True)
class DateValue:
    """A date search value: its prefix and the range [low, high) its precision covers (naive UTC)."""

    prefix: DatePrefix
    low: datetime
    high: datetime


@dataclass(frozen=True)
class Withholding:
    """Entries of patient ``value`` whose service time overlaps [start, end] are withheld (Min Spærring).

    An open bound is unbounded. The service time is ``context.period`` (serviceStart/StopTime), else
    the creation time, else the registration date. With ``organisations`` only entries authored at
    one of those treatment places (author institution, SOR) are withheld; with ``only_types`` every
    entry whose type is *not* one of those (system, code) pairs is (a fuldmagt's scope). Without
    any of these, every entry of the patient is withheld.
    """

    value: str
    start: datetime | None = None
    end: datetime | None = None
    organisations: tuple[str, ...] = ()
    only_types: tuple[tuple[str, str], ...] | None = None

    @property
    def everything(self) -> bool:
        return self.start is None and self.end is None and not self.organisations and self.only_types is None


@dataclass
class EntryQuery:
    """A FindDocuments query. Every list is AND-ed; each inner list of alternatives is OR-ed."""

    patients: list[list[TokenValue]]  # AND-ed groups of OR-ed patient identifiers
    statuses: list[str] | None = None
    ids: list[str] | None = None
    tokens: list[tuple[str, list[TokenValue]]] = field(default_factory=list)  # (param, alternatives)
    dates: list[tuple[str, list[DateValue]]] = field(default_factory=list)  # ("date" | "creation", values)
    periods: list[list[DateValue]] = field(default_factory=list)
    withheld: list[Withholding] = field(default_factory=list)
    count: int = 20
    after_pk: int | None = None  # next page: entries older than this one
    before_pk: int | None = None  # previous page: entries newer than this one


@dataclass
class SubmissionSetQuery:
    """A FindSubmissionSets query."""

    patients: list[list[TokenValue]]
    statuses: list[str] | None = None
    ids: list[str] | None = None
    identifiers: list[list[TokenValue]] = field(default_factory=list)
    source_ids: list[list[TokenValue]] = field(default_factory=list)
    designations: list[list[TokenValue]] = field(default_factory=list)
    dates: list[list[DateValue]] = field(default_factory=list)
    excluded_patients: list[str] = field(default_factory=list)  # every set withheld (Min Spærring)
    count: int = 20
    after_pk: int | None = None
    before_pk: int | None = None


def withheld_condition(withholding: Withholding) -> ColumnElement[bool]:
    """The entries ``withholding`` withholds (its negation keeps the others)."""
    start = func.coalesce(DocumentEntryRow.period_start, DocumentEntryRow.creation, DocumentEntryRow.date)
    end = func.coalesce(DocumentEntryRow.period_end, DocumentEntryRow.period_start, DocumentEntryRow.creation,
                        DocumentEntryRow.date)
    parts: list[ColumnElement[bool]] = [DocumentEntryRow.patient_value == withholding.value]
    if withholding.end is not None:
        parts.append(start <= withholding.end)
    if withholding.start is not None:
        parts.append(end >= withholding.start)
    if withholding.organisations:
        parts.append(code_condition("author.identifier", [TokenValue(SOR_SYSTEM, sor)
                                                          for sor in withholding.organisations]))
    if withholding.only_types is not None:
        parts.append(not_(code_condition("type", [TokenValue(system, code)
                                                  for system, code in withholding.only_types])))
    return and_(*parts)


def _text_column_match(system_col: InstrumentedAttribute[str | None] | None,
                       value_col: InstrumentedAttribute[str] | InstrumentedAttribute[str | None],
                       value: TokenValue) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = []
    if value.code is not None:
        parts.append(value_col == value.code)
    if system_col is not None and value.system is not None:
        parts.append(system_col.is_(None) if value.system == "" else system_col == value.system)
    return and_(*parts) if parts else true()


def token_condition(system_col: InstrumentedAttribute[str | None] | None,
                    value_col: InstrumentedAttribute[str] | InstrumentedAttribute[str | None],
                    alternatives: list[TokenValue]) -> ColumnElement[bool]:
    """Column-level token match: any of ``alternatives``."""
    return or_(*(_text_column_match(system_col, value_col, v) for v in alternatives))


def code_condition(param: str, alternatives: list[TokenValue]) -> ColumnElement[bool]:
    """The entry carries, under ``param``, a value matching one of ``alternatives``."""
    match = token_condition(EntryCodeRow.system, EntryCodeRow.code, alternatives)
    return exists(
        select(EntryCodeRow.pk).where(
            EntryCodeRow.entry_pk == DocumentEntryRow.pk, EntryCodeRow.param == param, match
        )
    )


def point_condition(column: InstrumentedAttribute[datetime] | InstrumentedAttribute[datetime | None],
                    value: DateValue) -> ColumnElement[bool]:
    """A single instant stored in ``column`` against a date search value (FHIR date semantics)."""
    low, high = value.low, value.high
    present = column.is_not(None)
    match value.prefix:
        case "eq":
            cond = and_(column >= low, column < high)
        case "ne":
            cond = or_(column < low, column >= high)
        case "gt" | "sa":
            cond = column >= high
        case "lt" | "eb":
            cond = column < low
        case "ge":
            cond = column >= low
        case "le":
            cond = column < high
    return and_(present, cond)


def period_condition(start: InstrumentedAttribute[datetime | None], end: InstrumentedAttribute[datetime | None],
                     value: DateValue) -> ColumnElement[bool]:
    """A period [start, end] (missing start: open before; missing end: ongoing) against a date value.

    ``ge``/``gt``/``le``/``lt`` ask whether the period overlaps the range above / below the value,
    as FHIR specifies for Period targets; ``eq`` whether the period lies within the value's range.
    """
    low, high = value.low, value.high
    has_period = or_(start.is_not(None), end.is_not(None))
    match value.prefix:
        case "eq":
            cond = and_(start >= low, end.is_not(None), end < high)
        case "ne":
            cond = not_(and_(start.is_not(None), start >= low, end.is_not(None), end < high))
        case "ge":
            cond = or_(end.is_(None), end >= low)
        case "gt":
            cond = or_(end.is_(None), end >= high)
        case "le":
            cond = or_(start.is_(None), start < high)
        case "lt":
            cond = or_(start.is_(None), start < low)
        case "sa":
            cond = and_(start.is_not(None), start >= high)
        case "eb":
            cond = and_(end.is_not(None), end < low)
    return and_(has_period, cond)

