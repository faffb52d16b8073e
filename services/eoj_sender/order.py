"""The simple order an acute-team nurse fills in, from which the EOJ builds an HCO message."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Observation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="NPU/DNK or MCS code from the national analysis repertoire, e.g. NPU22089")
    value: int | float | str | None = Field(default=None, description="number, or text such as 'Negative'")
    comparator: Literal["<", ">"] | None = None
    unit: str | None = Field(default=None, description="default: the unit the code's display names")
    time: datetime | None = Field(default=None, description="sampling time; default: now")
    comment: str | None = Field(default=None, description="analysis comment for this result")
    id: str | None = Field(default=None, description="kept from the original when modifying")


class Attachment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str
    content_type: Literal["application/pdf", "image/gif", "image/jpeg", "image/png", "image/tiff", "image/bmp"]
    data: str = Field(description="base64")


class Signature(BaseModel):
    model_config = ConfigDict(extra="forbid")

    family: str = "Pedersen"
    given: list[str] = Field(default_factory=lambda: ["Mia"])
    role: str = Field(default="sygeplejerske", description="SKS administrative role code")
    phone: str = "+45 05577668"


class Order(BaseModel):
    """``POST /eoj/hco``: who, to whom, what was measured."""

    model_config = ConfigDict(extra="forbid")

    cpr: str = Field(description="CPR, or an x-eCPR replacement number (e.g. 0703921VJ5)")
    family: str
    given: list[str] = Field(default_factory=list)
    receiver: str = Field(description="the requesting GP: SOR or GLN from the endpoint register")
    initials: str | None = Field(default=None, description="the requesting GP's initials; none: 'unknown'")
    observations: list[Observation] = Field(min_length=1)
    clinical_comment: str | None = None
    attachments: list[Attachment] = Field(default_factory=list)
    refused_consent: bool = Field(default=False, description="the citizen refused sharing (security label R)")
    consent: bool = Field(default=False, description="explicit consent to share before the policy date")
    signature: Signature = Field(default_factory=Signature)
    version: str | None = Field(
        default=None, pattern=r"^1\.[12](\.[0-9]+)?(-[a-z-]+)?$",
        description="the HomeCareObservation IG version the message follows (1.1 or 1.2); default: the "
        "receiver's endpoint-register entry, else NSP_SANDBOX_HCO_VERSION")


class Modification(BaseModel):
    """``POST /eoj/hco/{id}/modify``: what changes; anything left out stays as it was."""

    model_config = ConfigDict(extra="forbid")

    observations: list[Observation] | None = Field(
        default=None, description="changed results by code (only the fields given change); new codes are added")
    clinical_comment: str | None = None
    initials: str | None = None
    signature: Signature | None = None
    attachments: list[Attachment] | None = None


class Retraction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="Cancellation due to incorrect CPR-number",
                        description="goes to DiagnosticReport.conclusion")
