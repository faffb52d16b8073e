"""Documents and look-ups for the DDS access tests: two documents of one citizen, from 2024 and
2026, provided by Aarhus Kommune's EOJ; searches and retrievals with a persona's token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
from mhd_client import CPR_SYSTEM, Mhd
from sts_client import auth

GRETHE = "0602631234"  # listed at Skødstrup Lægepraksis; the Aarhus acute team treats her too


@dataclass(frozen=True)
class Documents:
    cpr: str
    old: str  # service time March 2024
    new: str  # service time April 2026

    def name(self, entry_id: str) -> str:
        return {self.old: "old", self.new: "new"}[entry_id]


def provide_documents(mhd: Mhd, cpr: str = GRETHE) -> Documents:
    ids = []
    for start, end in (("2024-03-01T10:00:00+01:00", "2024-03-02T10:00:00+01:00"),
                       ("2026-04-01T10:00:00+02:00", "2026-04-02T10:00:00+02:00")):
        dr = mhd.document_reference(cpr=cpr)
        dr["context"]["period"] = {"start": start, "end": end}
        response = mhd.client.post(mhd.base, json=mhd.bundle((dr, mhd.examples.hco), cpr=cpr),
                                   headers={"Content-Type": "application/fhir+json", **mhd.source_headers})
        assert response.status_code == 200, response.text
        ids.append(next(e["response"]["location"].split("/")[1] for e in response.json()["entry"]
                        if e["response"]["location"].startswith("DocumentReference/")))
    return Documents(cpr, ids[0], ids[1])


def find(client: httpx.Client, persona: str | None, cpr: str, override: str | None = None,
         **params: str) -> httpx.Response:
    headers = auth(client, persona) if persona else {}
    if override is not None:
        headers["X-Consent-Override"] = override
    return client.get("/dds/fhir/DocumentReference", headers=headers,
                      params={"patient.identifier": f"{CPR_SYSTEM}|{cpr}", "status": "current", **params})


def matches(response: httpx.Response) -> list[str]:
    return [e["resource"]["id"] for e in response.json()["entry"] if e["search"]["mode"] == "match"]


def warnings(response: httpx.Response) -> list[dict[str, Any]]:
    return [i for e in response.json()["entry"] if e["search"]["mode"] == "outcome"
            for i in e["resource"]["issue"] if i["severity"] == "warning"]


def block(client: httpx.Client, cpr: str, who: dict[str, Any], **fields: Any) -> dict[str, Any]:
    response = client.post("/nsp/consent/blocks", headers=auth(client, f"citizen-{cpr}"),
                           json={"who": who, **fields})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def min_log(client: httpx.Client, cpr: str) -> list[dict[str, Any]]:
    response = client.get("/nsp/minlog", headers=auth(client, f"citizen-{cpr}"))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]
