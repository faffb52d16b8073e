"""The bounds of JSON read from outside (:mod:`nsp_sandbox.strict_json`): how deep objects and arrays nest, and
whether a number was read as infinity. Walked compiled, as the conformance engine is (``compiled``): every body and
document read is walked once.
"""

from __future__ import annotations

from typing import Any, Final

MAX_DEPTH: Final = 100  # objects and arrays nested in each other; an HCO message Bundle is about 12 deep
_INFINITY: Final = float("inf")


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether objects and arrays in ``value`` nest more than ``limit`` levels (level by level, no
    recursion: a cheap pass over the containers only)."""
    level = [value] if type(value) is dict or type(value) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        deeper: list[Any] = []
        for node in level:
            for child in node.values() if type(node) is dict else node:
                if type(child) is dict or type(child) is list:
                    deeper.append(child)
        level = deeper
    return False


def within_bounds(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether objects and arrays in ``value`` nest at most ``limit`` levels and no number in it is infinite (as a
    number beyond a double is read). One pass, level by level, as :func:`too_deep`."""
    level = [value] if type(value) is dict or type(value) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return False
        deeper: list[Any] = []
        for node in level:
            for child in node.values() if type(node) is dict else node:
                kind = type(child)
                if kind is dict or kind is list:
                    deeper.append(child)
                elif kind is float and (child == _INFINITY or child == -_INFINITY):
                    return False
        level = deeper
    return type(value) is not float or (value != _INFINITY and value != -_INFINITY)
