"""The XDS.b client and the sandbox's own actors against the sandbox itself (the ``client`` fixture: the
whole sandbox in process, both databases): one store, two doors."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hco_flow import CPR, send, status
from sts_client import auth

from nsp_sandbox.config import DdsTransport
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.dgws.hsuid import PROFESSIONAL, Hsuid
from nsp_sandbox.mhd_source import document_reference
from nsp_sandbox.xds import from_mhd
from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.client import XdsClient, XdsFault, XdsRefused, accepted
from nsp_sandbox.xds.ebrim import Document, identifier
from nsp_sandbox.xds.retrieve import DocumentRequest
from nsp_sandbox.xds.rim import ExtrinsicObject
from sandbox.demo import hco_scenario
from services.eoj_sender.nsp_registers import Person
from services.eoj_sender.sharing import SOURCE_ID, document_metadata

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dds_xds"))
from provide_support import mount_provide_routers

EOJ = "system-eoj-aarhus"


@pytest.fixture
def sandbox(client: TestClient, context: SandboxContext) -> TestClient:
    """The sandbox with DDS's XDS.b submission endpoints mounted."""
    mount_provide_routers(client, context)
    return client


def _xds(client: TestClient, context: SandboxContext, persona: str = EOJ) -> XdsClient:
    return XdsClient("http://testserver/dds", nsp_url="http://testserver/nsp", persona=persona,
                     client=client, now=context.clock.now)  # type: ignore[arg-type]


def _entry(client: TestClient, entry_id: str) -> dict[str, Any]:
    response = client.get(f"/dds/fhir/DocumentReference/{entry_id}", headers=auth(client, f"citizen-{CPR}"))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _hco_document(client: TestClient) -> tuple[Any, bytes]:
    header = send(client)["id"]
    bundle = status(client, header)["bundle"]
    bundle = {**bundle, "id": "1f6d7a36-52a1-4f7e-9d0e-8f2b3c4d5e6f"}  # a new document, not the shared one
    meta = document_metadata(bundle, Person(CPR, ("Bruno",), "Elmer", "male", "1947-09-25", False))
    return meta, json.dumps(bundle, ensure_ascii=False).encode("utf-8")


def test_provided_by_iti41_is_found_by_iti67_and_retrieved_byte_exact_then_deprecated(
        sandbox: TestClient, context: SandboxContext) -> None:
    meta, content = _hco_document(sandbox)
    resource = document_reference(meta, "urn:uuid:00000000-0000-4000-8000-000000000001")
    entry = from_mhd.document_entry(resource)
    info = from_mhd.SubmissionSetInfo(SOURCE_ID, CPR, context.clock.now())
    xds = _xds(sandbox, context)  # not closed: it shares the fixture's client
    answer = xds.provide(from_mhd.submission([entry], info), [Document(entry.id, content)])
    assert answer.status_word in ("Success", "PartialSuccess"), answer.errors
    entry_id = from_mhd.bare_id(entry.id)
    found = _entry(sandbox, entry_id)
    assert found["status"] == "current" and found["masterIdentifier"]["value"] == meta.unique_id
    document = sandbox.get(found["content"][0]["attachment"]["url"], headers=auth(sandbox, f"citizen-{CPR}"))
    assert document.status_code == 200 and document.content == content
    update = from_mhd.status_update(entry.id, info)
    with pytest.raises(XdsRefused) as refused:  # only the source that registered it may deprecate it
        accepted("ITI-57", _xds(sandbox, context, "system-plsp").deprecate(update))
    assert refused.value.response.errors[0].error_code == "XDSMetadataUpdateError"
    assert accepted("ITI-57", xds.deprecate(update)).status_word == "Success"
    assert _entry(sandbox, entry_id)["status"] == "entered-in-error"


def test_a_replacement_by_iti41_supersedes_an_entry_provided_by_iti65(sandbox: TestClient,
                                                                      context: SandboxContext) -> None:
    shared = status(sandbox, send(sandbox)["id"])["dds"]["entry"]
    assert shared and _entry(sandbox, shared)["status"] == "current"
    meta, content = _hco_document(sandbox)
    entry = from_mhd.document_entry(document_reference(meta, "urn:uuid:00000000-0000-4000-8000-000000000002"))
    info = from_mhd.SubmissionSetInfo(SOURCE_ID, CPR, context.clock.now())
    submission = from_mhd.submission([entry], info, {entry.id: f"urn:uuid:{shared}"})
    accepted("ITI-41", _xds(sandbox, context).provide(submission, [Document(entry.id, content)]))
    assert _entry(sandbox, shared)["status"] == "superseded"
    relation = _entry(sandbox, from_mhd.bare_id(entry.id))["relatesTo"][0]
    assert relation["code"] == "replaces" and relation["target"]["identifier"]["value"] == f"urn:uuid:{shared}"


def test_a_dgws_fault_is_raised_typed_by_the_sandbox(sandbox: TestClient, context: SandboxContext) -> None:
    card = sandbox.post("/nsp/sts/idcard", json={"persona": EOJ}).content.replace(b"Aarhus", b"Aarhuz")
    xds = XdsClient("http://testserver/dds", card=card, client=sandbox, now=context.clock.now)  # type: ignore[arg-type]
    with pytest.raises(XdsFault) as raised:  # the card was changed after the STS signed it
        xds.deprecate(from_mhd.status_update("urn:uuid:00000000-0000-4000-8000-000000000003",
                                             from_mhd.SubmissionSetInfo(SOURCE_ID, CPR, context.clock.now())))
    assert raised.value.status == 500 and raised.value.dgws_code == "invalid_signature"


def test_demo_hco_over_xds_reaches_the_same_chain_as_over_mhd(sandbox: TestClient, context: SandboxContext) -> None:
    context.settings = context.settings.model_copy(update={"eoj_dds_transport": DdsTransport.XDS})
    seen: list[list[str]] = []
    final = hco_scenario(sandbox, "http://sandbox.test", report=lambda _: None, after_step=seen.append)
    assert [m["activity"] for m in final["chain"]] == ["new-message", "modified-message", "retract-message"]
    assert [len(ids) for ids in seen] == [1, 2, 2]
    first, second = seen[-1]
    assert _entry(sandbox, first)["status"] == "superseded"
    replacement = _entry(sandbox, second)
    assert replacement["relatesTo"][0]["code"] == "replaces"
    # the retraction (ITI-57 Deprecated) ends where the MHD door's (ITI-92 entered-in-error) does
    assert replacement["status"] == "entered-in-error"


GRETHE = "0602631234"  # listed at Skødstrup Lægepraksis: gp-skodstrup has a treatment relation
GP = "gp-skodstrup"


def test_provided_by_iti65_is_found_by_iti18_and_retrieved_by_iti43_byte_exact(
        sandbox: TestClient, context: SandboxContext) -> None:
    from read_support import metadata, provide

    meta, content = metadata(7, GRETHE)
    [entry_id] = provide(sandbox, (meta, content))
    gp = _xds(sandbox, context, GP)
    found = gp.find_documents(GRETHE)
    assert found.status == v.RESPONSE_SUCCESS, found.errors
    entries = {o.id: o for o in found.objects if isinstance(o, ExtrinsicObject)}
    entry = entries[f"urn:uuid:{entry_id}"]
    assert identifier(entry, v.DE_UNIQUE_ID) == meta.unique_id
    repository = entry.slot_value("repositoryUniqueId")
    assert repository
    answer = gp.retrieve([DocumentRequest(repository, meta.unique_id)], cpr=GRETHE)
    assert answer.registry_response.status == v.RESPONSE_SUCCESS
    assert [d.content for d in answer.documents] == [content]


def test_provided_by_iti41_is_found_by_iti18_and_deprecated_shows_on_both_faces(
        sandbox: TestClient, context: SandboxContext) -> None:
    from read_support import metadata

    meta, content = metadata(8, GRETHE)
    entry = from_mhd.document_entry(document_reference(meta, "urn:uuid:00000000-0000-4000-8000-000000000004"))
    info = from_mhd.SubmissionSetInfo(SOURCE_ID, GRETHE, context.clock.now())
    eoj = _xds(sandbox, context)
    accepted("ITI-41", eoj.provide(from_mhd.submission([entry], info), [Document(entry.id, content)]))
    gp = _xds(sandbox, context, GP)
    assert entry.id in {o.id for o in gp.find_documents(GRETHE).objects}
    accepted("ITI-57", eoj.deprecate(from_mhd.status_update(entry.id, info)))
    assert entry.id not in {o.id for o in gp.find_documents(GRETHE).objects}
    deprecated = gp.find_documents(GRETHE, statuses=["Deprecated"])
    assert entry.id in {o.id for o in deprecated.objects}


def test_a_professional_look_up_with_a_system_card_is_security_level_failed(
        sandbox: TestClient, context: SandboxContext) -> None:
    hsuid = Hsuid(user_type=PROFESSIONAL, acting_cpr="1203701235", citizen_cpr=GRETHE, system_name="test")
    eoj = XdsClient("http://testserver/dds", nsp_url="http://testserver/nsp", persona=EOJ, hsuid=hsuid,
                    client=sandbox, now=context.clock.now)  # type: ignore[arg-type]
    with pytest.raises(XdsFault) as raised:
        eoj.find_documents(GRETHE)
    assert raised.value.dgws_code == "security_level_failed"
