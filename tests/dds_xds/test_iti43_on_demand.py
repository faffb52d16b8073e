"""On-demand entries through the XDS.b face: the GP system's card in the PLSP hub registers an
on-demand DocumentEntry in DDS; ITI-18 finds it only when ``$XDSDocumentEntryType`` asks for
on-demand (ITI TF-2 §3.18.4.1.2.3.6.2), without hash and size; ITI-43 makes DDS ask the source for
the current document, exactly as ITI-68 does."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from read_support import BRUNO, as_gp
from xds_support import (
    REPOSITORY,
    documents,
    external_id,
    find_documents,
    objects,
    payload,
    quoted,
    retrieve,
    slot,
    status_word,
)

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.plsp_client import PlspClient, approval, diagnosis
from nsp_sandbox.xds import vocabulary as v


def test_an_on_demand_entry_is_found_when_asked_for_and_generated_on_retrieve(client: TestClient,
                                                                               context: SandboxContext) -> None:
    context.clock.freeze(datetime(2026, 5, 6, 10, tzinfo=UTC))
    gp = PlspClient.for_persona(client, "system-lps-skodstrup")  # type: ignore[arg-type]
    gp.put_card(BRUNO, {"diagnoses": [diagnosis("dx-t90", "current", recorded="2019-03-04T09:00:00+01:00",
                                                sks="DE119a", icpc2="T90", text="Type 2-diabetes",
                                                type="problem-list-item", onset="2019-03-01")],
                        "approval": approval("SK7T1", ["Lars"], "Lund", "2026-05-06T11:20:00+02:00")})
    assert objects(payload(as_gp(client, find_documents(BRUNO), BRUNO)), "ExtrinsicObject") == []
    answer = payload(as_gp(client, find_documents(BRUNO, Type=[quoted(v.DOCUMENT_ENTRY_ON_DEMAND)]), BRUNO))
    [entry] = objects(answer, "ExtrinsicObject")
    assert entry.get("objectType") == v.DOCUMENT_ENTRY_ON_DEMAND
    assert slot(entry, "hash") == [] and slot(entry, "size") == []
    assert slot(entry, "repositoryUniqueId") == ["1.2.208.176.43210.8.10.11"]
    unique_id = external_id(entry, v.DE_UNIQUE_ID)
    assert unique_id
    response = as_gp(client, retrieve(unique_id), BRUNO, path=REPOSITORY)
    assert status_word(payload(response)) == "Success"
    [content] = documents(response).values()
    bundle = json.loads(content)
    assert bundle["resourceType"] == "Bundle"
    assert "Type 2-diabetes" in content.decode()
    assert gp.events(BRUNO, kind="served")
