"""Diagnosis cards and notes covering MedCom's send-test cases, for the document generator tests.

ConditionList send test protocol §3 / TestScripts: minimal, maximum, resolved with abatement,
text only, neither code nor text, a code of another system and one without a system, date-only
values, several diagnoses with distinct registration dates, name and address protection. Notes:
organisation only, author with and without practitioner and role, updated note, protected names.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from nsp_sandbox.protected_names import PROTECTED_NAME
from services.plsp_hub.state import (
    Approval,
    Author,
    Clinic,
    ConditionCard,
    Diagnosis,
    Note,
    Patient,
    Practitioner,
)

CET = timezone(timedelta(hours=1))
CEST = timezone(timedelta(hours=2))

ELMER = Patient("2509479989", ("Elmer", "Test"), "Hansen", "male", date(1947, 9, 25))
PROTECTED = Patient("3001749995", (PROTECTED_NAME, PROTECTED_NAME), PROTECTED_NAME, "male", date(1974, 1, 30))
INCOMPLETE = Patient("0106059890", ("Inge",), "Komplet", "female", date(2005, 6, 1))  # test CPR 010605-9890
TESTCENTER = Clinic("325381000016008", "MedCom Testcenter", "091034")
HASSERIS = Clinic("61741000016007", "Lægerne Hasseris Bymidte")
BO = Practitioner("urn:oid:1.2.208.176.1.3", "ABC12", ("Bo", "Test"), "Vestergaard")
SIDSEL = Practitioner("urn:ietf:rfc:3986", "urn:uuid:0ee2db70-d972-4497-a156-0a8109aaa771", ("Sidsel",), "Andersen")

UPDATED = datetime(2024, 5, 6, 11, 15, tzinfo=CEST)
ASSEMBLED = datetime(2024, 5, 7, 8, 0, tzinfo=UTC)

DIABETES = Diagnosis("dx-t90", date(2023, 3, 15), "current", sks="DE119a", icpc2="T90", text="Type 2-diabetes",
                     kind="problem-list-item")
ASBESTOS = Diagnosis("dx-r95", datetime(2023, 5, 1, 9, 30, tzinfo=CEST), "relevant", sks="DJ449", icpc2="R95",
                     text="Kronisk obstruktiv lungesygdom", kind="encounter-diagnosis",
                     onset=datetime(2003, 2, 1, 8, 0, tzinfo=CET), abatement=datetime(2024, 5, 6, 11, 15, tzinfo=CEST),
                     internal_note="Rygning og asbest")


def card(*diagnoses: Diagnosis, patient: Patient = ELMER, clinic: Clinic = TESTCENTER,
         approval: Approval | None = None, updated: datetime = UPDATED) -> ConditionCard:
    return ConditionCard(patient=patient, clinic=clinic, diagnoses=diagnoses, updated=updated, approval=approval)


CARDS: dict[str, ConditionCard] = {
    "minimal": card(Diagnosis("dx-p76", date(2024, 1, 16), "current", sks="DF329", icpc2="P76", text="Depression",
                              kind="problem-list-item")),
    "maximum": card(
        Diagnosis("dx-t90", date(2023, 3, 15), "current", sks="DE119a", icpc2="T90", text="Type 2-diabetes",
                  kind="problem-list-item", onset=date(2020, 2, 20), internal_note="Træt af sygdommen"),
        ASBESTOS,
        Diagnosis("dx-k86", datetime(2024, 1, 17, 10, 0, tzinfo=CET), "current", sks="DI109", icpc2="K86",
                  text="Hypertensio arterialis essentialis", kind="problem-list-item",
                  onset=datetime(2024, 1, 17, 10, 0, tzinfo=CET)),
        approval=Approval(BO, datetime(2024, 5, 6, 11, 0, tzinfo=CEST))),
    "resolved-with-abatement": card(Diagnosis(
        "dx-t90", date(2024, 5, 6), "current", sks="DE119a", icpc2="T90", text="Type 2-diabetes",
        kind="problem-list-item", onset=date(2023, 1, 1), abatement=date(2024, 5, 6))),
    "text-only": card(Diagnosis("dx-kol", date(2020, 3, 15), "current", text="KOL", onset=date(2019, 11, 25)),
                      patient=INCOMPLETE),
    "no-code-no-text": card(Diagnosis("dx-empty", date(2021, 6, 15), "current"), patient=INCOMPLETE),
    "icpc-only": card(Diagnosis("dx-r05", date(2024, 7, 1), "current", icpc2="R05")),
    "other-and-systemless-codes": card(Diagnosis(
        "dx-other", date(2024, 3, 15), "current",
        other_codes=(("http://snomed.info/sct", "238131007"), (None, "ACB")))),
    "date-only-values": card(Diagnosis("dx-a77", date(2024, 5, 6), "relevant", sks="DB342a", icpc2="A77",
                                       text="COVID-19-infektion uden angivelse af lokalisation",
                                       kind="encounter-diagnosis", onset=date(2024, 5, 1), abatement=date(2024, 5, 6))),
    "several-recorded-dates": card(
        Diagnosis("dx-1", date(2022, 1, 10), "current", sks="DJ439", icpc2="R95", text="Emfysem"),
        Diagnosis("dx-2", date(2023, 2, 11), "current", sks="DE660b", icpc2="T82", text="Overvægt",
                  kind="encounter-diagnosis"),
        Diagnosis("dx-3", datetime(2024, 3, 12, 14, 5, tzinfo=CET), "relevant", sks="DB349", icpc2="A77",
                  text="Virusinfektion", onset=date(2024, 3, 1)),
    ),
    "address-protection": card(DIABETES, patient=PROTECTED, clinic=HASSERIS,
                               approval=Approval(SIDSEL, datetime(2024, 5, 6, 11, 0, tzinfo=CEST))),
    "escaped-text": card(Diagnosis("dx-x", date(2024, 1, 1), "current",
                                   text='Allergi <script>alert("x")</script> & mere')),
}

CREATED = datetime(2026, 5, 5, 10, 11, tzinfo=CEST)
NOTE_BODY = "<p>Symptomer: hoste<br/>Aktuelt: <b>feber</b></p>"


def note(*, key: str = "note-1", patient: Patient = ELMER, clinic: Clinic = HASSERIS, author: Author | None = None,
         created: datetime = CREATED, updated: datetime | None = None, body: str = NOTE_BODY, version: int = 1,
         ended: datetime | None = None) -> Note:
    return Note(key=key, patient=patient, clinic=clinic, created=created, updated=updated or created,
                body_html=body, version=version, author=author, ended=ended)


NOTES: dict[str, Note] = {
    "organization-only": note(),
    "practitioner-and-role": note(author=Author(SIDSEL, role_code="speciallaegeipraksis"),
                                  clinic=Clinic("61741000016007", "Lægerne Hasseris Bymidte", "77410")),
    "role-only": note(author=Author(role_code="sygeplejerske")),
    "role-text-only": note(author=Author(role_text="Praksissygeplejerske")),
    "practitioner-only": note(author=Author(SIDSEL)),
    "address-protection": note(patient=PROTECTED, body="pt. adressebeskyttet"),
    "updated": note(author=Author(SIDSEL, role_code="speciallaegeipraksis"), version=2,
                    updated=datetime(2026, 5, 6, 7, 32, tzinfo=CEST),
                    body=NOTE_BODY + "<p><b>Vurdering</b><br/>Plan</p>"),
    "with-end-winter-time": note(created=datetime(2026, 12, 12, 8, 5, tzinfo=UTC),
                                 updated=datetime(2026, 12, 12, 13, 50, tzinfo=UTC),
                                 ended=datetime(2026, 12, 12, 8, 25, tzinfo=UTC)),
    "escaped-names": note(clinic=Clinic("61741000016007", "Lægerne <Øst> & Vest"),
                          author=Author(Practitioner("urn:ietf:rfc:3986",
                                                     "urn:uuid:5ec2acb5-3bfb-4080-abc7-3fd008e5b96e", ("K",), "...."),
                                        role_text="<i>-</i>")),
}
