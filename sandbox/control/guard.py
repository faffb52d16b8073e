"""Who may use the control face: the sandbox's operator (:mod:`nsp_sandbox.operator_access`, the one
rule the actors' operator endpoints follow too)."""

from __future__ import annotations

from fastapi import Request

from nsp_sandbox.config import Settings
from nsp_sandbox.operator_access import require_operator as require_platform_operator

SOURCE = "nsp-sandbox control face (docs/control.md)"


def require_operator(request: Request, settings: Settings) -> None:
    """Return if the caller may use the control face; 401 or 403 otherwise."""
    require_platform_operator(request, settings, "The control face", SOURCE)
