"""The control face (``/sandbox``, docs/control.md) as a test sees it: the sandbox clock, the fault
switches, the world and the endpoint register. Every call is the operator's (the admin token as bearer
when there is one) and raises :class:`SandboxError` when the sandbox refuses it; the sandbox itself
judges every value (an instant without a time zone, an unknown switch or option), so its
OperationOutcome is what the error says.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx

from sandbox.pytest_plugin.errors import SandboxError


class Operator:
    """Calls as the sandbox's operator over ``http``; ``changed`` is called after each call that changes
    the sandbox (kept tokens are forgotten then)."""

    def __init__(self, http: httpx.Client, admin_token: str | None, changed: Callable[[], None]) -> None:
        self.http = http
        self.admin_token = admin_token
        self.changed = changed

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"} if self.admin_token else {}

    def call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        """``method path`` as the operator; the JSON answer, or :class:`SandboxError`."""
        headers = {**self.headers, **(kwargs.pop("headers", None) or {})}
        response = self.http.request(method, path, headers=headers, **kwargs)
        if method != "GET":
            self.changed()
        if response.status_code >= 300:
            raise SandboxError(what, response)
        return response.json() if response.content else None


def _instant(value: datetime | str) -> str:
    return value.isoformat() if isinstance(value, datetime) else value


class Clock:
    """The sandbox clock (``/sandbox/clock``) every actor's time-driven rule reads."""

    def __init__(self, operator: Operator) -> None:
        self._operator = operator

    def state(self) -> dict[str, Any]:
        """``{"now", "frozen", "offset_seconds"}``."""
        return self._operator.call("GET", "/sandbox/clock", "the sandbox clock")  # type: ignore[no-any-return]

    def now(self) -> datetime:
        """The sandbox's present time (aware, UTC)."""
        return datetime.fromisoformat(self.state()["now"])

    def travel(self, instant: datetime | str, *, frozen: bool = False) -> dict[str, Any]:
        """Travel to ``instant`` (with a time zone); time runs on from there unless ``frozen``."""
        return self._operator.call("PUT", "/sandbox/clock", "travel on the sandbox clock",  # type: ignore[no-any-return]
                                   json={"now": _instant(instant), "frozen": frozen})

    def freeze(self) -> dict[str, Any]:
        """Stop the clock at the present sandbox time."""
        return self._operator.call("PUT", "/sandbox/clock", "freeze the sandbox clock",  # type: ignore[no-any-return]
                                   json={"frozen": True})

    def thaw(self) -> dict[str, Any]:
        """Let a frozen clock run on from where it stands."""
        return self._operator.call("PUT", "/sandbox/clock", "thaw the sandbox clock",  # type: ignore[no-any-return]
                                   json={"frozen": False})

    def reset(self) -> dict[str, Any]:
        """Back to real time."""
        return self._operator.call("DELETE", "/sandbox/clock", "reset the sandbox clock")  # type: ignore[no-any-return]


class Faults:
    """The fault switches (``/sandbox/faults``): make an actor misbehave for some calls or until an instant."""

    def __init__(self, operator: Operator) -> None:
        self._operator = operator

    def on(self, actor: str, name: str, *, calls: int | None = None, until: datetime | str | None = None,
           **options: Any) -> dict[str, Any]:
        """Switch ``actor``'s ``name`` on for ``calls`` calls, until ``until`` (sandbox clock), or with
        neither until switched off; ``options`` are the switch's own (``seconds=2``, ``status=503``)."""
        body: dict[str, Any] = {"on": True, **options}
        if calls is not None:
            body["calls"] = calls
        if until is not None:
            body["until"] = _instant(until)
        return self._operator.call("PUT", f"/sandbox/faults/{actor}/{name}",  # type: ignore[no-any-return]
                                   f"switch on fault {actor}/{name}", json=body)

    def off(self, actor: str, name: str) -> dict[str, Any]:
        return self._operator.call("PUT", f"/sandbox/faults/{actor}/{name}",  # type: ignore[no-any-return]
                                   f"switch off fault {actor}/{name}", json={"on": False})

    def off_all(self) -> Any:
        """Every switch off (and the GP inbox's ``PUT /lps/switches`` settings back to normal)."""
        return self._operator.call("DELETE", "/sandbox/faults", "switch every fault off")

    def state(self, actor: str, name: str) -> dict[str, Any]:
        """The state of one switch: ``{"on": false}`` or ``{"on": true, "calls_left", "until", "used", …}``."""
        for switch in self.list():
            if switch["actor"] == actor and switch["name"] == name:
                return switch["state"]  # type: ignore[no-any-return]
        raise KeyError(f"no fault switch {actor}/{name}")

    def list(self) -> Any:
        """Every switch: ``actor``, ``name``, ``description``, ``effect``, ``counts``, ``options``, ``state``."""
        return self._operator.call("GET", "/sandbox/faults", "the fault switches")


class World:
    """A vendor's own test persons (``POST /sandbox/world``)."""

    def __init__(self, operator: Operator) -> None:
        self._operator = operator

    def load(self, source: Path | str | Mapping[str, Any]) -> dict[str, Any]:
        """Load a world file (a path: ``.json`` as JSON, anything else as YAML) or a mapping (sent as JSON);
        answers ``{"loaded", "personas", "blocks"}``."""
        if isinstance(source, Mapping):
            content, content_type, what = json.dumps(source).encode(), "application/json", "a world"
        else:
            path = Path(source)
            content_type = "application/json" if path.suffix.lower() == ".json" else "application/yaml"
            content, what = path.read_bytes(), f"the world file {path}"
        return self._operator.call("POST", "/sandbox/world", f"load {what}",  # type: ignore[no-any-return]
                                   content=content, headers={"Content-Type": content_type})


class Endpoints:
    """The endpoint register the sandbox's EOJ sends by (``/sandbox/endpoints``)."""

    def __init__(self, operator: Operator) -> None:
        self._operator = operator

    def register(self, key: str, **fields: Any) -> dict[str, Any]:
        """Register or change the receiver with GLN or SOR ``key``: ``url``, ``message_types``,
        ``hco_version``, ``envelope`` (and ``sor``, ``gln``, ``name``, ``ydernummer`` for one NSP's SOR
        register does not have)."""
        return self._operator.call("PUT", f"/sandbox/endpoints/{key}",  # type: ignore[no-any-return]
                                   f"register endpoint {key}", json=fields)

    def list(self) -> Any:
        return self._operator.call("GET", "/sandbox/endpoints", "the endpoint register")
