"""The one error the plugin's control calls raise when the sandbox refuses them."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx


class SandboxError(Exception):
    """The sandbox answered a control call (clock, faults, world, endpoints, reset, a token) with an error:
    ``status`` and the OperationOutcome (``outcome``, empty when the answer was not one); the message
    names each issue's element path and text."""

    def __init__(self, what: str, response: httpx.Response) -> None:
        self.status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        self.outcome: dict[str, Any] = body if isinstance(body, dict) else {}
        issues = [f"{', '.join(i.get('expression', [])) or '-'}: {i.get('diagnostics', '')}"
                  for i in self.outcome.get("issue", []) if isinstance(i, dict)]
        detail = "; ".join(issues) if issues else response.text[:500]
        super().__init__(f"{what}: HTTP {self.status}: {detail}")
