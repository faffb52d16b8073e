"""The R4 type model fhirpathpy ships, read by compiled expressions: navigation and type tests.

Navigating ``name`` from an item finds its JSON value(s) with the primitive's ``_name`` companion
(id / extensions), choice elements (``value`` finds ``valueQuantity``) and each child's FHIR type;
``is_type`` answers ``is`` / ``as`` / ``ofType`` by the model's type hierarchy.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from fhirpathpy.models import models

from nsp_sandbox.conformance.fhirpath.values import Item

_MODEL = models["r4"]
_PATH_TO_TYPE: Final[dict[str, str]] = _MODEL["path2Type"]
_CHOICES: Final[dict[str, list[str]]] = _MODEL["choiceTypePaths"]
_ELSEWHERE: Final[dict[str, str]] = _MODEL["pathsDefinedElsewhere"]
_TYPE_PARENTS: Final[dict[str, str]] = _MODEL["type2Parent"]
# The names of the model's choice elements (``value`` of ``value[x]``): in JSON such a child is keyed by its
# type too (``valueQuantity``, ``_valueString``), so a focus without the key ``value`` may still have one.
CHOICE_NAMES = frozenset(path.rpartition(".")[2] for path in _CHOICES)
_PRIMITIVE_NAMES: Final = {"String", "Boolean", "Integer", "Decimal", "Uri", "Url", "Canonical", "Code", "Oid", "Id",
                           "Markdown", "Base64Binary", "Instant", "Date", "DateTime", "Time", "UnsignedInt",
                           "PositiveInt", "Uuid"}
_SYSTEM_OF_FHIR: Final = {
    "boolean": "Boolean", "string": "String", "code": "String", "id": "String", "markdown": "String",
    "uri": "String", "url": "String", "canonical": "String", "oid": "String", "uuid": "String",
    "base64Binary": "String", "xhtml": "String", "integer": "Integer", "unsignedInt": "Integer",
    "positiveInt": "Integer", "decimal": "Decimal", "date": "Date", "dateTime": "DateTime",
    "instant": "DateTime", "time": "Time",
}


def navigate(item: Item, name: str, out: list[Item]) -> None:
    """Append the items ``name`` finds from ``item`` to ``out`` (choice types, primitive companions)."""
    data = item[0]
    if not isinstance(data, dict):
        companion = item[3]
        if isinstance(companion, dict) and name in ("extension", "id"):
            found = companion.get(name)
            for value in found if isinstance(found, list) else ([found] if found is not None else []):
                out.append((value, "Extension" if name == "extension" else "string",
                            "Extension" if name == "extension" else None, None))
        return
    base = item[2] or item[1]
    steps = _STEPS.get(base)
    step = steps.get(name) if steps is not None else None
    if step is None:
        step = _step(base, name)
    if step[0] is not None:
        for key, companion_key, fhir_type in step[0]:
            if key in data or companion_key in data:
                _append(out, data.get(key), data.get(companion_key), fhir_type, fhir_type)
        return
    value = data.get(name)
    companion = data.get(step[3])
    if value is None and companion is None:
        return
    if isinstance(value, list) or (companion is not None and isinstance(companion, list)):
        _append(out, value, companion, step[1], step[2])
    elif isinstance(value, dict) and isinstance(value.get("resourceType"), str):
        out.append((value, value["resourceType"], value["resourceType"], None))
    else:
        out.append((value, step[1], step[2], companion))


_Step = tuple[tuple[tuple[str, str, str], ...] | None, str | None, str | None, str]
# By model path, then name: two lookups of strings, whose hashes are kept, and no key tuple to build.
_STEPS: Final[dict[str | None, dict[str, _Step]]] = {}


def _step(base_path: str | None, name: str) -> _Step:
    """How to navigate ``name`` from a node at model path ``base_path`` (cached)."""
    steps = _STEPS.get(base_path)
    if steps is None:
        steps = _STEPS.setdefault(base_path, {})
    found = steps.get(name)
    if found is not None:
        return found
    choices = _CHOICES.get(f"{base_path}.{name}") if base_path else None
    result: _Step
    if choices:
        keys = tuple((name + suffix, "_" + name + suffix,
                      suffix if suffix not in _PRIMITIVE_NAMES else suffix[:1].lower() + suffix[1:])
                     for suffix in choices)
        result = (keys, None, None, "_" + name)
    elif base_path:
        child_path = _ELSEWHERE.get(f"{base_path}.{name}", f"{base_path}.{name}")
        child_type = _PATH_TO_TYPE.get(child_path)
        if child_type is None or child_type in ("BackboneElement", "Element"):
            next_path: str | None = child_path
        else:
            next_path = None if child_type.startswith("System.") else child_type
        result = (None, child_type, next_path, "_" + name)
    else:
        result = (None, None, None, "_" + name)
    steps[name] = result
    return result


def _append(out: list[Item], value: Any, companion: Any, type_: str | None, path: str | None) -> None:
    if isinstance(value, list) and not isinstance(companion, list):  # an array without companions
        for v in value:
            if v is None:
                continue
            if isinstance(v, dict) and isinstance(v.get("resourceType"), str):
                out.append((v, v["resourceType"], v["resourceType"], None))
            else:
                out.append((v, type_, path, None))
        return
    if isinstance(value, list) or isinstance(companion, list):
        values = value if isinstance(value, list) else []
        comps = companion if isinstance(companion, list) else []
        for i in range(max(len(values), len(comps))):
            v = values[i] if i < len(values) else None
            c = comps[i] if i < len(comps) else None
            if v is None and c is None:
                continue
            out.append(_item(v, c, type_, path))
        return
    if value is None and companion is None:
        return
    out.append(_item(value, companion, type_, path))


def _item(value: Any, companion: Any, type_: str | None, path: str | None) -> Item:
    if isinstance(value, dict) and isinstance(value.get("resourceType"), str):
        return (value, value["resourceType"], value["resourceType"], None)
    return (value, type_, path, companion)


# ---- types -------------------------------------------------------------------------------------


def item_type(item: Item) -> str | None:
    """The FHIR (or ``System.``) type of an item: its resource type, its model type, or by its JSON value."""
    if isinstance(item[0], dict) and isinstance(item[0].get("resourceType"), str):
        return str(item[0]["resourceType"])
    if item[1]:
        return item[1]
    data = item[0]
    if isinstance(data, bool):
        return "System.Boolean"
    if isinstance(data, int):
        return "System.Integer"
    if isinstance(data, (float, Decimal)):
        return "System.Decimal"
    if isinstance(data, str):
        return "System.String"
    return None


def is_type(item: Item, name: str) -> bool:
    """Is ``item`` of type ``name`` (``is`` / ``as`` / ``ofType``), by the model's hierarchy?"""
    actual = item_type(item)
    if actual is None:
        return False
    matches = _TYPE_MATCHES.get(name)
    if matches is None:
        matches = _TYPE_MATCHES.setdefault(name, {})
    found = matches.get(actual, _UNDECIDED)
    if found is _UNDECIDED:
        found = _type_match(actual, name)
        if len(matches) < 10_000:
            matches[actual] = found
    if found is not None:
        return found  # type: ignore[return-value]
    data = item[0]
    if isinstance(data, dict) and "resourceType" in data:
        wanted = name.removeprefix("FHIR.")
        return wanted == "Resource" or data["resourceType"] not in ("Bundle", "Parameters", "Binary")
    return False


_UNDECIDED: Final = object()
# By the type asked for, then the item's type (``as(canonical)`` asks one name of every item).
_TYPE_MATCHES: Final[dict[str, dict[str, bool | None]]] = {}


def _type_match(actual: str, name: str) -> bool | None:
    """Is type ``actual`` a ``name``, by the type names alone? None: it depends on the instance
    (``Resource`` / ``DomainResource`` asked of a type outside the model's hierarchy)."""
    wanted = name.removeprefix("FHIR.")
    if wanted.startswith("System."):
        system = actual if actual.startswith("System.") else "System." + _SYSTEM_OF_FHIR.get(actual, "")
        return system == wanted
    current: str | None = actual
    while current:
        if current == wanted:
            return True
        current = _TYPE_PARENTS.get(current)
        if current is None and actual in _SYSTEM_OF_FHIR and wanted in ("Element",):
            return True
    if wanted in ("Resource", "DomainResource"):
        return None
    return False


# ---- children ----------------------------------------------------------------------------------


def children_of(item: Item) -> list[Item]:
    """The child items of ``item`` in the order of its JSON properties (``children()``)."""
    out: list[Item] = []
    data = item[0]
    if not isinstance(data, dict):
        return out
    seen: set[str] = set()
    for key in data:
        name = key[1:] if key.startswith("_") else key
        if name in seen or name == "resourceType":
            continue
        seen.add(name)
        _navigate_child(item, name, out)
    return out


def _navigate_child(item: Item, name: str, out: list[Item]) -> None:
    """Append to ``out`` what :func:`children_of` finds for the property ``name`` of ``item``."""
    before = len(out)
    navigate(item, name, out)
    if len(out) == before:  # a choice element keyed valueX: navigate by its base name
        for base in (name[:i] for i in range(len(name) - 1, 0, -1) if name[i].isupper()):
            navigate(item, base, out)
            if len(out) > before:
                break


def object_children(current: Item) -> list[Item]:
    """The items of the objects among the children of ``current``: taken again from each, the objects among the
    descendants of an object (``descendants()``, less its primitives). Only a property holding an object or an
    array is navigated, as :func:`navigate` navigates it (a primitive, or a primitive's ``_name`` companion, gives
    no object); the bare name of a choice element is navigated by :func:`children_of`'s own rule. For a question
    about the objects alone (dom-3: which ``reference`` texts are there), without an item made for every
    primitive."""
    data = current[0]
    if not isinstance(data, dict):
        return []
    base = current[2] or current[1]
    steps = _STEPS.get(base)
    children: list[Item] = []
    for key, value in data.items():
        if not isinstance(value, (dict, list)) or key[:1] == "_" or key == "resourceType":
            continue
        step = steps.get(key) if steps is not None else None
        if step is None:
            step = _step(base, key)
            steps = _STEPS.get(base)
        if step[0] is not None:
            _navigate_child(current, key, children)
            continue
        companion = data.get(step[3])
        if isinstance(value, list) or isinstance(companion, list):
            _append(children, value, companion, step[1], step[2])
        elif isinstance(value.get("resourceType"), str):
            children.append((value, value["resourceType"], value["resourceType"], None))
        else:
            children.append((value, step[1], step[2], companion))
    return [child for child in children if type(child[0]) is dict]  # as descendants() descends
