"""The PLSP hub's fault switches (``GET /sandbox/faults``): on-demand generation fails or takes longer
than DDS waits; a reader retrieving through DDS sees DDS's answer for a source in trouble, and the
next retrieve works again once the switch's calls are used."""

from __future__ import annotations

from fastapi.testclient import TestClient
from plsp_support import CL_TYPE, CPR, Reader, card, diabetes

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.plsp_client import PlspClient


def test_generation_fails_then_works_again(client: TestClient, gp: PlspClient) -> None:
    gp.put_card(CPR, card(diabetes()))
    citizen = Reader(client, f"citizen-{CPR}")
    reference = citizen.search(type_code=CL_TYPE)[0]
    on = client.put("/sandbox/faults/plsp/on-demand-fail", json={"on": True, "calls": 1})
    assert on.status_code == 200, on.text
    failed = citizen.retrieve(reference)
    assert failed.status_code == 502, failed.text
    assert "answered HTTP 500" in failed.text
    assert citizen.document(reference)["resourceType"] == "Bundle"


def test_generation_times_out_at_dds(client: TestClient, gp: PlspClient, context: SandboxContext) -> None:
    gp.put_card(CPR, card(diabetes()))
    citizen = Reader(client, f"citizen-{CPR}")
    reference = citizen.search(type_code=CL_TYPE)[0]
    context.settings = context.settings.model_copy(update={"dds_on_demand_timeout_seconds": 0.3})
    on = client.put("/sandbox/faults/plsp/on-demand-timeout", json={"on": True, "calls": 1, "seconds": 1})
    assert on.status_code == 200, on.text
    late = citizen.retrieve(reference)
    assert late.status_code == 504, late.text
    assert "did not answer within 0.3 s" in late.text
    context.settings = context.settings.model_copy(update={"dds_on_demand_timeout_seconds": 10})
    assert citizen.document(reference)["resourceType"] == "Bundle"
