"""The HL7 v2.5 datatypes XDS metadata carries: CX, XCN, XON and DTM (ITI TF-3 Table 4.2.3.1.7-2).

Each parser takes the encoded string and a ``location`` (where it came from, for the error message)
and raises :class:`~nsp_sandbox.xds.errors.XdsWireError` naming the component that is wrong. Each
``format`` writes the canonical XDS form back, so parse → format is the identity on canonical input.
Delimiters: ``^`` component, ``&`` sub-component (HL7 v2.5 §2.5.4); escapes are not interpreted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from nsp_sandbox.xds.errors import XdsWireError

_OID = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+\Z")
_DTM = re.compile(r"^\d{4}(\d{2}){0,5}\Z", re.ASCII)
_METADATA_ERROR = "XDSRegistryMetadataError"


def is_oid(text: str) -> bool:
    """True when ``text`` is a dotted-decimal ISO OID (ITI TF-3 §4.2.3.1.7: ``ISO`` universal id type)."""
    return bool(_OID.match(text))


def _components(text: str, count: int) -> list[str]:
    parts = text.split("^")
    return parts + [""] * (count - len(parts))


def _authority(text: str, location: str, what: str) -> tuple[str, str]:
    """An HD in sub-components ``namespace&oid&ISO`` → (namespace, oid); the OID must be an ISO OID."""
    sub = text.split("&")
    if len(sub) != 3 or sub[2] != "ISO" or not is_oid(sub[1]):
        raise XdsWireError(
            f"{what} must be '&<OID>&ISO' with an ISO OID, got {text!r}", location, xds_code=_METADATA_ERROR
        )
    return sub[0], sub[1]


@dataclass(frozen=True)
class CX:
    """Extended composite id: CX.1 the id, CX.4 its assigning authority (``id^^^&oid&ISO``)."""

    id: str
    authority_oid: str
    authority_namespace: str = ""

    @classmethod
    def parse(cls, text: str, location: str = "CX") -> CX:
        """Parse a patient id in the XDS form: CX.1 and CX.4 only (ITI TF-3 §4.2.3.1.7, CX row)."""
        parts = _components(text.strip(), 4)
        if not parts[0]:
            raise XdsWireError(f"CX.1 (the id) is empty in {text!r}", location, xds_code=_METADATA_ERROR)
        if any(parts[1:3]) or any(parts[4:]):
            raise XdsWireError(
                f"a patient id carries only CX.1 and CX.4, got {text!r}", location, xds_code=_METADATA_ERROR
            )
        if not parts[3]:
            raise XdsWireError(f"CX.4 (assigning authority) is missing in {text!r}", location,
                               xds_code=_METADATA_ERROR)  # fmt: skip
        namespace, oid = _authority(parts[3], location + ".4", "CX.4")
        return cls(parts[0], oid, namespace)

    def format(self) -> str:
        return f"{self.id}^^^{self.authority_namespace}&{self.authority_oid}&ISO"


@dataclass(frozen=True)
class XCN:
    """Extended person name and id: XCN.1 id, .2 family, .3 given, .4 further given names, .5 suffix,
    .6 prefix, .9 assigning authority OID (ITI TF-3 §4.2.3.1.7, XCN row; DK: names only)."""

    id: str = ""
    family: str = ""
    given: str = ""
    further_given: str = ""
    suffix: str = ""
    prefix: str = ""
    authority_oid: str = ""

    @classmethod
    def parse(cls, text: str, location: str = "XCN") -> XCN:
        """Parse; either XCN.1 or XCN.2 must be present, and an id with XCN.9 needs an ISO OID there."""
        parts = _components(text.strip(), 9)
        if not parts[0] and not parts[1]:
            raise XdsWireError(f"XCN needs an id (XCN.1) or a family name (XCN.2), got {text!r}", location,
                               xds_code=_METADATA_ERROR)  # fmt: skip
        oid = _authority(parts[8], location + ".9", "XCN.9")[1] if parts[8] else ""
        return cls(parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], oid)

    def format(self) -> str:
        authority = f"&{self.authority_oid}&ISO" if self.authority_oid else ""
        fields = [self.id, self.family, self.given, self.further_given, self.suffix, self.prefix, "", "", authority]
        return "^".join(fields).rstrip("^")


@dataclass(frozen=True)
class XON:
    """Organisation: XON.1 name, XON.6 assigning authority, XON.10 organisation id
    (``name^^^^^&oid&ISO^^^^id``; DK: the id is a SOR code with authority 1.2.208.176.1.1)."""

    name: str
    authority_oid: str = ""
    id: str = ""

    @classmethod
    def parse(cls, text: str, location: str = "XON") -> XON:
        """Parse; XON.1 is required; XON.10 needs XON.6 unless it is itself an OID."""
        parts = _components(text.strip(), 10)
        if not parts[0]:
            raise XdsWireError(f"XON.1 (organisation name) is empty in {text!r}", location, xds_code=_METADATA_ERROR)
        oid = _authority(parts[5], location + ".6", "XON.6")[1] if parts[5] else ""
        if parts[9] and not oid and not is_oid(parts[9]):
            raise XdsWireError(f"XON.10 {parts[9]!r} is not an OID and XON.6 names no assigning authority",
                               location, xds_code=_METADATA_ERROR)  # fmt: skip
        return cls(parts[0], oid, parts[9])

    def format(self) -> str:
        if not self.id and not self.authority_oid:
            return self.name
        authority = f"&{self.authority_oid}&ISO" if self.authority_oid else ""
        return f"{self.name}^^^^^{authority}^^^^{self.id}"


@dataclass(frozen=True)
class DTM:
    """An HL7 DTM in XDS form: UTC, ``YYYY[MM[DD[hh[mm[ss]]]]]`` (ITI TF-3 §4.2.3.1.7, DTM row).

    ``precision`` is the number of digits given (4, 6, 8, 10, 12 or 14); ``moment`` the earliest
    instant it denotes, timezone-aware in UTC.
    """

    moment: datetime
    precision: int = 14

    @classmethod
    def parse(cls, text: str, location: str = "DTM") -> DTM:
        value = text.strip()
        if not _DTM.match(value):
            raise XdsWireError(f"DTM must be YYYY[MM[DD[hh[mm[ss]]]]] in UTC, got {text!r}", location,
                               xds_code=_METADATA_ERROR)  # fmt: skip
        padded = value + "0101000000"[len(value) - 4 :]
        try:
            moment = datetime.strptime(padded, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        except ValueError:
            raise XdsWireError(f"DTM {text!r} is not a calendar date and time", location,
                               xds_code=_METADATA_ERROR) from None  # fmt: skip
        return cls(moment, len(value))

    @classmethod
    def of(cls, moment: datetime) -> DTM:
        """Second-precision DTM of ``moment`` (naive means UTC; aware is converted to UTC)."""
        aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        return cls(aware.replace(microsecond=0), 14)

    def format(self) -> str:
        return self.moment.strftime("%Y%m%d%H%M%S")[: self.precision]


def parse_dtm(text: str, location: str = "DTM") -> datetime:
    """The UTC instant of a DTM string (the earliest one it denotes)."""
    return DTM.parse(text, location).moment


def format_dtm(moment: datetime) -> str:
    """``YYYYMMDDhhmmss`` in UTC."""
    return DTM.of(moment).format()
