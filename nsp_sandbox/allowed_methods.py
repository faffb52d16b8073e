"""The ``Allow`` header of a 405: every method the request's path really serves in its app.

Starlette answers 405 from the first route whose path matched, so a path served by two routes (``GET`` in
one module, ``PUT`` in another) would name only the first's methods. Here every route of the app whose path
matches is asked; a route that exists only to refuse a method (``DELETE``: nothing shared is ever deleted)
is marked with :func:`refuses` and left out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.routing import Match, Route

F = TypeVar("F", bound=Callable[..., Any])


def refuses(endpoint: F) -> F:
    """Mark ``endpoint`` as one that always answers 405: its method is not one the path allows."""
    endpoint.refuses_method = True  # type: ignore[attr-defined]
    return endpoint


def allowed_methods(request: Request) -> str:
    """``Allow`` for ``request``'s path: the methods of every matching route of its app, sorted."""
    methods: set[str] = set()
    for route in getattr(request.app, "routes", ()):
        if not isinstance(route, Route) or not route.methods or getattr(route.endpoint, "refuses_method", False):
            continue
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= route.methods
    return ", ".join(sorted(methods))
