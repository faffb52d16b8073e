"""One act, one end state, whichever door: a source's retraction through the MHD face (ITI-92
``entered-in-error``) and through the XDS.b face (ITI-57 Approved → Deprecated) leave the same stored
status, so both faces show the same for it — ITI-67 ``entered-in-error``, ITI-18 Deprecated — and a
replacement through either door shows ``superseded`` / Deprecated."""

from __future__ import annotations

from typing import Any

from read_support import GRETHE, as_gp, metadata, provide
from sts_client import auth
from test_iti57_update import _update
from xds_support import SOURCE_SYSTEM, adhoc, objects, payload, quoted, status_word

from nsp_sandbox.mhd_source import DocumentSource
from nsp_sandbox.xds import vocabulary as v


def _mhd_status(client: Any, entry_id: str) -> str:
    response = client.get(f"/dds/fhir/DocumentReference/{entry_id}", headers=auth(client, f"citizen-{GRETHE}"))
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


def _xds_status(client: Any, entry_id: str) -> str:
    answer = payload(as_gp(client, adhoc("GetDocuments", {"$XDSDocumentEntryEntryUUID": [
        quoted(f"urn:uuid:{entry_id}")]})))
    assert status_word(answer) == "Success"
    [entry] = objects(answer, "ExtrinsicObject")
    return str(entry.get("status"))


def _retract_over_mhd(client: Any, entry_id: str) -> None:
    source = DocumentSource("http://testserver/dds/fhir", source_id="urn:oid:1.2.208.176.43210.8.10.99",
                            client=client, headers=auth(client, SOURCE_SYSTEM))
    source.deprecate(entry_id)  # ITI-92, entered-in-error: what the EOJ sends for a retract-message


def test_a_retraction_ends_the_same_through_either_door(client: Any) -> None:
    over_mhd, over_xds = provide(client, metadata(1), metadata(2))
    _retract_over_mhd(client, over_mhd)
    assert status_word(_update(client, f"urn:uuid:{over_xds}")) == "Success"
    for entry_id in (over_mhd, over_xds):
        assert _mhd_status(client, entry_id) == "entered-in-error"
        assert _xds_status(client, entry_id) == v.STATUS_DEPRECATED


def test_a_replacement_shows_superseded_and_deprecated(client: Any) -> None:
    [first] = provide(client, metadata(3))
    provide(client, metadata(4), replaces={metadata(4)[0].unique_id: first})
    assert _mhd_status(client, first) == "superseded"
    assert _xds_status(client, first) == v.STATUS_DEPRECATED


def test_a_retraction_over_mhd_can_be_taken_back_over_xds(client: Any) -> None:
    [entry_id] = provide(client, metadata(5))
    _retract_over_mhd(client, entry_id)
    back = _update(client, f"urn:uuid:{entry_id}", new=v.STATUS_APPROVED, original=v.STATUS_DEPRECATED)
    assert status_word(back) == "Success"
    assert (_mhd_status(client, entry_id), _xds_status(client, entry_id)) == ("current", v.STATUS_APPROVED)
