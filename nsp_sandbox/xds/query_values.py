"""The value syntax of stored-query parameters (ITI TF-2 §3.18.4.1.2.3.5-6).

A ``rim:Value`` holds a single-quoted string (``'…'``, an embedded quote doubled: ``'O''Brien'``), an
unquoted number or DTM (``20171231000000``), or a parenthesised list of those (``('a','b')``).
:func:`parse_value` returns the items as strings; :func:`format_value` writes them back.
"""

from __future__ import annotations

from collections.abc import Sequence

from nsp_sandbox.xds.errors import XdsWireError

_PARAM_ERROR = "XDSRegistryError"


def _quoted(text: str, start: int, location: str) -> tuple[str, int]:
    """The quoted string beginning at ``start`` (a quote) and the index just past its closing quote."""
    chars: list[str] = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == "'":
            if text.startswith("''", index):
                chars.append("'")
                index += 2
                continue
            return "".join(chars), index + 1
        chars.append(char)
        index += 1
    raise XdsWireError(f"unterminated quoted string in {text!r}", location, xds_code=_PARAM_ERROR)


def _item(text: str, start: int, location: str, strict: bool) -> tuple[str, int]:
    if start < len(text) and text[start] == "'":
        return _quoted(text, start, location)
    end = start
    while end < len(text) and text[end] not in ",)":
        end += 1
    bare = text[start:end].strip()
    if not bare or (strict and not all(c in "0123456789-+." for c in bare)):
        raise XdsWireError(f"a query value must be quoted unless it is a number or a time, got {bare!r} in {text!r}",
                           location, xds_code=_PARAM_ERROR)  # fmt: skip
    return bare, end


def parse_value(text: str, location: str = "Value", *, strict: bool = False) -> list[str]:
    """The items of one ``rim:Value``: one for a scalar, several for a ``(…)`` list.

    Unquoted strings are tolerated (real DDS clients send ``2512489996^^^&…&ISO`` bare); with
    ``strict`` only numbers and times may go unquoted, as TF-2 §3.18.4.1.2.3.6 says.
    """
    value = text.strip()
    if not value:
        raise XdsWireError("empty query parameter value", location, xds_code=_PARAM_ERROR)
    if not value.startswith("("):
        if not strict and not value.startswith("'"):
            return [value]
        item, end = _item(value, 0, location, strict)
        if value[end:].strip():
            raise XdsWireError(f"unexpected text after the value in {text!r}", location, xds_code=_PARAM_ERROR)
        return [item]
    if not value.endswith(")"):
        raise XdsWireError(f"a list value must end with ')', got {text!r}", location, xds_code=_PARAM_ERROR)
    items: list[str] = []
    index = 1
    while True:
        while index < len(value) and value[index] == " ":
            index += 1
        item, index = _item(value, index, location, strict)
        items.append(item)
        while index < len(value) and value[index] == " ":
            index += 1
        if value[index] == ")":
            if value[index + 1 :].strip():
                raise XdsWireError(f"unexpected text after ')' in {text!r}", location, xds_code=_PARAM_ERROR)
            return items
        if value[index] != ",":
            raise XdsWireError(f"expected ',' or ')' at position {index} of {text!r}", location, xds_code=_PARAM_ERROR)
        index += 1


def quote(item: str) -> str:
    return "'" + item.replace("'", "''") + "'"


def format_value(items: Sequence[str], *, as_list: bool = True, quoted: bool = True) -> str:
    """``('a','b')`` (or ``'a'`` with ``as_list=False`` and one item); ``quoted=False`` for numbers/times."""
    written = [quote(i) if quoted else i for i in items]
    if not as_list:
        if len(written) != 1:
            raise XdsWireError(f"a scalar value takes one item, got {len(written)}", "format_value")
        return written[0]
    return "(" + ",".join(written) + ")"
