"""The patient as the hub takes it from NSP's CPR register, never from the GP system."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient
from plsp_support import NOTE_TYPE, Reader, a_note, plsp, resources
from sqlalchemy import select

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.cpr import birth_date as cpr_birth_date
from nsp_sandbox.outcome import FhirError
from nsp_sandbox.protected_names import PROTECTED_NAME
from services.plsp_hub.models import NoteRow
from services.plsp_hub.nsp import check_cpr, patient_from_register


def test_register_fields_are_used_as_given() -> None:
    patient = patient_from_register({"cpr": "0108629996", "given": ["May", "June", "Test"], "family": "Moberg",
                                     "gender": "female", "birth_date": "1962-08-01"})
    assert (patient.given, patient.family, patient.gender, patient.birth_date) == (
        ("May", "June", "Test"), "Moberg", "female", date(1962, 8, 1))


def test_a_bare_name_is_split_and_cpr_gives_gender_and_birth_date() -> None:
    patient = patient_from_register({"cpr": "2509479989", "name": "Bruno Elmer"})
    assert (patient.given, patient.family, patient.gender, patient.birth_date) == (
        ("Bruno",), "Elmer", "male", date(1947, 9, 25))
    single = patient_from_register({"cpr": "2509479989", "name": "Elmer"})
    assert single.given == (PROTECTED_NAME,) and single.family == "Elmer"


def test_a_protected_citizen_is_adressebeskyttet() -> None:
    patient = patient_from_register({"cpr": "0201919990", "given": ["Sofie"], "family": "Kjær",
                                     "name_and_address_protected": True})
    assert patient.given == (PROTECTED_NAME,) and patient.family == PROTECTED_NAME


@pytest.mark.parametrize("cpr", ["3102001234", "12345678901", "abcdefghij", "0703921VJ5"])
def test_invalid_cpr_numbers_are_pd02(cpr: str) -> None:
    with pytest.raises(FhirError) as refused:
        check_cpr(cpr)
    assert refused.value.status == 422 and refused.value.issues[0].rule == "PD02"


def test_century_from_the_seventh_digit() -> None:
    assert cpr_birth_date("0505239996") == date(2023, 5, 5)
    assert cpr_birth_date("0108629996") == date(1962, 8, 1)


def test_the_gp_system_cannot_set_the_patients_name(client: TestClient, clock: SandboxContext) -> None:
    status = plsp(client).create_note("2509479989", a_note())
    assert status["cpr"] == "2509479989"
    with clock.database.session() as s:
        row = s.scalar(select(NoteRow))
        assert row is not None and row.patient is not None
        assert (row.patient["given"], row.patient["family"]) == (["Bruno"], "Elmer")


def test_the_clinics_ydernummer_comes_from_the_sor_register(client: TestClient, clock: SandboxContext) -> None:
    plsp(client, "system-lps-hasseris").create_note("3001749995", a_note())
    doctor = Reader(client, "gp-hasseris")
    document = doctor.document(doctor.search(cpr="3001749995", type_code=NOTE_TYPE)[0])
    organization = resources(document, "Organization")[0]
    assert organization["name"] == "Lægerne Hasseris Bymidte"
    assert {"system": "urn:oid:1.2.208.176.1.4", "value": "77410"} in organization["identifier"]
