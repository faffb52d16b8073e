"""The note body sanitiser: only MedCom's simplified HTML survives; hostile markup is inert."""

from __future__ import annotations

import base64

import pytest

from services.sundhed_view import note_body

HOSTILE = [
    "<script>alert('x')</script>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">klik</a>',
    '<p style="background:url(javascript:alert(1))">stil</p>',
    '<iframe src="https://evil.example/"></iframe>',
    '<svg onload="alert(1)"><script>alert(2)</script></svg>',
    '<b onmouseover="alert(1)">fed</b>',
    "<style>body{display:none}</style>",
    '<x:p onclick="alert(1)">x-præfiks</x:p>',
    '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>',
    "<object data='x.swf'></object><embed src='x.swf'><form action='/steal'><input name=a></form>",
]
DANGEROUS = ("<script", "onerror", "onload", "onclick", "onmouseover", "javascript:", "<iframe", "<svg", "style",
             "<img", "<a ", "<object", "<embed", "<form", "<input", "<math", "href", "src=")


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_markup_is_inert(hostile: str) -> None:
    shown = str(note_body.render(f"<p>Før</p>{hostile}<p>Efter</p>")).lower()
    assert not [d for d in DANGEROUS if d in shown], shown
    assert "<p>før</p>" in shown and "<p>efter</p>" in shown


def test_allowed_formatting_is_kept() -> None:
    shown = str(note_body.render("<p>a<br/>b <b>fed</b> <i>kursiv</i> <em>vægt</em> <u>under</u> <tt>mono</tt></p>"))
    for tag in ("<p>", "<br/>", "<b>fed</b>", "<i>kursiv</i>", "<em>vægt</em>", "<u>under</u>", "<tt>mono</tt>"):
        assert tag in shown, shown


def test_x_prefixed_tags_are_rendered_as_formatting() -> None:
    shown = str(note_body.render("<x:p>Linje <x:b>fed</x:b><x:br/>næste <x:i>kursiv</x:i></x:p>"))
    assert shown == "<p>Linje <b>fed</b><br/>næste <i>kursiv</i></p>"


def test_plain_text_keeps_its_line_breaks_and_is_escaped() -> None:
    shown = str(note_body.render("Aktuelt: hoste\r\nObjektivt: 5 < 7 & \"ok\"\r\n"))
    assert shown == 'Aktuelt: hoste<br/>Objektivt: 5 &lt; 7 &amp; "ok"'


def test_decode_and_blank() -> None:
    assert note_body.decode(base64.b64encode("æøå".encode()).decode()) == "æøå"
    assert note_body.decode("IA==") == " "
    assert note_body.is_blank(" ") and note_body.is_blank("<p> </p>") and not note_body.is_blank("<p>x</p>")
