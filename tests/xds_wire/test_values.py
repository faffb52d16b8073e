"""HL7 v2 datatypes (CX, XCN, XON, DTM) and the stored-query value syntax, with their precise errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from nsp_sandbox.xds.ebrim import Code
from nsp_sandbox.xds.errors import XdsWireError
from nsp_sandbox.xds.hl7v2 import CX, DTM, XCN, XON, format_dtm, parse_dtm
from nsp_sandbox.xds.query_values import format_value, parse_value


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("2512489996^^^&1.2.208.176.1.2&ISO", CX("2512489996", "1.2.208.176.1.2")),
        ("x1^^^NS&1.2.3&ISO", CX("x1", "1.2.3", "NS")),
    ],
)
def test_cx(text: str, parsed: CX) -> None:
    assert CX.parse(text) == parsed and parsed.format() == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("^^^&1.2.3&ISO", "CX.1 (the id) is empty"),
        ("123", "CX.4 (assigning authority) is missing"),
        ("123^^^&1.2.3&DNS", "CX.4 must be '&<OID>&ISO'"),
        ("123^^^&not-an-oid&ISO", "CX.4 must be '&<OID>&ISO'"),
        ("123^x^^&1.2.3&ISO", "carries only CX.1 and CX.4"),
        ("123^^^&1.2.3&ISO^PI", "carries only CX.1 and CX.4"),
    ],
)
def test_cx_errors(text: str, message: str) -> None:
    with pytest.raises(XdsWireError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        CX.parse(text, "/ExternalIdentifier[1]")
    assert caught.value.location.startswith("/ExternalIdentifier[1]")
    assert caught.value.xds_code == "XDSRegistryMetadataError"


def test_xon_with_sor_code_and_plain_name() -> None:
    text = "OUH Radiologisk Afdeling (Svendborg)^^^^^&1.2.208.176.1.1&ISO^^^^242621000016001"
    assert XON.parse(text) == XON("OUH Radiologisk Afdeling (Svendborg)", "1.2.208.176.1.1", "242621000016001")
    assert XON.parse(text).format() == text
    assert XON.parse("Lægehuset").format() == "Lægehuset"
    assert XON.parse("Org^^^^^^^^^1.2.3.4").id == "1.2.3.4"
    with pytest.raises(XdsWireError, match=r"XON\.1 \(organisation name\)"):
        XON.parse("^^^^^&1.2.208.176.1.1&ISO^^^^1")
    with pytest.raises(XdsWireError, match=r"XON\.10 '123' is not an OID"):
        XON.parse("Org^^^^^^^^^123")


def test_xcn_names_and_ids() -> None:
    person = XCN.parse("^Hansen^Bjarne^Peter^^Dr")
    assert (person.family, person.given, person.further_given, person.prefix) == ("Hansen", "Bjarne", "Peter", "Dr")
    assert person.format() == "^Hansen^Bjarne^Peter^^Dr"
    with_id = XCN.parse("0101010101^Jensen^Eva^^^^^^&1.2.208.176.1.2&ISO")
    assert with_id.authority_oid == "1.2.208.176.1.2"
    assert with_id.format() == "0101010101^Jensen^Eva^^^^^^&1.2.208.176.1.2&ISO"
    with pytest.raises(XdsWireError, match="XCN needs an id"):
        XCN.parse("^^Eva")


def test_dtm_precisions_and_utc() -> None:
    assert parse_dtm("20171231000000") == datetime(2017, 12, 31, tzinfo=UTC)
    assert DTM.parse("2018083110") == DTM(datetime(2018, 8, 31, 10, tzinfo=UTC), 10)
    assert DTM.parse("2018083110").format() == "2018083110"
    assert DTM.parse("2018").moment == datetime(2018, 1, 1, tzinfo=UTC)
    cest = timezone(timedelta(hours=2))
    assert format_dtm(datetime(2018, 12, 10, 21, 4, tzinfo=cest)) == "20181210190400"
    assert format_dtm(datetime(2018, 12, 10, 21, 4, 5, 999)) == "20181210210405"
    for bad, message in (("2018-01-01", "DTM must be"), ("201813", "not a calendar date"), ("20180", "DTM must be"),
                         ("20180101120000+0100", "DTM must be")):  # fmt: skip
        with pytest.raises(XdsWireError, match=message):
            parse_dtm(bad, "creationTime")


@pytest.mark.parametrize(
    ("text", "items"),
    [
        ("'2512489996^^^&1.2.208.176.1.2&ISO'", ["2512489996^^^&1.2.208.176.1.2&ISO"]),
        ("('urn:oasis:names:tc:ebxml-regrep:StatusType:Approved')", ["urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"]),  # noqa: E501
        ("('a^^s', 'b^^s' ,'c^^s')", ["a^^s", "b^^s", "c^^s"]),
        ("20171231000000", ["20171231000000"]),
        ("(1,2)", ["1", "2"]),
        ("'O''Brien'", ["O'Brien"]),
        ("('it''s','(x,y)')", ["it's", "(x,y)"]),
    ],
)
def test_query_values(text: str, items: list[str]) -> None:
    assert parse_value(text) == items


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty query parameter value"),
        ("('a'", "must end with ')'"),
        ("('a' 'b')", "expected ',' or ')'"),
        ("'abc", "unterminated quoted string"),
        ("'a' b", "unexpected text after the value"),
        ("('a') x", "must end with ')'"),
        ("('a',)", "must be quoted unless"),
    ],
)
def test_query_value_errors(text: str, message: str) -> None:
    with pytest.raises(XdsWireError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        parse_value(text, "/AdhocQuery/Slot[3]")
    assert caught.value.location == "/AdhocQuery/Slot[3]"


def test_strict_values_must_quote_strings() -> None:
    assert parse_value("abc") == ["abc"]
    with pytest.raises(XdsWireError, match="must be quoted"):
        parse_value("abc", strict=True)
    assert parse_value("20190101", strict=True) == ["20190101"]


def test_format_value_round_trips() -> None:
    for items in (["a"], ["it's", "b"], ["x^^y"]):
        assert parse_value(format_value(items)) == items
    assert format_value(["O'Brien"], as_list=False) == "'O''Brien'"
    assert format_value(["20190101"], as_list=False, quoted=False) == "20190101"


def test_coded_values() -> None:
    assert Code.parse("39289-4^^2.16.840.1.113883.6.1") == Code("39289-4", "2.16.840.1.113883.6.1")
    assert Code("N", "2.16.840.1.113883.5.25").format() == "N^^2.16.840.1.113883.5.25"
    for bad in ("39289-4", "^^1.2", "a^^", "a^b^c"):
        with pytest.raises(XdsWireError, match="code\\^\\^scheme"):
            Code.parse(bad)
