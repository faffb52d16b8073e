"""Reading the EOJ's request bodies: JSON orders checked against their model, and the refusal of a
message too broken to read."""

from __future__ import annotations

from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from nsp_sandbox.fhir_http import read_json_object
from nsp_sandbox.outcome import FhirError, Issue

M = TypeVar("M", bound=BaseModel)
MAX_ORDER = 150 * 1024 * 1024  # a message is at most 100 MB; base64 attachments grow by a third
READ_ERRORS = (AttributeError, TypeError, KeyError, IndexError, ValueError)


async def read_model(request: Request, model: type[M]) -> M:
    """The JSON body as ``model``; 422 with one issue per field that does not fit (rule ``eoj-order``)."""
    body = await read_json_object(request, MAX_ORDER)
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise FhirError(422, [Issue("error", "invalid", f"{err['msg']}",
                                    expression=".".join(str(p) for p in err["loc"]) or None, rule="eoj-order")
                              for err in exc.errors()]) from None


def unreadable(exc: Exception, what: str) -> FhirError:
    """422 for a body whose shape is too broken to read as ``what`` (rule ``message-readable``)."""
    return FhirError(422, Issue("error", "structure", f"The body cannot be read as {what} ({type(exc).__name__})",
                                expression="Bundle", rule="message-readable"))
