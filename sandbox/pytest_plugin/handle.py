"""What the plugin's fixtures yield: one sandbox — started for the run or already running — with its
control face, tokens and ready clients.

``reset()`` brings the sandbox back to where the fixture began it: every actor's data emptied (``POST
/sandbox/reset``) and the configured world file loaded again (a reset drops loaded world files).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx2 as httpx

from nsp_sandbox.plsp_client import PlspClient
from sandbox.pytest_plugin.clients import EOJ_PERSONA, GP_PERSONA, GpInbox, HcoSender, Mhd
from sandbox.pytest_plugin.control import Clock, Endpoints, Faults, Operator, World
from sandbox.pytest_plugin.process import SandboxProcess
from sandbox.pytest_plugin.tokens import Tokens


class Sandbox:
    """A sandbox at ``url``: ``clock``, ``faults``, ``world``, ``endpoints``, ``reset()``, ``token(persona)``,
    and the clients ``mhd(persona)``, ``hco_sender``, ``gp_inbox``, ``plsp(persona)``. ``http`` is a plain
    client at its origin for any other call; ``process`` the started ``nsp-sandbox up`` (None for one
    already running)."""

    def __init__(self, url: str, admin_token: str | None = None, *, http: httpx.Client | None = None,
                 process: SandboxProcess | None = None, world_files: Sequence[Path] = ()) -> None:
        self.url = url.rstrip("/")
        self.admin_token = admin_token
        self.process = process
        self.world_files = tuple(world_files)
        self.http = http if http is not None else httpx.Client(base_url=self.url, timeout=60)
        self.tokens = Tokens(self.http)
        self.operator = Operator(self.http, admin_token, self.tokens.forget)
        self.clock = Clock(self.operator)
        self.faults = Faults(self.operator)
        self.world = World(self.operator)
        self.endpoints = Endpoints(self.operator)

    def token(self, persona: str, audience: str | list[str] | None = None) -> str:
        """An access token of ``persona`` from NSP's STS (kept until a minute before it expires)."""
        return self.tokens.get(persona, audience)

    def auth(self, persona: str, audience: str | list[str] | None = None) -> dict[str, str]:
        """The ``Authorization`` header of ``persona``."""
        return {"Authorization": f"Bearer {self.token(persona, audience)}"}

    def load_world_files(self) -> None:
        for path in self.world_files:
            self.world.load(path)

    def reset(self) -> dict[str, Any]:
        """Empty every actor's data and load the configured world files again; answers what
        ``POST /sandbox/reset`` emptied. The clock and the fault switches are left as they are."""
        answer: dict[str, Any] = self.operator.call("POST", "/sandbox/reset", "reset the sandbox")
        self.load_world_files()
        return answer

    def mhd(self, persona: str) -> Mhd:
        """An MHD client at DDS as ``persona`` (a source system such as ``system-eoj-aarhus``, or a reader)."""
        return Mhd(self.tokens, persona)

    @property
    def hco_sender(self) -> HcoSender:
        """The sandbox's EOJ, ordering as its own system persona (``HcoSender(sandbox.tokens, persona)``
        for a municipal professional)."""
        return HcoSender(self.tokens, EOJ_PERSONA)

    @property
    def gp_inbox(self) -> GpInbox:
        """The sandbox's GP system, read as a GP of Skødstrup Lægepraksis (``GpInbox(sandbox.tokens,
        sandbox.operator, persona)`` for another practice)."""
        return GpInbox(self.tokens, self.operator, GP_PERSONA)

    def plsp(self, persona: str) -> PlspClient:
        """The PLSP hub's LPS interface as the GP-system persona ``persona`` (``system-lps-skodstrup``)."""
        return PlspClient.for_persona(self.http, persona)

    def log_since(self, offset: int) -> str:
        return self.process.log_since(offset) if self.process else ""

    def close(self) -> None:
        self.http.close()

    def __repr__(self) -> str:
        return f"<Sandbox {self.url}{' (started)' if self.process else ''}>"
