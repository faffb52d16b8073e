"""The PLSP hub with ``NSP_SANDBOX_PLSP_DDS_TRANSPORT=xds``: on-demand entries registered through ITI-61
and withdrawn through ITI-57, then found (ITI-67) and generated at retrieval (ITI-68) as over MHD."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nsp_sandbox.config import DdsTransport
from nsp_sandbox.context import SandboxContext

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plsp"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dds_xds"))
from plsp_support import CL_TYPE, CPR, NOTE_TYPE, Reader, a_note, card, diabetes, note_text, plsp, resources
from provide_support import mount_provide_routers


@pytest.fixture
def hub_over_xds(client: TestClient, context: SandboxContext) -> TestClient:
    mount_provide_routers(client, context)
    context.clock.freeze(datetime(2026, 5, 6, 10, 0, tzinfo=UTC))
    context.settings = context.settings.model_copy(update={"plsp_dds_transport": DdsTransport.XDS})
    return client


def test_on_demand_entries_over_iti61_are_found_and_generated_and_withdrawn_over_iti57(
        hub_over_xds: TestClient) -> None:
    gp = plsp(hub_over_xds)
    gp.put_card(CPR, card(diabetes()))
    gp.create_note(CPR, a_note("note-1"))
    events = [e["text"] for e in gp.events(CPR) if e["kind"] == "dds-retry"]
    assert events == []
    citizen = Reader(hub_over_xds, f"citizen-{CPR}")
    conditionlist = citizen.search(type_code=CL_TYPE)
    assert len(conditionlist) == 1
    assert "hash" not in conditionlist[0]["content"][0]["attachment"]
    document = citizen.document(conditionlist[0])
    assert [c["code"]["text"] for c in resources(document, "Condition")] == ["Type 2-diabetes"]
    notes = citizen.search(type_code=NOTE_TYPE)
    assert len(notes) == 1 and note_text(citizen.document(notes[0]))
    gp.cancel("note-1")
    assert citizen.search(type_code=NOTE_TYPE) == []
    # a withdrawal over ITI-57 is stored as the MHD door's retraction of a cancelled note is
    assert [r["id"] for r in citizen.search(status="entered-in-error", type_code=NOTE_TYPE)] == [notes[0]["id"]]
