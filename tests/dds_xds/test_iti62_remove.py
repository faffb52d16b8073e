"""ITI-62 Remove Metadata through the control face only: operator-guarded, audited, all or nothing."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from provide_support import capture_request, fresh, provide, with_uuid_ids
from test_iti41_provide import _registry, _strict, xds  # noqa: F401 (the fixture)
from xds_support import payload, status_word

from nsp_sandbox.config import Strictness
from nsp_sandbox.context import SandboxContext

PATH = "/sandbox/dds/remove-metadata"


def _operator(client: Any) -> TestClient:
    return TestClient(client.app, base_url=str(client.base_url), client=("127.0.0.1", 50000))


def _provided(client: Any, context: SandboxContext) -> str:
    _strict(context, Strictness.WARNING)
    request = fresh(capture_request())
    entry_uuid = with_uuid_ids(request)
    assert status_word(payload(provide(client, request))) == "PartialSuccess"
    return entry_uuid


def test_operator_removes_an_entry_audited(xds: Any, context: SandboxContext,  # noqa: F811
                                           caplog: pytest.LogCaptureFixture) -> None:
    entry_uuid = _provided(xds, context)
    with caplog.at_level(logging.WARNING, logger="sandbox.control.audit"):
        response = _operator(xds).post(PATH, json={"entry_uuids": [entry_uuid], "reason": "FSK: one year after death"})
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["operation"] == "ITI-62 Remove Metadata" and record["reason"] == "FSK: one year after death"
    assert record["removed"]["entry_uuids"] == [entry_uuid] and record["removed"]["documents"] == 1
    assert any(entry_uuid in r.getMessage() for r in caplog.records)
    assert _registry(xds).get_entry(entry_uuid.removeprefix("urn:uuid:")) is None


def test_refusals(xds: Any, context: SandboxContext) -> None:  # noqa: F811
    entry_uuid = _provided(xds, context)
    # not the operator: a caller from elsewhere
    elsewhere = TestClient(xds.app, base_url=str(xds.base_url), client=("192.0.2.10", 50000))
    assert elsewhere.post(PATH, json={"entry_uuids": [entry_uuid], "reason": "x"}).status_code == 403
    operator = _operator(xds)
    assert operator.post(PATH, json={"entry_uuids": [entry_uuid]}).status_code == 422
    assert operator.post(PATH, json={"entry_uuids": [], "reason": "x"}).status_code == 422
    unknown = operator.post(PATH, json={"entry_uuids": [entry_uuid, f"urn:uuid:{uuid.uuid4()}"], "reason": "x"})
    assert unknown.status_code == 404
    assert _registry(xds).get_entry(entry_uuid.removeprefix("urn:uuid:")) is not None  # all or nothing
