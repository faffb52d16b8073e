"""JSON from outside is read strictly, in one place: duplicate keys and deep nesting are refused with
400 naming why, on every face that reads a FHIR body, and never answer 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sts_client import SOURCE_SYSTEM, auth

from nsp_sandbox import strict_json

DEEP = b'{"resourceType":"Bundle","x":' + b"[" * 10_000 + b"]" * 10_000 + b"}"
DUPLICATE = (b'{"resourceType":"Patient","identifier":[{"system":"urn:oid:1.2.208.176.1.2",'
             b'"value":"2509479989","value":"0101701234"}]}')
FHIR = {"Content-Type": "application/fhir+json"}


def test_duplicate_keys_are_refused_naming_the_key() -> None:
    with pytest.raises(strict_json.JsonRefused) as refused:
        strict_json.loads(DUPLICATE)
    assert refused.value.rule == "json-duplicate-key" and "'value'" in str(refused.value)


def test_the_same_key_in_different_objects_is_fine() -> None:
    assert strict_json.loads(b'{"a":{"value":1},"b":{"value":2}}') == {"a": {"value": 1}, "b": {"value": 2}}


@pytest.mark.parametrize("depth, refused", [(strict_json.MAX_DEPTH, False), (strict_json.MAX_DEPTH + 1, True),
                                            (10_000, True), (100_000, True)])
def test_nesting_is_bounded(depth: int, refused: bool) -> None:
    raw = b"[" * depth + b"]" * depth
    if refused:
        with pytest.raises(strict_json.JsonRefused) as caught:
            strict_json.loads(raw)
        assert caught.value.rule == "json-depth"
    else:
        strict_json.loads(raw)


def test_syntax_errors_keep_their_rule() -> None:
    with pytest.raises(strict_json.JsonRefused) as refused:
        strict_json.loads(b'{"resourceType":')
    assert refused.value.rule == "json-syntax"


@pytest.mark.parametrize("path", ["/dds/fhir", "/eoj/messages", "/lps/ehmi", "/conformance/$validate"])
@pytest.mark.parametrize("body, rule", [(DEEP, "json-depth"), (DUPLICATE, "json-duplicate-key")])
def test_every_fhir_face_refuses_them_with_400(client: TestClient, path: str, body: bytes, rule: str) -> None:
    response = client.post(path, content=body, headers={**FHIR, **auth(client, SOURCE_SYSTEM, ["dds", "eoj"])})
    assert response.status_code == 400, response.text
    issue = response.json()["issue"][0]
    assert issue["details"]["coding"][0]["code"] == rule
    if rule == "json-duplicate-key":
        assert "'value'" in issue["diagnostics"]
