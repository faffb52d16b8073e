"""A journal note's text, made safe to show: MedCom FNUX simplified HTML only.

The Notes Observation carries the note base64-encoded as ``text/html``. In circulation are plain
text with CRLF line breaks, unprefixed XHTML (``p br b i em u tt``) and the same tags with an
``x:`` namespace prefix. Everything is run through ``nh3`` (the ammonia HTML sanitiser) with an
allow-list of those tags and no attributes at all: scripts and styles are dropped with their
content, event handlers, ``javascript:`` URLs, iframes, SVG and every other tag lose their markup
and leave only inert text.
"""

from __future__ import annotations

import base64
import binascii
import re

import nh3
from markupsafe import Markup, escape

ALLOWED_TAGS = {"p", "br", "b", "i", "em", "u", "tt"}
_PREFIXED = re.compile(r"<(/?)x:(p|br|b|i|em|u|tt)\b", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9:_-]*(\s[^<>]*)?/?>")


def decode(data: str | None) -> str:
    """The text of base64 ``data`` (UTF-8); empty when missing or not base64."""
    if not data:
        return ""
    try:
        return base64.b64decode(data, validate=False).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return ""


def is_blank(text: str) -> bool:
    return not nh3.clean(text, tags=set(), attributes={}).replace("&nbsp;", " ").strip()


def render(text: str) -> Markup:
    """The note as safe HTML: the allowed tags kept, everything else inert."""
    if not _TAG.search(text):  # plain text: keep its line breaks
        lines = text.replace("\r\n", "\n").replace("\r", "\n").strip("\n").split("\n")
        return Markup("<br>").join(escape(line) for line in lines)
    unprefixed = _PREFIXED.sub(lambda m: f"<{m.group(1)}{m.group(2).lower()}", text)
    cleaned = nh3.clean(unprefixed, tags=ALLOWED_TAGS, attributes={}, url_schemes=set(), strip_comments=True,
                        link_rel=None)
    return Markup(cleaned.strip())
