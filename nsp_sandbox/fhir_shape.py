"""Tolerant readers for FHIR JSON that may be malformed: a receiver must still find out who sent a
broken message to tell them so. Each answers an empty value where the shape is wrong."""

from __future__ import annotations

from typing import Any


def obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def arr(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def resources(bundle: Any) -> list[dict[str, Any]]:
    """The entries' resources (objects only)."""
    return [obj(obj(e).get("resource")) for e in arr(obj(bundle).get("entry"))]


def reference(value: Any) -> str:
    return text(obj(value).get("reference"))


def identifiers(resource: dict[str, Any]) -> dict[str, str]:
    """system → value of a resource's identifiers."""
    return {text(obj(i).get("system")): text(obj(i).get("value")) for i in arr(resource.get("identifier"))}


def own_provenance(resources_: list[dict[str, Any]], header_id: str) -> dict[str, Any]:
    """The Provenance whose target is ``MessageHeader/<header_id>``."""
    return next((r for r in resources_ if r.get("resourceType") == "Provenance"
                 and any(reference(t) == f"MessageHeader/{header_id}" for t in arr(r.get("target")))), {})


def activity_of(provenance: dict[str, Any]) -> str:
    """The Provenance's activity code (``new-message`` when it has none)."""
    codings = arr(obj(provenance.get("activity")).get("coding"))
    return (text(obj(codings[0]).get("code")) if codings else "") or "new-message"


def previous_header(provenance: dict[str, Any]) -> str | None:
    for entity in arr(provenance.get("entity")):
        ref = reference(obj(entity).get("what"))
        if ref.startswith("MessageHeader/"):
            return ref.split("/")[-1]
    return None
