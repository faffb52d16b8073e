"""Name and address protection ("navne- og adressebeskyttelse") in what a source shares.

A citizen registered with name and address protection in the CPR register is never named in a
shared document or message: every name field the source must not give, and every name part it
cannot give, is ``ADRESSEBESKYTTET`` (MedCom Document 2.0.2: "the missing field(s) MUST be
populated with ADRESSEBESKYTTET"). Receivers show the word as it stands. This module is the one
place the rule is written.
"""

from __future__ import annotations

from collections.abc import Iterable

PROTECTED_NAME = "ADRESSEBESKYTTET"


def shared_name(given: Iterable[str], family: str | None, *, protected: bool = False) -> tuple[tuple[str, ...], str]:
    """The (given names, family name) a source shares: all ``ADRESSEBESKYTTET`` for a protected
    citizen, else the names as registered with each missing or blank part ``ADRESSEBESKYTTET``."""
    if protected:
        return (PROTECTED_NAME,), PROTECTED_NAME
    kept = tuple(str(g) for g in given if str(g).strip())
    family = str(family or "").strip()
    return kept or (PROTECTED_NAME,), family or PROTECTED_NAME


def fhir_human_name(given: Iterable[str], family: str | None, *, protected: bool = False) -> dict[str, object]:
    """The official FHIR ``HumanName`` a source shares, by :func:`shared_name`."""
    names, surname = shared_name(given, family, protected=protected)
    return {"use": "official", "family": surname, "given": list(names)}
