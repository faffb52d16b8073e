"""One store, two doors: a document provided by ITI-41 (inline base64 or MTOM/XOP) is found by
ITI-67 and retrieved by ITI-68 byte-exact; a replacement through ITI-41 shows on the MHD face as
``superseded`` and a deprecation through ITI-57 as ``entered-in-error`` (the MHD face's retraction),
the entries kept."""

from __future__ import annotations

from typing import Any

from provide_support import (
    CPR,
    capture_request,
    find_and_retrieve,
    fresh,
    provide,
    replacing,
    with_uuid_ids,
)
from test_iti41_provide import _strict, xds  # noqa: F401 (the fixture)
from test_iti57_update import _update
from xds_support import ACTIONS, envelope, idcard, payload, post, status_word

from nsp_sandbox.config import Strictness
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.xds.ebrim import write_provide_and_register
from nsp_sandbox.xds.mtom import package
from nsp_sandbox.xds.soap import SoapVersion, parse_envelope


def test_inline_provide_found_by_iti67_and_retrieved_byte_exact(xds: Any, context: SandboxContext) -> None:  # noqa: F811
    _strict(context, Strictness.WARNING)
    request = fresh(capture_request())
    entry_uuid = with_uuid_ids(request)
    assert status_word(payload(provide(xds, request))) == "PartialSuccess"
    resource, content = find_and_retrieve(xds, CPR, entry_uuid)
    assert content == request.documents[0].content
    assert resource["status"] == "current"
    assert resource["masterIdentifier"]["value"] == request.submission.document_entries[0].external_identifiers[1].value


def test_mtom_provide_and_replacement_and_deprecation(xds: Any, context: SandboxContext) -> None:  # noqa: F811
    _strict(context, Strictness.WARNING)
    request = fresh(capture_request())
    entry_uuid = with_uuid_ids(request)
    data = envelope(idcard(xds, "system-eoj-aarhus"), write_provide_and_register(request), ACTIONS["iti41"])
    content_type, body = package(parse_envelope(data).root, SoapVersion.SOAP11, action=ACTIONS["iti41"])
    assert content_type.startswith("multipart/related")
    assert status_word(payload(post(xds, "/dds/dros", body, content_type))) == "PartialSuccess"
    _, content = find_and_retrieve(xds, CPR, entry_uuid)
    assert content == request.documents[0].content

    replacement = fresh(capture_request())
    new_uuid = with_uuid_ids(replacement)
    replacing(replacement, entry_uuid)
    assert status_word(payload(provide(xds, replacement))) == "PartialSuccess"
    old, content = find_and_retrieve(xds, CPR, entry_uuid)
    assert old["status"] == "superseded" and content == request.documents[0].content  # kept, still retrievable
    new, _ = find_and_retrieve(xds, CPR, new_uuid)
    assert new["relatesTo"][0]["code"] == "replaces"

    assert status_word(_update(xds, new_uuid)) == "Success"
    deprecated, _ = find_and_retrieve(xds, CPR, new_uuid, "entered-in-error")
    assert deprecated["status"] == "entered-in-error"
