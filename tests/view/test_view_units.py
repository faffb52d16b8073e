"""Small rules of the viewer that need no sandbox: where the reader's token may go, Danish
formatting, and how the browser tests treat a missing Chromium."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from nsp_sandbox.config import Settings
from nsp_sandbox.peers import Peers
from services.sundhed_view import formatting
from services.sundhed_view.dds import Dds, Reader, Refused


def dds(**settings: str) -> Dds:
    values = Settings(**settings)  # type: ignore[arg-type]
    return Dds(SimpleNamespace(peers=Peers(values.peer_urls()), settings=values))  # type: ignore[arg-type]


def test_the_token_is_only_sent_to_dds() -> None:
    viewer = dds()
    assert viewer.is_dds("http://sandbox.internal/dds/documents/1")
    assert not viewer.is_dds("https://evil.example/dds/documents/1")
    assert not viewer.is_dds("http://sandbox.internal/ddsx/documents/1")
    with pytest.raises(Refused) as refused:
        asyncio.run(viewer.retrieve(Reader("secret-token"), "https://evil.example/documents/1"))
    assert refused.value.status == 502 and "not at DDS" in refused.value.text


def test_the_public_origin_is_reached_in_process() -> None:
    viewer = dds(public_base_url="https://sandbox.example")
    assert viewer._local("https://sandbox.example/dds/documents/1") == "http://sandbox.internal/dds/documents/1"
    remote = dds(public_base_url="https://sandbox.example", dds_url="https://dds.example/dds")
    assert remote.is_dds("https://dds.example/dds/documents/1")
    assert remote._local("https://sandbox.example/dds/documents/1") == "https://sandbox.example/dds/documents/1"


def test_a_vaerdispring_reason_is_sent_as_ascii() -> None:
    headers = Reader("t", "Akut indlæggelse").headers()
    assert headers["X-Consent-Override"] == "Akut indl%C3%A6ggelse"
    assert Reader("t", "Acute admission").headers()["X-Consent-Override"] == "Acute admission"
    assert "X-Consent-Override" not in Reader("t").headers()


def test_danish_dates_and_numbers() -> None:
    assert formatting.date_time("2026-12-12T14:50:00+01:00") == "12.12.2026 kl. 14:50"
    assert formatting.date_time("2026-12-12T09:05:00Z") == "12.12.2026 kl. 10:05"
    assert formatting.date_time("2024-05-06") == "06.05.2024"
    assert formatting.date_time(None) == "-"
    assert formatting.number(6.8) == "6,8" and formatting.number(26) == "26" and formatting.number("Neg") == "Neg"
    assert formatting.activity("ITI-68 Retrieve Document") == "Åbnede et dokument"


def test_a_missing_browser_skips_locally_and_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    from test_view_browser import _unavailable

    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        _unavailable("no chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot run under CI"):
        _unavailable("no chromium")
