"""What the hub shares for a patient now, and keeping DDS's on-demand entries in step with it.

The answer comes from the hub's current state and the source rules (``sharing_rules``): the
patient's ConditionList of the most recently updated card, if it may be shared, and each note that
may be served now; every other entry the hub keeps has its reason (the rule) to be withdrawn.
"""

from __future__ import annotations

import threading
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.outcome import Issue
from services.plsp_hub import sharing_rules as rules
from services.plsp_hub.dds_registration import Registrar, Unwanted, Wanted
from services.plsp_hub.models import CardRow, NoteRow
from services.plsp_hub.records import aware, card_of, note_of

CONDITIONLIST = "conditionlist"
EntryKey = tuple[str, str, str | None]  # (kind, clinic SOR, note key)


def unwanted(reason: Issue) -> Unwanted:
    """The withdrawal of an entry for ``reason``: its DDS status, rule and sentence."""
    return Unwanted(rules.withdrawal_status(reason), reason.rule or "plsp-unshared", reason.diagnostics)


class SharedNow:
    def __init__(self, context: SandboxContext, registrar: Registrar) -> None:
        self._context = context
        self._registrar = registrar
        self._planning = threading.Lock()  # one plan at a time in this process, as when it ran on the event loop

    def wanted(self, cpr: str) -> tuple[list[Wanted], dict[EntryKey, Unwanted]]:
        """The entries that should be in DDS for ``cpr`` now, and why each other one should not."""
        with self._context.database.session() as s:
            return self._wanted(s, cpr)

    def _wanted(self, s: Session, cpr: str) -> tuple[list[Wanted], dict[EntryKey, Unwanted]]:
        now = self._context.clock.now()
        wanted: list[Wanted] = []
        why_not: dict[EntryKey, Unwanted] = {}
        _cards(s, cpr, wanted, why_not)
        _notes(s, cpr, now, wanted, why_not)
        return wanted, why_not

    async def sync(self, cpr: str) -> None:
        """Bring DDS's entries for ``cpr`` in step with what may be shared now (the database work on a
        worker thread, so that the event loop goes on with other requests meanwhile)."""
        wanted = await run_in_threadpool(self._plan, cpr)
        await self._registrar.push(cpr, wanted)

    def _plan(self, cpr: str) -> list[Wanted]:
        """What may be shared now, read and planned in one unit of work that no other plan for ``cpr`` comes
        between, in any worker: two plans at once would both find an entry missing and both add it."""
        with self._planning, self._context.database.writing("plsp-plan", cpr) as s:
            wanted, why_not = self._wanted(s, cpr)
            self._registrar.plan(s, cpr, wanted, why_not)
        return wanted


def _cards(s: Session, cpr: str, wanted: list[Wanted], why_not: dict[EntryKey, Unwanted]) -> None:
    """At most one ConditionList per patient: that of the card ``plsp-card-latest`` picks, if shared."""
    cards = [card_of(r) for r in s.scalars(select(CardRow).where(CardRow.cpr == cpr)
                                           .order_by(CardRow.submitted_at, CardRow.pk))]
    latest = rules.latest_card(cards)
    for card in cards:
        reason = rules.why_card_not_shared(card, latest)
        shared = rules.shared_card(card) if reason is None else None
        if shared is not None:
            wanted.append(Wanted(CONDITIONLIST, card.clinic.sor, None, shared))
        elif reason is not None:
            why_not[(CONDITIONLIST, card.clinic.sor, None)] = unwanted(reason)


def _notes(s: Session, cpr: str, now: datetime, wanted: list[Wanted], why_not: dict[EntryKey, Unwanted]) -> None:
    """One entry per note served now (``why_note_not_served``)."""
    for row in s.scalars(select(NoteRow).where(NoteRow.cpr == cpr).order_by(NoteRow.pk)):
        reason = rules.why_note_not_served(state=row.state, do_not_share=row.do_not_share,
                                           available=aware(row.available_from), now=now)
        if reason is None:
            wanted.append(Wanted("note", row.clinic_sor, row.key, note_of(row)))
        else:
            why_not[("note", row.clinic_sor, row.key)] = unwanted(reason)
