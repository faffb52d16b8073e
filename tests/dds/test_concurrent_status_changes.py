"""Concurrent status changes of one entry have exactly one winner, on every face and both databases.

Each round registers an entry, then 20 clients send, at the same moment over real HTTP to a
served sandbox, a change of that entry: an ITI-65 replacement (``relatesTo replaces``), an ITI-92
deprecation (PUT, ``superseded`` or ``entered-in-error``), an ITI-57 deprecation over XDS.b, an
ITI-41 replacement (RPLC). Exactly one wins; the others get their face's standard refusal (409
OperationOutcome on MHD, a Failure RegistryResponse on XDS.b) and store nothing: the chain has one
current entry, the target one status change.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from lxml import etree
from mhd_client import FHIR_JSON, Mhd
from served import Racers, serve
from sqlalchemy import func, select
from sts_client import READER, SOURCE_SYSTEM, auth

from nsp_sandbox.config import Strictness
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.ebrim import (
    StatusUpdate,
    SubmitObjectsRequest,
    write_provide_and_register,
    write_submit_objects_request,
)
from nsp_sandbox.xds.rim import Classification, RegistryPackage
from services.dds.models import AssociationRow, DocumentEntryRow, StatusChangeRow

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dds_xds"))
from provide_support import capture_request, fresh, replacing, with_uuid_ids
from xds_support import ACTIONS, DRS_PROXY, METADATA_UPDATE, envelope, idcard, registry_errors, status_word
from xds_support import answer as soap_answer

ROUNDS, WIDTH = 20, 20
Call = Callable[[httpx.Client], httpx.Response]


@pytest.fixture
def racers(context: SandboxContext) -> Iterator[Racers]:
    """The sandbox (NSP for tokens and cards, DDS) on a socket, and ``WIDTH`` clients racing to it.
    Profile validation and the Danish metadata rules are off (at warning for ITI-41, whose capture
    breaks some): what is raced is the registry, not the validators."""
    context.settings = context.settings.model_copy(update={
        "validation_profile": Strictness.OFF, "dds_rules_patient": Strictness.OFF,
        "dds_rules_codes": Strictness.WARNING, "dds_rules_metadata": Strictness.WARNING,
        "dds_rules_author": Strictness.WARNING})
    with serve(context, only={"nsp", "dds"}) as base_url, Racers(base_url, WIDTH) as racers:
        yield racers


def _one_winner(responses: list[httpx.Response], won: Callable[[httpx.Response], bool],
                lost: Callable[[httpx.Response], bool]) -> int:
    """The index of the one response that won; every other one lost in its face's standard way."""
    winners = [i for i, r in enumerate(responses) if won(r)]
    losers = [i for i, r in enumerate(responses) if lost(r)]
    assert len(winners) == 1, [_shown(r) for r in responses]
    assert len(losers) == WIDTH - 1, [_shown(r) for r in responses if not won(r)]
    return winners[0]


def _shown(response: httpx.Response) -> str:
    """A response in an assertion message: its status and what it says."""
    text = response.text
    if response.headers.get("content-type", "").startswith(FHIR_JSON):
        text = "; ".join(i.get("diagnostics", "") for i in response.json().get("issue", [])) or text
    return f"{response.status_code} {text[:400]}"


def _mhd_conflict(response: httpx.Response) -> bool:
    return (response.status_code == 409 and response.json()["resourceType"] == "OperationOutcome"
            and any(c["code"] == "XDSRegistryDeprecatedDocumentError" for i in response.json()["issue"]
                    for c in i.get("details", {}).get("coding", [])))


def _status_of(context: SandboxContext, entry_id: str) -> tuple[str, int, int, int]:
    """(status, version, status changes, associations to it) of an entry, read from the store."""
    with context.database.session() as session:
        pk, status, version = session.execute(select(
            DocumentEntryRow.pk, DocumentEntryRow.status, DocumentEntryRow.version).where(
            DocumentEntryRow.id == entry_id)).one()
        changes = session.scalar(select(func.count()).select_from(StatusChangeRow).where(
            StatusChangeRow.entry_pk == pk))
        related = session.scalar(select(func.count()).select_from(AssociationRow).where(
            AssociationRow.target_entry_pk == pk))
    return status, version, changes or 0, related or 0


def _registered(context: SandboxContext, unique_ids: list[str]) -> list[tuple[str, str]]:
    """(uniqueId, status) of the entries registered under ``unique_ids``."""
    with context.database.session() as session:
        return [tuple(row) for row in session.execute(select(DocumentEntryRow.unique_id, DocumentEntryRow.status)
                                                      .where(DocumentEntryRow.unique_id.in_(unique_ids)))]


def _json(method: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> Call:
    return lambda client: client.request(method, path, json=body, headers={"Content-Type": FHIR_JSON, **headers})


def test_concurrent_replacements_have_one_winner(racers: Racers, mhd: Mhd,
                                                 context: SandboxContext) -> None:
    headers = auth(racers.clients[0], SOURCE_SYSTEM)
    for _ in range(ROUNDS):
        target = mhd.provide_hco()
        replacements = [mhd.document_reference() for _ in range(WIDTH)]
        for dr in replacements:
            dr["relatesTo"] = [{"code": "replaces", "target": {"reference": f"DocumentReference/{target}"}}]
        responses = racers.race([_json("POST", "/dds/fhir", mhd.bundle((dr, mhd.examples.hco)), headers)
                                 for dr in replacements])
        winner = _one_winner(responses, lambda r: r.status_code == 200, _mhd_conflict)
        unique_ids = [dr["masterIdentifier"]["value"] for dr in replacements]
        assert _registered(context, unique_ids) == [(unique_ids[winner], "current")]  # the losers stored nothing
        assert _status_of(context, target) == ("superseded", 2, 1, 1)


def test_concurrent_deprecations_have_one_winner(racers: Racers, mhd: Mhd,
                                                 context: SandboxContext) -> None:
    http = racers.clients[0]
    headers, reader = auth(http, SOURCE_SYSTEM), auth(http, READER)
    for round_ in range(ROUNDS):
        target = mhd.provide_hco()
        served_entry = http.get(f"/dds/fhir/DocumentReference/{target}", headers=reader).json()  # its URLs
        statuses = ["superseded", "entered-in-error"] * (WIDTH // 2)
        if_match = {"If-Match": 'W/"1"'} if round_ % 2 else {}  # with and without a version condition
        responses = racers.race([
            _json("PUT", f"/dds/fhir/DocumentReference/{target}", {**served_entry, "status": status},
                  {**headers, **if_match}) for status in statuses])
        lost = (lambda r: r.status_code == 412) if if_match else _mhd_conflict
        winner = _one_winner(responses, lambda r: r.status_code == 200, lost)
        assert responses[winner].json()["status"] == statuses[winner]
        assert _status_of(context, target) == (statuses[winner], 2, 1, 0)


def _iti57(card: etree._Element, target: str) -> Call:
    set_id = f"urn:uuid:{uuid.uuid4()}"
    package = RegistryPackage(id=set_id, classifications=[Classification(
        id=f"urn:uuid:{uuid.uuid4()}", classification_node=v.SUBMISSION_SET_NODE, classified_object=set_id)])
    update = StatusUpdate(f"urn:uuid:{uuid.uuid4()}", set_id, f"urn:uuid:{target}", v.STATUS_APPROVED,
                          v.STATUS_DEPRECATED)
    data = envelope(card, write_submit_objects_request(SubmitObjectsRequest([package, update.association()])),
                    ACTIONS["iti57"])
    return _soap(METADATA_UPDATE, data)


def _soap(path: str, data: bytes) -> Call:
    return lambda client: client.post(path, content=data, headers={"Content-Type": "text/xml; charset=utf-8"})


def _xds_status(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return status_word(soap_answer(response).envelope().payload)


def _xds_codes(response: httpx.Response) -> set[str]:
    return {code for code, _, _ in registry_errors(soap_answer(response).envelope().payload)}


def test_concurrent_iti57_deprecations_have_one_winner(racers: Racers, mhd: Mhd,
                                                       context: SandboxContext) -> None:
    card = idcard(racers.clients[0], SOURCE_SYSTEM)
    for _ in range(ROUNDS):
        target = mhd.provide_hco()
        responses = racers.race([_iti57(card, target) for _ in range(WIDTH)])
        _one_winner(responses, lambda r: _xds_status(r) == "Success",
                    lambda r: _xds_status(r) == "Failure" and _xds_codes(r) == {"XDSMetadataUpdateError"})
        assert _status_of(context, target) == ("entered-in-error", 2, 1, 0)


#: An ITI-41 costs more than an ITI-65 (a DGWS card verified, the CDA read); it reaches the same
#: ``Registry.register`` the ITI-65 replacements above race for 20 rounds.
ITI41_ROUNDS = 5


def test_concurrent_iti41_replacements_have_one_winner(racers: Racers, context: SandboxContext) -> None:
    http = racers.clients[0]
    card = idcard(http, SOURCE_SYSTEM)
    for _ in range(ITI41_ROUNDS):
        original = fresh(capture_request())
        target = with_uuid_ids(original)
        first = _soap(DRS_PROXY, envelope(card, write_provide_and_register(original), ACTIONS["iti41"]))(http)
        assert _xds_status(first) in ("Success", "PartialSuccess"), first.text
        requests, unique_ids = [], []
        for _ in range(WIDTH):
            replacement = fresh(capture_request())
            with_uuid_ids(replacement)
            replacing(replacement, target)
            data = envelope(card, write_provide_and_register(replacement), ACTIONS["iti41"])
            requests.append(_soap(DRS_PROXY, data))
            unique_ids.append(_unique_id(replacement))
        responses = racers.race(requests)
        winner = _one_winner(
            responses, lambda r: _xds_status(r) in ("Success", "PartialSuccess"),
            lambda r: _xds_status(r) == "Failure" and "XDSRegistryDeprecatedDocumentError" in _xds_codes(r))
        assert _registered(context, unique_ids) == [(unique_ids[winner], "current")]
        assert _status_of(context, target.removeprefix("urn:uuid:")) == ("superseded", 2, 1, 1)


def _unique_id(request: Any) -> str:
    entry = request.submission.document_entries[0]
    return next(e.value for e in entry.external_identifiers if e.identification_scheme == v.DE_UNIQUE_ID)
