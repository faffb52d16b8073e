"""DSUBm notifications for entries registered through the XDS.b door: an ITI-41 provide and an ITI-57
deprecation notify a subscriber as the MHD face's provide and RMU do (``tests/dds/test_dsubm.py``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from provide_support import CPR, capture_request, fresh, provide, with_uuid_ids
from test_iti41_provide import _strict, xds  # noqa: F401 (the fixture)
from test_iti57_update import _update
from xds_support import payload, status_word

from nsp_sandbox.config import Strictness
from nsp_sandbox.context import SandboxContext

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dds"))
from dsubm_recipient import PATIENT_DEPENDENT, Recipient, subscribe, subscription, wait_for


def test_an_iti41_provide_and_an_iti57_deprecation_notify(xds: Any, context: SandboxContext) -> None:  # noqa: F811
    _strict(context, Strictness.WARNING)
    recipient = Recipient(xds)
    created = subscribe(xds, subscription(recipient.endpoint, PATIENT_DEPENDENT,
                                          f"DocumentReference?patient.identifier=urn:oid:1.2.208.176.1.2|{CPR}"))
    assert created.status_code == 201, created.text
    request = fresh(capture_request())
    entry_uuid = with_uuid_ids(request)
    assert status_word(payload(provide(xds, request))) in ("Success", "PartialSuccess")
    wait_for(lambda: len(recipient.received) == 1)
    (reference,) = [e["resource"] for e in recipient.received[0]["entry"][1:]]
    assert reference["status"] == "current"
    assert entry_uuid in str(reference["identifier"])

    _update(xds, entry_uuid)
    wait_for(lambda: len(recipient.received) == 2)
    (deprecated,) = [e["resource"] for e in recipient.received[1]["entry"][1:]]
    assert deprecated["id"] == reference["id"] and deprecated["status"] == "entered-in-error"
