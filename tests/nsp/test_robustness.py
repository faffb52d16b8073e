"""NSP never answers 500: odd JSON in every body field is a 4xx OperationOutcome."""

from __future__ import annotations

import itertools

from fastapi.testclient import TestClient
from sts_client import auth

ODD = [None, 1, -1.5, True, "", "x" * 300, [], ["a"], {}, {"type": "all"}, "2026-13-45", "\u0000"]


def test_odd_values_never_fail_the_server(client: TestClient) -> None:
    citizen = auth(client, "citizen-2509479989", "nsp")
    system = auth(client, "system-dds", "nsp")
    gp_system = auth(client, "system-lps-skodstrup", "nsp")  # registers relations for gp-skodstrup
    faces = [
        ("/nsp/sts/token", {}, ("persona", "audience")),
        ("/nsp/consent/blocks", citizen, ("who", "include_sub_units", "valid_from", "valid_to", "data_from",
                                          "data_to", "cpr")),
        ("/nsp/brs/relations", gp_system, ("professional", "authorisation", "cpr", "valid_from", "valid_to")),
        ("/nsp/minlog/entries", system, ("cpr", "activity", "time", "consent_override", "reason", "user_name")),
    ]
    base = {"/nsp/sts/token": {"persona": "gp-skodstrup"},
            "/nsp/consent/blocks": {"who": {"type": "all"}},
            "/nsp/brs/relations": {"professional": "gp-skodstrup", "cpr": "0602631234"},
            "/nsp/minlog/entries": {"cpr": "2509479989", "activity": "x"}}
    for (path, headers, fields), value in itertools.product(faces, ODD):
        for name in fields:
            response = client.post(path, headers=headers, json={**base[path], name: value})
            assert response.status_code < 500, (path, name, value, response.text)
        for who in ({"type": "professional", "id": value}, {"type": "organisation", "id": value}):
            if path == "/nsp/consent/blocks":
                assert client.post(path, headers=headers, json={"who": who}).status_code < 500
    for token in ("a.b.c", "eyJhbGciOiJFUzI1NiIsImtpZCI6WzFdfQ.e30.sig", "x" * 5000):
        assert client.get("/nsp/minlog", headers={"Authorization": f"Bearer {token}"}).status_code == 401
        assert client.get("/dds/fhir/DocumentReference", headers={"Authorization": f"Bearer {token}"},
                          params={"patient.identifier": "2509479989", "status": "current"}).status_code == 401
