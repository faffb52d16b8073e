"""Resolving references inside a Bundle and to contained resources.

A Bundle is indexed once per validation: by ``fullUrl``, by ``type/id`` and by the identity of each
entry's resource. Resolution follows the FHIR rules for Bundles: absolute URLs and ``urn:uuid:``
match a ``fullUrl``; a relative ``Type/id`` is taken against the base of the referencing entry's
RESTful ``fullUrl``, and otherwise matches the entry whose resource has that type and id; ``#id``
is a contained resource of the root resource (``#`` alone the root itself).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from nsp_sandbox.conformance.regex_equivalents import IdCharacters
from nsp_sandbox.kept import kept

RELATIVE: Final = r"^(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(/_history/[^/]+)?\Z"
"""A relative reference ``Type/id``, with a version or not: what :func:`relative_parts` reads."""
RESTFUL: Final = r"^(?P<base>.+?)/(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(/_history/[^/]+)?\Z"
"""A RESTful URL ``base/Type/id``, with a version or not: what :func:`restful_parts` reads."""


@dataclass
class BundleIndex:
    bundle: dict[str, Any]
    by_full_url: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_type_id: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    full_url_of: dict[int, str] = field(default_factory=dict)
    entry_index_of: dict[int, int] = field(default_factory=dict)
    _resolved: dict[tuple[str, str | None], dict[str, Any] | None] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, bundle: dict[str, Any]) -> BundleIndex:
        index = cls(bundle)
        entries = bundle.get("entry")
        for i, entry in enumerate(entries if isinstance(entries, list) else ()):
            if not isinstance(entry, dict):
                continue
            resource = entry.get("resource")
            if not isinstance(resource, dict):
                continue
            index.entry_index_of[id(resource)] = i
            full_url = entry.get("fullUrl")
            if isinstance(full_url, str):
                index.by_full_url.setdefault(full_url, resource)
                index.full_url_of[id(resource)] = full_url
            rtype, rid = resource.get("resourceType"), resource.get("id")
            if isinstance(rtype, str) and isinstance(rid, str):
                index.by_type_id.setdefault((rtype, rid), resource)
        return index

    def resolve(self, reference: str, from_full_url: str | None) -> dict[str, Any] | None:
        key = (reference, from_full_url)
        resolved = self._resolved
        found = resolved.get(key)
        if found is None and key not in resolved:  # (read as the stores below are)
            found = resolved[key] = self._resolve(reference, from_full_url)
        return found

    def _resolve(self, reference: str, from_full_url: str | None) -> dict[str, Any] | None:
        found = self.by_full_url.get(reference)
        if found is not None:
            return found
        relative = _relative_parts(reference)
        if relative is None:
            return None
        if from_full_url:
            base = _restful_base(from_full_url)
            if base is not None:
                found = self.by_full_url.get(f"{base}/{relative[0]}/{relative[1]}")
                if found is not None:
                    return found
        return self.by_type_id.get(relative)


def resolve_contained(reference: str, root: dict[str, Any]) -> dict[str, Any] | None:
    if reference == "#":
        return root
    wanted = reference[1:]
    contained_list = root.get("contained")
    for contained in contained_list if isinstance(contained_list, list) else ():
        if isinstance(contained, dict) and contained.get("id") == wanted:
            return contained
    return None


def reference_type(reference: str) -> str | None:
    """The resource type a literal reference names, when it names one."""
    if "/" not in reference:  # (a urn:uuid: or #id: nothing to remember)
        return None
    relative = _relative_parts(reference)  # (the one reading of a relative reference, kept for both)
    if relative is not None:
        return relative[0]
    known = _types.get(reference)
    if known is not None or reference in _types:
        return known
    parts = restful_parts(reference)
    return kept(_types, reference, parts[1] if parts else None, _KEPT)


# What a reference or full URL is read as depends on the string alone, and a message names the same references and
# full URLs again and again (each entry's references are read from its full URL; a Patient is referred to from
# every Observation): the answers are kept per string, up to ``_KEPT`` of each kind (all are forgotten when that is
# reached). A string without "/" is neither, and is answered without being kept: a sender's ``urn:uuid:`` full
# URLs are fresh in every message, and would only push out what recurs. A store is read with ``get``, a None kept
# told from a string not kept by a second look-up: compiled, a ``KeyError`` caught costs some 3,000 instructions (its
# traceback is built), a look-up about 100, and most strings a sender's message names are not kept yet.
_KEPT: Final = 4096
_types: Final[dict[str, str | None]] = {}  # what is not a relative reference
_relatives: Final[dict[str, tuple[str, str] | None]] = {}
_bases: Final[dict[str, str | None]] = {}
_ID: Final = IdCharacters()  # a relative reference's id is an ``id``


def _relative_parts(reference: str) -> tuple[str, str] | None:
    """(type, id) of a relative ``Type/id`` reference, else None."""
    if "/" not in reference:
        return None
    known = _relatives.get(reference)
    if known is not None or reference in _relatives:
        return known
    return kept(_relatives, reference, relative_parts(reference), _KEPT)


def _restful_base(full_url: str) -> str | None:
    """The base of a RESTful full URL (``base/Type/id``), else None."""
    if "/" not in full_url:  # a urn:uuid: or urn:oid: full URL, as a message's are
        return None
    known = _bases.get(full_url)
    if known is not None or full_url in _bases:
        return known
    parts = restful_parts(full_url)
    return kept(_bases, full_url, parts[0] if parts else None, _KEPT)


# ---- the two patterns, read without ``re`` ------------------------------------------------------------------------
#
# A sender's ids are fresh in every message, so most of its references and full URLs are read once: through ``re``
# each reading cost a match object and the engine's state (some 2,300 instructions), and ``RESTFUL``'s lazy base
# tried every character of the URL. Both languages are a few splits and containment checks.
# ``tests/conformance/test_reference_patterns.py`` holds each reading to its pattern on generated strings.


def relative_parts(reference: str) -> tuple[str, str] | None:
    """(type, id) when ``reference`` matches :data:`RELATIVE`, else None."""
    parts = reference.split("/")
    count = len(parts)
    if count == 4:
        if parts[2] != "_history" or not parts[3]:
            return None
    elif count != 2:
        return None
    rtype, rid = parts[0], parts[1]
    if not _is_type(rtype) or not _ID.fullmatch(rid):
        return None
    return rtype, rid


def restful_parts(full_url: str) -> tuple[str, str] | None:
    """(base, type) when ``full_url`` matches :data:`RESTFUL`, else None. The pattern's lazy base ends at the first
    "/" after which the rest is a relative reference, and a relative reference holds one "/", or three with a
    version: the base ends at the fourth "/" from the end, else at the second."""
    last = full_url.rfind("/")
    second = full_url.rfind("/", 0, last) if last > 0 else -1
    if second <= 0:
        return None
    third = full_url.rfind("/", 0, second)
    fourth = full_url.rfind("/", 0, third) if third > 0 else -1
    for end in (fourth, second):
        if end > 0:
            relative = relative_parts(full_url[end + 1:])
            if relative is not None:
                base = full_url[:end]
                return (base, relative[0]) if "\n" not in base else None
    return None


def _is_type(text: str) -> bool:
    """``[A-Z][A-Za-z]+``: for an ASCII string ``isalpha`` is exactly its letters."""
    return len(text) > 1 and text.isascii() and text.isalpha() and "A" <= text[0] <= "Z"

