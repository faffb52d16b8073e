"""A copy of parsed JSON (``fhir_http.json_copy``) is what ``json`` would give back, in every part, and shares
nothing with the original: the registry changes the copy it stores."""

from __future__ import annotations

import json
import random
from typing import Any

from nsp_sandbox.fhir_http import json_copy


def _value(rng: random.Random, depth: int) -> Any:
    kind = rng.randint(0, 7 if depth < 4 else 4)
    if kind == 0:
        return rng.choice(["", "æøå", "urn:uuid:1", "\u2028", "a\"b\\c", "\x00"])
    if kind == 1:
        return rng.choice([0, -1, 2**63 - 1, -(2**63), 2**64 - 1, 1.5, -0.0, 1e-7, 1e300])
    if kind == 2:
        return rng.choice([True, False, None])
    if kind == 3:
        return 10**30 + rng.randint(0, 9)  # beyond 64 bits: not orjson's to write
    if kind == 4:
        return rng.choice(["x", 1])
    if kind in (5, 6):
        return {f"k{n}": _value(rng, depth + 1) for n in range(rng.randint(0, 4))}
    return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]


def _containers(value: Any) -> list[Any]:
    found = [value] if isinstance(value, dict | list) else []
    for child in value.values() if isinstance(value, dict) else value if isinstance(value, list) else []:
        found += _containers(child)
    return found


def test_a_copy_equals_what_json_gives_back_and_shares_no_container() -> None:
    rng = random.Random(16)
    for _ in range(300):
        original = {"resourceType": "DocumentReference", "x": _value(rng, 0), "y": [_value(rng, 1)]}
        copied = json_copy(original)
        expected = json.loads(json.dumps(original))
        assert copied == expected
        assert [type(c) for c in _containers(copied)] == [type(c) for c in _containers(expected)]
        assert not {id(c) for c in _containers(copied)} & {id(c) for c in _containers(original)}


def test_pretty_json_reads_back_as_json_s_and_is_its_bytes_for_fhir_messages(packages) -> None:  # type: ignore[no-untyped-def]
    from nsp_sandbox.fhir_http import pretty_json_bytes
    from nsp_sandbox.hco_examples import example_messages

    rng = random.Random(17)
    for _ in range(300):
        value = {"resourceType": "Bundle", "x": _value(rng, 0), "y": [_value(rng, 1)], "z": {}, "w": []}
        written = pretty_json_bytes(value)
        assert json.loads(written) == json.loads(json.dumps(value, ensure_ascii=False, indent=2))
    messages = example_messages(packages)
    assert messages
    for name, message in messages:
        assert pretty_json_bytes(message) == json.dumps(message, ensure_ascii=False, indent=2).encode(), name
