"""The FHIR-specific FHIRPath functions fhirpathpy lacks, plugged in through ``userInvocationTable``.

``resolve()``, ``hasValue()``, ``conformsTo(url)``, ``memberOf(vs)`` and ``htmlChecks()`` need to
know where they are evaluated: the Bundle the focus sits in, the validator (for conformance), the
terminology, and which constraint is running. The validator sets that :class:`EvaluationScope` in a
context variable around each evaluation; the functions read it. A function that cannot answer
(an unknown profile or value set) raises :class:`NotChecked`, which turns the constraint into a
"not checked" finding instead of a silent pass or a false failure.
"""

from __future__ import annotations

import contextvars
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

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


class NotChecked(Exception):
    """A function could not answer (unknown profile, value set, unresolvable input)."""


@dataclass
class EvaluationScope:
    """What the FHIR functions see during one evaluation."""

    resolve: Callable[[str], dict[str, Any] | None]
    conforms_to: Callable[[dict[str, Any], str], bool | None]
    member_of: Callable[[Any, str], bool | None]
    constraint_key: str | None = None
    narratives: dict[int, tuple[Any, tuple[list[str], list[str]]]] = field(default_factory=dict)


_scope: contextvars.ContextVar[EvaluationScope | None] = contextvars.ContextVar("fhirpath_scope", default=None)


@contextmanager
def evaluation_scope(scope: EvaluationScope) -> Iterator[EvaluationScope]:
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


def enter_scope(scope: EvaluationScope) -> contextvars.Token[EvaluationScope | None]:
    return _scope.set(scope)


def leave_scope(token: contextvars.Token[EvaluationScope | None]) -> None:
    _scope.reset(token)


def current_scope() -> EvaluationScope:
    scope = _scope.get()
    if scope is None:
        raise NotChecked("no evaluation scope (resolve/conformsTo/memberOf used outside validation)")
    return scope


def _resolve(inputs: list[Any]) -> list[Any]:
    scope = current_scope()
    out = []
    for item in inputs:
        reference = item.get("reference") if isinstance(item, dict) else item
        if isinstance(reference, str):
            target = scope.resolve(reference)
            if target is not None:
                out.append(target)
    return out


def _has_value(inputs: list[Any]) -> list[bool]:
    return [len(inputs) == 1 and inputs[0] is not None and not isinstance(inputs[0], dict | list)]


def conforms_to_values(inputs: list[Any], url: Any) -> list[bool]:
    """``conformsTo(url)`` for each input resource."""
    if not inputs:
        return []
    scope = current_scope()
    urls = url if isinstance(url, list) else [url]
    if len(urls) != 1 or not isinstance(urls[0], str):
        raise NotChecked("conformsTo() needs one profile URL")
    results = []
    for item in inputs:
        if not isinstance(item, dict) or "resourceType" not in item:
            results.append(False)
            continue
        answer = scope.conforms_to(item, urls[0])
        if answer is None:
            raise NotChecked(f"profile {urls[0]} is not available in the loaded packages")
        results.append(answer)
    return results


def member_of_values(inputs: list[Any], value_set: Any) -> list[bool]:
    """``memberOf(vs)`` for each input code, Coding or CodeableConcept."""
    if not inputs:
        return []
    scope = current_scope()
    urls = value_set if isinstance(value_set, list) else [value_set]
    if len(urls) != 1 or not isinstance(urls[0], str):
        raise NotChecked("memberOf() needs one value set URL")
    results = []
    for item in inputs:
        answer = scope.member_of(item, urls[0])
        if answer is None:
            raise NotChecked(f"membership of value set {urls[0]} could not be checked")
        results.append(answer)
    return results


def narrative_problems(div: Any, key: str | None) -> list[str]:
    """What is wrong with a Narrative ``div`` (txt-1: allowed markup; txt-2: non-whitespace content).

    ``key`` selects the check (``txt-1`` or ``txt-2``); any other key runs both.
    """
    markup, content = _narrative_checks(div)
    if key == "txt-1":
        return markup
    if key == "txt-2":
        return content
    return markup + content


def _narrative_checks(div: Any) -> tuple[list[str], list[str]]:
    """(markup problems, content problems) of a narrative div, from one parse."""
    if not isinstance(div, str):
        problem = ["the narrative is not a string of XHTML"]
        return problem, problem
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


def html_checks_values(inputs: list[Any]) -> list[bool]:
    """``htmlChecks()``: the narrative check of the running constraint (txt-1 / txt-2)."""
    if not inputs:
        return []
    scope = _scope.get()
    key = scope.constraint_key if scope else None
    results = []
    for item in inputs:
        if scope is None:
            results.append(not narrative_problems(item, key))
            continue
        cached = scope.narratives.get(id(item))
        if cached is None or cached[0] is not item:
            cached = (item, _narrative_checks(item))
            scope.narratives[id(item)] = cached
        markup, content = cached[1]
        problems = markup if key == "txt-1" else content if key == "txt-2" else markup + content
        results.append(not problems)
    return results


USER_FUNCTIONS: dict[str, dict[str, Any]] = {
    "resolve": {"fn": _resolve, "arity": {0: []}},
    "hasValue": {"fn": _has_value, "arity": {0: []}},
    "conformsTo": {"fn": conforms_to_values, "arity": {1: ["String"]}},
    "memberOf": {"fn": member_of_values, "arity": {1: ["String"]}},
    "htmlChecks": {"fn": html_checks_values, "arity": {0: []}},
}
