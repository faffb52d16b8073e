"""The HTTP security headers every response of the sandbox carries (OWASP Secure Headers Project),
added in one place as plain ASGI middleware around the whole sandbox.

Every response: ``X-Content-Type-Options: nosniff`` (a FHIR JSON body is never sniffed into HTML),
``Referrer-Policy: no-referrer`` (URLs carry CPR numbers), ``X-Frame-Options: DENY``.
HTML pages in addition: a ``Content-Security-Policy`` that allows only the page's own stylesheets,
images, form targets and no script, plug-in, base URL or framing (``frame-ancestors 'none'``). A
page that sets its own policy keeps it; the interactive API docs (``/docs``, ``/redoc``), which load
their script from a CDN, get none.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

EVERY_RESPONSE = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
HTML_POLICY = (b"default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
               b"frame-ancestors 'none'; base-uri 'none'")
API_DOCS = ("/docs", "/redoc", "/docs/oauth2-redirect")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = str(scope.get("path", "")).endswith(API_DOCS)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in EVERY_RESPONSE if name not in present]
                html = any(n.lower() == b"content-type" and v.lower().startswith(b"text/html") for n, v in headers)
                if html and not docs and b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", HTML_POLICY))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
