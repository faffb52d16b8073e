"""Who is the sandbox's operator: the one rule for the control face (``/sandbox``) and the operator
endpoints of the actors (the EOJ's endpoint register, the GP system's switches, return addresses and
outbox).

With ``NSP_SANDBOX_ADMIN_TOKEN`` set, a caller must send it as ``Authorization: Bearer <token>``
(compared in constant time); a persona token from NSP's STS never stands for the operator. Without
it, only callers whose TCP peer address is on this machine (loopback: 127.0.0.0/8, ::1) may, which
keeps a sandbox started with ``nsp-sandbox up`` on a laptop usable without set-up and closed to the
network. The caller is the TCP peer; only when the peer is a proxy listed in
``NSP_SANDBOX_TRUSTED_PROXIES`` is it the client that proxy forwards for
(:mod:`nsp_sandbox.trusted_proxies`): a proxy on this machine that is not listed makes every caller
it forwards look local, so list it.
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import Request

from nsp_sandbox.config import Settings
from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.trusted_proxies import trusted_proxies

SOURCE = "nsp-sandbox operator (docs/control.md)"


def is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_operator(request: Request, settings: Settings, what: str = "The control face",
                     source: str = SOURCE) -> None:
    """Return if the caller is the operator; 401 (with a token set, and it is not sent) or 403 (without a
    token, from another machine) otherwise. ``what`` names the guarded face in the message."""
    if settings.admin_token:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(),
                                                                 settings.admin_token.encode()):
            raise FhirError(401, Issue("error", "login", f"{what} needs the operator's token: "
                                       "'Authorization: Bearer <NSP_SANDBOX_ADMIN_TOKEN>'",
                                       rule="sandbox-operator-token", source=source),
                            headers={"WWW-Authenticate": 'Bearer realm="sandbox"'})
        return
    host = trusted_proxies(settings.trusted_proxies).client(request)
    if not is_loopback(host):
        raise FhirError(403, Issue("error", "forbidden", f"{what} answers only callers on this machine "
                                   f"(this call came from {host or 'an unknown address'}); set "
                                   "NSP_SANDBOX_ADMIN_TOKEN to open it to others with a token",
                                   rule="sandbox-operator-loopback", source=source))
