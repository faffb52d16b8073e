"""How the MHD searches describe themselves in OpenAPI: their parameters (from the same ``SearchParam``
tables the CapabilityStatement is made from), the form body of ``POST …/_search`` and the searchset answer.

One of ``patient`` / ``patient.identifier`` is required (``search.require``): OpenAPI parameters cannot say
"one of two", so the query parameters say it in words and the form body's schema says it with ``anyOf``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nsp_sandbox import openapi_description as oa
from services.dds.mhd.search import DEFAULT_COUNT, MAX_COUNT, SearchParam

PATIENT = ("patient", "patient.identifier")
SEARCHSET = {**oa.answer("searchset Bundle", {oa.FHIR_JSON: oa.fhir_resource("Bundle")}), **oa.errors(406)}


def _described(param: SearchParam) -> str:
    required = " One of patient / patient.identifier is required." if param.name in PATIENT else ""
    return f"{param.documentation} ({param.type}).{required}"


def search_parameters(params: Mapping[str, SearchParam]) -> list[dict[str, Any]]:
    """The query parameters of a search: every supported one, and ``_count``."""
    declared = [oa.query(p.name, _described(p)) for p in params.values()]
    return [*declared, oa.query("_count", f"Page size (default {DEFAULT_COUNT}, at most {MAX_COUNT})",
                                schema={"type": "integer", "minimum": 0, "maximum": MAX_COUNT})]


def search_form(params: Mapping[str, SearchParam]) -> dict[str, Any]:
    """``openapi_extra`` of ``POST …/_search``: the parameters as a form, one of the patient ones required."""
    form = {"type": "object", "properties": {p.name: {"type": "string", "description": _described(p)}
                                             for p in params.values()},
            "anyOf": [{"required": [name]} for name in PATIENT]}
    return oa.body({"application/x-www-form-urlencoded": form}, description="The search parameters as a form")
