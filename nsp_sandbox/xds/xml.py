"""Small lxml helpers shared by the XDS wire modules: a safe parser, namespaced child look-ups and
element paths for error messages (``/Envelope/Body/AdhocQueryRequest/AdhocQuery/Slot[2]``)."""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from nsp_sandbox.xds.errors import XdsWireError

# No network, no external entities, no DTD loading: request bodies are untrusted (XXE).
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True,
                          remove_blank_text=False)  # fmt: skip


def parse_xml(data: bytes, location: str = "message") -> etree._Element:
    """Parse ``data`` as an XML document; malformed XML is an :class:`XdsWireError` with line/column."""
    if not data.strip():
        raise XdsWireError("the XML document is empty", location)
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise XdsWireError(f"not well-formed XML: {exc.msg}", f"{location} line {exc.lineno}") from None
    if root is None:
        raise XdsWireError("the XML document has no root element", location)
    return root


def local_name(element: etree._Element) -> str:
    """The element's name without its namespace."""
    return etree.QName(element).localname


def namespace_of(element: etree._Element) -> str:
    return etree.QName(element).namespace or ""


def elements(parent: etree._Element) -> Iterator[etree._Element]:
    """Child elements only (comments and processing instructions skipped)."""
    for node in parent:
        if isinstance(node.tag, str):
            yield node


def children(parent: etree._Element, namespace: str, name: str) -> list[etree._Element]:
    return parent.findall(f"{{{namespace}}}{name}")


def child(parent: etree._Element, namespace: str, name: str) -> etree._Element | None:
    return parent.find(f"{{{namespace}}}{name}")


def required_child(parent: etree._Element, namespace: str, name: str, path: str) -> etree._Element:
    """The single child ``name``; missing is an :class:`XdsWireError` naming the parent's path."""
    found = children(parent, namespace, name)
    if not found:
        raise XdsWireError(f"missing element {name}", path)
    if len(found) > 1:
        raise XdsWireError(f"element {name} appears {len(found)} times, expected once", path)
    return found[0]


def text_of(element: etree._Element | None) -> str:
    """Stripped text content, '' when absent."""
    if element is None:
        return ""
    return "".join(element.itertext()).strip()


def required_attribute(element: etree._Element, name: str, path: str) -> str:
    value = element.get(name)
    if value is None or not value.strip():
        raise XdsWireError(f"attribute {name} is missing or empty on {local_name(element)}", path)
    return value


def step(path: str, name: str, index: int | None = None) -> str:
    """Extend an element path: ``step('/Body', 'Slot', 2)`` → ``/Body/Slot[2]`` (1-based, as XPath)."""
    return f"{path}/{name}" + (f"[{index}]" if index is not None else "")


def sub(parent: etree._Element, namespace: str, name: str, attributes: dict[str, str | None] | None = None,
        text: str | None = None) -> etree._Element:  # fmt: skip
    """Append a child element; attributes whose value is None are left out."""
    element = etree.SubElement(parent, f"{{{namespace}}}{name}")
    for key, value in (attributes or {}).items():
        if value is not None:
            element.set(key, value)
    if text is not None:
        element.text = text
    return element
