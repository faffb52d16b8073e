"""What the guarded-read steps of an MHD search (ITI-66, ITI-67) share: the request parsed into its
search, the patients it names (the grant is decided for them), and the Min Log line for the
patients whose data was shown. Each transaction adds its own query and warnings."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from nsp_sandbox.tokens import Principal
from services.dds.access.guard import patients_named
from services.dds.mhd.search import ParsedSearch
from services.dds.registry import Page, Registry

Q = TypeVar("Q")


class SearchSteps(Generic[Q]):
    activity: str = ""
    found_noun: str = ""  # what the Min Log line counts, e.g. "DocumentReference(s)"
    sources_may_read = False

    def __init__(self, registry: Registry, pairs: list[tuple[str, str]], strict: bool) -> None:
        self.registry = registry
        self.pairs = pairs
        self.strict = strict
        self.cprs: list[str] = []

    def parse(self, pairs: list[tuple[str, str]], strict: bool) -> tuple[ParsedSearch, Q]:
        raise NotImplementedError

    async def subjects(self, principal: Principal | None) -> list[str]:
        self.parsed, self.search = self.parse(self.pairs, self.strict)
        self.cprs = patients_named(self.search.patients) if principal is not None else []  # type: ignore[attr-defined]
        return self.cprs

    def logged(self, found: Page) -> tuple[list[str], str]:
        shown: set[Any] = {i.patient.value for i in found.items} if found.items else (
            set(self.cprs) if found.total else set())
        return [c for c in self.cprs if c in shown], f"{found.total} {self.found_noun} found"
