"""Min Spærring in DDS: which of a citizen's blocks apply to the professional looking, now.

A block applies when it is active at the time of the look-up (NSP judges ``status``) and names the
professional (authorisation id), an organisation covering theirs (SOR, with sub-units if the block
says so) or everyone. One without a data period withholds everything: the look-up answers an empty
result and nothing is logged. One with a data period withholds only documents whose service time
falls in it: the result is filtered and says so in a warning (nspop 121380616).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nsp_sandbox.clock import naive_utc
from nsp_sandbox.outcome import Issue
from nsp_sandbox.tokens import Principal
from services.dds.queries import Withholding

SOURCE = ("DDS consent handling (nspop 121380616): negative consent → no data, no log; "
          "data-specific → filtered + warning")


@dataclass(frozen=True)
class BlockDecision:
    withheld: tuple[Withholding, ...]

    @property
    def everything(self) -> bool:
        return any(w.everything for w in self.withheld)

    @property
    def partly(self) -> bool:
        return bool(self.withheld) and not self.everything


def applies_to(block: dict[str, Any], principal: Principal) -> bool:
    if block.get("status") != "active":
        return False
    who = block.get("who") or {}
    if who.get("type") == "all":
        return True
    if who.get("type") == "professional":
        return bool(principal.authorisation) and who.get("id") == principal.authorisation
    if who.get("type") == "organisation":
        return bool(principal.organisation_sor) and principal.organisation_sor in block.get("organisations_covered", [])
    return False


def decide(cpr: str, blocks: list[dict[str, Any]], principal: Principal) -> BlockDecision:
    withheld = []
    for block in blocks:
        if applies_to(block, principal):
            withheld.append(Withholding(cpr, _instant(block.get("data_from")), _instant(block.get("data_to"))))
    if any(w.everything for w in withheld):
        withheld = [Withholding(cpr)]
    return BlockDecision(tuple(withheld))


def withheld_warning() -> Issue:
    return Issue("warning", "suppressed", "Some documents were withheld: the citizen has blocked data from a "
                 "period for you (Min Spærring)", rule="dds-consent-filtered", source=SOURCE)


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    return naive_utc(datetime.fromisoformat(value))
