"""Settings, read once from the environment (prefix ``NSP_SANDBOX_``)."""

from __future__ import annotations

import os
from datetime import date
from enum import StrEnum
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class DdsTransport(StrEnum):
    """Which of DDS's two doors an actor submits through (docs/xds.md): the same metadata either way."""

    MHD = "mhd"  # ITI-65 Provide Document Bundle, ITI-92 status update
    XDS = "xds"  # ITI-41 / ITI-61 to DROS, RPLC associations, ITI-57 deprecation, over DGWS


class Strictness(StrEnum):
    """How a validation layer or rule group treats a violation (as NSP's DROS levels)."""

    OFF = "off"  # not checked
    LOG = "log"  # checked, logged on the server only; the request goes on
    WARNING = "warning"  # checked, returned as a warning; the request goes on
    REJECT = "reject"  # checked, the request is refused


def default_fhir_package_cache() -> Path:
    """The standard FHIR package cache used by the FHIR tooling (``~/.fhir/packages``)."""
    return Path(os.environ.get("FHIR_PACKAGE_CACHE", Path.home() / ".fhir" / "packages"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NSP_SANDBOX_", extra="ignore")

    data_dir: Path = Field(default=Path(".sandbox-data"), description="where the embedded database lives")
    database_url: str | None = Field(
        default=None, description="any SQLAlchemy URL; default: SQLite file under data_dir"
    )
    fhir_packages: str = Field(
        default="", description="':'-separated .tgz files or folders of them, loaded before the cache"
    )
    fhir_package_cache: Path = Field(default_factory=default_fhir_package_cache)
    fhir_registry: str | None = Field(
        default=None, description="FHIR package registries tried in order (comma-separated) for missing packages")
    public_base_url: str | None = Field(
        default=None, description="absolute base URL clients reach the sandbox at; default: from each request"
    )
    max_body_bytes: int = Field(default=20 * 1024 * 1024, description="largest request body accepted")
    cpu_lane_threads: int = Field(
        default=1, ge=1, le=32, description="threads for CPU-bound request work (DDS's provides and updates, "
        "the viewer's prefetch reads, the HCO message's validation at the EOJ and the GP system), served first "
        "come, first served (nsp_sandbox.cpu_lane); more than one only takes turns on Python's lock")
    one_core: bool = Field(
        default=True, description="nsp-sandbox up (one process) and serve keep all their threads on the CPU core "
        "they start on: they take turns on Python's lock on warm caches (nsp_sandbox.one_core); false: the "
        "operating system places each thread")
    validation_process: bool = Field(
        default=True, description="nsp-sandbox up (one process) starts a second process on the cores it leaves, "
        "which makes DDS's ITI-65 validations while the request waits for the CPU lane "
        "(nsp_sandbox.validation_process); it needs a second core; false: every validation in the one process")

    # Validation strictness per layer / rule group.
    validation_structure: Strictness = Strictness.REJECT
    validation_profile: Strictness = Strictness.REJECT
    dds_rules_patient: Strictness = Strictness.REJECT
    dds_rules_codes: Strictness = Strictness.REJECT
    dds_rules_metadata: Strictness = Strictness.REJECT
    dds_rules_author: Strictness = Strictness.REJECT
    dds_rules_document_patient: Strictness = Field(
        default=Strictness.REJECT, description="DDS: the CPR number inside a provided FHIR document is the entry's")
    dds_rules_hco_consent: Strictness = Field(
        default=Strictness.REJECT, description="DDS: an HCOM with refused consent is refused (at every strictness "
        "but off); before hco_policy_date an HCOM is refused (reject) or warned about (warning)")

    # Where the other actors are; unset: this same sandbox, reached in process (see nsp_sandbox.peers).
    nsp_url: str | None = Field(default=None, description="base URL of NSP, e.g. http://nsp:8080/nsp")
    dds_url: str | None = Field(default=None, description="base URL of DDS, e.g. http://dds:8080/dds")
    eoj_url: str | None = Field(default=None, description="base URL of the EOJ, e.g. http://eoj:8080/eoj")
    lps_url: str | None = Field(default=None, description="base URL of the GP system, e.g. http://lps:8080/lps")
    plsp_url: str | None = Field(default=None, description="base URL of the PLSP Health Hub, e.g. http://plsp:8080/plsp")
    eds_url: str | None = Field(default=None, description="base URL of EHMI Delivery Status, e.g. http://eds:8080/eds")

    # HomeCareObservation (kommunale prøvesvar).
    hco_version: str = Field(
        default="1.2", pattern=r"^1\.[12](\.[0-9]+)?(-[a-z-]+)?$",
        description="the HomeCareObservation IG version (1.1 or 1.2, or a release such as 1.1.0) a message is judged "
        "by when neither an SBDH envelope nor the receiver's endpoint-register entry says")
    hco_ack_timeout_minutes: int = Field(default=30, description="MedCom: resend when no ack after this long")
    hco_max_resends: int = Field(default=2, description="MedCom: a message is resent at most this often")
    hco_policy_date: date = Field(
        default=date(2026, 1, 15),
        description="from this date (Danish time, sandbox clock) municipal results are shared to DDS without consent",
    )
    hco_max_message_bytes: int = Field(
        default=100 * 1024 * 1024, gt=0, description="MedCom: a HomeCareObservation message, attachments included, "
        "is at most this large (100 MB); the EHMI faces read up to 4/3 of it plus 1 MB (base64 in an envelope)")
    ehmi_receipt_seconds: int = Field(
        default=600, gt=0, description="EHMI: an SBDH envelope asks for its receipt within this long "
        "(TimeToAcknowledgeReceipt); the EOJ marks a later or missing one")
    lps_business_rules: Strictness = Field(
        default=Strictness.REJECT, description="the GP inbox's HCO business rules: reject → fatal-error")
    lps_hold_minutes: int = Field(
        default=10, ge=0, description="the GP inbox holds a modification or retraction whose original has not "
        "arrived this long (sandbox clock), then refuses it; 0: refuse at once")
    eoj_persona: str = Field(default="system-eoj-aarhus", description="the EOJ's system persona at NSP's STS")
    eoj_dds_transport: DdsTransport = Field(
        default=DdsTransport.MHD, description="how the EOJ shares HCO with DDS: mhd (ITI-65) or xds (ITI-41/57)")

    # PLSP Health Hub (ConditionList and Notes from GP systems, shared on demand through DDS).
    plsp_persona: str = Field(default="system-plsp", description="the hub's system persona at NSP's STS")
    plsp_dds_transport: DdsTransport = Field(
        default=DdsTransport.MHD, description="how the hub registers on-demand entries: mhd (ITI-65) or xds (ITI-61)")
    plsp_notes_after_midnight: bool = Field(
        default=False, description="Notes use case S1: a note becomes available after the next midnight (sandbox "
        "clock, Danish time); off: at once")
    plsp_note_purge_hours: float = Field(
        default=1.0, ge=0, le=24, description="a cancelled note's content is deleted this long after the cancellation")

    # Min Log "sløring": the CVR numbers whose staff a citizen sees pseudonymised in Min Log; the STS puts
    # them in every citizen's token (NSP carries the list in the citizen's IDWS token).
    nsp_pseudonymised_cvrs: list[str] = Field(
        default_factory=list, description="CVR numbers whose employees Min Log shows pseudonymised, e.g. "
        "[\"99000601\"] (a JSON list)")

    # The viewer as DSUBm Resource Notification Recipient (docs/view.md "Prefetch"): it subscribes at DDS at
    # start-up and reads each new document before anyone looks; off: it reads documents when a page needs them.
    view_dsubm: bool = Field(default=True, description="the viewer subscribes to DDS's notifications (DSUBm)")
    view_system_persona: str = Field(default="system-sundhed-dk", description="the viewer's system persona at "
                                     "NSP's STS (subscribes and prefetches)")
    view_dsubm_endpoint: str | None = Field(default=None, description="the URL DDS notifies the viewer at "
                                            "(default: {public base URL}/view/dsubm/notify, or in process)")
    # Access control in DDS (tokens, consent, treatment relations, Min Log); off only for experiments.
    dds_access_control: bool = True
    # DDS's request log (GET /dds/requests, docs/dds.md): what it received and answered, for conformance runs.
    dds_request_log: bool = True
    # The system persona DDS uses towards NSP (consent, BRS, persons, Min Log).
    dds_nsp_persona: str = "system-dds"
    # On-demand entries: the audience of DDS's token towards a source outside the sandbox's PLSP URL,
    # and how long DDS waits for a source to generate a document.
    dds_on_demand_audience: str = "plsp"
    dds_on_demand_timeout_seconds: float = Field(default=10.0, gt=0)
    # DSUBm notifications (services/dds/notifier.py): the audience of DDS's token towards a recipient.
    dds_notification_audience: str = "view"
    # The Notes formatCode (system urn:ietf:rfc:3986): MedCom publishes none, so the sandbox uses the
    # Notes composition profile canonical with its version (services/dds/metadata/document_entry.py).
    dds_notes_format_code: str = "http://medcomfhir.dk/ig/notes/StructureDefinition/medcom-notes-composition|1.0"

    # Identity of the sandbox's XDS affinity domain (TEST1 values by default).
    home_community_id: str = "urn:oid:1.2.208.176.43210.8.10"
    repository_unique_id: str = "1.2.208.176.43210.8.10.11"
    # The control face (/sandbox): with a token, callers must send it as a bearer token; without one,
    # only callers on this machine (loopback) may use it.
    admin_token: str | None = Field(default=None, description="bearer token for the /sandbox control face")
    # Reverse proxies (comma-separated addresses or CIDR networks) whose forwarded headers are believed:
    # the client's address and scheme (nsp_sandbox.trusted_proxies); from any other peer they are ignored.
    trusted_proxies: str = Field(default="", description="reverse proxies whose Forwarded / X-Forwarded-* "
                                 "headers are believed, e.g. '10.0.0.5, 172.16.0.0/12'")

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        from nsp_sandbox.trusted_proxies import parse_networks

        parse_networks(value)  # a bad entry stops the start with its name
        return value

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.data_dir / 'sandbox.db').resolve()}"

    def peer_urls(self) -> dict[str, str | None]:
        return {"nsp": self.nsp_url, "dds": self.dds_url, "eoj": self.eoj_url, "lps": self.lps_url,
                "plsp": self.plsp_url, "eds": self.eds_url}

    def package_sources(self) -> list[Path]:
        return [Path(p).expanduser() for p in self.fhir_packages.split(":") if p.strip()]
