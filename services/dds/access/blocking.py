"""Min Spærring in DDS: what a citizen's consent items withhold from the professional looking, now.

An item counts when it is active at the time of the look-up (NSP judges ``status`` on the sandbox
clock) and its who-item covers the professional: everyone, or them by authorisation id (an
assistant is judged as the responsible professional). A negative item withholds its what-item:
all data, or the documents authored at a treatment place (the SOR codes it covers, sub-units as
registered), either narrowed to a data period. A positive item re-allows its who-group despite the
negative items it covers (dds-nsp.md §2.1): those whose data it spans.

One withholding of all data (no place, no period) answers an empty result and nothing is logged;
any other is filtered out of the result with a warning (nspop 121380616).
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


def applies_to(item: dict[str, Any], principal: Principal) -> bool:
    """Whether an active item's who-item covers ``principal``."""
    if item.get("status") != "active":
        return False
    who = item.get("who") or {}
    if who.get("type") == "all":
        return True
    authorisation = principal.judged_authorisation
    return who.get("type") == "professional" and bool(authorisation) and who.get("id") == authorisation


def _withholding(cpr: str, item: dict[str, Any]) -> Withholding:
    what = item.get("what") or {}
    places = tuple(what.get("organisations_covered") or ()) if what.get("type") == "organisation" else ()
    return Withholding(cpr, _instant(item.get("data_from")), _instant(item.get("data_to")), places)


def _spans(positive: Withholding, negative: Withholding) -> bool:
    """Whether a positive item's data covers all of a negative one's (so it lifts it)."""
    if positive.organisations and not (negative.organisations and set(negative.organisations)
                                       <= set(positive.organisations)):
        return False
    if positive.start is not None and (negative.start is None or negative.start < positive.start):
        return False
    return positive.end is None or (negative.end is not None and negative.end <= positive.end)


def decide(cpr: str, items: list[dict[str, Any]], principal: Principal) -> BlockDecision:
    applying = [i for i in items if applies_to(i, principal)]
    positives = [_withholding(cpr, i) for i in applying if i.get("kind") == "positive"]
    withheld = [w for w in (_withholding(cpr, i) for i in applying if i.get("kind", "negative") == "negative")
                if not any(_spans(p, w) for p in positives)]
    if any(w.everything for w in withheld):
        withheld = [Withholding(cpr)]
    return BlockDecision(tuple(withheld))


def withheld_warning() -> Issue:
    return Issue("warning", "suppressed", "Some documents were withheld: the citizen has blocked some of their "
                 "data for you (Min Spærring: a treatment place or a period), or a fuldmagt does not cover them",
                 rule="dds-consent-filtered", source=SOURCE)


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    return naive_utc(datetime.fromisoformat(value))
