"""FHIR XML to FHIR JSON, driven by the R4 definitions (which elements repeat, which are primitives).

The rules are those of the FHIR XML and JSON formats: a primitive's ``value`` attribute becomes the
JSON value (typed: boolean, number, string) and its ``id`` / ``extension`` go to ``_name``; an
element that may repeat (base max > 1) is always a JSON array; a resource inside an element
(``contained``, ``Bundle.entry.resource``) is wrapped in an element named by its type in XML and
carries ``resourceType`` in JSON; the narrative ``div`` becomes its XHTML as a string. Elements the
definitions do not know are kept, so the validator reports them.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from nsp_sandbox.conformance.structure import ElementNode, StructureLibrary

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"
_INTEGERS = frozenset({"integer", "unsignedInt", "positiveInt"})


class XmlError(ValueError):
    """The input is not well-formed XML or not a FHIR resource in XML."""


def xml_to_json(raw: bytes, library: StructureLibrary) -> dict[str, Any]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_comments=True, remove_pis=True)
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        raise XmlError(str(exc)) from None
    namespace, local = _split(root.tag)
    if namespace != FHIR_NS:
        raise XmlError(f"root element <{local}> is not in the FHIR namespace {FHIR_NS}")
    return _resource(root, library)


def _split(tag: Any) -> tuple[str, str]:
    if not isinstance(tag, str):
        return "", ""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def _resource(element: Any, library: StructureLibrary) -> dict[str, Any]:
    _, rtype = _split(element.tag)
    structure = library.base_type(rtype)
    out: dict[str, Any] = {"resourceType": rtype}
    if structure is None or structure.root is None:
        _unknown_children(element, out)
        return out
    _children(element, structure.root, rtype, out, library)
    return out


def _children(element: Any, node: ElementNode, type_code: str | None, out: dict[str, Any],
              library: StructureLibrary) -> None:
    keys = library.child_set(node, type_code).keys
    for child in element:
        namespace, name = _split(child.tag)
        if not name:
            continue
        if namespace == XHTML_NS and name == "div":
            out["div"] = etree.tostring(child, encoding="unicode", with_tail=False)
            continue
        entry = keys.get(name)
        if entry is None:
            _put(out, name, _unknown(child), repeat=True)
            continue
        child_node, code = entry.element, entry.type_code
        code = code or _type_of(child_node)
        repeat = child_node.base_max != 1
        if code is not None and library.is_primitive(code):
            value = child.get("value")
            companion: dict[str, Any] = {}
            if child.get("id") is not None:
                companion["id"] = child.get("id")
            extensions = [_complex(ext, _extension_node(library), "Extension", library)
                          for ext in child if _split(ext.tag)[1] == "extension"]
            if extensions:
                companion["extension"] = extensions
            if code == "xhtml":
                divs = [c for c in child if _split(c.tag) == (XHTML_NS, "div")]
                value = etree.tostring(divs[0], encoding="unicode", with_tail=False) if divs else value
            _put_primitive(out, name, None if value is None else _typed(value, code), companion or None, repeat)
            continue
        if code is not None and (library.kind(code) == "resource" or code in ("Resource", "DomainResource")):
            inner = [c for c in child if isinstance(c.tag, str)]
            _put(out, name, _resource(inner[0], library) if inner else {}, repeat)
            continue
        _put(out, name, _complex(child, child_node, code, library), repeat)


def _complex(element: Any, node: ElementNode | None, code: str | None, library: StructureLibrary) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if element.get("id") is not None:
        out["id"] = element.get("id")
    if element.get("url") is not None:
        out["url"] = element.get("url")
    if node is None:
        _unknown_children(element, out)
    else:
        _children(element, node, code, out, library)
    return out


def _extension_node(library: StructureLibrary) -> ElementNode | None:
    structure = library.base_type("Extension")
    return structure.root if structure is not None else None


def _type_of(node: ElementNode) -> str | None:
    if len(node.types) == 1:
        return node.types[0].code
    if node.content_reference:
        return "BackboneElement"
    return None


def _typed(value: str, code: str) -> Any:
    if code == "boolean":
        return True if value == "true" else False if value == "false" else value
    if code in _INTEGERS:
        try:
            return int(value)
        except ValueError:
            return value
    if code == "decimal":
        try:
            number = float(value)
        except ValueError:
            return value
        return int(value) if value.lstrip("-").isdigit() else number
    return value


def _put(out: dict[str, Any], name: str, value: Any, repeat: bool) -> None:
    if repeat:
        out.setdefault(name, []).append(value)
    elif name in out:  # repeated where only one is allowed: keep all, the validator reports it
        existing = out[name]
        out[name] = [*existing, value] if isinstance(existing, list) else [existing, value]
    else:
        out[name] = value


def _put_primitive(out: dict[str, Any], name: str, value: Any, companion: dict[str, Any] | None,
                   repeat: bool) -> None:
    if repeat:
        values = out.setdefault(name, [])
        values.append(value)
        companions = out.get("_" + name)
        if companion is not None or companions is not None:
            companions = companions if companions is not None else []
            companions.extend([None] * (len(values) - 1 - len(companions)))
            companions.append(companion)
            out["_" + name] = companions
        return
    if value is not None:
        _put(out, name, value, False)
    if companion is not None:
        out["_" + name] = companion


def _unknown(element: Any) -> Any:
    children = [c for c in element if isinstance(c.tag, str)]
    if not children and element.get("value") is not None:
        return element.get("value")
    out: dict[str, Any] = {}
    _unknown_children(element, out)
    return out


def _unknown_children(element: Any, out: dict[str, Any]) -> None:
    for child in element:
        _, name = _split(child.tag)
        if name:
            _put(out, name, _unknown(child), repeat=True)
