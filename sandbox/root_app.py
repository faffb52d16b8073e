"""The sandbox's root app: a request for an actor goes straight to the actor's mount.

The root app is a FastAPI app with every actor mounted under its prefix (``/dds``, ``/view``…), and a few
routes of its own (the landing page, ``/health``, ``/openapi.json``, ``/docs``). Passed through FastAPI as it
comes, every request to an actor first went through the root app's whole stack: its error and exception
middleware, the security headers, its router trying each route in turn until the actor's mount matched. Then the
actor's own app did all of that again. The first pass only found the mount: the actor answers every request under
its prefix itself, errors included, and the root app's own routes never see it.

:class:`SandboxApp` finds the mount by the path's first segment and hands the request to it as Starlette's ``Mount``
does (its own ``matches``: the same ``root_path``, ``app_root_path`` and ``path_params``), inside the root app's own
middleware as before (the security headers, the refusal of control characters in the URL). Everything else goes
through FastAPI as before: the root app's routes, a path no actor serves (404 OperationOutcome), a prefix without
its slash (redirected), WebSockets, the lifespan, and every path under a mount that a route before it in the root
app's router could take (a test's stand-in for one of an actor's routes, a catch-all). It does so only where the
root app's place in the stack is empty: no ``root_path`` of its own or of the server's (the first segment is then
the mount's), no limit of its own on the size of a body, and FastAPI's OpenTelemetry instrumentation off
(:mod:`nsp_sandbox.fastapi_telemetry`: on, the root app traces each request).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send


class SandboxApp(FastAPI):
    """The root app (see the module's description)."""

    def __init__(self, *, traced: bool, **options: Any) -> None:
        super().__init__(**options)
        # Whether a request for an actor goes straight to its mount: not when the root app traces requests, nor when
        # it limits the size of their bodies itself (FastAPI's max_body_size; each actor limits what it reads).
        self.direct = not traced and getattr(self, "max_body_size", None) is None
        self._mounts: dict[str, tuple[Mount, ASGIApp]] = {}
        self._table_of: tuple[tuple[int, ...], int] = ((), -1)  # the routes and middleware the table was made of

    def _mount_for(self, path: str) -> tuple[Mount, ASGIApp] | None:
        """The actor mount whose prefix is ``path``'s first segment, with the app that serves it; None where the
        root app's router would try another route first (see :func:`_mounts`)."""
        routes = self.router.routes
        made_of = (tuple(map(id, routes)), len(self.user_middleware))
        if made_of != self._table_of:  # a route or mount added, removed or replaced since: the table again
            self._mounts = {mount.path: (mount, self._within_own_middleware(mount.app)) for mount in _mounts(routes)}
            self._table_of = made_of
        end = path.find("/", 1)
        return self._mounts.get(path[:end]) if end > 0 else None

    def _within_own_middleware(self, app: ASGIApp) -> ASGIApp:
        """``app`` inside the root app's own middleware, in its order (the security headers, the refusal of control
        characters in the URL…): what wrapped every request before its router."""
        for middleware in reversed(self.user_middleware):
            app = middleware.cls(app, *middleware.args, **middleware.kwargs)
        return app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.direct and scope["type"] == "http" and not scope.get("root_path") and not self.root_path:
            found = self._mount_for(scope["path"])
            if found is not None:
                mount, app = found
                match, child_scope = mount.matches(scope)
                if match is Match.FULL:
                    scope["app"] = self  # as Starlette and its router set them, for what reads them below
                    scope.setdefault("router", self.router)
                    scope.update(child_scope)
                    await app(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)


def _mounts(routes: list[BaseRoute]) -> list[Mount]:
    """The mounts of ``routes`` under a prefix of one segment that no route before them could take a request for:
    one whose path is a literal outside that prefix (the landing page, ``/health``…). A route with a parameter in
    its first segment, or of another kind, may match anything, and the mounts after it are left to the router."""
    found: list[Mount] = []
    before: list[str | None] = []
    for route in routes:
        if isinstance(route, Mount) and route.path.count("/") == 1 and all(
                path is not None and "{" not in path.split("/")[1] and path != route.path
                and not path.startswith(route.path + "/") for path in before):
            found.append(route)
        before.append(route.path if isinstance(route, Route | Mount) else None)
    return found
