"""FHIR XML ⇄ FHIR JSON, driven by the R4 definitions (which elements repeat, which are primitives,
in which order elements appear).

The rules are those of the FHIR XML and JSON formats: a primitive's ``value`` attribute becomes the
JSON value (typed: boolean, number, string) and its ``id`` / ``extension`` go to ``_name``; an
element that may repeat (base max > 1) is always a JSON array; a resource inside an element
(``contained``, ``Bundle.entry.resource``) is wrapped in an element named by its type in XML and
carries ``resourceType`` in JSON; the narrative ``div`` becomes its XHTML as a string; ``id`` of a
datatype and ``url`` of an extension are XML attributes. XML elements are written in the order of
the definitions.

Reading is lenient by default: elements the definitions do not know are kept, so the validator
reports them. ``strict=True`` (what arrives over HTTP) refuses them instead, naming the element's
path, as the strict JSON reader (:mod:`~nsp_sandbox.conformance.strict_json`) refuses duplicate keys and deep
nesting: an element that may occur once appearing twice (XML's duplicate key), an unknown element,
an element outside the FHIR namespace, and nesting deeper than ``MAX_DEPTH``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lxml import etree

from nsp_sandbox.conformance.json_bounds import MAX_DEPTH, too_deep
from nsp_sandbox.conformance.structure import ElementNode, StructureLibrary

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"
_INTEGERS = frozenset({"integer", "unsignedInt", "positiveInt"})
_NUMBERS = _INTEGERS | {"decimal"}
_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")  # JSON's number (RFC 8259 §6)
_INFINITY = float("inf")


class XmlError(ValueError):
    """The input is not well-formed XML or not a FHIR resource in XML; ``rule`` says which check,
    ``path`` names the element (FHIRPath-like) when there is one."""

    def __init__(self, message: str, rule: str = "xml-syntax", path: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.path = path


def _parser() -> Any:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           remove_comments=True, remove_pis=True)


def xml_to_json(raw: bytes, library: StructureLibrary, *, strict: bool = False) -> dict[str, Any]:
    """The FHIR XML resource ``raw`` as FHIR JSON; :class:`XmlError` when it cannot be read (and, with
    ``strict``, when it has elements FHIR does not define there)."""
    try:
        root = etree.fromstring(raw, _parser())
    except etree.XMLSyntaxError as exc:
        raise XmlError(str(exc)) from None
    namespace, local = _split(root.tag)
    if namespace != FHIR_NS:
        raise XmlError(f"root element <{local}> is not in the FHIR namespace {FHIR_NS}", "xml-namespace")
    try:
        out = _Reader(library, strict).resource(root, local, 0)
    except RecursionError:
        raise XmlError(f"XML nested deeper than {MAX_DEPTH} levels", "xml-depth") from None
    if strict and too_deep(out):
        raise XmlError(f"XML nested deeper than {MAX_DEPTH} levels", "xml-depth")
    return out


def _split(tag: Any) -> tuple[str, str]:
    if not isinstance(tag, str):
        return "", ""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


class _Reader:
    def __init__(self, library: StructureLibrary, strict: bool) -> None:
        self.library = library
        self.strict = strict

    def refuse(self, message: str, rule: str, path: str) -> None:
        if self.strict:
            raise XmlError(f"{message} ({path})", rule, path)

    def resource(self, element: Any, path: str, depth: int) -> dict[str, Any]:
        _, rtype = _split(element.tag)
        structure = self.library.base_type(rtype)
        out: dict[str, Any] = {"resourceType": rtype}
        if structure is None or structure.root is None or structure.kind != "resource":
            self.refuse(f"<{rtype}> is not a FHIR resource type", "xml-unknown-element", path)
            _unknown_children(element, out)
            return out
        self.children(element, structure.root, rtype, out, path, depth)
        return out

    def children(self, element: Any, node: ElementNode, type_code: str | None, out: dict[str, Any],
                 path: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise XmlError(f"XML nested deeper than {MAX_DEPTH} levels", "xml-depth", path)
        library = self.library
        keys = library.child_set(node, type_code).keys
        for child in element:
            namespace, name = _split(child.tag)
            if not name:
                continue
            where = f"{path}.{name}"
            if namespace == XHTML_NS and name == "div":
                out["div"] = etree.tostring(child, encoding="unicode", with_tail=False)
                continue
            entry = keys.get(name) if namespace == FHIR_NS else None
            if entry is None:
                self.refuse(f"Unknown element '{name}'" + ("" if namespace == FHIR_NS else f" in namespace "
                            f"'{namespace}'"), "xml-unknown-element", where)
                _put(out, name, _unknown(child), repeat=True)
                continue
            child_node, code = entry.element, entry.type_code
            code = code or _type_of(child_node)
            repeat = child_node.base_max != 1
            if not repeat and (name in out or "_" + name in out):
                self.refuse(f"Element '{name}' occurs more than once where FHIR allows one", "xml-repeated-element",
                            where)
            if code is not None and library.is_primitive(code):
                self.primitive(child, name, code, repeat, out, where, depth)
            elif code is not None and (library.kind(code) == "resource" or code in ("Resource", "DomainResource")):
                inner = [c for c in child if isinstance(c.tag, str)]
                if self.strict and len(inner) != 1:
                    raise XmlError(f"'{name}' holds exactly one resource ({where})", "xml-resource", where)
                _put(out, name, self.resource(inner[0], where, depth + 1) if inner else {}, repeat)
            else:
                _put(out, name, self.complex(child, child_node, code, where, depth + 1), repeat)

    def primitive(self, child: Any, name: str, code: str, repeat: bool, out: dict[str, Any], where: str,
                  depth: int) -> None:
        value = child.get("value")
        companion: dict[str, Any] = {}
        if child.get("id") is not None:
            companion["id"] = child.get("id")
        extensions = []
        for ext in child:
            namespace, local = _split(ext.tag)
            if local == "extension" and namespace == FHIR_NS:
                extensions.append(self.complex(ext, _extension_node(self.library), "Extension",
                                               f"{where}.extension", depth + 1))
            elif local and not (code == "xhtml" and namespace == XHTML_NS):
                self.refuse(f"Unknown element '{local}'", "xml-unknown-element", f"{where}.{local}")
        if extensions:
            companion["extension"] = extensions
        if code == "xhtml":
            divs = [c for c in child if _split(c.tag) == (XHTML_NS, "div")]
            value = etree.tostring(divs[0], encoding="unicode", with_tail=False) if divs else value
        typed = None if value is None else _typed(value, code, self.library)
        _put_primitive(out, name, typed, companion or None, repeat)

    def complex(self, element: Any, node: ElementNode | None, code: str | None, path: str,
                depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if element.get("id") is not None:
            out["id"] = element.get("id")
        if element.get("url") is not None:
            out["url"] = element.get("url")
        if node is None:
            _unknown_children(element, out)
        else:
            self.children(element, node, code, out, path, depth)
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


def _typed(value: str, code: str, library: StructureLibrary) -> Any:
    """A primitive's ``value`` attribute as its JSON value. A number is read only when the text is one
    by its type's own regex (the core package's: ASCII digits, no leading zero, no space, no sign but
    ``-``) and JSON can hold it (a double for a decimal). Python's ``int``
    and ``float`` also take ``+5``, ``1_000``, `` 12``, other scripts' digits, ``NaN`` and ``1e400``.
    Text that is no value of its type stays a string, as for a boolean, and the validator names it."""
    if code == "boolean":
        return True if value == "true" else False if value == "false" else value
    if code not in _NUMBERS:
        return value
    regex = library.primitive_regex(code)
    if not (regex.fullmatch(value) if regex is not None else _NUMBER.fullmatch(value)):
        return value
    try:
        number = int(value) if code in _INTEGERS or value.lstrip("-").isdigit() else float(value)
    except ValueError:  # more digits than int() reads (sys.get_int_max_str_digits())
        return value
    return value if number in (_INFINITY, -_INFINITY) else number


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


# ---- FHIR JSON to FHIR XML ------------------------------------------------------------------------


def json_to_xml(resource: dict[str, Any], library: StructureLibrary) -> bytes:
    """The FHIR JSON ``resource`` as FHIR XML (UTF-8, with declaration); :class:`XmlError` naming the
    path of a property FHIR does not define (nothing is dropped silently)."""
    return etree.tostring(_Writer(library).resource(resource, None, str(resource.get("resourceType"))),
                          xml_declaration=True, encoding="UTF-8")


class _Writer:
    def __init__(self, library: StructureLibrary) -> None:
        self.library = library

    def resource(self, data: dict[str, Any], parent: Any, path: str) -> Any:
        rtype = data.get("resourceType")
        structure = self.library.base_type(rtype) if isinstance(rtype, str) else None
        if structure is None or structure.root is None or structure.kind != "resource":
            raise XmlError(f"'{rtype}' is not a FHIR resource type ({path})", "xml-unknown-element", path)
        tag = f"{{{FHIR_NS}}}{rtype}"
        element = etree.Element(tag, nsmap={None: FHIR_NS}) if parent is None else etree.SubElement(parent, tag)
        self.children(element, data, structure.root, rtype, path, resource=True)
        return element

    def children(self, element: Any, data: dict[str, Any], node: ElementNode, type_code: str | None, path: str,
                 *, resource: bool) -> None:
        attributes = () if resource else ("id", "url") if type_code == "Extension" else ("id",)
        for name in attributes:
            if name in data:
                element.set(name, str(data[name]))
        keys = self.library.child_set(node, type_code).keys
        known = {"resourceType", *attributes}
        for name, info in keys.items():
            if name in attributes or (name not in data and "_" + name not in data):
                continue
            known.update((name, "_" + name))
            code = info.type_code or _type_of(info.element)
            where = f"{path}.{name}"
            if name == "div" and code == "xhtml":
                element.append(etree.fromstring(str(data[name]).encode("utf-8"), _parser()))
            elif code is not None and self.library.is_primitive(code):
                self.primitive(element, name, data.get(name), data.get("_" + name), where)
            elif code is not None and (self.library.kind(code) == "resource"
                                       or code in ("Resource", "DomainResource")):
                for item in _listed(data[name]):
                    self.resource(item, etree.SubElement(element, f"{{{FHIR_NS}}}{name}"), where)
            else:
                for item in _listed(data[name]):
                    child = etree.SubElement(element, f"{{{FHIR_NS}}}{name}")
                    self.children(child, item if isinstance(item, dict) else {}, info.element, code, where,
                                  resource=False)
        unknown = [k for k in data if k not in known]
        if unknown:
            raise XmlError(f"Unknown element '{unknown[0]}' ({path}.{unknown[0]})", "xml-unknown-element",
                           f"{path}.{unknown[0]}")

    def primitive(self, element: Any, name: str, value: Any, companion: Any, path: str) -> None:
        values = value if isinstance(value, list) else [value]
        companions = companion if isinstance(companion, list) else [companion]
        companions = companions + [None] * (len(values) - len(companions))
        for item, extra in zip(values, companions, strict=False):
            child = etree.SubElement(element, f"{{{FHIR_NS}}}{name}")
            if isinstance(extra, dict) and "id" in extra:
                child.set("id", str(extra["id"]))
            if item is not None:
                child.set("value", _text(item))
            if isinstance(extra, dict):
                node = _extension_node(self.library)
                for ext in _listed(extra.get("extension") or []):
                    if node is not None and isinstance(ext, dict):
                        self.children(etree.SubElement(child, f"{{{FHIR_NS}}}extension"), ext, node, "Extension",
                                      f"{path}.extension", resource=False)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, float | int):
        return json.dumps(value)
    return str(value)
