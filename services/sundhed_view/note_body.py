"""A journal note's text, made safe to show: MedCom FNUX simplified HTML only.

The Notes Observation carries the note base64-encoded as ``text/html``. In circulation are plain
text with CRLF line breaks, unprefixed XHTML (``p br b i em u tt``) and the same tags with an
``x:`` namespace prefix. The viewer shows whatever a document holds only after the same reduction
the PLSP hub applies at the source (:mod:`nsp_sandbox.simplified_html`): the allowed tags without
attributes; scripts and styles dropped with their content; event handlers, ``javascript:`` URLs,
iframes, SVG and every other tag reduced to inert text. A document from any source is treated so.
"""

from __future__ import annotations

import base64
import binascii

from markupsafe import Markup

from nsp_sandbox.simplified_html import clean_note_html


def decode(data: str | None) -> str:
    """The text of base64 ``data`` (UTF-8); empty when missing or not base64."""
    if not data:
        return ""
    try:
        return base64.b64decode(data, validate=False).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return ""


def is_blank(text: str) -> bool:
    return clean_note_html(text).is_blank


def render(text: str) -> Markup:
    """The note as safe HTML: the allowed tags kept, everything else inert."""
    return Markup(clean_note_html(text.strip("\r\n")).html)
