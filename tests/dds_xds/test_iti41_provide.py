"""ITI-41 Provide and Register on DDS's DRS proxy and DROS: the real DRS capture's metadata and
CDA through the ITI-65 pipeline, as a vendor calls it (DGWS card from the sandbox STS, HTTP)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from provide_support import capture_request, fresh, mount_provide_routers, provide, replacing, with_uuid_ids
from xds_support import ACTIONS, envelope, idcard, payload, post, registry_errors, status_word

from nsp_sandbox.config import Strictness
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.xds import namespaces as ns
from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.ebrim import write_provide_and_register
from nsp_sandbox.xds.rim import Association, Classification, RegistryPackage, Slot
from nsp_sandbox.xds.soap import SoapVersion
from sandbox.lazy_actor import mounted_app


@pytest.fixture
def xds(client: Any, context: SandboxContext) -> Any:
    """The sandbox with the ITI-41/57/61 routers mounted on its DDS."""
    mount_provide_routers(client, context)
    return client


def _strict(context: SandboxContext, level: Strictness) -> None:
    context.settings = context.settings.model_copy(update={
        group: level for group in ("dds_rules_metadata", "dds_rules_patient", "dds_rules_codes", "dds_rules_author")})


def test_capture_is_registered_with_warnings_at_strictness_warning(xds: Any, context: SandboxContext) -> None:
    _strict(context, Strictness.WARNING)
    request = fresh(capture_request())
    answer = payload(provide(xds, request))
    errors = registry_errors(answer)
    assert status_word(answer) == "PartialSuccess", errors
    assert errors and all(severity == "Warning" for _, severity, _ in errors)
    contexts = " ".join(c for _, _, c in errors)
    for rule in ("dk-xds-confidentiality-code", "dk-xds-language-code"):
        assert rule in contexts
    entry_uuid = request.submission.document_entries[0].id
    assert any(e.get("location", "").startswith(f"ExtrinsicObject[@id='{entry_uuid}']")
               for e in answer.iter("{urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0}RegistryError"))


def test_capture_is_refused_with_named_danish_rules_at_reject(xds: Any, context: SandboxContext) -> None:
    _strict(context, Strictness.REJECT)
    answer = payload(provide(xds, fresh(capture_request())))
    errors = registry_errors(answer)
    assert status_word(answer) == "Failure"
    assert {code for code, _, _ in errors} == {"XDSRegistryMetadataError"}
    contexts = " ".join(c for _, _, c in errors)
    assert "dk-xds-confidentiality-code" in contexts and "dk-xds-language-code" in contexts


def test_duplicate_unique_id_and_replacement(xds: Any, context: SandboxContext) -> None:
    _strict(context, Strictness.WARNING)
    request = fresh(capture_request())
    first_uuid = with_uuid_ids(request)
    assert status_word(payload(provide(xds, request))) == "PartialSuccess"
    again = payload(provide(xds, request, path="/dds/dros"))
    assert status_word(again) == "Failure"
    assert "XDSDuplicateUniqueIdInRegistry" in {code for code, _, _ in registry_errors(again)}

    replacement = fresh(capture_request())
    with_uuid_ids(replacement)
    replacing(replacement, first_uuid)
    assert status_word(payload(provide(xds, replacement))) == "PartialSuccess"
    stored = _registry(xds).get_entry(first_uuid.removeprefix("urn:uuid:"))
    assert stored is not None and stored.status.value == "superseded"
    again_replaced = fresh(capture_request())
    with_uuid_ids(again_replaced)
    replacing(again_replaced, first_uuid)
    refused = payload(provide(xds, again_replaced))
    assert status_word(refused) == "Failure"
    assert "XDSRegistryDeprecatedDocumentError" in {code for code, _, _ in registry_errors(refused)}
    rs_error = "{urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0}RegistryError"
    locations = [e.get("location", "") for e in refused.iter(rs_error)
                 if e.get("errorCode") == "XDSRegistryDeprecatedDocumentError"]
    assert locations and "Association[@id='urn:uuid:" in locations[0], locations


def test_declared_hash_must_be_the_documents(xds: Any, context: SandboxContext) -> None:
    _strict(context, Strictness.WARNING)
    request = fresh(capture_request())
    request.submission.document_entries[0].slots.append(Slot("hash", ["00" * 20]))
    answer = payload(provide(xds, request))
    assert status_word(answer) == "Failure"
    assert any(code == "XDSRepositoryMetadataError" and "dds-document-hash" in c
               for code, _, c in registry_errors(answer))


@pytest.mark.parametrize("size", ["\u00b2", "\u0661\u0662", "1" * 5000])
def test_a_size_that_is_no_ascii_number_is_named_not_a_crash(xds: Any, context: SandboxContext, size: str) -> None:
    """'²' is a digit to str.isdigit() and none to int(); '١٢' is one int() reads; 5,000 digits are more than
    int() reads. Each is a size the DocumentReference's check names, in a registry error, never a fault."""
    _strict(context, Strictness.WARNING)
    request = fresh(capture_request())
    entry = request.submission.document_entries[0]
    entry.slots = [slot for slot in entry.slots if slot.name != "size"] + [Slot("size", [size])]
    response = provide(xds, request)
    assert response.status_code == 200, response.text
    answer = payload(response)
    assert status_word(answer) == "Failure"
    locations = [e.get("location", "") for e in answer.iter(f"{{{ns.RS}}}RegistryError")]
    assert any(where.endswith("Slot size") for where in locations), locations


def test_entry_without_its_document_is_missing_document(xds: Any, context: SandboxContext) -> None:
    _strict(context, Strictness.WARNING)
    request = fresh(capture_request())
    request.documents.clear()
    answer = payload(provide(xds, request))
    assert status_word(answer) == "Failure"
    assert "XDSMissingDocument" in {code for code, _, _ in registry_errors(answer)}


def _registry(client: Any) -> Any:
    dds = mounted_app(next(r.app for r in client.app.routes if getattr(r, "path", None) == "/dds"))
    return dds.state.registry


def test_soap12_provide_is_answered_in_soap12(xds: Any, context: SandboxContext) -> None:
    """The IHE transactions outside NSP are SOAP 1.2: the same DGWS header blocks in a SOAP 1.2
    envelope are checked the same way, and the answer comes back in SOAP 1.2."""
    _strict(context, Strictness.WARNING)
    request = fresh(capture_request())
    data = envelope(idcard(xds, "system-eoj-aarhus"), write_provide_and_register(request), ACTIONS["iti41"],
                    version=SoapVersion.SOAP12)
    response = post(xds, "/dds/drs/proxy", data, SoapVersion.SOAP12.content_type(ACTIONS["iti41"]))
    assert response.status_code == 200, response.text[:2000]
    assert b"http://www.w3.org/2003/05/soap-envelope" in response.content
    assert status_word(payload(response)) == "PartialSuccess"


def test_a_folder_is_refused_by_name_and_nothing_registered(xds: Any, context: SandboxContext) -> None:
    _strict(context, Strictness.WARNING)
    request = fresh(capture_request())
    entry_uuid = with_uuid_ids(request)
    submission = request.submission
    folder_id = f"urn:uuid:{uuid.uuid4()}"
    folder = RegistryPackage(id=folder_id, classifications=[Classification(
        id=f"urn:uuid:{uuid.uuid4()}", classification_node=v.FOLDER_NODE, classified_object=folder_id)])
    in_folder = Association(id=f"urn:uuid:{uuid.uuid4()}", association_type=v.ASSOC_HAS_MEMBER,
                            source_object=folder_id, target_object=entry_uuid)
    submission.objects += [folder, in_folder]
    answer = payload(provide(xds, request))
    assert status_word(answer) == "Failure"
    rs_error = "{urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0}RegistryError"
    refused = {e.get("location"): e.get("errorCode") for e in answer.iter(rs_error) if "dds-no-folders"
               in (e.get("codeContext") or "")}
    assert refused == {f"RegistryPackage[@id='{folder_id}']": "XDSRegistryMetadataError",
                       f"Association[@id='{in_folder.id}']": "XDSRegistryMetadataError"}
    assert _registry(xds).get_entry(entry_uuid.removeprefix("urn:uuid:")) is None  # nothing half-stored
