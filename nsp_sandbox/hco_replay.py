"""Sending a recorded HCO message again: re-stamped (a new Bundle.id and MessageHeader.id, its correction
chain kept) and re-addressed to another requesting GP — how the EOJ's replay corpus and the conformance
suite for a GP system send MedCom's material to the GP system under test."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any


def restamp(bundle: dict[str, Any], header_ids: dict[str, str] | None = None) -> dict[str, Any]:
    """A copy with a new Bundle.id and new MessageHeader.id; ``header_ids`` (old → new) is shared
    across a batch so a modification still points at its (re-stamped) original."""
    header_ids = header_ids if header_ids is not None else {}
    old = bundle["entry"][0]["resource"]["id"]
    header_ids.setdefault(old, str(uuid.uuid4()))
    text = json.dumps(bundle, ensure_ascii=False)
    for before, after in header_ids.items():
        text = text.replace(f"MessageHeader/{before}", f"MessageHeader/{after}")
    out: dict[str, Any] = json.loads(text)
    out["id"] = str(uuid.uuid4())
    out["entry"][0]["resource"]["id"] = header_ids[old]
    return out


def readdress(bundle: dict[str, Any], to: dict[str, Any]) -> dict[str, Any]:
    """``bundle`` sent to the requesting GP of message ``to`` instead of its own: the primary destination's
    endpoint and the receiver organisation's identifiers and name come from ``to``; the GP's initials (or
    'unknown') stay as the test material has them."""
    target = _receiving(to)
    return address_to(bundle, target["identifier"], target.get("name"),
                      to["entry"][0]["resource"]["destination"][0]["endpoint"])


def address_to(bundle: dict[str, Any], identifier: list[dict[str, Any]], name: str | None,
               endpoint: str) -> dict[str, Any]:
    """``bundle`` sent to another requesting GP: its receiver organisation takes ``identifier`` (GLN, SOR,
    ydernummer) and ``name``, its primary destination ``endpoint``; the GP's initials stay."""
    out = copy.deepcopy(bundle)
    receiver = _receiving(out)
    receiver["identifier"] = copy.deepcopy(identifier)
    receiver["name"] = name
    out["entry"][0]["resource"]["destination"][0]["endpoint"] = endpoint
    return out


def _receiving(bundle: dict[str, Any]) -> dict[str, Any]:
    ref = bundle["entry"][0]["resource"]["destination"][0]["receiver"]["reference"]
    return next(e["resource"] for e in bundle["entry"] if f"Organization/{e['resource'].get('id')}" == ref)
