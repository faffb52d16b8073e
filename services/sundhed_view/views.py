"""What each page shows, built the same way for the HTML pages and the JSON API: one ITI-67
search with the reader's token, the documents of one kind retrieved and read, the view model."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.hco_terms import repertoire
from services.sundhed_view import conditions, hco, notes
from services.sundhed_view.dds import Dds, Reader
from services.sundhed_view.documents import KIND_BY_TYPE, Documents, Entry, Invalid, Loaded


@dataclass
class Overview:
    """How many documents of each kind DDS lists for the reader (and DDS's warnings)."""

    counts: dict[str, int]
    warnings: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class ConditionsView:
    lists: list[conditions.ConditionList]
    invalid: list[Invalid]

    def to_json(self) -> dict[str, Any]:
        return {"lists": [c.to_json() for c in self.lists], "invalid": [i.to_json() for i in self.invalid]}


@dataclass
class NotesView:
    notes: list[notes.Note]
    invalid: list[Invalid]

    def to_json(self) -> dict[str, Any]:
        return {"notes": [n.to_json() for n in self.notes], "invalid": [i.to_json() for i in self.invalid]}


class Views:
    def __init__(self, context: SandboxContext) -> None:
        self.context = context
        self.dds = Dds(context)
        self._repertoire: dict[tuple[str, str], str] | None = None
        self.documents = Documents(
            context, self.dds,
            readers={"hco": lambda b: hco.read_message(b, self.repertoire), "conditionlist": conditions.read,
                     "notes": notes.read},
            checks={"hco": hco.check, "conditionlist": conditions.check, "notes": notes.check})

    @property
    def repertoire(self) -> dict[tuple[str, str], str]:
        if self._repertoire is None:
            self._repertoire = repertoire(self.context.packages)
        return self._repertoire

    async def entries(self, reader: Reader, cpr: str, kind: str | None = None) -> tuple[list[Entry], list[str]]:
        types = tuple(code for code, of in KIND_BY_TYPE.items() if of == kind) if kind else ()
        found, warnings = await self.dds.find(reader, cpr, types)
        return [Entry.of(r) for r in found], warnings

    async def overview(self, reader: Reader, cpr: str) -> Overview:
        entries, warnings = await self.entries(reader, cpr)
        counts = {"hco": 0, "conditionlist": 0, "notes": 0}
        for entry in entries:
            if entry.kind in counts and entry.status == "current":
                counts[entry.kind] += 1
        return Overview(counts, warnings)

    async def _load(self, reader: Reader, cpr: str, kind: str,
                    statuses: tuple[str, ...]) -> tuple[list[Loaded | Invalid], list[str]]:
        entries, warnings = await self.entries(reader, cpr, kind)
        chosen = [e for e in entries if e.kind == kind and e.status in statuses]
        return await self.documents.load(reader, chosen, use_cache=reader.reads_own(cpr), cpr=cpr), warnings

    async def observations(self, reader: Reader, cpr: str) -> tuple[hco.ObservationsView, list[str]]:
        loaded, warnings = await self._load(reader, cpr, "hco", ("current", "superseded", "entered-in-error"))
        messages, invalid = [], []
        for item in loaded:
            if isinstance(item, Invalid):
                invalid.append(item)
                continue
            message = copy.deepcopy(item.model)
            message.entry_id, message.entry_status = item.entry.id, item.entry.status
            message.entry_comment = item.entry.comment
            messages.append(message)
        return hco.assemble(messages, invalid), warnings

    async def conditions(self, reader: Reader, cpr: str) -> tuple[ConditionsView, list[str]]:
        loaded, warnings = await self._load(reader, cpr, "conditionlist", ("current",))
        lists, invalid = [], []
        for item in loaded:
            if isinstance(item, Invalid):
                invalid.append(item)
            else:
                found = copy.copy(item.model)
                found.entry_id = item.entry.id
                lists.append(found)
        return ConditionsView(conditions.sort_lists(lists), invalid), warnings

    async def notes(self, reader: Reader, cpr: str) -> tuple[NotesView, list[str]]:
        loaded, warnings = await self._load(reader, cpr, "notes", ("current",))
        found, invalid = [], []
        for item in loaded:
            if isinstance(item, Invalid):
                invalid.append(item)
            else:
                note = copy.copy(item.model)
                note.entry_id = item.entry.id
                found.append(note)
        return NotesView(notes.sort_notes(found), invalid), warnings
