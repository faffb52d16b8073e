"""Answers kept in memory by what they depend on alone (a value, a string, a token), bounded.

A request can name any number of values, so no such store may grow without end: when one holds ``limit``
answers, all are forgotten before the next is kept. Forgetting costs only the work of answering again. The
conformance engine's stores, the token checks' and the Danish code assessments' keep their answers here.
"""

from __future__ import annotations

from typing import Any


def kept(answers: dict[Any, Any], key: Any, answer: Any, limit: int) -> Any:
    """``answer``, kept in ``answers`` under ``key`` (``answers`` emptied first when it holds ``limit``)."""
    if len(answers) >= limit:
        answers.clear()
    answers[key] = answer
    return answer
