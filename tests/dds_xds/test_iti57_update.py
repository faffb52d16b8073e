"""ITI-57 Update Document Set ("slettemarkering") on DDS's metadata-update endpoint: Approved →
Deprecated through the registry's status change, only by the registering source, never a delete."""

from __future__ import annotations

import uuid
from typing import Any

from provide_support import capture_request, fresh, provide, with_uuid_ids
from test_iti41_provide import _registry, _strict, xds  # noqa: F401 (the fixture)
from xds_support import ACTIONS, GP, envelope, idcard, payload, post, registry_errors, status_word

from nsp_sandbox.config import Strictness
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.ebrim import StatusUpdate, SubmitObjectsRequest, write_submit_objects_request
from nsp_sandbox.xds.rim import Classification, RegistryPackage


def _update(client: Any, target: str, persona: str = "system-eoj-aarhus", new: str = v.STATUS_DEPRECATED,
            original: str = v.STATUS_APPROVED, path: str = "/dds/ddsregistry/metadataupdate") -> Any:
    set_id = f"urn:uuid:{uuid.uuid4()}"
    package = RegistryPackage(id=set_id, classifications=[Classification(
        id=f"urn:uuid:{uuid.uuid4()}", classification_node=v.SUBMISSION_SET_NODE, classified_object=set_id)])
    update = StatusUpdate(f"urn:uuid:{uuid.uuid4()}", set_id, target, original, new)
    body = write_submit_objects_request(SubmitObjectsRequest([package, update.association()]))
    return payload(post(client, path, envelope(idcard(client, persona), body, ACTIONS["iti57"])))


def _provided(client: Any, context: SandboxContext) -> str:
    _strict(context, Strictness.WARNING)
    request = fresh(capture_request())
    entry_uuid = with_uuid_ids(request)
    assert status_word(payload(provide(client, request))) == "PartialSuccess"
    return entry_uuid


def test_source_deprecates_its_entry(xds: Any, context: SandboxContext) -> None:  # noqa: F811
    entry_uuid = _provided(xds, context)
    assert status_word(_update(xds, entry_uuid)) == "Success"
    stored = _registry(xds).get_entry(entry_uuid.removeprefix("urn:uuid:"))
    assert stored is not None and stored.status.value == "superseded"  # kept, never deleted
    again = _update(xds, entry_uuid, path="/dds/dros")
    assert status_word(again) == "Failure"
    assert "XDSMetadataUpdateError" in {code for code, _, _ in registry_errors(again)}
    back = _update(xds, entry_uuid, new=v.STATUS_APPROVED, original=v.STATUS_DEPRECATED)
    assert status_word(back) == "Failure"


def test_only_the_source_may_update(xds: Any, context: SandboxContext) -> None:  # noqa: F811
    entry_uuid = _provided(xds, context)
    refused = _update(xds, entry_uuid, persona=GP)
    assert status_word(refused) == "Failure", registry_errors(refused)
    stored = _registry(xds).get_entry(entry_uuid.removeprefix("urn:uuid:"))
    assert stored is not None and stored.status.value == "current"


def test_unknown_target_is_missing_document(xds: Any, context: SandboxContext) -> None:  # noqa: F811
    refused = _update(xds, f"urn:uuid:{uuid.uuid4()}")
    assert status_word(refused) == "Failure"
    assert "XDSMissingDocument" in {code for code, _, _ in registry_errors(refused)}
