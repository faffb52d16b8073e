"""What the GP system's inbox answers: over HTTP, what became of a message (:class:`Received`); and, once its
answer is stored, the acknowledgement still to be sent (:class:`Answer`); or that it is to be judged again
(:data:`AGAIN`); and, before the checks, what the first look at it found (:class:`Looked`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.lps.business_rules import Finding


@dataclass(frozen=True)
class Answer:
    """A stored answer whose acknowledgement is still to be sent (``release``: answering it may release the
    modifications and retractions held for it)."""

    verdict: str
    code: str | None
    ack: dict[str, Any]
    url: str | None
    sbdh: bool
    xml: bool
    header_id: str
    release: bool = True


@dataclass(frozen=True)
class Received:
    """What the inbox answers over HTTP (the acknowledgement itself travels separately)."""

    verdict: str
    ack_code: str | None
    ack_id: str | None
    delivery: str

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "ack": self.ack_code, "ack_bundle_id": self.ack_id, "delivery": self.delivery}


@dataclass
class Looked:
    """What the first look at a message found: whom it is from and to, what it was found to break so far, the
    newest answered copy of it (its row; None for none), and whether its checks are still to run."""

    header: dict[str, Any]
    sender_ids: dict[str, Any]
    receiver_ids: dict[str, Any]
    me: dict[str, str]
    findings: list[Finding]
    seen: int | None
    check: bool


class Again:
    """A message to judge again: another worker answered a copy of it after the look-up of earlier copies."""


AGAIN = Again()
