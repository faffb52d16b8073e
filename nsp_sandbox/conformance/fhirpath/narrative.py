"""The narrative checks of FHIR R4 (``txt-1``: only the allowed XHTML markup, no scripts;
``txt-2``: some non-whitespace content), as ``htmlChecks()`` evaluates them.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

XHTML_NS = "http://www.w3.org/1999/xhtml"

# Elements and attributes FHIR narrative may use (R4 Narrative: HTML 4.0 chapters 7-11 (not 9.4)
# and 12, images, <a> with name or href, internal style attributes).
NARRATIVE_ELEMENTS = frozenset({
    "a", "abbr", "acronym", "address", "b", "bdo", "big", "blockquote", "br", "caption", "cite", "code",
    "col", "colgroup", "dd", "dfn", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
    "img", "kbd", "li", "ol", "p", "pre", "q", "samp", "small", "span", "strong", "sub", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "ul", "var", "u", "s", "strike", "center", "font",
    "ins", "del",
})
NARRATIVE_ATTRIBUTES = frozenset({
    "abbr", "accesskey", "align", "alt", "axis", "bgcolor", "border", "cellhalign", "cellpadding",
    "cellspacing", "cellvalign", "char", "charoff", "charset", "cite", "class", "colspan", "compact",
    "coords", "dir", "frame", "headers", "height", "href", "hreflang", "hspace", "id", "lang", "longdesc",
    "name", "nowrap", "rel", "rev", "rowspan", "rules", "scope", "shape", "span", "src", "start",
    "style", "summary", "tabindex", "title", "type", "valign", "value", "vspace", "width", "color",
    "size", "face", "datetime", "border-collapse",
})


_QUALIFIED_ELEMENTS = frozenset(f"{{{XHTML_NS}}}{name}" for name in NARRATIVE_ELEMENTS)
_SCRIPT_URL = re.compile(r"^\s*(javascript|vbscript|data:text/html)", re.IGNORECASE)
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_parsers = threading.local()


def narrative_problems(div: Any, key: str | None) -> list[str]:
    """What is wrong with a Narrative ``div`` (txt-1: allowed markup; txt-2: non-whitespace content).

    ``key`` selects the check (``txt-1`` or ``txt-2``); any other key runs both.
    """
    markup, content = narrative_checks(div)
    if key == "txt-1":
        return markup
    if key == "txt-2":
        return content
    return markup + content


_CACHE_LIMIT = 4096
_cache: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}


def narrative_checks(div: Any) -> tuple[list[str], list[str]]:
    """(markup problems, content problems) of a narrative div, from one parse.

    The answer depends on the text alone, so it is kept by the text (up to ``_CACHE_LIMIT``
    narratives; the oldest half is dropped when full): the same generated narrative in every
    message of a kind is parsed once. The lists returned are the caller's own.
    """
    if not isinstance(div, str):
        problem = ["the narrative is not a string of XHTML"]
        return problem, problem
    found = _cache.get(div)
    if found is None:
        markup, content = _narrative_checks(div)
        found = (tuple(markup), tuple(content))
        if len(_cache) >= _CACHE_LIMIT:
            for key in list(_cache)[: _CACHE_LIMIT // 2]:
                _cache.pop(key, None)
        _cache[div] = found
    return list(found[0]), list(found[1])


def _narrative_checks(div: str) -> tuple[list[str], list[str]]:
    tools = _tools()
    try:
        root = etree.fromstring(div.encode("utf-8"), tools.parser)
    except etree.XMLSyntaxError as exc:
        problem = [f"the narrative is not well-formed XHTML: {exc}"]
        return problem, problem
    markup: list[str] = []
    if root.tag != f"{{{XHTML_NS}}}div":
        markup.append("the narrative root must be an XHTML <div>")
    for el in root.iter():
        tag = el.tag
        if tag not in _QUALIFIED_ELEMENTS:
            if not isinstance(tag, str):
                continue
            markup.append(f"element <{tag.rpartition('}')[2]}> is not allowed in narrative")
            continue
        for name in el.keys():  # noqa: SIM118 (iterating an element gives its children): attribute names
            if name not in NARRATIVE_ATTRIBUTES and name != _XML_LANG:
                markup.append(f"attribute {name.rpartition('}')[2]} on <{tag.rpartition('}')[2]}> "
                              "is not allowed in narrative")
            elif name in ("href", "src") and _SCRIPT_URL.match(el.get(name)):
                markup.append(f"script URL in {name} is not allowed")
    content: list[str] = []
    if not tools.has_content(root):
        content.append("the narrative has no non-whitespace content")
    return markup, content


class _NarrativeTools:
    """Parser and compiled XPath test for narratives (lxml objects are per thread)."""

    def __init__(self) -> None:
        ns = {"h": XHTML_NS}
        self.parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                                      remove_comments=True, remove_pis=True)
        self.has_content = etree.XPath(
            "boolean(normalize-space(string(.)) != '' or descendant::h:img)", namespaces=ns)


def _tools() -> _NarrativeTools:
    tools = getattr(_parsers, "tools", None)
    if tools is None:
        tools = _NarrativeTools()
        _parsers.tools = tools
    return tools
