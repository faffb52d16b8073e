"""A reference and a full URL are read as their patterns read them, on every string (``references``)."""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from nsp_sandbox.conformance.references import RELATIVE, RESTFUL, BundleIndex, relative_parts, restful_parts

RELATIVE_REGEX = re.compile(RELATIVE)
RESTFUL_REGEX = re.compile(RESTFUL)
# Types, ids and versions and what may not be in them: lower case first, one letter, digits, non-ASCII letters
# (which ``isalpha`` and ``isalnum`` take), a line feed (which the base may not hold and a version may), an id of
# 64 characters and one of 65, nothing. Strings of them, and of them joined by "/" as references are.
SEGMENTS = st.sampled_from([
    "Patient", "Observation", "P", "Pa", "pa", "X1", "_history", "1", "a-b.c", "-", ".", "x" * 64, "y" * 65,
    "http:", "", "https://medcomfhir.dk/ig", "urn:uuid:", ":", "\n", " ", "é", "Ω", "ǅ", "²", "Ⅻ", "_", "#", "/",
    "v\n2",
])
TEXTS = st.one_of(st.lists(SEGMENTS, max_size=12).map("".join), st.lists(SEGMENTS, max_size=8).map("/".join),
                  st.lists(st.lists(SEGMENTS, min_size=1, max_size=3).map("".join), max_size=8).map("/".join))


@given(TEXTS)
@example("/Patient/1")  # no base
@example("/Patient/1/_history/2")
@example("https://x/Patient/1/_history/")  # no version
@example("https://x/Patient/1/_history/v\n2")  # a line feed in the version
@example("https://x\n/Patient/1")  # in the base
@example("https://x/P/1")  # a type of one letter
@example("https://x/Patient/1/_history/2/Patient/3")  # two readings of the base, one of them taken
@settings(max_examples=5000, deadline=None)
def test_a_reference_is_read_as_its_pattern_reads_it(text: str) -> None:
    relative = RELATIVE_REGEX.match(text)
    assert relative_parts(text) == ((relative.group("type"), relative.group("id")) if relative else None), repr(text)
    restful = RESTFUL_REGEX.match(text)
    assert restful_parts(text) == ((restful.group("base"), restful.group("type")) if restful else None), repr(text)


def test_a_message_s_references_resolve_by_their_full_urls() -> None:
    """A relative reference is taken against the RESTful base of the entry that makes it (a versioned full URL's
    too); a versioned one from an entry without such a base finds its entry by type and id; one that names no type
    finds nothing."""
    patient = {"resourceType": "Patient", "id": "p-1"}
    other = {"resourceType": "Patient", "id": "p-1", "name": [{"text": "another server's"}]}
    index = BundleIndex.of({"resourceType": "Bundle", "entry": [
        {"fullUrl": "https://a.example/fhir/Patient/p-1", "resource": patient},
        {"fullUrl": "https://b.example/Patient/p-1", "resource": other},
    ]})
    assert index.resolve("Patient/p-1", "https://b.example/Observation/o-1") is other
    assert index.resolve("Patient/p-1", "https://a.example/fhir/Observation/o-1/_history/2") is patient
    assert index.resolve("Patient/p-1/_history/3", "urn:uuid:1e2feb89-414c-443c-9027-c4d1c386bbc4") is patient
    assert index.resolve("patient/p-1", "https://b.example/Observation/o-1") is None
