"""The source rules as pure functions (``services/plsp_hub/sharing_rules.py``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from services.plsp_hub import sharing_rules as rules
from services.plsp_hub.state import Approval, Clinic, ConditionCard, Diagnosis, Patient, Practitioner

PATIENT = Patient("2509479989", ("Bruno",), "Elmer", "male", date(1947, 9, 25))
LARS = Practitioner("https://autregweb.sst.dk", "SK7T1", ("Lars",), "Lund")
T0 = datetime(2026, 5, 6, 10, 0, tzinfo=UTC)


def dx(key: str, **fields: object) -> Diagnosis:
    return Diagnosis(key=key, recorded=date(2024, 5, 6), status="current", **fields)  # type: ignore[arg-type]


def a_card(*diagnoses: Diagnosis, sor: str = "52581000016005", updated: datetime = T0,
           approved_at: datetime | None = T0) -> ConditionCard:
    return ConditionCard(PATIENT, Clinic(sor, "Klinik"), diagnoses, updated,
                         Approval(LARS, approved_at) if approved_at else None)


def test_shared_card_keeps_only_on_card_non_private_diagnoses_without_internal_notes() -> None:
    card = a_card(dx("a", internal_note="tillægstekst"), dx("b", private=True), dx("c", on_card=False))
    shared = rules.shared_card(card)
    assert shared is not None and [d.key for d in shared.diagnoses] == ["a"]
    assert shared.diagnoses[0].internal_note is None
    assert [(w.key, w.rule) for w in rules.withheld_diagnoses(card.diagnoses)] == [
        ("b", "plsp-dx-private"), ("c", "plsp-dx-on-card")]


def test_no_shared_card_without_approval_or_shareable_diagnoses() -> None:
    assert rules.shared_card(a_card(dx("a"), approved_at=None)) is None
    assert rules.shared_card(a_card(dx("a"), approved_at=T0 - timedelta(minutes=1))) is None
    assert rules.shared_card(a_card(dx("b", private=True))) is None
    assert rules.shared_card(a_card()) is None
    refusal = rules.approval_refusal(a_card(dx("a"), approved_at=T0 - timedelta(minutes=1)))
    assert refusal is not None and refusal.rule == "plsp-card-approval-current" and refusal.expression == "approval.at"


def test_latest_card_is_the_most_recently_updated() -> None:
    older, newer = a_card(dx("a"), sor="1"), a_card(dx("b"), sor="2", updated=T0 + timedelta(hours=1))
    assert rules.latest_card([newer, older]) is newer
    assert rules.latest_card([]) is None
    same_time = a_card(dx("c"), sor="3")
    assert rules.latest_card([older, same_time]) is same_time


def test_why_a_card_is_not_the_shared_conditionlist() -> None:
    later = T0 + timedelta(hours=1)
    older, newer = a_card(dx("a"), sor="1"), a_card(dx("b"), sor="2", updated=later, approved_at=later)
    latest = rules.latest_card([older, newer])
    assert rules.why_card_not_shared(newer, latest) is None
    assert rules.why_card_not_shared(older, latest).rule == "plsp-card-latest"  # type: ignore[union-attr]
    unapproved, empty = a_card(dx("a"), approved_at=None), a_card(dx("p", private=True))
    assert rules.why_card_not_shared(unapproved, unapproved).rule == "plsp-card-approved"  # type: ignore[union-attr]
    assert rules.why_card_not_shared(empty, empty).rule == "plsp-card-empty"  # type: ignore[union-attr]
    assert [i.rule for i in rules.card_findings(empty)] == ["plsp-dx-private", "plsp-card-empty"]
    assert rules.withdrawal_status(rules.why_card_not_shared(empty, empty)) == "superseded"  # type: ignore[arg-type]


def test_clinical_status_is_resolved_whenever_an_abatement_is_given() -> None:
    assert rules.clinical_status(dx("a", abatement=date(2023, 3, 3))) == "resolved"
    assert rules.clinical_status(dx("a", abatement=datetime(2023, 3, 3, 9, tzinfo=UTC))) == "resolved"
    assert rules.clinical_status(dx("a")) == "active"


def test_note_time_rules() -> None:
    created = T0
    assert rules.note_time_issues(created, created) == []
    assert [i.rule for i in rules.note_time_issues(created, created - timedelta(seconds=1))] == [
        "plsp-note-updated-after-created"]
    later = created + timedelta(days=1)
    assert rules.note_time_issues(created, later, stored_created=created, given_created=created,
                                  previous_updated=created) == []
    moved = rules.note_time_issues(created, later, stored_created=created, given_created=created + timedelta(1),
                                   previous_updated=created)
    assert [(i.rule, i.expression) for i in moved] == [("plsp-note-created-immutable", "created")]
    backwards = rules.note_time_issues(created, later, stored_created=created, previous_updated=later)
    assert [i.rule for i in backwards] == ["plsp-note-updated-after-created"]


def test_next_midnight_is_danish_midnight_across_daylight_saving() -> None:
    assert rules.next_midnight(datetime(2026, 5, 6, 10, tzinfo=UTC)) == datetime(2026, 5, 6, 22, tzinfo=UTC)
    assert rules.next_midnight(datetime(2026, 1, 6, 23, 30, tzinfo=UTC)) == datetime(2026, 1, 7, 23, tzinfo=UTC)
    assert rules.next_midnight(datetime(2026, 3, 28, 12, tzinfo=UTC)) == datetime(2026, 3, 28, 23, tzinfo=UTC)
    assert rules.available_from(T0, after_midnight=False) == T0


def test_purge_is_due_within_24_hours() -> None:
    assert rules.purge_due(T0, 1) == T0 + timedelta(hours=1)
    assert rules.purge_due(T0, 100) == T0 + timedelta(hours=24)


def test_a_note_is_cancelled_once_and_withdrawn_as_entered_in_error() -> None:
    cancellation = rules.note_cancellation("active", T0, 100)
    assert cancellation is not None and cancellation.purge_due == T0 + timedelta(hours=24)
    assert rules.withdrawal_status(cancellation.issue) == "entered-in-error"
    assert rules.note_cancellation("cancelled", T0, 1) is None and rules.note_cancellation("purged", T0, 1) is None
    assert rules.cancelled_note_unchanged("n", "active", new_version=True) is None
    refusal = rules.cancelled_note_unchanged("n", "purged", new_version=False)
    assert refusal is not None and (refusal.rule, refusal.expression) == ("plsp-note-cancelled", "key")


def test_one_note_per_document() -> None:
    one = {"entry": [{"resource": {"resourceType": "Composition"}}, {"resource": {"resourceType": "Observation"}}]}
    assert rules.one_note_per_document(one) is None
    two = {"entry": [*one["entry"], {"resource": {"resourceType": "Observation"}}]}
    issue = rules.one_note_per_document(two)
    assert issue is not None and issue.expression == "Bundle.entry[2].resource"


def test_the_note_body_rules() -> None:
    cleaned, issues = rules.note_body("<p>ok<script>x</script></p>", "html")
    assert cleaned.html == "<p>ok</p>" and [i.rule for i in issues] == ["plsp-note-html-reduced"]
    _, blank = rules.note_body(" \t\r\n", "text")
    assert [i.rule for i in blank] == ["plsp-note-blank"]
