"""The EOJ's DDS copy is a secondary delivery sent with the message (EHMI: an SBDH with scope
XDS_METADATA beside the primary one), not gated on the GP's acknowledgement; a copy that cannot reach
DDS is kept and retried; a retraction deprecates the entry and the citizen sees why."""

from __future__ import annotations

import base64
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from hco_flow import CPR, dds_entries, order, send, status, switches
from lxml import etree
from sqlalchemy import update
from sts_client import auth

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.database import CLAIM_SECONDS, claim_time
from nsp_sandbox.hco_sbdh import SBDH_NS
from nsp_sandbox.sbdh_secondary import DDS_GLN
from services.eoj_sender import sharing
from services.eoj_sender.models import MessageRow


def test_the_copy_is_in_dds_before_the_gp_acknowledges(client: TestClient) -> None:
    switches(client, withhold=True)
    sent = send(client)
    assert sent["ack"] == "pending"
    assert sent["dds"]["entry"] is not None and sent["dds"]["state"] == "shared"
    assert [e["id"] for e in dds_entries(client)] == [sent["dds"]["entry"]]


def test_a_negative_acknowledgement_does_not_undo_the_parallel_copy(client: TestClient) -> None:
    switches(client, mode="fatal")
    sent = send(client)
    assert sent["ack"] == "fatal-error"
    assert sent["dds"]["entry"] is not None  # the secondary delivery went with the message


def test_a_copy_that_cannot_reach_dds_is_kept_visible_and_retried(client: TestClient,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    real_door = sharing.door

    async def unreachable(*_: Any, **__: Any) -> Any:
        raise httpx.ConnectError("DDS is down")

    monkeypatch.setattr(sharing, "door", unreachable)
    sent = send(client)
    assert sent["ack"] == "ok"  # the GP got it all the same
    assert sent["dds"] == {"entry": None, "why_not": "DDS could not be reached: DDS is down",
                           "profile": None, "state": "failed", "attempts": 1}
    assert client.post("/eoj/hco/resend-due").status_code == 200  # retried there too, still down
    assert status(client, sent["id"])["dds"]["attempts"] == 2
    monkeypatch.setattr(sharing, "door", real_door)
    again = client.post(f"/eoj/hco/{sent['id']}/share")
    assert again.status_code == 200, again.text
    assert again.json()["dds"]["state"] == "shared" and again.json()["dds"]["attempts"] == 3
    assert [e["id"] for e in dds_entries(client)] == [again.json()["dds"]["entry"]]


def test_a_copy_shared_again_several_times_at_once_is_provided_once(context: SandboxContext,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """``POST /eoj/hco/{id}/share`` sent five times at once (a double click, a script and a retry): one share
    takes the copy and provides it, the others find it taken, and the copy ends shared, once."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dds"))
    from served import Racers, serve

    real_door = sharing.door

    async def unreachable(*_: Any, **__: Any) -> Any:
        raise httpx.ConnectError("DDS is down")

    with serve(context) as base_url, Racers(base_url, 5) as racers, httpx.Client(base_url=base_url,
                                                                                 timeout=60) as one:
        token = one.post("/nsp/sts/token", json={"persona": "system-eoj-aarhus", "audience": "eoj"}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        monkeypatch.setattr(sharing, "door", unreachable)
        sent = one.post("/eoj/hco", json=order(), headers=headers).json()
        assert sent["dds"]["state"] == "failed"
        monkeypatch.setattr(sharing, "door", real_door)
        answers = racers.race([lambda c: c.post(f"/eoj/hco/{sent['id']}/share", headers=headers)] * 5)
        assert [a.status_code for a in answers] == [200] * 5, [a.text for a in answers]
        final = one.get(f"/eoj/hco/{sent['id']}", headers=headers).json()["dds"]
        assert final["state"] == "shared" and final["attempts"] == 2, final
        assert [e["id"] for e in dds_entries(one)] == [final["entry"]]  # type: ignore[arg-type]


def _stopped_before_sharing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sending worker stops after it kept a message and before it made the DDS copy (killed, a restart)."""
    real_share = sharing.Sharing.share

    async def stopped(self: sharing.Sharing, header_id: str, *, sender: bool = False) -> None:
        if not sender:
            await real_share(self, header_id)

    monkeypatch.setattr(sharing.Sharing, "share", stopped)


def _claimed_long_ago(context: SandboxContext, header_id: str) -> None:
    """Its claim on the copy as old as a claim of a worker that stopped (real time, as claims are)."""
    with context.database.session() as s:
        s.execute(update(MessageRow).where(MessageRow.header_id == header_id).values(
            dds_claimed_at=claim_time() - timedelta(seconds=CLAIM_SECONDS + 1)))


def test_a_copy_left_unmade_by_a_worker_that_stopped_is_made_by_a_later_retry(
        client: TestClient, context: SandboxContext, monkeypatch: pytest.MonkeyPatch) -> None:
    _stopped_before_sharing(monkeypatch)
    sent = send(client)
    assert sent["dds"]["state"] == "pending" and dds_entries(client) == []
    assert client.post("/eoj/hco/resend-due").status_code == 200
    assert status(client, sent["id"])["dds"]["state"] == "pending"  # its worker may still be at it
    _claimed_long_ago(context, sent["id"])
    assert client.post("/eoj/hco/resend-due").status_code == 200
    shared = status(client, sent["id"])["dds"]
    assert shared["state"] == "shared" and [e["id"] for e in dds_entries(client)] == [shared["entry"]]


def test_a_version_s_copy_made_late_never_replaces_a_later_version_s(
        client: TestClient, context: SandboxContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """A modification's copy left unmade by a stopped worker; the next modification's copy does not wait for it
    and replaces the original's; the retry then finds the later version shared and leaves DDS as it is."""
    first = send(client)
    with monkeypatch.context() as stopping:
        _stopped_before_sharing(stopping)
        second = client.post(f"/eoj/hco/{first['id']}/modify", json={"clinical_comment": "Anden udgave"}).json()
    assert second["dds"]["state"] == "pending"
    _claimed_long_ago(context, second["id"])
    third = client.post(f"/eoj/hco/{second['id']}/modify", json={"clinical_comment": "Tredje udgave"}).json()
    assert third["dds"]["state"] == "shared", third["dds"]
    assert client.post("/eoj/hco/resend-due").status_code == 200
    late = status(client, second["id"])["dds"]
    assert late["state"] == "not-shared" and third["dds"]["entry"] in late["why_not"], late
    assert [e["id"] for e in dds_entries(client)] == [third["dds"]["entry"]]
    assert [e["id"] for e in dds_entries(client, status_="superseded")] == [first["dds"]["entry"]]


def test_a_retraction_deprecates_the_entry_with_its_reason_for_the_citizen(client: TestClient) -> None:
    first = send(client)
    reason = "Cancellation due to incorrect CPR-number"
    retracted = client.post(f"/eoj/hco/{first['id']}/retract", json={"reason": reason})
    assert retracted.status_code == 201, retracted.text
    (entry,) = dds_entries(client, status_="entered-in-error")
    assert entry["id"] == first["dds"]["entry"] and entry["description"] == reason
    # the retraction itself is not shared: DDS holds only the original, deprecated
    assert dds_entries(client) == [] and dds_entries(client, status_="superseded") == []
    view = client.get(f"/view/api/citizens/{CPR}/observations", headers=auth(client, f"citizen-{CPR}"))
    assert view.status_code == 200, view.text
    (cancelled,) = view.json()["cancelled"]
    assert cancelled["cancelled"] is True and cancelled["cancel_reason"] == reason
    assert view.json()["analyses"] == []


def test_dds_takes_a_description_only_with_a_deprecation(client: TestClient) -> None:
    entry_id = send(client)["dds"]["entry"]
    headers = auth(client, "system-eoj-aarhus")
    served = client.get(f"/dds/fhir/DocumentReference/{entry_id}", headers=headers).json()
    served["status"], served["description"] = "superseded", "not a deprecation"
    refused = client.put(f"/dds/fhir/DocumentReference/{entry_id}", json=served, headers=headers)
    assert refused.status_code == 422, refused.text
    assert refused.json()["issue"][0]["expression"] == ["DocumentReference.description"]


def test_the_copy_in_its_ehmi_form_is_an_sbdh_with_xds_metadata(client: TestClient) -> None:
    sent = send(client)
    answer = client.get(f"/eoj/hco/{sent['id']}/dds-envelope")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/xml")
    root = etree.fromstring(answer.content)
    ns = {"s": SBDH_NS}
    header = "s:StandardBusinessDocumentHeader"
    assert root.findtext(f"{header}/s:Receiver/s:Identifier", namespaces=ns) == f"0088:{DDS_GLN}"
    scopes = {s.findtext("s:Type", namespaces=ns): s.findtext("s:InstanceIdentifier", namespaces=ns)
              for s in root.findall(f"{header}/s:BusinessScope/s:Scope", ns)}
    metadata = json.loads(scopes["XDS_METADATA"])
    assert metadata["resourceType"] == "DocumentReference" and metadata["type"]["coding"][0]["code"] == "HCOM"
    assert scopes["MESSAGEIDENTIFIER"] == sent["id"]
    content = json.loads(base64.b64decode(root.findtext("s:BinaryContent", namespaces=ns) or ""))
    assert content["id"] == sent["bundle_id"]
    refused = send(client, refused_consent=True)  # never shared: no DDS copy to show
    assert client.get(f"/eoj/hco/{refused['id']}/dds-envelope").status_code == 404
