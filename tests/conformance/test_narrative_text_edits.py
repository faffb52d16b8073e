"""A narrative that differs from one judged without problems only in its text and attribute values is judged by that
difference (``fhirpath.narrative``): it must get exactly the findings a parse gives it, whatever the edit."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nsp_sandbox.conformance.fhirpath import narrative
from nsp_sandbox.conformance.fhirpath.narrative import _narrative_checks, narrative_checks
from nsp_sandbox.conformance.validator import Validator

TEMPLATE = ('<div xmlns="http://www.w3.org/1999/xhtml"><p class="res-header-id"><b>Generated Narrative: Observation'
            ' 3fd3835d</b></p><table class="grid"><tr><td>CRP</td><td>{value}</td></tr><tr><td>Patient</td>'
            '<td><a href="Patient-1.html">CPR {cpr}</a></td></tr></table><p>{note}</p></div>')
JUDGED = TEMPLATE.format(value="12 mg/L", cpr="2509479989", note="Målt i hjemmet")

# Characters and pieces an edit is made of: markup and references, quotes, whitespace of several kinds,
# characters XML does not allow, and ordinary text.
PIECES = st.sampled_from(["<", ">", "&", "&amp;", "&lt;", "&nbsp;", "&#0;", "]]>", "<b>", "</td>", "<!--", "-->",
                          '"', "'", " ", "\t", "\n", "\r", "\xa0", "\u2003", "\x00", "\x0b", "\ud800", "\ufffe",
                          "a", "Z", "7", "ø", "≥", "=", "/", "?", "\U0001f600"])


def judged_without_problems(div: str) -> None:
    """Make ``div`` the narrative judged last for its first and last characters, as a parse would."""
    assert _narrative_checks(div) == ([], [])
    narrative._forget()
    assert narrative_checks(div) == ([], [])
    narrative._cache.pop(div)


def as_a_parse_judges(div: str) -> None:
    assert narrative_checks(div) == _narrative_checks(div), repr(div)


@given(st.integers(0, len(JUDGED)), st.integers(0, 40), st.lists(PIECES, max_size=6).map("".join))
@settings(max_examples=4000, deadline=None)
def test_any_edit_of_a_judged_narrative_gets_the_findings_of_a_parse(at: int, removed: int, inserted: str) -> None:
    judged_without_problems(JUDGED)
    as_a_parse_judges(JUDGED[:at] + inserted + JUDGED[at + removed:])


@given(st.text(st.characters(), max_size=12), st.text(st.characters(), max_size=12), st.text(max_size=12))
@settings(max_examples=3000, deadline=None)
def test_any_text_in_the_template_s_runs_gets_the_findings_of_a_parse(value: str, cpr: str, note: str) -> None:
    judged_without_problems(JUDGED)
    as_a_parse_judges(TEMPLATE.format(value=value, cpr=cpr, note=note))


def test_new_text_and_attribute_values_are_judged_by_the_edit_and_other_edits_are_parsed() -> None:
    judged_without_problems(JUDGED)
    for edited in (TEMPLATE.format(value="12 mg/L", cpr="0101011234", note="Målt i hjemmet"),
                   TEMPLATE.format(value="13 mg/L &lt; 20", cpr="1212121212", note="Målt &amp; sendt"),
                   JUDGED.replace('class="grid"', 'class="wide"').replace("3fd3835d", "9ab0c1d2"),
                   JUDGED.replace('href="Patient-1.html"', "href='Patient-2.html'")):
        assert narrative._edit_of_one_judged(edited), edited
        assert narrative_checks(edited) == ([], [])  # each then the one judged last
    judged_without_problems(JUDGED)
    # Not an edit of text and values: a changed tag, an added attribute, a run emptied or left only whitespace, a
    # reference other than the predefined five, a character XML does not have, a script URL, a changed namespace,
    # text after the root element.
    for div in (JUDGED.replace("<b>", "<i>").replace("</b>", "</i>"),
                JUDGED.replace('class="grid"', 'class="grid" id="x"'),
                TEMPLATE.format(value="", cpr="2509479989", note="Målt i hjemmet"),
                TEMPLATE.format(value="12 mg/L", cpr="2509479989", note="  "),
                TEMPLATE.format(value="12 mg/L", cpr="&#48;", note="Målt i hjemmet"),
                TEMPLATE.format(value="12 mg/L", cpr="&nbsp;", note="Målt i hjemmet"),
                TEMPLATE.format(value="12 mg/L", cpr="\x01", note="Målt i hjemmet"),
                JUDGED.replace('href="Patient-1.html"', 'href=" javascript:alert(1)"'),
                JUDGED.replace('href="Patient-1.html"', 'href="Patient&amp;1.html"'),
                JUDGED.replace("1999/xhtml", "1999/xhtmx"),
                JUDGED + "x"):
        assert not narrative._edit_of_one_judged(div), div


def test_a_lone_surrogate_in_a_narrative_is_not_well_formed() -> None:
    div = '<div xmlns="http://www.w3.org/1999/xhtml">a\ud800b</div>'
    markup, content = narrative_checks(div)
    assert markup == content == ["the narrative is not well-formed XHTML: U+D800 at 43 is a lone surrogate, not a "
                                 "character"]


@pytest.mark.parametrize("judged", [
    JUDGED.replace("<table", "<!-- a comment --><table"),  # a comment: "<" that opens no tag
    JUDGED.replace('class="grid"', 'class="a>b"'),  # a ">" that closes no tag
    JUDGED.replace("CRP", "CRP &gt; 10"),
])
def test_a_narrative_whose_marks_are_not_all_tags_is_never_the_one_judged_by(judged: str) -> None:
    narrative._forget()
    assert narrative_checks(judged) == ([], [])
    assert narrative._judged == {} or "&" in judged
    edited = judged.replace("12 mg/L", "12 mg/L <script>") if "&" not in judged else judged.replace("gt", "xx")
    as_a_parse_judges(edited)


def test_only_a_narrative_judged_without_problems_is_known_well_formed() -> None:
    narrative._forget()
    with_control = JUDGED.replace("CRP", "C\x0bRP")
    with_script = JUDGED.replace("<b>", "<script>").replace("</b>", "</script>")
    for div in (JUDGED, with_control, with_script):
        narrative_checks(div)
    assert narrative.known_well_formed(JUDGED)
    assert not narrative.known_well_formed(with_control) and not narrative.known_well_formed(with_script)
    assert not narrative.known_well_formed(JUDGED.replace("CRP", "Hb"))  # not judged


def test_a_control_character_in_a_narrative_is_found_after_the_narrative_without_it(validator: Validator) -> None:
    def basic(div: str) -> dict[str, object]:
        return {"resourceType": "Basic", "code": {"text": "x"}, "text": {"status": "generated", "div": div}}

    def representation(div: str) -> list[str]:
        return [i.diagnostics for i in validator.validate(basic(div)) if "control characters" in i.diagnostics]

    assert representation(JUDGED) == []
    assert representation(JUDGED.replace("CRP", "C\x0bRP")) != []
    assert representation(TEMPLATE.format(value="12 mg/L", cpr="25\x0109479989", note="Målt i hjemmet")) != []


def test_narratives_that_share_their_beginning_are_each_judged_by_their_own_kind() -> None:
    narrative._forget()
    crp = TEMPLATE.format(value="12 mg/L", cpr="2509479989", note="Målt i hjemmet")
    hb = crp.replace("<td>CRP</td>", "<td>Hb</td><td>(B)</td>")  # other markup after the same first characters
    assert narrative_checks(crp) == narrative_checks(hb) == ([], [])
    for cpr in ("0101011234", "1212121212", "0202021234"):
        for kind in (crp, hb):
            assert narrative._edit_of_one_judged(kind.replace("2509479989", cpr)), kind
            narrative_checks(kind.replace("2509479989", cpr))
    assert len(narrative._judged) == 1 and len(next(iter(narrative._judged.values()))) == 2


EDIT = st.tuples(st.integers(0, len(JUDGED)), st.integers(0, 40), st.lists(PIECES, max_size=4).map("".join))
VALUED = (JUDGED.replace('class="grid"', 'class="{grid}"').replace('href="Patient-1.html"', 'href="{href}"')
          .replace("3fd3835d", "{id}"))


@given(st.lists(EDIT, min_size=2, max_size=4))
@settings(max_examples=3000, deadline=None)
def test_edits_in_several_places_get_the_findings_of_a_parse(edits: list[tuple[int, int, str]]) -> None:
    judged_without_problems(JUDGED)
    div = JUDGED
    for at, removed, inserted in sorted(edits, reverse=True):  # from the end: each place is one of JUDGED
        div = div[:at] + inserted + div[at + removed:]
    as_a_parse_judges(div)


@given(st.text(st.characters(), max_size=12), st.text(st.characters(), max_size=12), st.text(max_size=12))
@settings(max_examples=3000, deadline=None)
def test_any_attribute_values_and_text_at_once_get_the_findings_of_a_parse(grid: str, href: str, id_: str) -> None:
    judged_without_problems(JUDGED)
    as_a_parse_judges(VALUED.format(grid=grid, href=href, id=id_))


GENERATED = ('<div xmlns="http://www.w3.org/1999/xhtml"><a name="Observation_{id}"> </a><p class="res-header-id">'
             '<b>Generated Narrative: Observation {id}</b></p><a name="{id}"> </a><a name="hc{id}"> </a><p><b>subject'
             '</b>: <a href="Patient-{patient}.html">Patient/{patient}</a></p><p><b>effective</b>: {when}</p><p><b>'
             'value</b>: {value} mg/L</p></div>')


def test_a_sender_s_next_narrative_with_a_fresh_id_in_its_first_characters_and_anchors_is_judged_by_the_edit() -> None:
    """A generated narrative names the resource's id at its start and in its anchors: the next one of its kind
    differs from every kept one in its first characters and in several places, and is still judged by the edit."""
    narrative._forget()
    first = GENERATED.format(id="3fd3835d-1758-4d22-8547-000182752817", patient="bbcd4817-1c4b-4089-a712-346f65ec16f9",
                             when="2023-09-13 09:24:08+0200", value="19")
    other_kind = first.replace("<p><b>value</b>", "<p><i>value</i>")  # the same first characters, other markup
    for div in (first, other_kind):
        assert narrative_checks(div) == ([], [])
    assert len(narrative._judged) == 1 and len(next(iter(narrative._judged.values()))) == 2
    for n in range(3):
        div = GENERATED.format(id=f"{n}b2d87d5-29c0-4596-b210-9307abd8952c", when=f"2026-05-0{n + 1} 16:45:57+0100",
                               patient=f"{n}a1c7e9d-0000-4000-8000-123456789abc", value=f"{24 + n}")
        assert narrative._edit_of_one_judged(div), div
        assert narrative._edit_of_one_judged(div.replace("<p><b>value</b>", "<p><i>value</i>"))
        assert not narrative._edit_of_one_judged(div.replace('href="Patient-', 'href="javascript:Patient-'))
        assert not narrative._edit_of_one_judged(div.replace('class="res-header-id"', "class='res-header-id'")
                                                 .replace('<p><b>subject', '<p title="&#60;"><b>subject'))
        as_a_parse_judges(div)
        assert narrative_checks(div) == ([], [])


@given(st.text(st.characters(), max_size=12), st.text(st.characters(), max_size=12), st.text(max_size=12),
       st.text(st.characters(), max_size=8))
@settings(max_examples=3000, deadline=None)
def test_any_ids_values_and_times_in_a_generated_narrative_get_the_findings_of_a_parse(
        id_: str, patient: str, when: str, value: str) -> None:
    judged_without_problems(GENERATED.format(id="3fd3835d-1758-4d22-8547-000182752817", patient="bbcd4817",
                                             when="2023-09-13 09:24:08+0200", value="19"))
    as_a_parse_judges(GENERATED.format(id=id_, patient=patient, when=when, value=value))


def test_the_narratives_kept_for_their_edits_stay_within_their_memory_budget() -> None:
    """Long narratives, each under a key of its own and each split into many pieces, are let go past the budget."""
    narrative._forget()
    cells = "".join(f"<td>{n}</td>" for n in range(20_000))  # 40,001 pieces once split
    kinds = [f'<div xmlns="http://www.w3.org/1999/xhtml"><p title="{chr(0x4e00 + n)}{"kind " * 20}">x</p>'
             f"<table><tr>{cells}</tr></table></div>" for n in range(12)]
    for div in kinds:
        assert narrative_checks(div) == ([], [])
        edited = div.replace("<td>7</td>", "<td>8</td>").replace(">x<", ">y<")  # two changed runs: split and compared
        assert narrative_checks(edited) == ([], [])
        held = sum(kept.size for kept_ones in narrative._judged.values() for kept in kept_ones)
        assert held <= narrative._JUDGED_BUDGET
        assert len(narrative._judged) <= 6  # a key for each kind (its first characters differ), let go on the way
    assert narrative_checks(kinds[0].replace(">x<", ">w<")) == ([], [])  # kept again
    assert narrative._edit_of_one_judged(kinds[0].replace(">x<", ">z<").replace("<td>9</td>", "<td>1</td>"))


SHORT = '<div xmlns="http://www.w3.org/1999/xhtml">CPR: 2509479989, Name: Grethe KGBTest</div>'


def test_a_short_narrative_is_judged_by_its_edit_too() -> None:
    """A DocumentReference's one line naming its patient: kept by all of its text without digits, "a"-"f" and "-"."""
    judged_without_problems(SHORT)
    assert narrative._edit_of_one_judged(SHORT.replace("2509479989", "0101011234"))
    assert not narrative._edit_of_one_judged(SHORT.replace("2509479989", "&#48;"))
    assert not narrative._edit_of_one_judged(SHORT.replace("</div>", "</div>x"))


@given(st.integers(0, len(SHORT)), st.integers(0, 20), st.lists(PIECES, max_size=6).map("".join))
@settings(max_examples=3000, deadline=None)
def test_any_edit_of_a_short_judged_narrative_gets_the_findings_of_a_parse(at: int, removed: int,
                                                                           inserted: str) -> None:
    judged_without_problems(SHORT)
    as_a_parse_judges(SHORT[:at] + inserted + SHORT[at + removed:])


def test_the_narratives_kept_by_their_text_stay_within_their_memory_budget() -> None:
    """Narratives with an inlined image, each new: kept by their text within the budget; one larger than a
    sixteenth of it is judged each time it comes, with the findings of a parse."""
    narrative._forget()
    picture = "iVBORw0KGgo" * 50_000  # 550,000 characters of Base64
    for n in range(40):
        div = (f'<div xmlns="http://www.w3.org/1999/xhtml"><p>Sår {n}</p>'
               f'<img src="data:image/png;base64,{picture}"/></div>')
        assert narrative_checks(div) == ([], [])
        assert sum(len(text) for text in narrative._cache) <= narrative._CACHE_BUDGET
    assert narrative.known_well_formed(div)  # the latest is kept
    larger = div.replace(picture, picture * 2)
    assert narrative_checks(larger) == _narrative_checks(larger) == ([], [])
    assert not narrative.known_well_formed(larger)
    assert narrative_checks(larger.replace("<p>", "<script>").replace("</p>", "</script>"))[0]


LAID_OUT = ('<div xmlns="http://www.w3.org/1999/xhtml">\n  <h3>\n    Hjemmemonitorering\n  </h3>\n  <p class="intro">\n'
            '    Prøvesvar målt af kommunens akutteam\n  </p>\n  <p>\n    <b>CRP</b>: {value}\n  </p>\n'
            '  <p title="{title}">\n    Målt i hjemmet af\n    {nurse}\r\n\t</p>\n</div>')


def test_a_narrative_laid_out_on_several_lines_is_judged_by_its_edit() -> None:
    """Text runs holding line feeds, tabs and carriage returns (a narrative written by hand, as many of MedCom's
    examples are): a new value in such a run, or in an attribute, is an edit of text and values."""
    judged_without_problems(LAID_OUT.format(value="12 mg/L", title="målt\tkl. 9", nurse="Anne Hansen"))
    assert narrative._edit_of_one_judged(LAID_OUT.format(value="13 mg/L\n", title="målt\nkl. 10", nurse="Bo\tJensen"))
    assert not narrative._edit_of_one_judged(LAID_OUT.format(value="13 \x0b mg/L", title="x", nurse="Bo"))


@given(st.text(st.characters(), max_size=12), st.text(st.characters(), max_size=12), st.text(max_size=12))
@settings(max_examples=2000, deadline=None)
def test_any_text_in_a_narrative_laid_out_on_several_lines_gets_the_findings_of_a_parse(value: str, title: str,
                                                                                        nurse: str) -> None:
    judged_without_problems(LAID_OUT.format(value="12 mg/L", title="målt\tkl. 9", nurse="Anne Hansen"))
    as_a_parse_judges(LAID_OUT.format(value=value, title=title, nurse=nurse))
