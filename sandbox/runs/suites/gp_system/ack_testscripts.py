"""MedCom's acknowledgement TestScripts (``medcom.fhir.dk.acknowledgementtestscripts`` 2.0.0), read at run
time from the loaded package, as the checks an acknowledgement from a GP system must pass.

The package's *send* scripts test a system that acknowledges a HospitalNotification: it creates the
notification, the system under test posts its Acknowledgement, and the script asserts on that
request. For HomeCareObservation the GP system is the one acknowledging, so the same asserts apply
to each acknowledgement it sends back for an HCO; the script is chosen by the answer expected
(``ok`` / ``fatal-error`` / ``transient-error``, ``-duplicate`` for a message sent twice). Adapted:

* ``${messageHeaderid-…}`` (the fullUrl of the acknowledged MessageHeader) is met by that fullUrl or by
  the relative reference ``MessageHeader/<id>`` — both name the same resource in a message;
* ``target.reference = %resource.entry[0].fullUrl`` is met by a reference equal to that fullUrl or the
  relative reference its fullUrl ends with (MedCom's own example acknowledgements use the relative one);
* ``validateProfileId`` is the sandbox's ``$validate`` over HTTP (done by the caller, :mod:`.acks`);
* the HTTP ``responseCode`` asserts are about the test server taking the post (here: the EOJ's EHMI
  inbox took it, or it would not be listed), and are not repeated.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass
from typing import Any

import fhirpathpy
from fhirpathpy.models import models

PACKAGE = "medcom.fhir.dk.acknowledgementtestscripts"
SEND_SCRIPT = "acknowledgement-send-{code}{duplicate}-hospitalnotification"
HEADER_VARIABLE = re.compile(r"entity\.what\.reference = '\$\{messageHeaderid-[A-Za-z0-9-]+\}'")
TARGET_FULLURL = "target.reference = %resource.entry[0].fullUrl"
TARGET_ADAPTED = (f"({TARGET_FULLURL} or %resource.entry[0].fullUrl.endsWith('/' + target.reference))")
PAIR_ASSERT = re.compile(r"^'\$\{bundle(id|timestamp)-[A-Za-z0-9-]+\}' != '\$\{bundle(id|timestamp)-[A-Za-z0-9-]+\}'$")


@dataclass(frozen=True)
class Assert:
    """One request assert of a send script: what it says, and how it is checked."""

    script: str  # the TestScript id
    description: str
    expression: str | None  # FHIRPath on the acknowledgement (None: a non-expression assert)
    value: str | None = None  # operator 'equals': every result equals this
    kind: str = "expression"  # expression | resource | profile | pair-id | pair-timestamp


@dataclass(frozen=True)
class Script:
    id: str
    profile: str  # the profile validateProfileId names
    asserts: tuple[Assert, ...]


def script_id(code: str, duplicate: bool) -> str:
    """The send TestScript for an acknowledgement answering ``code`` (an id is at most 64 characters: the
    package cuts the transient duplicate script's short)."""
    return SEND_SCRIPT.format(code=code, duplicate="-duplicate" if duplicate else "")[:64]


_READ: weakref.WeakKeyDictionary[Any, dict[str, Script | None]] = weakref.WeakKeyDictionary()


def read_script(packages: Any, wanted: str) -> Script | None:
    """Send script ``wanted`` from the loaded package, its asserts in order (each once); None when absent.
    Read once per package registry."""
    kept = _READ.setdefault(packages, {})
    if wanted not in kept:
        kept[wanted] = _read(packages, wanted)
    return kept[wanted]


def _read(packages: Any, wanted: str) -> Script | None:
    package = packages.get(PACKAGE)
    for _, resource in package.examples() if package else []:
        if resource.get("resourceType") != "TestScript" or resource.get("id") != wanted:
            continue
        profiles = {p.get("id"): p.get("reference") for p in resource.get("profile", [])}
        found: dict[tuple[str, str], Assert] = {}
        for test in resource.get("test", []):
            for action in test.get("action", []):
                made = _assert_of(wanted, action.get("assert") or {}, profiles)
                if made is not None:
                    found.setdefault((made.kind, made.description), made)
        profile = next(iter(profiles.values()), "") or ""
        return Script(wanted, profile, tuple(found.values()))
    return None


def _assert_of(script: str, raw: dict[str, Any], profiles: dict[str, str]) -> Assert | None:
    if raw.get("direction") != "request":
        return None  # responseCode: the test server took the post
    description = str(raw.get("description", ""))
    if "validateProfileId" in raw:
        return Assert(script, description, profiles.get(raw["validateProfileId"]), kind="profile")
    if "resource" in raw and "expression" not in raw:
        return Assert(script, description, str(raw["resource"]), kind="resource")
    expression = str(raw.get("expression", ""))
    pair = PAIR_ASSERT.match(expression)
    if pair:
        return Assert(script, description, None, kind=f"pair-{pair.group(1)}")
    adapted = HEADER_VARIABLE.sub("(entity.what.reference = %acknowledged or entity.what.reference = %relative)",
                                  expression).replace(TARGET_FULLURL, TARGET_ADAPTED)
    value = str(raw["value"]) if raw.get("operator") == "equals" and "value" in raw else None
    return Assert(script, description, adapted, value)


def failed(script: Script, ack: dict[str, Any], message: dict[str, Any]) -> list[str]:
    """The expression and resource asserts of ``script`` that acknowledgement ``ack`` (of ``message``, the
    HCO Bundle it answers) does not meet, each as '<description> (TestScript <id>: <expression>)'."""
    header = message["entry"][0]
    env = {"resource": ack, "acknowledged": str(header.get("fullUrl", "")),
           "relative": f"MessageHeader/{header['resource']['id']}"}
    out = []
    for check in script.asserts:
        if check.kind == "resource":
            ok = ack.get("resourceType") == check.expression
        elif check.kind == "expression" and check.expression:
            try:
                result = fhirpathpy.evaluate(ack, check.expression, env, model=models["r4"])
            except Exception as exc:  # an acknowledgement too malformed to evaluate fails the assert
                result = [f"not evaluable: {type(exc).__name__}"]
            ok = (bool(result) and all(r == check.value for r in result)) if check.value is not None else (
                result == [True])
        else:
            continue
        if not ok:
            out.append(f"{check.description} (TestScript {script.id}: {check.expression})")
    return out
