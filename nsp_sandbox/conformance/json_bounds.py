"""The bounds of JSON read from outside (:mod:`~nsp_sandbox.conformance.strict_json`): how deep objects and arrays
nest, and whether a number was read as infinity. Walked compiled, as the conformance engine is (``compiled``): every
body and document read is walked once.
"""

from __future__ import annotations

from typing import Any, Final

MAX_DEPTH: Final = 100  # objects and arrays nested in each other; an HCO message Bundle is about 12 deep
_INFINITY: Final = float("inf")


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether objects and arrays in ``value`` nest more than ``limit`` levels."""
    return _beyond(value, limit, False)


def within_bounds(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether objects and arrays in ``value`` nest at most ``limit`` levels and no number in it is infinite (as a
    number beyond a double is read)."""
    return not _beyond(value, limit, True)


def _beyond(value: Any, limit: int, infinity: bool) -> bool:
    """Deeper than ``limit``, or (``infinity``) holding an infinite number: one pass, level by level (no recursion),
    over the containers and what they hold."""
    level = [value] if type(value) is dict or type(value) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        deeper: list[Any] = []
        for node in level:
            for child in node.values() if type(node) is dict else node:
                kind = type(child)
                if kind is dict or kind is list:
                    deeper.append(child)
                elif infinity and kind is float and (child == _INFINITY or child == -_INFINITY):
                    return True
        level = deeper
    return infinity and type(value) is float and (value == _INFINITY or value == -_INFINITY)
