"""The JSON bodies NSP's faces take, as pydantic models that refuse unknown fields.

A field the face does not know is refused with 422 naming it (``extra="forbid"``), never dropped:
a silently dropped ``"kind": "positive"`` would register the opposite of what was asked. So are
the fields of the Min Spærring model before what/who were split (top-level ``include_sub_units``,
``who.type: organisation``): they now mean something else (``what``). A value of the wrong type
is 400 naming the element, as every other malformed value on these faces.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from nsp_sandbox.outcome import FhirError, Issue

M = TypeVar("M", bound=BaseModel)
RULE_UNKNOWN = "nsp-unknown-field"
SOURCE = "NSP interface: every request body is read strictly; an unknown field is refused, never dropped"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class WhoItem(Strict):
    """``whoItem``: everyone (null in NSP's model) or one authorised professional."""

    type: Literal["professional", "all"]
    id: str | None = None


class WhatItem(Strict):
    """``whatItem``: all data (null in NSP's model) or data from a treatment place (SOR), with its sub-units."""

    type: Literal["all", "organisation"] = "all"
    id: str | None = None
    include_sub_units: bool = False


class BlockBody(Strict):
    """``POST /consent/blocks``: one consent item."""

    kind: Literal["negative", "positive"] = "negative"
    cpr: str | None = None
    who: WhoItem
    what: WhatItem = WhatItem()
    valid_from: str | None = None
    valid_to: str | None = None
    data_from: str | None = None
    data_to: str | None = None


class NoBody(Strict):
    """A face that takes no fields (``POST /consent/blocks/{id}/revoke``): an empty body or ``{}``."""


class TokenBody(Strict):
    """``POST /sts/token``."""

    persona: str
    audience: Any = None  # an actor name or a list of them; checked by the STS (400 naming it)


class RelationBody(Strict):
    """``POST /brs/relations`` (and the control face's ``POST /sandbox/nsp/brs/relations``): one treatment
    relation, the professional named by ``authorisation`` or by ``professional`` (persona id)."""

    authorisation: str | None = None
    professional: str | None = None
    cpr: str | None = None
    valid_from: str | None = None
    valid_to: str | None = None


class MinLogBody(Strict):
    """``POST /minlog/entries``: one statement (ListLogStatementsResponse/LogDataGroup)."""

    cpr: str
    activity: str
    time: str | None = None
    organisation_id: str | None = None
    organisation_name: str | None = None
    user_identifier: str | None = None
    user_name: str | None = None
    user_role: str | None = None
    responsible_user_identifier: str | None = None
    responsible_user_name: str | None = None
    person_name: str | None = None
    acting_as: Literal["self", "fuldmagt", "parent", "guardian"] | None = None
    consent_override: bool = False
    reason: str | None = None
    criticality: str | None = None
    addition: str | None = None


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _old_model(body: dict[str, Any]) -> list[Issue]:
    """The fields of the Min Spærring model before what/who were split: 422, saying where they went."""
    issues = []
    if "include_sub_units" in body:
        issues.append(Issue("error", "invalid", "'include_sub_units' is no longer a top-level field: a block on "
                            "data from a treatment place is 'what': {\"type\": \"organisation\", \"id\": <SOR>, "
                            "\"include_sub_units\": true}", expression="include_sub_units", rule=RULE_UNKNOWN,
                            source=SOURCE))
    who = body.get("who")
    if isinstance(who, dict) and who.get("type") == "organisation":
        issues.append(Issue("error", "invalid", "'who.type' is 'professional' or 'all'; a treatment place is "
                            "what the data comes from: 'what': {\"type\": \"organisation\", \"id\": <SOR>}",
                            expression="who.type", rule=RULE_UNKNOWN, source=SOURCE))
    return issues


def parse(model: type[M], body: dict[str, Any]) -> M:
    """``body`` as ``model``: 422 naming every unknown field, 400 naming a malformed one."""
    old = _old_model(body) if model is BlockBody else []
    if old:
        raise FhirError(422, old)
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        errors = exc.errors()
        unknown = [e for e in errors if e.get("type") == "extra_forbidden"]
        if unknown:
            names = [_path(tuple(e["loc"])) for e in unknown]
            raise FhirError(422, [Issue("error", "invalid", f"Unknown field '{name}': this face does not take it "
                                        f"({_known_text(model, name)})", expression=name,
                                        rule=RULE_UNKNOWN, source=SOURCE) for name in names]) from None
        first = errors[0]
        where = _path(tuple(first["loc"])) or None
        raise FhirError(400, Issue("error", "invalid", f"'{where}': {first.get('msg')}", expression=where,
                                   rule="nsp-body")) from None


def _known_text(model: type[BaseModel], name: str) -> str:
    known = _known(model, name)
    return f"known: {', '.join(known)}" if known else "it takes no fields"


def _known(model: type[BaseModel], name: str) -> list[str]:
    current: Any = model
    for part in name.split(".")[:-1]:
        field = current.model_fields.get(part)
        annotation = field.annotation if field is not None else None
        current = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
        if current is None:
            return []
    return list(current.model_fields)
