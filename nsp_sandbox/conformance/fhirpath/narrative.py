"""The narrative checks of FHIR R4 (``txt-1``: only the allowed XHTML markup, no scripts;
``txt-2``: some non-whitespace content), as ``htmlChecks()`` evaluates them.
"""

from __future__ import annotations

import re
import threading
from typing import Any, Final

from lxml import etree  # type: ignore[import-untyped]

XHTML_NS: Final = "http://www.w3.org/1999/xhtml"

# Elements and attributes FHIR narrative may use (R4 Narrative: HTML 4.0 chapters 7-11 (not 9.4)
# and 12, images, <a> with name or href, internal style attributes).
NARRATIVE_ELEMENTS = frozenset({
    "a", "abbr", "acronym", "address", "b", "bdo", "big", "blockquote", "br", "caption", "cite", "code",
    "col", "colgroup", "dd", "dfn", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
    "img", "kbd", "li", "ol", "p", "pre", "q", "samp", "small", "span", "strong", "sub", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "ul", "var", "u", "s", "strike", "center", "font",
    "ins", "del",
})
NARRATIVE_ATTRIBUTES: Final = frozenset({
    "abbr", "accesskey", "align", "alt", "axis", "bgcolor", "border", "cellhalign", "cellpadding",
    "cellspacing", "cellvalign", "char", "charoff", "charset", "cite", "class", "colspan", "compact",
    "coords", "dir", "frame", "headers", "height", "href", "hreflang", "hspace", "id", "lang", "longdesc",
    "name", "nowrap", "rel", "rev", "rowspan", "rules", "scope", "shape", "span", "src", "start",
    "style", "summary", "tabindex", "title", "type", "valign", "value", "vspace", "width", "color",
    "size", "face", "datetime", "border-collapse",
})


_QUALIFIED_ELEMENTS: Final = frozenset(f"{{{XHTML_NS}}}{name}" for name in NARRATIVE_ELEMENTS)
_SCRIPT_URL: Final = re.compile(r"^\s*(javascript|vbscript|data:text/html)", re.IGNORECASE)
_XML_LANG: Final = "{http://www.w3.org/XML/1998/namespace}lang"
_parsers: Final = threading.local()


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


_CACHE_LIMIT: Final = 4096
# The characters of the narratives kept by their text, at most; a narrative larger than a sixteenth of it (an image
# inlined, say) is judged each time it comes.
_CACHE_BUDGET: Final = 16_000_000
_cache: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {}
_cache_size = 0


def narrative_checks(div: Any) -> tuple[list[str], list[str]]:
    """(markup problems, content problems) of a narrative div, from one parse.

    The answer depends on the text alone, so it is kept by the text (up to ``_CACHE_LIMIT``
    narratives and ``_CACHE_BUDGET`` characters; the oldest half is dropped when full): the same
    generated narrative in every message of a kind is parsed once. The lists returned are the
    caller's own.
    """
    if not isinstance(div, str):
        problem = ["the narrative is not a string of XHTML"]
        return problem, problem
    found = _cache.get(div)
    if found is None:
        key = _judged_key(div)
        if key is not None and _judged_by_edit(key, div):
            found = _NO_PROBLEMS
        else:
            markup, content = _narrative_checks(div)
            found = (tuple(markup), tuple(content))
            if key is not None and not markup and not content:
                _keep_as_judged(key, div)
        _remember(div, found)
    return list(found[0]), list(found[1])


def _remember(div: str, found: tuple[tuple[str, ...], tuple[str, ...]]) -> None:
    """``found`` kept for ``div``, within the cache's bounds (its oldest half let go, as often as needed)."""
    global _cache_size
    size = len(div)
    if size > _CACHE_BUDGET // 16:
        return
    while _cache and (len(_cache) >= _CACHE_LIMIT or _cache_size + size > _CACHE_BUDGET):
        texts = list(_cache)
        for text in texts[: max(1, len(texts) // 2)]:
            _cache.pop(text, None)
        _cache_size = sum(len(text) for text in list(_cache))
    _cache[div] = found
    _cache_size += size


def known_well_formed(text: str) -> bool:
    """Is ``text`` a narrative judged here without any problem, kept by its text? It is then well-formed XML,
    and holds only characters XML allows (no control character but tab, line feed and carriage return)."""
    found = _cache.get(text)
    return found is not None and not found[0] and not found[1]


# ---- a narrative that differs from one judged without problems only in its text and attribute values ----------
#
# A sender's narratives come from templates: from message to message the markup stays and what is inside it
# changes (a value, a name, a CPR, the resource's id in an anchor). Such a narrative is judged by what changed.
# ``_judged`` keeps narratives that had no problem at all and whose every "<" opens a tag and every ">" closes one
# (no comment, CDATA section or processing instruction; as many "<" as ">"): by their first ``_HEAD`` characters
# without digits, "a"-"f" and "-" (so that a fresh id or number there does not matter), the ``_CANDIDATES``
# latest. A new narrative is tried against those with its very first characters, then against the others.
#
# A new narrative is one of them with other text and attribute values when both split at every "<" into as many
# pieces, the first and last pieces (before the root element, and its end tag with what follows) are the same, and
# each piece that differs ("tag>text") has exactly one ">" in both (so both have as many ">") and differs only in
#   - its text: printable characters, tabs, line feeds and carriage returns (every one a character XML allows),
#     "&" only as one of the five predefined entities, and not only whitespace where the old text had more than
#     whitespace; or
#   - the values of its attributes: the tag the same once every quoted value is emptied, and each changed value
#     of such characters, without "<", with "&" only as a predefined entity, not of an ``xmlns`` declaration, and for
#     ``href`` and ``src`` without "&" and not a script URL.
# It is then the same markup around other text and values: well-formed, with the same elements and attributes,
# no script URL, and non-whitespace content where the old one had it. It has no problem either, as a parse would
# have found; it takes the place of the one it was judged by, first in line, so that the kept ones follow the
# sender's drift. One changed stretch inside a run of text is found by halving, without splitting either; for
# more, the new narrative is split once (a pass in C over its text) and its pieces compared in order with a kept
# one's, so that one of another kind is passed over at its count of pieces or at its first piece that differs in
# markup. (A sender's narratives that name the resource's fresh id in their first characters, as generated ones
# do, differ in several places from every kept one.)

_NO_PROBLEMS: Final[tuple[tuple[str, ...], tuple[str, ...]]] = ((), ())
_HEAD: Final = 128
_CANDIDATES: Final = 8
_JUDGED_LIMIT: Final = 1024
_LONGEST: Final = 1_000_000
_NOT_IN_KEY: Final = b"0123456789abcdef-"
_ENTITIES: Final = ("&lt;", "&gt;", "&amp;", "&quot;", "&apos;")
_ATTRIBUTE: Final = re.compile(r"""([^\s=]+)\s*=\s*("[^"]*"|'[^']*')""")
_QUOTED: Final = re.compile(r""""[^"]*"|'[^']*'""")
_FIRST_STRETCH: Final = 64  # characters compared first by _common_prefix
_judged: Final[dict[bytes, list[_Kept]]] = {}
# What the kept narratives hold, counted in characters of their text and _PIECE_COST for each piece they are split
# into (a string's own overhead); past _JUDGED_BUDGET, or past _JUDGED_LIMIT keys, every one is let go. A sender's
# templates, a few kilobytes each, take a small part of it; narratives of up to _LONGEST characters, each under a
# key of its own, would otherwise hold the memory of thousands of them.
_JUDGED_BUDGET: Final = 16_000_000
_PIECE_COST: Final = 64
_judged_size = 0


class _Kept:
    """A narrative judged without problems: its first ``_HEAD`` characters, its text, and its pieces (the text split
    at every "<"), split when first asked for."""

    __slots__ = ("_pieces", "head", "size", "text")

    def __init__(self, text: str, pieces: list[str] | None = None) -> None:
        self.head = text[:_HEAD]
        self.text = text
        self._pieces = pieces
        self.size = len(text) + (0 if pieces is None else _PIECE_COST * len(pieces))

    def pieces(self) -> list[str]:
        pieces = self._pieces
        if pieces is None:  # (two threads may both split it: the same pieces)
            pieces = self._pieces = self.text.split("<")
            self.size += _PIECE_COST * len(pieces)
            _count(_PIECE_COST * len(pieces))
        return pieces


def _forget() -> None:
    """Every narrative judged, kept or kept for its edits, let go."""
    global _judged_size, _cache_size
    _cache.clear()
    _judged.clear()
    _judged_size = _cache_size = 0


def _count(size: int) -> None:
    """``size`` more (or less) kept; past the bounds, every kept narrative let go."""
    global _judged_size
    _judged_size += size
    if _judged_size > _JUDGED_BUDGET or len(_judged) > _JUDGED_LIMIT:
        _judged.clear()
        _judged_size = 0


def _judged_key(div: str) -> bytes | None:
    """What a narrative is kept and looked up by in ``_judged``; None for one too long for it. (A short one, such as
    a DocumentReference's one line naming its patient, is kept by all of its text without digits, "a"-"f" and "-".)"""
    if len(div) > _LONGEST:
        return None
    return div[:_HEAD].encode("utf-8", "surrogatepass").translate(None, _NOT_IN_KEY)


def _keep_as_judged(key: bytes, div: str) -> None:
    if "<!" in div or "<?" in div or div.count("<") != div.count(">"):
        return
    candidates = _judged.get(key)
    if candidates is None:
        candidates = _judged[key] = []
    _keep_first(candidates, _Kept(div))


def _keep_first(kept: list[_Kept], judged: _Kept, instead_of: _Kept | None = None) -> None:
    """``judged`` first in ``kept`` (in place of ``instead_of``); beyond ``_CANDIDATES``, the oldest let go."""
    freed = 0
    if instead_of is not None and instead_of in kept:  # (another thread may have moved it meanwhile)
        kept.remove(instead_of)
        freed += instead_of.size
    kept.insert(0, judged)
    for dropped in kept[_CANDIDATES:]:
        freed += dropped.size
    del kept[_CANDIDATES:]
    _count(judged.size - freed)


def _judged_by_edit(key: bytes, div: str) -> bool:
    """Is ``div`` an edit of the text and attribute values of a narrative kept for ``key`` (see above)? It is then
    kept first, in place of the one it was judged by when that one has the same first characters (another, of its
    own kind, stays). Tried first: one changed stretch of text against those with the same first characters (a
    sender's next narrative of a kind, where its first characters hold no id); then every edit, against those with
    the same first characters first."""
    kept = _judged.get(key)
    if kept is None:
        return False
    head = div[:_HEAD]
    candidates = list(kept)
    for old in candidates:
        if old.head == head and _text_edit_of(old.text, div, _common_prefix(old.text, div)):
            _keep_first(kept, _Kept(div), old)
            return True
    pieces = div.split("<")
    for same_head in (True, False):
        for old in candidates:
            if (old.head == head) is same_head and _edit_of(old.pieces(), pieces):
                _keep_first(kept, _Kept(div, pieces), old if same_head else None)
                return True
    return False


def _edit_of_one_judged(div: str) -> bool:
    """Is ``div`` an edit of a narrative kept for it (see above)?"""
    key = _judged_key(div)
    kept = _judged.get(key) if key is not None else None
    pieces = div.split("<")
    return kept is not None and any(_edit_of(old.pieces(), pieces) for old in list(kept))


def _text_edit_of(old: str, div: str, start: int) -> bool:
    """Is ``div`` ``old`` with one stretch changed inside one run of text, neither version of that run holding "<",
    ">" or "&", the new stretch printable and not only whitespace? (A narrower case of :func:`_edit_of`'s, found
    by comparing slices, without splitting either narrative.) ``start``: how many first characters they share."""
    end = _common_suffix(old, div, min(len(old), len(div)) - start)
    old_end, new_end = len(old) - end, len(div) - end
    changed = div[start:new_end]
    if not changed.strip() or not _printable(changed):
        return False
    run_start = old.rfind(">", 0, start) + 1
    if run_start == 0 or old.rfind("<", 0, start) >= run_start:
        return False
    old_run_end = old.find("<", old_end)
    if old_run_end < 0:
        return False
    old_run = old[run_start:old_run_end]
    new_run = div[run_start:old_run_end - old_end + new_end]
    return not any(c in old_run or c in new_run for c in "<>&")


def _common_prefix(a: str, b: str, a_at: int = 0, b_at: int = 0) -> int:
    """How many characters ``a`` from ``a_at`` and ``b`` from ``b_at`` share. Slices of each are compared, each
    twice as long as the last, until two differ; the first difference is then found by halving within those. The
    work grows with the prefix found, not with what follows it (:func:`_edit_of` asks once per changed piece).
    Compiled, slices and ``==`` are direct calls, where ``str.startswith`` with a start would be a call by name."""
    limit = min(len(a) - a_at, len(b) - b_at)
    low, step = 0, _FIRST_STRETCH
    while True:
        high = min(low + step, limit)
        if a[a_at + low:a_at + high] != b[b_at + low:b_at + high]:
            break
        if high == limit:
            return limit
        low, step = high, step * 2
    high -= 1  # a[low:high] and b[low:high] differ: fewer than high characters are shared
    while low < high:
        middle = (low + high + 1) // 2
        if a[a_at + low:a_at + middle] == b[b_at + low:b_at + middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _common_suffix(a: str, b: str, limit: int) -> int:
    """How many last characters ``a`` and ``b`` share, at most ``limit`` (no more than the shorter one's length)."""
    low, high = 0, limit
    la, lb = len(a), len(b)
    while low < high:
        middle = (low + high + 1) // 2
        if a[la - middle:la - low] == b[lb - middle:lb - low]:
            low = middle
        else:
            high = middle - 1
    return low


def _edit_of(old: list[str], new: list[str]) -> bool:
    """Are the pieces ``new`` those of ``old`` with other text and attribute values (see above)? The pieces are
    compared in order, and each that differs is judged alone."""
    count = len(old)
    if len(new) != count or old[0] != new[0] or old[count - 1] != new[count - 1]:
        return False
    for at in range(1, count - 1):
        old_piece = old[at]
        new_piece = new[at]
        if old_piece != new_piece and not _piece_edit(old_piece, new_piece):
            return False
    return True


def _piece_edit(old: str, new: str) -> bool:
    """Is the piece ``new`` ("tag>text", between two "<") ``old`` with other text or attribute values? Each has
    exactly one ">" (so that both narratives have as many ">" as they have "<")."""
    old_tag, old_closed, old_text = old.partition(">")
    new_tag, closed, new_text = new.partition(">")
    if not closed or not old_closed or ">" in new_text or ">" in old_text:
        return False
    if old_text != new_text and not _text_edit(old_text, new_text):
        return False
    return old_tag == new_tag or _values_edit(old_tag, new_tag)


def _text_edit(old: str, new: str) -> bool:
    if not _printable(new) or not _references_ok(new):
        return False
    return bool(new.strip()) or not old.strip()


def _values_edit(old: str, new: str) -> bool:
    """Is the tag ``new`` the tag ``old`` with other attribute values (see above)?"""
    if "'" not in old and "'" not in new:
        # Every value in double quotes, as a sender's generator writes them: split at the quotes, the pieces
        # alternate between markup and values. (``old`` is a well-formed tag: each of its quotes opens or closes a
        # value, and each value follows a name and "=".)
        old_parts = old.split('"')
        new_parts = new.split('"')
        count = len(old_parts)
        if count == len(new_parts) and count % 2 == 1:
            for at in range(0, count, 2):
                if old_parts[at] != new_parts[at]:
                    return False
            for at in range(1, count, 2):
                value = new_parts[at]
                if value != old_parts[at]:
                    before = old_parts[at - 1].rstrip()  # "… name =", as the value's own markup
                    names = before[:-1].split()
                    if not before.endswith("=") or not names or not _value_edit(names[-1], value):
                        return False
            return True
    if _QUOTED.sub('""', old) != _QUOTED.sub('""', new):
        return False
    old_values = _ATTRIBUTE.findall(old)
    new_values = _ATTRIBUTE.findall(new)
    if len(old_values) != len(new_values):
        return False
    for (name, old_value), (_, new_value) in zip(old_values, new_values, strict=True):
        if old_value != new_value and not _value_edit(name, new_value[1:-1]):
            return False
    return True


def _value_edit(name: str, value: str) -> bool:
    """May the attribute ``name`` (of a tag otherwise the same) take the new ``value``?"""
    if name.startswith("xmlns") or "<" in value or not _printable(value) or not _references_ok(value):
        return False
    return not ((name == "href" or name == "src") and ("&" in value or _SCRIPT_URL.match(value)))


_LINE_BREAKS: Final = str.maketrans("", "", "\t\n\r")


def _printable(text: str) -> bool:
    """Is every character of ``text`` printable, or a tab, line feed or carriage return (as in a narrative laid out
    on several lines)? Each is a character XML allows."""
    return text.isprintable() or text.translate(_LINE_BREAKS).isprintable()


def _references_ok(text: str) -> bool:
    """Is every "&" in ``text`` one of the five predefined entities?"""
    ampersands = text.count("&")
    return ampersands == 0 or ampersands == sum(text.count(entity) for entity in _ENTITIES)


def _narrative_checks(div: str) -> tuple[list[str], list[str]]:
    tools = _tools()
    try:
        data = div.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate, read from a JSON escape: no character at all
        problem = [f"the narrative is not well-formed XHTML: U+{ord(div[exc.start]):04X} at {exc.start} is a lone "
                   "surrogate, not a character"]
        return problem, problem
    try:
        root = etree.fromstring(data, tools.parser)
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
