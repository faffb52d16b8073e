"""A note body reduced to the simplified HTML that MedCom Notes allows (the FNUX conventions).

Notes carries the note text base64-encoded as ``text/html`` and "follows the same conventions as
defined in the MedCom FNUX standard (SimplifiedHTML) … line breaks, bold, italics, underline, and
monospaced text are supported": ``p``, ``br``, ``b``, ``i``, ``em``, ``u``, ``tt``. GP systems send
three forms, and :func:`clean_note_html` takes all of them:

- plain text with CRLF line breaks → escaped text with ``<br/>``;
- unprefixed XHTML (``<p>…<br/>…</p>``);
- ``x:``-prefixed XHTML (``<x:p>…<x:br/>…</x:p>``) → the same, unprefixed.

Everything else goes: scripts and styles with their content, event handler and other attributes,
``javascript:`` URLs, comments, processing instructions and unsupported tags (whose text is kept
where a reader expects it: ``<span>``, ``<a>``, ``<div>`` …). Literal ``\\t`` escape sequences
(MedCom's ``tec-invalidWrongFormatting`` example) are replaced by a space and reported. The
sanitising is done by ammonia (``nh3``); the result is re-serialised as well-formed XHTML.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser

import nh3

ALLOWED_TAGS = frozenset({"p", "br", "b", "i", "em", "u", "tt"})
# Removed together with everything inside them: never text a reader of the note expects.
DROP_CONTENT_TAGS = frozenset({"script", "style", "iframe", "noscript", "template", "object", "embed",
                               "applet", "frame", "frameset", "noembed", "noframes", "title", "head",
                               "xmp", "plaintext"})
VOID_TAGS = frozenset({"br"})

_PREFIXED_TAG = re.compile(r"<(/?)x:([A-Za-z][\w.-]*)")
_CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.DOTALL)
_TAG_LIKE = re.compile(r"<(?:/?[A-Za-z]|[!?])")  # what an HTML parser reads as markup
_LITERAL_TAB = re.compile(r"\\t")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Characters XML 1.0 does not allow (C0 controls other than TAB, LF, CR; lone surrogates; U+FFFE/F).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NAMESPACE_ATTRIBUTE = re.compile(r"^xmlns(:[\w.-]+)?\Z")


@dataclass(frozen=True)
class CleanedNote:
    """The note body as simplified XHTML, what was taken out of it, and whether any text is left."""

    html: str
    removed: tuple[str, ...]
    is_blank: bool


def clean_note_html(raw: str) -> CleanedNote:
    """Reduce ``raw`` (plain text, XHTML or ``x:``-prefixed XHTML) to the allowed subset."""
    removed: list[str] = []

    def note(what: str) -> None:
        if what not in removed:
            removed.append(what)

    text = raw
    if _NOT_XML.search(text):
        note("control characters")
        text = _NOT_XML.sub("", text)
    if _LITERAL_TAB.search(text):
        note("literal \\t")
        text = _LITERAL_TAB.sub(" ", text)
    text = _PREFIXED_TAG.sub(r"<\1\2", text)
    # CDATA is text in XHTML; an HTML parser would drop it as a comment.
    text = _CDATA.sub(lambda m: html.escape(m.group(1), quote=False), text)

    if not _TAG_LIKE.search(text):
        lines = _LINE_BREAK.split(html.unescape(text) if "&" in text else text)
        body = "<br/>".join(_escape(_NOT_XML.sub("", line)) for line in lines)
        return CleanedNote(body, tuple(removed), not _visible_text(body))

    survey = _Survey()
    survey.feed(text)
    survey.close()
    for what in survey.removed:
        note(what)
    sanitised = nh3.clean(text, tags=set(ALLOWED_TAGS), clean_content_tags=set(DROP_CONTENT_TAGS),
                          attributes={}, strip_comments=True, link_rel=None)
    body = _to_xhtml(sanitised)
    return CleanedNote(body, tuple(removed), not _visible_text(body))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _visible_text(xhtml: str) -> bool:
    serializer = _XhtmlWriter()
    serializer.feed(xhtml)
    serializer.close()
    return bool("".join(serializer.text).strip())


class _Survey(HTMLParser):
    """Names what the sanitiser will take out of the input (it does not say so itself)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.removed: list[str] = []

    def _add(self, what: str) -> None:
        if what not in self.removed:
            self.removed.append(what)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self._add(f"<{tag}>")
        for name, value in attrs:
            if _NAMESPACE_ATTRIBUTE.match(name):
                continue  # a namespace declaration of the XHTML input, not content
            self._add(f"{name} attribute")
            scheme = re.sub(r"[\s\x00-\x1f]", "", html.unescape(value or "")).lower().split(":", 1)
            if len(scheme) == 2 and scheme[0] in ("javascript", "vbscript", "data"):
                self._add(f"{scheme[0]}: URL")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag not in ALLOWED_TAGS:
            self._add(f"<{tag}>")

    def handle_comment(self, data: str) -> None:
        self._add("comment")

    def handle_decl(self, decl: str) -> None:
        self._add("<!DOCTYPE>" if decl.lower().startswith("doctype") else "declaration")

    def handle_pi(self, data: str) -> None:
        self._add("processing instruction")

    def unknown_decl(self, data: str) -> None:
        self._add("declaration")


class _XhtmlWriter(HTMLParser):
    """Re-serialises the sanitiser's HTML (only allowed tags, no attributes) as well-formed XHTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.text: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            return
        if tag in VOID_TAGS:
            self.out.append(f"<{tag}/>")
            return
        self.out.append(f"<{tag}>")
        self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ALLOWED_TAGS:
            self.out.append(f"<{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.open:
            return
        while self.open:
            top = self.open.pop()
            self.out.append(f"</{top}>")
            if top == tag:
                break

    def handle_data(self, data: str) -> None:
        data = _NOT_XML.sub("", data)
        self.text.append(data)
        self.out.append(_escape(data))

    def close(self) -> None:
        super().close()
        while self.open:
            self.out.append(f"</{self.open.pop()}>")


def _to_xhtml(sanitised: str) -> str:
    writer = _XhtmlWriter()
    writer.feed(sanitised)
    writer.close()
    return "".join(writer.out)
