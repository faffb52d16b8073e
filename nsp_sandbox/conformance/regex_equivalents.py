"""Matchers for some primitive types' regexes of the FHIR core package that say the very same as the regex,
only faster: the regex is kept as the definition, and its matcher is chosen by the regex's exact text.

``base64Binary``'s ``(\\s*([0-9a-zA-Z\\+/=]){4}\\s*)+`` takes Python's ``re`` about 40 ns a character (it records
a group for every four), 1.3 ms for the 44 KB document an ITI-65 Binary carries. The language is: one or more
runs of the alphabet ``[0-9a-zA-Z+/=]``, each a multiple of four long, with whitespace (``\\s``, read with
:data:`PROFILE_REGEX_FLAGS`: ASCII whitespace, as Java reads it) only before, after and between runs. A run of
the alphabet alone is checked by one character class (about 1.5 ns a character), and whitespace, which encoders
put every 64 or 76 characters if at all, by splitting there.

``uri``'s, ``string``'s and ``id``'s regexes are short, but each call into ``re`` for a value not seen before costs
about 2,300 instructions (a match object and the engine's state), and a sender's fresh ids, references and full
URLs are such values. Their languages are a few containment checks in C (:class:`NoWhitespace`,
:class:`NotEmptyNoOddWhitespace`, :class:`IdCharacters`). ``tests/conformance/test_regex_equivalents.py`` holds
each matcher to its regex on generated strings.
"""

from __future__ import annotations

import re
from typing import Protocol

BASE64_BINARY = r"(\s*([0-9a-zA-Z\+/=]){4}\s*)+"
PROFILE_REGEX_FLAGS = re.ASCII
r"""How a regex from a FHIR package is read. The specification's regexes are Java's, as its validator reads them:
``\s``, ``\d``, ``\w`` and ``\b`` are ASCII classes there (``\s`` is space, tab, line feed, carriage return,
vertical tab and form feed). Python's ``re`` reads a ``str`` pattern's classes as Unicode, and then found
``[ \r\n\t\S]+``, the ``string`` type's regex, false of any text with a no-break space (U+00A0) or an
ideographic space, and ``\d`` true of other scripts' digits."""


class Matcher(Protocol):
    """What the walk asks of a primitive type's regex (:class:`re.Pattern` is one)."""

    @property
    def pattern(self) -> str: ...

    def fullmatch(self, value: str) -> object: ...


class Base64Binary:
    """``BASE64_BINARY``'s language (module docstring)."""

    pattern = BASE64_BINARY
    _ALPHABET = re.compile(r"[0-9a-zA-Z+/=]*")
    _WHITESPACE = re.compile(r"\s+", PROFILE_REGEX_FLAGS)

    def fullmatch(self, value: str) -> bool:
        if self._ALPHABET.fullmatch(value):  # no whitespace at all: the common case
            return bool(value) and len(value) % 4 == 0
        runs = [run for run in self._WHITESPACE.split(value) if run]
        return bool(runs) and all(len(run) % 4 == 0 and self._ALPHABET.fullmatch(run) for run in runs)


URI = r"\S*"
STRING = r"[ \r\n\t\S]+"
ID = r"[A-Za-z0-9\-\.]{1,64}"


class NoWhitespace:
    """``URI``'s language (``uri``, ``url``, ``canonical``): no ASCII whitespace (space, tab, line feed, carriage
    return, vertical tab, form feed), as ``\\s`` is read (:data:`PROFILE_REGEX_FLAGS`). Each is looked for in C."""

    pattern = URI

    def fullmatch(self, value: str) -> bool:
        return not (" " in value or "\t" in value or "\n" in value or "\r" in value or "\x0b" in value
                    or "\x0c" in value)


class NotEmptyNoOddWhitespace:
    """``STRING``'s language (``string``, ``markdown``): not empty, and no vertical tab or form feed, the ASCII
    whitespace its class leaves out (space, carriage return, line feed and tab are in it; every other character is
    ``\\S``)."""

    pattern = STRING

    def fullmatch(self, value: str) -> bool:
        return value != "" and "\x0b" not in value and "\x0c" not in value


class IdCharacters:
    """``ID``'s language (``id``): 1 to 64 ASCII letters, digits, "-" and ".". For an ASCII string ``isalnum`` is
    exactly letters and digits, so "-" and "." are first read as a letter."""

    pattern = ID

    def fullmatch(self, value: str) -> bool:
        if not 0 < len(value) <= 64 or not value.isascii():
            return False
        return value.isalnum() or value.replace("-", "a").replace(".", "a").isalnum()


_EQUIVALENTS: dict[str, Matcher] = {BASE64_BINARY: Base64Binary(), URI: NoWhitespace(),
                                    STRING: NotEmptyNoOddWhitespace(), ID: IdCharacters()}


class Remembered:
    """A matcher that keeps the values it has accepted (up to :data:`REMEMBERED_VALUES` of at most
    :data:`REMEMBERED_LENGTH` characters; all are forgotten when it is full) and answers them again from a set.

    A value's validity depends on the value alone, and most of a sender's values recur from message to message
    (systems, codes, profile URLs, dates): looking one up costs its hash, where the regex reads every character
    again. A value not accepted is matched every time (a finding is rare, and its text is made anyway)."""

    __slots__ = ("_accepted", "_fullmatch", "inner", "pattern")

    def __init__(self, inner: Matcher) -> None:
        self.inner = inner
        self.pattern = inner.pattern
        self._fullmatch = inner.fullmatch
        self._accepted: set[str] = set()

    def fullmatch(self, value: str) -> bool:
        accepted = self._accepted
        if value in accepted:
            return True
        if not self._fullmatch(value):
            return False
        if len(value) <= REMEMBERED_LENGTH:
            if len(accepted) >= REMEMBERED_VALUES:
                accepted.clear()
            accepted.add(value)
        return True


REMEMBERED_VALUES = 8192
REMEMBERED_LENGTH = 512


def matcher(compiled: re.Pattern[str]) -> Matcher:
    """The fastest matcher with the language of ``compiled``: an equivalent above, else the regex itself; either
    remembering the values it accepted (:class:`Remembered`)."""
    return Remembered(_EQUIVALENTS.get(compiled.pattern, compiled))
