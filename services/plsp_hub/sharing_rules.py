"""The hub's source rules — every rule about what a GP system's data may become in DDS, in one place.

Each rule has an id (``plsp-…``, reported in ``OperationOutcome.issue.details`` and in the event
log) and names the element it concerns (``diagnoses[2].private``, ``created`` …). The functions are
pure: the hub applies them to what a clinic submits and to what it serves.

ConditionList (Shared Condition Overview use cases, send test protocol 1.0.2):

* ``plsp-dx-on-card``: only diagnoses on the diagnosis card are shared;
* ``plsp-dx-private``: a diagnosis marked "Privat" is never shared;
* ``plsp-dx-internal-note``: ``Condition.note`` (tillægstekst) is never shared — kept, never sent;
* ``plsp-card-latest``: only the most recently updated card of a patient is shared (another
  clinic's newer card takes its place);
* ``plsp-card-approved``: a card without the practice's approval is not shared (accepted, logged as
  refused); ``plsp-card-approval-current``: an approval older than the card's last change does not
  cover it;
* ``plsp-card-empty``: a card with nothing shareable gives no document and no DDS entry;
* ``plsp-dx-key-unique``: each diagnosis key once per card;
* ``clinicalStatus`` is ``resolved`` whenever an abatement is given (in the generated document);
* the patient's use of the MinLæge app never matters: the interface has no such input.

Notes (Shared Notes use cases v1.0):

* ``plsp-note-one-per-document``: one note per document;
* ``plsp-note-key-unique``: a clinic creates each note key once (later versions are updates);
* ``plsp-note-created-immutable``: the creation time never changes across versions;
* ``plsp-note-updated-after-created``: an update is later than the creation (and than the previous
  version);
* ``plsp-note-blank``: a blank or whitespace-only note is refused;
* ``plsp-note-html-reduced``: the body is reduced to the allowed simplified HTML (reported);
* ``plsp-note-do-not-share``: honoured at the next retrieval; ``plsp-note-cancelled``: a cancelled
  note stops being served at once, is not changed again, and its DDS entry becomes
  ``entered-in-error``; ``plsp-note-purge``: its content is deleted within 24 hours;
* ``plsp-note-after-midnight``: with the setting on, a note becomes available after the next
  midnight (Danish time) on the sandbox clock.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from nsp_sandbox.clock import DANISH_TIME
from nsp_sandbox.outcome import Issue
from nsp_sandbox.simplified_html import CleanedNote, clean_note_html
from services.plsp_hub import conditionlist_document
from services.plsp_hub.state import ConditionCard, Diagnosis

CL_SOURCE = "Shared Condition Overview (ConditionList) use cases v1.1 and send test protocol v1.0.2"
NOTES_SOURCE = "Shared Notes (Notes) use cases v1.0, 2026-03-06"
MAX_PURGE_HOURS = 24


@dataclass(frozen=True)
class Withheld:
    """A diagnosis kept by the hub but not shared, and why."""

    index: int
    key: str
    rule: str
    reason: str

    def issue(self) -> Issue:
        field = "on_card" if self.rule == "plsp-dx-on-card" else "private"
        return Issue("information", "informational", f"Diagnosis '{self.key}' is not shared: {self.reason}",
                     expression=f"diagnoses[{self.index}].{field}", rule=self.rule, source=CL_SOURCE)


# ---- ConditionList ---------------------------------------------------------------------------

def card_issues(keys: Sequence[str]) -> list[Issue]:
    """Errors that refuse a submitted card as a whole: a diagnosis key used twice."""
    seen: dict[str, int] = {}
    issues = []
    for index, key in enumerate(keys):
        if key in seen:
            issues.append(Issue("error", "business-rule", f"Diagnosis key '{key}' is used by diagnoses[{seen[key]}] "
                                f"and diagnoses[{index}]; each diagnosis is sent once with its own stable key",
                                expression=f"diagnoses[{index}].key", rule="plsp-dx-key-unique", source=CL_SOURCE))
        seen.setdefault(key, index)
    return issues


def withheld_diagnoses(diagnoses: Sequence[Diagnosis]) -> list[Withheld]:
    """The diagnoses that are not shared: not on the card, or marked private."""
    out = []
    for index, d in enumerate(diagnoses):
        if not d.on_card:
            out.append(Withheld(index, d.key, "plsp-dx-on-card", "it is not on the diagnosis card"))
        elif d.private:
            out.append(Withheld(index, d.key, "plsp-dx-private", "it is marked private"))
    return out


def internal_note_issues(diagnoses: Sequence[Diagnosis]) -> list[Issue]:
    """Information: the internal notes (tillægstekst) the hub keeps and never shares."""
    return [Issue("information", "informational", f"The internal note of diagnosis '{d.key}' is kept by the hub "
                  "and never shared (Condition.note is not allowed in a shared ConditionList)",
                  expression=f"diagnoses[{index}].internal_note", rule="plsp-dx-internal-note", source=CL_SOURCE)
            for index, d in enumerate(diagnoses) if d.internal_note]


def approval_refusal(card: ConditionCard) -> Issue | None:
    """Why the card may not be shared for want of the practice's approval, or None."""
    if card.approval is None:
        return Issue("warning", "business-rule", "The card has no approval by the practice, so it is not shared "
                     "(use case S1: the user approves the diagnosis card, then it is shared to PLSP)",
                     expression="approval", rule="plsp-card-approved", source=CL_SOURCE)
    if card.approval.at < card.updated:
        return Issue("warning", "business-rule", f"The approval ({card.approval.at.isoformat()}) is older than the "
                     f"card's last change ({card.updated.isoformat()}) and does not cover it, so the card is not "
                     "shared", expression="approval.at", rule="plsp-card-approval-current", source=CL_SOURCE)
    return None


def latest_card(cards: Sequence[ConditionCard]) -> ConditionCard | None:
    """The card that is shared for a patient: the most recently updated one (``plsp-card-latest``); of
    two updated at the same instant, the one later in ``cards`` (submitted later)."""
    return max(reversed(cards), key=lambda c: c.updated, default=None)


def shareable_keys(diagnoses: Sequence[Diagnosis]) -> list[str]:
    """The keys of the diagnoses that may be shared (neither withheld by ``plsp-dx-on-card`` nor
    by ``plsp-dx-private``), in the card's order."""
    withheld = {w.index for w in withheld_diagnoses(diagnoses)}
    return [d.key for i, d in enumerate(diagnoses) if i not in withheld]


def card_findings(card: ConditionCard) -> list[Issue]:
    """What the hub reports of a card it keeps: each diagnosis withheld, each internal note kept, and
    why the card as a whole is not shared — want of approval, or nothing shareable (``plsp-card-empty``:
    no ConditionList document and no DDS entry)."""
    issues = [w.issue() for w in withheld_diagnoses(card.diagnoses)] + internal_note_issues(card.diagnoses)
    refusal = approval_refusal(card)
    if refusal is not None:
        issues.append(refusal)
    elif not shareable_keys(card.diagnoses):
        issues.append(Issue("information", "informational", "Nothing on the card may be shared: no ConditionList "
                            "document and no DDS entry", expression="diagnoses", rule="plsp-card-empty",
                            source=CL_SOURCE))
    return issues


def why_card_not_shared(card: ConditionCard, latest: ConditionCard | None) -> Issue | None:
    """Why ``card`` is not the patient's shared ConditionList now, or None when it is: another
    clinic's card was updated later (``plsp-card-latest``, ``latest`` from :func:`latest_card`), the
    card wants the practice's approval, or nothing on it may be shared (``plsp-card-empty``)."""
    if card is not latest:
        return Issue("information", "informational", "a more recently updated card of another clinic is now the "
                     "patient's shared ConditionList", rule="plsp-card-latest", source=CL_SOURCE)
    if shared_card(card) is not None:
        return None
    return approval_refusal(card) or Issue("information", "informational", "the card has no shareable diagnosis, "
                                           "so there is no ConditionList", rule="plsp-card-empty", source=CL_SOURCE)


def shared_card(card: ConditionCard) -> ConditionCard | None:
    """The card as shared: only its shareable diagnoses, without internal notes; None when nothing
    may be shared (unapproved, or no shareable diagnosis: ``plsp-card-empty``)."""
    if approval_refusal(card) is not None:
        return None
    withheld = {w.index for w in withheld_diagnoses(card.diagnoses)}
    shared = tuple(replace(d, internal_note=None) for i, d in enumerate(card.diagnoses) if i not in withheld)
    return replace(card, diagnoses=shared) if shared else None


# ``clinicalStatus`` is ``resolved`` whenever an abatement is given (con-4; the send protocol adds it
# automatically): the ConditionList generator applies it, so it is named here and defined there.
clinical_status = conditionlist_document.clinical_status


# ---- Notes -------------------------------------------------------------------------------------

def note_body(raw: str, fmt: str) -> tuple[CleanedNote, list[Issue]]:
    """The body reduced to the allowed HTML; an error when nothing is left, a warning naming what went."""
    cleaned = clean_note_html(html.escape(raw, quote=False) if fmt == "text" else raw)
    issues = []
    if cleaned.removed:
        issues.append(Issue("warning", "business-rule", "The note body was reduced to the allowed simplified "
                            f"HTML (p, br, b, i, em, u, tt); removed: {', '.join(cleaned.removed)}",
                            expression="body", rule="plsp-note-html-reduced",
                            source="MedCom Notes 1.0.0 Observation (FNUX SimplifiedHTML)"))
    if cleaned.is_blank:
        issues.append(Issue("error", "business-rule", "The note is blank or holds only whitespace; a blank note "
                            "is not shared", expression="body", rule="plsp-note-blank", source=NOTES_SOURCE))
    return cleaned, issues


def note_time_issues(created: datetime, updated: datetime, *, stored_created: datetime | None = None,
                     given_created: datetime | None = None, previous_updated: datetime | None = None) -> list[Issue]:
    """The timestamp rules of a note version (``stored_*`` for an update of an existing note)."""
    issues = []
    if stored_created is not None and given_created is not None and given_created != stored_created:
        issues.append(Issue("error", "business-rule", f"The creation time of a note never changes: it is "
                            f"{stored_created.isoformat()}, the update says {given_created.isoformat()}",
                            expression="created", rule="plsp-note-created-immutable", source=NOTES_SOURCE))
    if stored_created is None:
        if updated < created:
            issues.append(Issue("error", "business-rule", "A new note cannot be updated before it was created",
                                expression="updated", rule="plsp-note-updated-after-created", source=NOTES_SOURCE))
    else:
        if updated <= created:
            issues.append(Issue("error", "business-rule", f"The update time ({updated.isoformat()}) must be later "
                                f"than the creation time ({created.isoformat()})", expression="updated",
                                rule="plsp-note-updated-after-created", source=NOTES_SOURCE))
        elif previous_updated is not None and updated <= previous_updated:
            issues.append(Issue("error", "business-rule", f"The update time ({updated.isoformat()}) must be later "
                                f"than the previous version's ({previous_updated.isoformat()})",
                                expression="updated", rule="plsp-note-updated-after-created", source=NOTES_SOURCE))
    return issues


def next_midnight(moment: datetime) -> datetime:
    """The next midnight after ``moment`` in Danish time."""
    local = moment.astimezone(DANISH_TIME)
    day: date = local.date() + timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=DANISH_TIME)


def available_from(submitted: datetime, after_midnight: bool) -> datetime:
    """When a note submitted at ``submitted`` may first be served (``plsp-note-after-midnight``)."""
    return next_midnight(submitted) if after_midnight else submitted


def why_note_not_served(*, state: str, do_not_share: bool, available: datetime, now: datetime) -> Issue | None:
    """Why a note is not served now, or None when it is."""
    if state != "active":
        return Issue("error", "deleted", "The note was cancelled by the clinic; it is no longer shared",
                     rule="plsp-note-cancelled", source=NOTES_SOURCE)
    if do_not_share:
        return Issue("error", "deleted", "The clinic marked the note 'do not share'", rule="plsp-note-do-not-share",
                     source=NOTES_SOURCE)
    if now < available:
        return Issue("error", "not-found", f"The note becomes available after midnight ({available.isoformat()})",
                     rule="plsp-note-after-midnight", source=NOTES_SOURCE)
    return None


def withdrawal_status(reason: Issue) -> str:
    """The DDS status an entry gets when it is withdrawn for ``reason``: ``entered-in-error`` for a
    cancelled note (``plsp-note-cancelled``), else ``superseded``."""
    return "entered-in-error" if reason.rule == "plsp-note-cancelled" else "superseded"


def note_key_taken(key: str) -> Issue:
    """``plsp-note-key-unique``: the clinic already has a note with ``key``; a new version is an update."""
    return Issue("error", "duplicate", f"This clinic already has a note with key '{key}'; send a new version with "
                 f"PUT /plsp/notes/{key}", expression="key", rule="plsp-note-key-unique")


def cancelled_note_unchanged(key: str, state: str, *, new_version: bool) -> Issue | None:
    """``plsp-note-cancelled``: a cancelled (or purged) note is not changed again — neither a new
    version (``new_version``) nor its 'do not share' mark; None while the note is active."""
    if state == "active":
        return None
    text = f"The note '{key}' was cancelled" + ("; a cancelled note is not changed again" if new_version else "")
    return Issue("error", "business-rule", text, expression="key", rule="plsp-note-cancelled", source=NOTES_SOURCE)


def do_not_share_marked(do_not_share: bool, *, at_creation: bool = False) -> Issue:
    """``plsp-note-do-not-share`` as the event log says it: a note marked at its creation is kept and
    never shared; a mark set later is honoured from the next retrieval on, and so is its removal."""
    if at_creation:
        text = "Marked 'do not share' by the clinic: the note is kept and not shared"
    elif do_not_share:
        text = "Marked 'do not share': not served from the next retrieval on"
    else:
        text = "'Do not share' removed: the note is shared again from the next retrieval on"
    return Issue("information", "informational", text, rule="plsp-note-do-not-share", source=NOTES_SOURCE)


@dataclass(frozen=True)
class Cancellation:
    """A note's cancellation: when its content is to be deleted, and the event log's line."""

    purge_due: datetime
    issue: Issue


def note_cancellation(state: str, now: datetime, purge_hours: float) -> Cancellation | None:
    """``plsp-note-cancelled`` for a note in ``state`` cancelled at ``now``: no longer served at once,
    its content deleted ``purge_hours`` later (``plsp-note-purge``, at most 24 hours); None when the
    note is already cancelled (cancelling again changes nothing)."""
    if state != "active":
        return None
    due = purge_due(now, purge_hours)
    return Cancellation(due, Issue("information", "informational", "Cancelled by the clinic: no longer served; its "
                                   f"content is deleted from the hub by {due.isoformat(timespec='seconds')}",
                                   rule="plsp-note-cancelled", source=NOTES_SOURCE))


def note_purged(versions: int) -> Issue:
    """``plsp-note-purge`` as the event log says it: the content of every version is gone, the log
    keeps that the note existed (body, author and end time are deleted)."""
    return Issue("information", "informational", f"The cancelled note's content (all {versions} version(s)) was "
                 "deleted from the hub; this log keeps that it existed", rule="plsp-note-purge", source=NOTES_SOURCE)


def purge_due(cancelled_at: datetime, hours: float) -> datetime:
    """When a cancelled note's content is deleted: ``hours`` after the cancellation, at most 24."""
    return cancelled_at + timedelta(hours=min(max(hours, 0.0), MAX_PURGE_HOURS))


def one_note_per_document(bundle: dict[str, Any]) -> Issue | None:
    """A Notes document carries exactly one note (one Observation)."""
    entries = bundle.get("entry") if isinstance(bundle.get("entry"), list) else []
    notes = [i for i, e in enumerate(entries) if isinstance(e, dict) and isinstance(e.get("resource"), dict)
             and e["resource"].get("resourceType") == "Observation"]
    if len(notes) > 1:
        return Issue("error", "business-rule", f"A Notes document holds one note; this one holds {len(notes)} "
                     "Observations", expression=f"Bundle.entry[{notes[1]}].resource",
                     rule="plsp-note-one-per-document", source="MedCom Notes 1.0.0 IG")
    return None
