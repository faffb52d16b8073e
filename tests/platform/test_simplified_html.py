"""Note bodies reduced to the simplified HTML Notes allows — including hostile input."""

from __future__ import annotations

import base64

import pytest
from lxml import etree

from nsp_sandbox.simplified_html import clean_note_html

ALLOWED = {"p", "br", "b", "i", "em", "u", "tt"}
XHTML = "http://www.w3.org/1999/xhtml"

HOSTILE = {
    "script": ('<p>før<script>alert("x")</script>efter</p>', "<script>"),
    "img-onerror": ('<p>a<img src="x" onerror="alert(1)">b</p>', "onerror attribute"),
    "javascript-href": ('<p><a href="javascript:alert(1)">klik</a></p>', "javascript: URL"),
    "entity-javascript-href": ('<a href="&#106;avascript:alert(1)">klik</a>', "javascript: URL"),
    "svg-onload": ('<svg onload="alert(1)"><circle r="1"/></svg><p>tekst</p>', "onload attribute"),
    "iframe": ('<iframe src="https://evil.example/">fallback <b>x</b></iframe><p>tekst</p>', "<iframe>"),
    "style": ("<style>p { display:none }</style><p>tekst</p>", "<style>"),
    "onclick": ('<p onclick="steal()">tekst</p>', "onclick attribute"),
    "comment": ("<p>tekst<!-- skjult <script>x</script> --></p>", "comment"),
    "object": ('<object data="x.swf"><param name="a" value="b"></object><p>tekst</p>', "<object>"),
    "form": ('<form action="https://evil.example"><input name="cpr"></form><p>tekst</p>', "<form>"),
    "meta-refresh": ('<meta http-equiv="refresh" content="0;url=https://evil.example"><p>tekst</p>', "<meta>"),
    "x-script": ("<x:p>tekst<x:script>alert(1)</x:script></x:p>", "<script>"),
    "uppercase-script": ("<P>tekst<SCRIPT>alert(1)</SCRIPT></P>", "<script>"),
    "style-attribute": ('<p style="background:url(javascript:alert(1))">tekst</p>', "style attribute"),
}


def parse(fragment: str) -> etree._Element:
    """The fragment must be well-formed XHTML: it parses inside an XHTML div."""
    return etree.fromstring(f'<div xmlns="{XHTML}">{fragment}</div>'.encode())


def tags_and_attributes(fragment: str) -> tuple[set[str], list[str]]:
    root = parse(fragment)
    tags = {etree.QName(el).localname for el in root.iter() if isinstance(el.tag, str)} - {"div"}
    attributes = [a for el in root.iter() if isinstance(el.tag, str) and el is not root for a in el.attrib]
    return tags, attributes


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_input_is_reduced_to_the_allowed_subset(case: str) -> None:
    raw, reported = HOSTILE[case]
    cleaned = clean_note_html(raw)
    tags, attributes = tags_and_attributes(cleaned.html)
    assert tags <= ALLOWED
    assert attributes == []
    assert reported in cleaned.removed
    lowered = cleaned.html.lower()
    for bad in ("<script", "javascript:", "alert(", "onerror", "onload", "onclick", "<iframe", "display:none"):
        assert bad not in lowered, bad
    assert "tekst" in cleaned.html or "klik" in cleaned.html or case in ("script", "img-onerror")


def test_script_and_style_content_is_dropped_but_harmless_text_is_kept() -> None:
    cleaned = clean_note_html('<div>Hej <span class="x">med</span> <a href="https://x.example">dig</a>'
                              "<script>var cpr = 1;</script><style>b{}</style></div>")
    assert cleaned.html == "Hej med dig"
    assert set(cleaned.removed) >= {"<div>", "<span>", "<a>", "class attribute", "href attribute", "<script>",
                                    "<style>"}


def test_plain_text_with_crlf_becomes_escaped_text_with_line_breaks() -> None:
    cleaned = clean_note_html("Symptomer: hoste\r\nBT < 140 & puls > 60\r\nPlan: kontrol")
    assert cleaned.html == "Symptomer: hoste<br/>BT &lt; 140 &amp; puls &gt; 60<br/>Plan: kontrol"
    assert cleaned.removed == () and not cleaned.is_blank
    parse(cleaned.html)
    assert clean_note_html("BT < 140\nPuls > 60").html == "BT &lt; 140<br/>Puls &gt; 60"


def test_x_prefixed_xhtml_is_normalised() -> None:
    cleaned = clean_note_html("<x:p><x:b><x:em>Aktuelt</x:em></x:b><x:br/>\r\n    Træt.</x:p>"
                              "<x:p><x:i>Plan</x:i></x:p>")
    assert cleaned.html == "<p><b><em>Aktuelt</em></b><br/>\n    Træt.</p><p><i>Plan</i></p>"  # CRLF as in XML
    assert cleaned.removed == ()


def test_allowed_formatting_is_kept_unchanged() -> None:
    raw = "<p>Objektivt:<br/>BT <b>138/82</b>, BMI <i>27,3</i> (<em>over mål</em>), <u>vigtigt</u>, <tt>kode</tt></p>"
    assert clean_note_html(raw).html == raw
    assert clean_note_html(raw).removed == ()


def test_literal_tab_escapes_are_flagged_and_replaced() -> None:
    cleaned = clean_note_html(r"<p>Patienten møder med træthed\tlet svimmelhed\turo i kroppen</p>")
    assert "literal \\t" in cleaned.removed
    assert "\\t" not in cleaned.html
    assert cleaned.html == "<p>Patienten møder med træthed let svimmelhed uro i kroppen</p>"


@pytest.mark.parametrize("raw", ["", "   ", "\r\n\t", base64.b64decode("IA==").decode(), "<p> </p><br/>",
                                 "<p>&nbsp;</p>", "<script>alert(1)</script>", "<!-- kun en kommentar -->"])
def test_blank_notes_are_recognised(raw: str) -> None:
    assert clean_note_html(raw).is_blank


@pytest.mark.parametrize("raw", ["x", "<p>.</p>", "<b>K</b>", "1"])
def test_notes_with_text_are_not_blank(raw: str) -> None:
    assert not clean_note_html(raw).is_blank


@pytest.mark.parametrize("raw", [
    "<p>unclosed <b>bold <i>both",
    "<b><p>misnested</b></p>",
    "</p>stray end tags</b>",
    "<p>a &amp; b &lt; c &nbsp; d &copy; &unknown; &#x1F600; &#0;</p>",
    "<p><![CDATA[a < b && c]]></p>",
    '<?xml version="1.0"?><!DOCTYPE html><p>tekst</p>',
    "<p>nul\x00tegn og \x1b escape</p>",
    "<p>" * 200 + "dybt" + "</p>" * 200,
    "<<p>>dobbelt<</p>>",
    "<p title='\"><script>alert(1)</script>'>tekst</p>",
])
def test_malformed_input_becomes_well_formed_xhtml(raw: str) -> None:
    cleaned = clean_note_html(raw)
    tags, attributes = tags_and_attributes(cleaned.html)
    assert tags <= ALLOWED and attributes == []
    assert "<script" not in cleaned.html


def test_entities_and_cdata_keep_their_text() -> None:
    assert clean_note_html("<p>a &amp; b &lt; c&nbsp;d</p>").html == "<p>a &amp; b &lt; c\u00a0d</p>"
    assert clean_note_html("<p><![CDATA[a < b]]></p>").html == "<p>a &lt; b</p>"


def test_the_official_example_body_is_kept(packages) -> None:  # type: ignore[no-untyped-def]
    notes = packages.get("medcom.fhir.dk.notes", "1.0.0")
    bundle = dict(notes.examples())["Bundle-ba7d908a-0134-4f28-b5f5-0fcaf088e60b.json"]
    observation = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation")
    raw = base64.b64decode(observation["extension"][0]["valueAttachment"]["data"]).decode()
    cleaned = clean_note_html(raw)
    assert cleaned.html == raw and cleaned.removed == ()
