"""What the PLSP tests share: the GP clinic's client, a reader's view of DDS, cards and notes."""

from __future__ import annotations

import base64
import json
from typing import Any

from fastapi.testclient import TestClient
from sts_client import auth

from nsp_sandbox.cpr import CPR_SYSTEM
from nsp_sandbox.plsp_client import PlspClient, approval, diagnosis, note

CPR = "2509479989"  # Bruno Elmer, listed at Skødstrup Lægepraksis
CLINIC = "52581000016005"  # Skødstrup Lægepraksis
GP_SYSTEM = "system-lps-skodstrup"
OTHER_GP_SYSTEM = "system-lps-medcom-testcenter"  # MedCom Testcenter, SOR 325381000016008
GP = "gp-skodstrup"  # Lars Lund, the clinic's GP: a treatment relation with the clinic's citizens
CL_TYPE = "11450-4"
NOTE_TYPE = "866144008"


def plsp(client: TestClient, persona: str = GP_SYSTEM) -> PlspClient:
    return PlspClient.for_persona(client, persona)  # type: ignore[arg-type]


def card(*diagnoses: dict[str, Any], approved: bool = True, at: str = "2026-05-06T11:20:00+02:00",
         updated: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"diagnoses": list(diagnoses)}
    if approved:
        body["approval"] = approval("SK7T1", ["Lars"], "Lund", at)
    if updated:
        body["updated"] = updated
    return body


def diabetes(**fields: Any) -> dict[str, Any]:
    return dict(diagnosis("dx-t90", "current", recorded="2019-03-04T09:00:00+01:00", sks="DE119a", icpc2="T90",
                          text="Type 2-diabetes", type="problem-list-item", onset="2019-03-01"), **fields)


def copd(**fields: Any) -> dict[str, Any]:
    return dict(diagnosis("dx-r95", "relevant", recorded="2003-02-01", sks="DJ449", icpc2="R95",
                          text="Kronisk obstruktiv lungesygdom", onset="2003-01-01", abatement="2023-03-03",
                          internal_note="Rygning og asbest"), **fields)


def depression(**fields: Any) -> dict[str, Any]:
    return dict(diagnosis("dx-p76", "current", recorded="2024-05-06", sks="DF339", icpc2="P76", text="Depression"),
                **fields)


def a_note(key: str = "note-1", body: str = "Årskontrol.\r\nBT 138/82 mmHg.", **fields: Any) -> dict[str, Any]:
    return dict(note(key, "2026-05-05T10:11:00+02:00", body), **fields)


def outcome_rules(response: Any) -> list[tuple[str | None, list[str]]]:
    """(rule, expressions) of each issue of an OperationOutcome response."""
    out = []
    for issue in response.json().get("issue", []):
        rule = next((c["code"] for c in issue.get("details", {}).get("coding", [])
                     if c.get("system") == "urn:nsp-sandbox:rule"), None)
        out.append((rule, issue.get("expression", [])))
    return out


class Reader:
    """Someone reading DDS with their own token: ITI-67 search and ITI-68 retrieve."""

    def __init__(self, client: TestClient, persona: str) -> None:
        self.client = client
        self.persona = persona

    def search(self, cpr: str = CPR, status: str = "current", type_code: str | None = None) -> list[dict[str, Any]]:
        params = {"patient.identifier": f"{CPR_SYSTEM}|{cpr}", "status": status}
        response = self.client.get("/dds/fhir/DocumentReference", params=params, headers=auth(self.client,
                                                                                            self.persona))
        assert response.status_code == 200, response.text
        found = [e["resource"] for e in response.json().get("entry", [])
                 if e.get("search", {}).get("mode", "match") == "match"]
        if type_code:
            found = [r for r in found if any(c.get("code") == type_code for c in r["type"]["coding"])]
        return found

    def retrieve(self, reference: dict[str, Any]) -> Any:
        url = reference["content"][0]["attachment"]["url"]
        return self.client.get(url, headers=auth(self.client, self.persona))

    def document(self, reference: dict[str, Any]) -> dict[str, Any]:
        response = self.retrieve(reference)
        assert response.status_code == 200, response.text
        return json.loads(response.content)  # type: ignore[no-any-return]


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def note_text(bundle: dict[str, Any]) -> str:
    observation = resources(bundle, "Observation")[0]
    data = next(e["valueAttachment"]["data"] for e in observation["extension"] if "valueAttachment" in e)
    return base64.b64decode(data).decode("utf-8")
