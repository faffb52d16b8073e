"""Base64 from outside (nsp_sandbox/base64_data.py) is read exactly as the standard library's
``b64decode(validate=True)`` reads it: the same bytes, and refused where it refuses."""

from __future__ import annotations

import base64
import binascii
import os
import random

import pytest

from nsp_sandbox import base64_data

# Padding the standard library accepts and a SIMD decoder alone would refuse, and refusals of every kind.
EDGES = ["", "QQ==", "QR==", "QQ=", "QQ", "QUJD", "QUJ", "Q", "====", "QQ===", "QQ==QQ==", "ABCD====", "b90B=",
         "a++a==", "QUJD\n", " QUJD", "QU JD", "QUJ-", "QUJ_", "QUJ\u00e9", "QUI=", "A===", "=QUJD", "QU=D"]


def _standard(data: str | bytes) -> tuple[str, bytes | None]:
    try:
        return "read", base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return "refused", None


def _ours(data: str | bytes, whitespace: bool = False) -> tuple[str, bytes | None]:
    try:
        return "read", base64_data.decode(data, whitespace=whitespace)
    except (binascii.Error, ValueError):
        return "refused", None


def _corpus() -> list[str]:
    rng = random.Random(16)
    alphabet = "ABCab+/=09 \n-_"
    return EDGES + ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))) for _ in range(20_000)]


def test_it_reads_and_refuses_what_the_standard_library_does() -> None:
    for data in _corpus():
        assert _ours(data) == _standard(data), data
        if data.isascii():
            assert _ours(data.encode()) == _standard(data.encode()), data


def test_with_whitespace_allowed_it_reads_what_is_left_without_it() -> None:
    for data in _corpus():
        assert _ours(data, whitespace=True) == _standard("".join(data.split())), data
    document = os.urandom(33_240)
    wrapped = base64.encodebytes(document)  # MIME lines of 76 characters
    assert base64_data.decode(wrapped, whitespace=True) == document
    assert base64_data.decode(wrapped.decode(), whitespace=True) == document


def test_a_document_is_read_back_whole() -> None:
    document = os.urandom(33_240)
    assert base64_data.decode(base64.b64encode(document).decode()) == document
    with pytest.raises(binascii.Error):
        base64_data.decode(base64.b64encode(document).decode()[:-1])
