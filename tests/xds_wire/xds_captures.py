"""Reading the real DDS captures in ``../shared/xds-captures`` (test data; never copied into the project).

Some captures start with the HTTP status line and headers, one has its headers run together without
line breaks, some hold the multipart body alone: :func:`message_of` finds the Content-Type and body
of each and hands them to :func:`nsp_sandbox.xds.mtom.parse_message`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from nsp_sandbox.xds.mtom import SoapMessage, parse_message

REPO = Path(__file__).resolve().parents[2]
CAPTURES = Path(os.environ.get("NSP_SANDBOX_TEST_XDS_CAPTURES", REPO.parent / "shared" / "xds-captures"))
XDSB_SUFFIX = "@urn:ihe:iti:xds-b:2007"
# HTTP headers written without line breaks: Content-Type ends at its start-info parameter.
_RUN_TOGETHER = re.compile(rb'(?s)(.*?Content-Type: (multipart/related;[^\r\n]*?start-info="[^"]*")).*?(--uuid:)')

# Every SOAP capture (the CDA documents and the unparseable edited one are handled on their own).
SOAP_CAPTURES = [
    "ITI-18-Request-Nancy.xml",
    "ITI-18-Response-Nancy.xml",
    "ITI-41-Request.xml",
    "ITI-43-Request-Nancy.xml",
    "ITI-43-Response-Nancy-Multipart.txt",
    "ITI-43-Response-Nancy.xml",
    "iti18/20190613103042-iti18-request.xml",
    "iti18/20190613103042-iti18-response.xml",
    "iti41/request-mime.txt",
    "iti41/request-soap.xml",
    "iti41/response-mime.txt",
    "iti43/20190613113513-iti43-request.xml",
    "iti43/20190613113513-iti43-response.xml",
]


def capture(name: str) -> bytes:
    path = CAPTURES / name
    if not path.exists():
        pytest.skip(f"XDS capture {path} is not available")
    return path.read_bytes()


def _split_http(raw: bytes) -> tuple[str, bytes]:
    if raw.startswith(b"--"):  # a bare multipart body: its first line is the delimiter
        boundary = raw.split(b"\n", 1)[0][2:].strip().decode("latin-1")
        return f'multipart/related; type="application/xop+xml"; boundary="{boundary}"', raw
    run_together = re.match(_RUN_TOGETHER, raw)
    if run_together and b"\n" not in run_together.group(1):
        return run_together.group(2).decode("latin-1"), raw[run_together.start(3) :]
    cut = min((i, len(s)) for s in (b"\r\n\r\n", b"\n\n") if (i := raw.find(s)) >= 0)
    head, body = raw[: cut[0]].decode("latin-1"), raw[cut[0] + cut[1] :]
    for line in head.splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-type":
            return value.strip(), body
    raise AssertionError("the capture has no Content-Type header")


def message_of(name: str) -> SoapMessage:
    """The capture as a received message: SOAP XML files as ``text/xml``, the rest by their own headers."""
    raw = capture(name)
    if raw.lstrip().startswith(b"<"):
        return parse_message("text/xml; charset=utf-8", raw)
    return parse_message(*_split_http(raw))
