"""What the viewer extracted from a document, as JSON for its tables — and back, into only the classes named.

An extract is a tree of the view models' dataclasses (``hco.Message``, ``conditions.ConditionList``,
``notes.Note``, …) over strings, numbers, lists, tuples, frozensets and a note's sanitised body
(``Markup``). It is written as plain JSON with a tag per non-JSON value; reading builds nothing but the
dataclasses the codec was given, so a row cannot make the viewer run code, whoever could write the table.
A row the codec cannot read (a field renamed since it was written) is refused with :class:`Unreadable`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from typing import Any

from markupsafe import Markup

from nsp_sandbox.fhir_http import json_bytes


class Unreadable(ValueError):
    """A stored extract this codec cannot read back."""


class ExtractCodec:
    """JSON for extracts made of ``types`` (dataclasses) and plain values."""

    def __init__(self, types: Iterable[type]) -> None:
        self.types = {t.__name__: t for t in types}
        for name, kind in self.types.items():
            if not dataclasses.is_dataclass(kind):
                raise TypeError(f"{name} is not a dataclass")
        # Each type's field names, read once (``dataclasses.fields`` per value was a third of writing an extract).
        self._fields = {kind: tuple(f.name for f in dataclasses.fields(kind)) for kind in self.types.values()}

    def dumps(self, value: Any) -> bytes:
        return json_bytes(self._encode(value))

    def loads(self, blob: bytes) -> Any:
        try:
            return self._decode(json.loads(blob))
        except (ValueError, TypeError, KeyError) as exc:
            raise Unreadable(str(exc)) from None

    def _encode(self, value: Any) -> Any:
        kind = type(value)
        if kind is str or kind is int or kind is bool or kind is float or value is None:
            return value  # the plain values, most of an extract, told by their exact type first
        names = self._fields.get(kind)
        if names is not None:
            return {"dataclass": kind.__name__, "fields": {name: self._encode(getattr(value, name)) for name in names}}
        if kind is list:
            return [self._encode(v) for v in value]
        if isinstance(value, bool | int | float):
            return value
        if isinstance(value, Markup):
            return {"markup": str(value)}
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            return [self._encode(v) for v in value]
        if isinstance(value, tuple):
            return {"tuple": [self._encode(v) for v in value]}
        if isinstance(value, frozenset | set):
            return {"frozenset": sorted((self._encode(v) for v in value), key=repr)}
        if isinstance(value, dict):
            return {"dict": [[self._encode(k), self._encode(v)] for k, v in value.items()]}
        raise TypeError(f"an extract cannot hold a {type(value).__name__}")

    def _decode(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self._decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (tag, inner), = value.items()
            if tag == "markup" and isinstance(inner, str):
                return Markup(inner)
            if tag == "tuple" and isinstance(inner, list):
                return tuple(self._decode(v) for v in inner)
            if tag == "frozenset" and isinstance(inner, list):
                return frozenset(self._decode(v) for v in inner)
            if tag == "dict" and isinstance(inner, list):
                return {self._decode(k): self._decode(v) for k, v in inner}
        kind = self.types.get(value.get("dataclass")) if isinstance(value.get("dataclass"), str) else None
        fields = value.get("fields")
        if kind is None or not isinstance(fields, dict) or len(value) != 2:
            raise Unreadable(f"not an extract value: {sorted(value)}")
        names = set(self._fields[kind])
        if not set(fields) <= names:
            raise Unreadable(f"{kind.__name__} has no field {sorted(set(fields) - names)}")
        return kind(**{k: self._decode(v) for k, v in fields.items()})
