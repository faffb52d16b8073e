"""The access matrix on NSP's consent model (dds-nsp.md §2.1): persona × document source × consent
items (who / what / period, negative and positive) × værdispring → what DDS answers and logs.

Each row provides three documents of Bruno (2509479989) in one ITI-65: one authored at his GP
clinic (Skødstrup Lægepraksis, 2026), one at a hospital department (Akutafdelingen, a sub-unit of
Aarhus Universitetshospital, 2026) and one at Aarhus Kommune (2024). It registers the row's
consent items through NSP, searches (ITI-67) as the persona, retrieves each document (ITI-68) and
reads Bruno's Min Log. Expected: the HTTP status, the documents seen, whether a "withheld"
warning is given, and the Min Log line every look-up with a result writes (one per search and
per retrieved document; nothing for an empty answer or the citizen's own look-up).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from access_setup import find, matches, min_log, warnings
from fastapi.testclient import TestClient
from mhd_client import Mhd
from sts_client import add_relation, auth

BRUNO = "2509479989"  # GP: Skødstrup; Emil Elmer holds his fuldmagt (sundhedsjournal)
GP_CLINIC = "52581000016005"  # Skødstrup Lægepraksis
HOSPITAL = "900007000099016"  # Aarhus Universitetshospital
DEPARTMENT = "900008000099016"  # Akutafdelingen, Aarhus Universitetshospital (under HOSPITAL)
MUNICIPALITY = "937961000016000"  # Aarhus Kommune
SOURCES = {"gp": (GP_CLINIC, "Skødstrup Lægepraksis", "2026-02"),
           "dept": (DEPARTMENT, "Akutafdelingen, Aarhus Universitetshospital", "2026-03"),
           "muni": (MUNICIPALITY, "Aarhus Kommune", "2024-03")}
ALL = frozenset(SOURCES)
NOT_DEPT = frozenset({"gp", "muni"})
LATER = "2099-12-31"

DEPT_DATA = {"type": "organisation", "id": DEPARTMENT}
ITEMS: dict[str, list[dict[str, Any]]] = {
    "none": [],
    "dept for everyone": [{"who": {"type": "all"}, "what": DEPT_DATA}],
    "hospital with sub-units": [{"who": {"type": "all"},
                                 "what": {"type": "organisation", "id": HOSPITAL, "include_sub_units": True}}],
    "hospital only": [{"who": {"type": "all"}, "what": {"type": "organisation", "id": HOSPITAL}}],
    "dept for one gp": [{"who": {"type": "professional", "id": "SK7T1"}, "what": DEPT_DATA}],
    "dept 2026 for everyone": [{"who": {"type": "all"}, "what": DEPT_DATA, "data_from": "2026-01-01"}],
    "2024 data for everyone": [{"who": {"type": "all"}, "data_from": "2024-01-01", "data_to": "2024-12-31"}],
    "one gp": [{"who": {"type": "professional", "id": "SK7T1"}}],
    "everyone": [{"who": {"type": "all"}}],
    "everyone, positive for one gp": [{"who": {"type": "all"}},
                                      {"kind": "positive", "who": {"type": "professional", "id": "SK7T1"},
                                       "valid_to": LATER}],
    "dept, positive dept for one gp": [{"who": {"type": "all"}, "what": DEPT_DATA},
                                       {"kind": "positive", "who": {"type": "professional", "id": "SK7T1"},
                                        "what": DEPT_DATA, "valid_to": LATER}],
    "everyone, positive dept only": [{"who": {"type": "all"}},
                                     {"kind": "positive", "who": {"type": "professional", "id": "SK7T1"},
                                      "what": DEPT_DATA, "valid_to": LATER}],
    "everyone, positive expired": [{"who": {"type": "all"}},
                                   {"kind": "positive", "who": {"type": "professional", "id": "SK7T1"},
                                    "valid_from": "2020-01-01", "valid_to": "2021-01-01"}],
    "dept by the gp": [{"who": {"type": "all"}, "what": DEPT_DATA, "by": "gp-skodstrup"}],
    "expired": [{"who": {"type": "all"}, "valid_from": "2020-01-01", "valid_to": "2021-01-01"}],
    "not yet valid": [{"who": {"type": "all"}, "valid_from": "2099-01-01"}],
    "revoked": [{"who": {"type": "all"}, "revoke": True}],
}
# What every Min Log line of a persona's look-up says: user id, user name, role, responsible id and name.
LINES = {
    "gp-skodstrup": ("SK7T1", "Lars Lund", "Læge", None, None),
    "gp-skodstrup-2": ("SK7T2", "Hanne Bach", "Læge", None, None),
    "doctor-auh-acute": ("AU5R1", "Rasmus Dahl", "Læge", None, None),
    "secretary-skodstrup": (None, "Birgitte Juul", "Lægesekretær", "SK7T1", "Lars Lund"),
    "relative-0505059996": (None, "Emil Elmer", "Fuldmagtshaver", None, None),
}


@dataclass(frozen=True)
class Row:
    persona: str
    items: str
    status: int = 200
    seen: frozenset[str] = frozenset()
    warned: bool = False
    override: str | None = None
    criticality: str | None = None

    def __str__(self) -> str:
        return f"{self.persona}|{self.items}|{'override' if self.override else '-'}"

    @property
    def logged(self) -> int:
        """Min Log lines: the search and each retrieved document, when anything was seen, for a logged user."""
        return 1 + len(self.seen) if self.seen and self.persona in LINES else 0


MATRIX = [
    # The citizen and his fuldmagt holder: consent items are about professionals; they see everything.
    Row(f"citizen-{BRUNO}", "none", seen=ALL),
    Row(f"citizen-{BRUNO}", "everyone", seen=ALL),
    Row(f"citizen-{BRUNO}", "dept for everyone", seen=ALL),
    Row("relative-0505059996", "dept for everyone", seen=ALL),
    Row("relative-0505059996", "everyone", seen=ALL),
    Row("citizen-0602631234", "none", 403),  # another citizen
    Row("system-eoj-aarhus", "none", 403),  # a source system provides, it does not read
    # His GP, another GP at the clinic, the department's own doctor, the GP's assistant.
    Row("gp-skodstrup", "none", seen=ALL),
    Row("gp-skodstrup", "dept for everyone", seen=NOT_DEPT, warned=True),
    Row("gp-skodstrup-2", "dept for everyone", seen=NOT_DEPT, warned=True),
    Row("doctor-auh-acute", "dept for everyone", seen=NOT_DEPT, warned=True),
    Row("secretary-skodstrup", "dept for everyone", seen=NOT_DEPT, warned=True),
    Row("gp-skodstrup", "dept by the gp", seen=NOT_DEPT, warned=True),
    Row("gp-skodstrup", "hospital with sub-units", seen=NOT_DEPT, warned=True),
    Row("gp-skodstrup", "hospital only", seen=ALL),  # the department is not the hospital itself
    Row("gp-skodstrup", "dept for one gp", seen=NOT_DEPT, warned=True),
    Row("gp-skodstrup-2", "dept for one gp", seen=ALL),
    Row("secretary-skodstrup", "dept for one gp", seen=NOT_DEPT, warned=True),  # judged as Lars Lund
    Row("gp-skodstrup", "dept 2026 for everyone", seen=NOT_DEPT, warned=True),
    Row("gp-skodstrup", "2024 data for everyone", seen=frozenset({"gp", "dept"}), warned=True),
    Row("gp-skodstrup", "one gp"),
    Row("secretary-skodstrup", "one gp"),
    Row("gp-skodstrup-2", "one gp", seen=ALL),
    Row("gp-skodstrup", "everyone"),
    Row("doctor-auh-acute", "everyone"),
    Row("gp-skodstrup", "everyone, positive for one gp", seen=ALL),
    Row("secretary-skodstrup", "everyone, positive for one gp", seen=ALL),
    Row("gp-skodstrup-2", "everyone, positive for one gp"),
    Row("gp-skodstrup", "dept, positive dept for one gp", seen=ALL),
    Row("gp-skodstrup-2", "dept, positive dept for one gp", seen=NOT_DEPT, warned=True),
    Row("gp-skodstrup", "everyone, positive dept only"),  # it does not span the negative's data
    Row("gp-skodstrup", "everyone, positive expired"),
    Row("gp-skodstrup", "expired", seen=ALL),
    Row("gp-skodstrup", "not yet valid", seen=ALL),
    Row("gp-skodstrup", "revoked", seen=ALL),
    # Værdispring: a professional at level 4 with an authorisation code; reason and criticality logged.
    Row("gp-skodstrup", "everyone", seen=ALL, override="Patienten kan ikke kontaktes"),
    Row("gp-skodstrup", "dept for everyone", seen=ALL, override="Akut", criticality="høj"),
    Row("doctor-auh-acute", "everyone", seen=ALL, override="Akut indlæggelse", criticality="akut"),
    Row("secretary-skodstrup", "everyone", 403, override="Akut"),  # an assistant has no authorisation
    Row(f"citizen-{BRUNO}", "none", 403, override="Jeg vil se alt"),
    # No treatment relation: refused, with or without værdispring.
    Row("nurse-copenhagen-acute", "none", 403),
    Row("nurse-copenhagen-acute", "everyone", 403, override="Akut"),
]


def provide_sources(mhd: Mhd) -> dict[str, str]:
    """Bruno's three documents, one per source, in one ITI-65; answers source name → entry id."""
    items = []
    for sor, name, month in SOURCES.values():
        dr = mhd.document_reference(cpr=BRUNO)
        organisation = next(c for c in dr["contained"] if c["resourceType"] == "Organization")
        organisation["identifier"] = [{"system": "urn:oid:1.2.208.176.1.1", "value": sor}]
        organisation["name"] = name
        dr["context"]["period"] = {"start": f"{month}-01T10:00:00+01:00", "end": f"{month}-02T10:00:00+01:00"}
        items.append((dr, mhd.examples.hco))
    ids = mhd.provide(*items, cpr=BRUNO)
    return dict(zip(SOURCES, ids, strict=True))


def register(client: TestClient, name: str) -> None:
    for spec in ITEMS[name]:
        spec = dict(spec)
        revoke, by = spec.pop("revoke", False), spec.pop("by", None)
        body = {**spec, "cpr": BRUNO} if by else spec
        made = client.post("/nsp/consent/blocks", headers=auth(client, by or f"citizen-{BRUNO}"), json=body)
        assert made.status_code == 201, made.text
        if revoke:
            answer = client.post(f"/nsp/consent/blocks/{made.json()['id']}/revoke",
                                 headers=auth(client, f"citizen-{BRUNO}"))
            assert answer.status_code == 200 and answer.json()["status"] == "revoked"


def check_lines(entries: list[dict[str, Any]], row: Row) -> None:
    assert len(entries) == row.logged, entries
    user, name, role, responsible, responsible_name = LINES.get(row.persona, (None,) * 5)
    for entry in entries:
        assert (entry["user_identifier"], entry["user_name"], entry["user_role"]) == (user, name, role)
        assert (entry["responsible_user_identifier"], entry["responsible_user_name"]) == (responsible,
                                                                                            responsible_name)
        assert entry["person_name"] == "Bruno Elmer" and entry["cpr"] == BRUNO
        assert (entry["consent_override"], entry["reason"], entry["criticality"]) == (
            row.override is not None, row.override, row.criticality)


@pytest.mark.parametrize("row", MATRIX, ids=str)
def test_access_matrix(client: TestClient, mhd: Mhd, row: Row) -> None:
    documents = provide_sources(mhd)
    add_relation(client, "doctor-auh-acute", BRUNO)
    register(client, row.items)
    headers = auth(client, row.persona)
    if row.override is not None:
        headers["X-Consent-Override"] = _quoted(row.override)
    if row.criticality is not None:
        headers["X-Consent-Override-Criticality"] = _quoted(row.criticality)

    response = client.get("/dds/fhir/DocumentReference", headers=headers,
                          params={"patient.identifier": f"urn:oid:1.2.208.176.1.2|{BRUNO}", "status": "current"})
    assert response.status_code == row.status, response.text
    retrieved = {name: client.get(f"/dds/documents/{i}", headers=headers).status_code
                 for name, i in documents.items()}
    if row.status != 200:
        assert response.json()["resourceType"] == "OperationOutcome"
        assert set(retrieved.values()) == {row.status}
        assert min_log(client, BRUNO) == []
        return
    by_id = {i: name for name, i in documents.items()}
    assert {by_id[i] for i in matches(response)} == row.seen
    assert bool(warnings(response)) == row.warned
    assert {name for name, status in retrieved.items() if status == 200} == row.seen
    assert all(status == 404 for name, status in retrieved.items() if name not in row.seen)
    check_lines(min_log(client, BRUNO), row)


def _quoted(text: str) -> str:
    """A header value: non-ASCII text percent-encoded as UTF-8, as DDS reads it."""
    return quote(text, safe=" ")


def test_a_full_block_answers_silently_empty_and_logs_nothing(client: TestClient, mhd: Mhd) -> None:
    provide_sources(mhd)
    register(client, "everyone")
    response = find(client, "gp-skodstrup", BRUNO)
    assert response.status_code == 200 and matches(response) == [] and warnings(response) == []
    assert min_log(client, BRUNO) == []
