"""The viewer's stored extracts are JSON read back into the view models' classes only: every kind of
extract comes back equal, with its types, and a row naming anything else is refused, not built."""

from __future__ import annotations

import json

import pytest
from markupsafe import Markup

from services.sundhed_view.conditions import ConditionList, Diagnosis
from services.sundhed_view.documents import EXTRACT_TYPES, _Read
from services.sundhed_view.extract_codec import ExtractCodec, Unreadable
from services.sundhed_view.hco import Message, Result
from services.sundhed_view.notes import Note

CODEC = ExtractCodec(EXTRACT_TYPES)


def _message() -> Message:
    result = Result(code="NPU19748", system="urn:oid:1.2.208.176.2.1", name="C-reaktivt protein", value="5,5",
                    numeric=5.5, unit="mg/L", sampled="2026-03-01T10:00:00+01:00", comment=None, corrected=True,
                    header_id="h1", sampled_text="1. marts 2026 10:00")
    return Message(header_id="h1", activity="new-message", previous=None, issued="2026-03-01T10:05:00+01:00",
                   team="Akutteam Aarhus", team_sor="123", signed_by="Sygeplejerske Else", clinical_comment="Ømhed",
                   results=[result], entry_id="e1")


EXTRACTS = {
    "an HCO message": _Read(_message(), frozenset({"2509479989"})),
    "a diagnosis card": _Read(ConditionList(organisation="Lægehuset", updated=None, patient="Bruno Elmer", diagnoses=[
        Diagnosis(icpc2="K86", sks=None, other_codes=["x"], text="Hypertension", status="active", type=None,
                  recorded="2026-01-01", onset=None, abatement=None)]), frozenset({"2509479989"})),
    "a note": _Read(Note(created="2026-02-02T09:00:00+01:00", updated=None, organisation="Lægehuset", author="Lars",
                         role=None, patient="Bruno Elmer", body=Markup("<p>Kontrol &amp; <b>plan</b></p>")),
                    frozenset({"2509479989", "0101601234"})),
    "the reasons a document is invalid": _Read(["Bundle.entry[0]: mangler"], None),
}


@pytest.mark.parametrize("kind", EXTRACTS)
def test_every_kind_of_extract_comes_back_equal_with_its_types(kind: str) -> None:
    extract = EXTRACTS[kind]
    blob = CODEC.dumps(extract)
    json.loads(blob)  # plain JSON
    back = CODEC.loads(blob)
    assert back == extract and type(back) is _Read
    assert type(back.patients) is type(extract.patients)
    if isinstance(extract.outcome, Note):
        assert type(back.outcome.body) is Markup and str(back.outcome.body) == str(extract.outcome.body)


def test_a_row_naming_another_class_is_refused_not_built() -> None:
    row = json.dumps({"dataclass": "Popen", "fields": {"args": ["touch", "/tmp/x"]}}).encode()
    with pytest.raises(Unreadable):
        CODEC.loads(row)


def test_a_row_with_a_field_the_class_no_longer_has_is_unreadable() -> None:
    blob = json.loads(CODEC.dumps(EXTRACTS["a diagnosis card"]))
    blob["fields"]["outcome"]["fields"]["renamed"] = "x"
    with pytest.raises(Unreadable):
        CODEC.loads(json.dumps(blob).encode())


def test_a_value_outside_the_view_models_is_not_stored() -> None:
    class Other:
        pass

    with pytest.raises(TypeError):
        CODEC.dumps(_Read(Other(), None))
