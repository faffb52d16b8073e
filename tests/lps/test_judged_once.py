"""A message the sandbox's EOJ built and validated is judged by the engine once: the GP system that receives it asks
the engine too (its findings are its own rule), and is answered the EOJ's findings from memory, kept by the
message's compact JSON (``nsp_sandbox.message_size.compact_message``). A message that differs, or is judged as
another HCO version, is validated again."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hco_flow import lps_received, send

from nsp_sandbox.context import SandboxContext


def _actor() -> str:
    """The actor (``services.<actor>``) whose code called the engine."""
    frame = sys._getframe(2)
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if module.startswith("services."):
            return module.split(".")[1]
        frame = frame.f_back  # type: ignore[assignment]
    return "?"


@pytest.fixture
def engine_calls(context: SandboxContext, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Who asked the engine to validate (``validate``), and who had it validate (``validate_layers``: an answer
    not in its memory), in order, by actor."""
    validator = context.validator
    calls: dict[str, list[str]] = {"validate": [], "validate_layers": []}
    for name in calls:
        real = getattr(validator, name)

        def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            calls[_name].append(_actor())
            return _real(*args, **kwargs)

        monkeypatch.setattr(validator, name, counted)
    return calls


def _of(calls: list[str]) -> list[str]:
    return [actor for actor in calls if actor in ("eoj_sender", "lps")]  # DDS judges its copy (other bytes) apart


def test_the_gp_system_is_answered_the_eoj_s_findings(client: TestClient,
                                                      engine_calls: dict[str, list[str]]) -> None:
    sent = send(client)
    assert lps_received(client, sent["id"])[0]["verdict"] == "accepted"
    assert _of(engine_calls["validate"]) == ["eoj_sender", "lps"]
    assert _of(engine_calls["validate_layers"]) == ["eoj_sender"]


def test_a_message_judged_as_another_version_is_validated_again(client: TestClient,
                                                                engine_calls: dict[str, list[str]]) -> None:
    sent = send(client, version="1.1")  # the GP system reads it as the version its settings name (1.2)
    assert lps_received(client, sent["id"])
    assert _of(engine_calls["validate_layers"]) == ["eoj_sender", "lps"]
