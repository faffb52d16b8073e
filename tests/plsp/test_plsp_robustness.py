"""Never a 500: broken, mistyped and hostile input to every face of the hub answers a 4xx OperationOutcome."""

from __future__ import annotations

import copy
import json
from typing import Any

from fastapi.testclient import TestClient
from plsp_support import CPR, GP_SYSTEM, a_note, card, diabetes
from sts_client import auth

from nsp_sandbox.context import SandboxContext

JUNK: list[Any] = [None, 0, -1, 1e308, True, "", "x" * 5000, [], {}, [{}], {"a": {"b": [None]}}, "\u202e\ufeff"]


def _mutations(body: dict[str, Any]) -> list[Any]:
    out: list[Any] = [[], "text", 3, None]
    for key in body:
        for junk in JUNK:
            changed = copy.deepcopy(body)
            changed[key] = junk
            out.append(changed)
    return out


def _check(response: Any) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.json()["resourceType"] == "OperationOutcome"


def test_mutated_bodies_never_break_the_hub(client: TestClient, clock: SandboxContext) -> None:
    headers = auth(client, GP_SYSTEM, "plsp")
    assert client.post(f"/plsp/patients/{CPR}/notes", headers=headers, json=a_note("base")).status_code == 201
    base_card = card(diabetes())
    diagnosis = base_card["diagnoses"][0]
    for body in _mutations(base_card) + [dict(base_card, diagnoses=[m]) for m in _mutations(diagnosis)[4:]]:
        _check(client.put(f"/plsp/patients/{CPR}/conditionlist", headers=headers, json=body))
    for body in _mutations(a_note("mutant")):
        _check(client.post(f"/plsp/patients/{CPR}/notes", headers=headers, json=body))
    update = {"body": "x", "updated": "2026-05-06T13:00:00+02:00", "created": "2026-05-05T10:11:00+02:00"}
    for body in _mutations(update):
        _check(client.put("/plsp/notes/base", headers=headers, json=body))
    for raw in (b"{", b"\xff\xfe", b"[1,2]", b'{"resourceType": "Bundle", "entry": [1, "x", {"resource": []}]}',
                b'{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Composition", "type": []}}]}'):
        _check(client.post("/plsp/documents", headers={**headers, "Content-Type": "application/fhir+json"},
                           content=raw))
    for path in ("/plsp/notes/" + "k" * 400, "/plsp/notes/%E2%80%AE/cancel", f"/plsp/patients/{'9' * 300}/events",
                 "/plsp/ondemand/" + "z" * 300):
        _check(client.get(path, headers=headers))
        _check(client.post(path, headers=headers))
    _check(client.put(f"/plsp/patients/{CPR}/conditionlist", headers={**headers, "Content-Type": "application/json"},
                      content=json.dumps(base_card).encode()[:-3]))
