"""The ``Allow`` header of a 405: every method the request's path really serves in its app.

Starlette answers 405 from the first route whose path matched, so a path served by two routes (``GET`` in
one module, ``PUT`` in another) would name only the first's methods. Here every route of the app whose path
template matches counts; a route that exists only to refuse a method (``DELETE``: nothing shared is ever deleted)
is marked with :func:`refuses` and left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.routing import compile_path

F = TypeVar("F", bound=Callable[..., Any])


def refuses(endpoint: F) -> F:
    """Mark ``endpoint`` as one that always answers 405: its method is not one the path allows."""
    endpoint.refuses_method = True  # type: ignore[attr-defined]
    return endpoint


def _routes(routes: Iterable[Any]) -> Iterator[Any]:
    """Every route of an app, the routers it includes opened up (FastAPI keeps them nested)."""
    for route in routes:
        if hasattr(route, "effective_candidates"):
            yield from _routes(route.effective_candidates())
        else:
            yield route


def allowed_methods(request: Request) -> str:
    """``Allow`` for ``request``'s path: the methods of every matching route of its app, sorted."""
    path, root = request.scope.get("path", ""), request.scope.get("root_path", "")
    path = path[len(root):] if root and path.startswith(root) else path
    methods: set[str] = set()
    for route in _routes(getattr(request.app, "routes", ())):
        template, served = getattr(route, "path", None), getattr(route, "methods", None)
        if not template or not served or getattr(getattr(route, "endpoint", None), "refuses_method", False):
            continue
        if compile_path(template)[0].match(path):
            methods |= set(served) | ({"HEAD"} if "GET" in served else set())
    return ", ".join(sorted(methods))
