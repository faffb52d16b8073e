"""Security headers on every response (OWASP Secure Headers): a Content-Security-Policy on HTML pages
that allows no script and no framing; nosniff, no referrer and no framing on everything."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sts_client import auth

EVERYWHERE = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY"}


def _has_common_headers(response, **override: str) -> None:  # type: ignore[no-untyped-def]
    for name, value in {**EVERYWHERE, **override}.items():
        assert response.headers.get(name) == value, (response.request.url, name)


@pytest.mark.parametrize("path", ["/", "/view/", "/view/hjem"])
def test_html_pages_carry_a_policy_without_script_or_framing(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.headers["content-type"].startswith("text/html")
    # the viewer's pages keep referrers to themselves: their forms must name their origin (the Origin check)
    _has_common_headers(response, **({"referrer-policy": "same-origin"} if path.startswith("/view") else {}))
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    assert "script-src" not in policy and "unsafe-inline" not in policy


def test_the_landing_page_allows_exactly_its_own_stylesheet(client: TestClient) -> None:
    import base64
    import hashlib
    import re

    page = client.get("/")
    style = re.search(r"<style>(.*?)</style>", page.text, re.S)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in page.headers["content-security-policy"]


def test_apis_and_their_errors_carry_the_common_headers(client: TestClient) -> None:
    _has_common_headers(client.get("/dds/fhir/metadata"))
    _has_common_headers(client.get("/dds/fhir/DocumentReference"))  # 401 OperationOutcome
    _has_common_headers(client.get("/dds/fhir/DocumentReference", headers=auth(client, "gp-skodstrup")))
    _has_common_headers(client.get("/health"))
    assert "content-security-policy" not in client.get("/dds/fhir/metadata").headers
