"""Prøvesvar fra kommunen: HomeCareObservation messages read into results per analysis.

Rules (MedCom HCO 1.2.1 and its use cases S/R.CORR, S/R.CANC):

* versions of one message are linked by ``Provenance.entity.what`` (the previous MessageHeader)
  and by DDS's replacement (``relatesTo replaces``); only the newest version's results are shown;
* a result that differs from the same analysis in an earlier version is marked ``R`` (MedCom's
  recommendation), and the earlier versions are one link away;
* a cancelled message — a ``retract-message`` in DDS, or the chain's entry deprecated in DDS
  (``entered-in-error``) — is shown as cancelled with the reason from
  ``DiagnosticReport.conclusion`` when DDS holds it, else from the deprecated entry's
  ``description`` (the EOJ does not share the retraction; it deprecates with the reason), never
  as results;
* every result: value (comparator, unit), sampling time, analysis comment, the acute team
  (sender organisation) and who signed (PractitionerRole).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from services.sundhed_view import formatting

NPU_SYSTEM = "urn:oid:1.2.208.176.2.1"
SOR_SYSTEM = "urn:oid:1.2.208.176.1.1"
CANCELLED_ENTRY = "entered-in-error"


@dataclass
class Result:
    code: str
    system: str
    name: str
    value: str  # as shown: comparator, number with decimal comma, or text
    numeric: float | None
    unit: str | None
    sampled: str | None
    comment: str | None
    corrected: bool = False
    header_id: str = ""
    sampled_text: str = ""  # the sampling time as shown (computed once, with the cached reading)

    @property
    def mark(self) -> str | None:
        return "R" if self.corrected else None


@dataclass
class Message:
    """One version of an HCO message."""

    header_id: str
    activity: str  # new-message | modified-message | retract-message
    previous: str | None
    issued: str | None
    team: str  # the acute team: the sender organisation's name
    team_sor: str | None
    signed_by: str | None
    clinical_comment: str | None
    results: list[Result]
    entry_id: str = ""
    entry_status: str = "current"
    entry_comment: str | None = None  # the DDS entry's description: a deprecation's reason


@dataclass
class Chain:
    """A message and its corrections; ``versions`` oldest first."""

    root: str
    versions: list[Message]
    cancelled: bool = False
    cancel_reason: str | None = None

    @property
    def newest(self) -> Message:
        shown = [v for v in self.versions if v.activity != "retract-message"]
        return (shown or self.versions)[-1]

    @property
    def corrected(self) -> bool:
        return len([v for v in self.versions if v.activity != "retract-message"]) > 1


@dataclass
class Analysis:
    code: str
    system: str
    name: str
    unit: str | None
    results: list[Result] = field(default_factory=list)  # newest first

    def newest(self, count: int | None) -> list[Result]:
        return self.results if count is None else self.results[:count]


@dataclass
class ObservationsView:
    analyses: list[Analysis]
    chains: list[Chain]
    cancelled: list[Chain]
    invalid: list[Any]

    @property
    def by_newest(self) -> dict[str, Chain]:
        """Each shown chain by the MessageHeader.id of its newest version (what a result names)."""
        return {c.newest.header_id: c for c in self.chains}

    def to_json(self) -> dict[str, Any]:
        return {
            "analyses": [{"code": a.code, "system": a.system, "name": a.name, "unit": a.unit,
                          "results": [_result_json(r) for r in a.results]} for a in self.analyses],
            "messages": [_chain_json(c) for c in self.chains],
            "cancelled": [_chain_json(c) for c in self.cancelled],
            "invalid": [i.to_json() for i in self.invalid],
        }


def _result_json(result: Result) -> dict[str, Any]:
    out = asdict(result)
    out.pop("sampled_text")
    out["mark"] = result.mark
    return out


def _chain_json(chain: Chain) -> dict[str, Any]:
    newest = chain.newest
    return {"id": chain.root, "cancelled": chain.cancelled, "cancel_reason": chain.cancel_reason,
            "corrected": chain.corrected, "newest": newest.header_id, "team": newest.team,
            "signed_by": newest.signed_by, "issued": newest.issued, "clinical_comment": newest.clinical_comment,
            "versions": [{"id": v.header_id, "activity": v.activity, "issued": v.issued,
                          "dds_entry": v.entry_id, "dds_status": v.entry_status,
                          "clinical_comment": v.clinical_comment,
                          "results": [_result_json(r) for r in v.results]} for v in chain.versions]}


def _by_ref(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for entry in bundle.get("entry", []):
        resource = entry.get("resource") or {}
        if resource.get("id"):
            out[f"{resource.get('resourceType')}/{resource['id']}"] = resource
        if entry.get("fullUrl"):
            out[entry["fullUrl"]] = resource
    return out


def _name(person: dict[str, Any]) -> str:
    name = (person.get("name") or [{}])[0]
    return " ".join([*name.get("given", []), name.get("family", "")]).strip()


def read_message(bundle: dict[str, Any], repertoire: dict[tuple[str, str], str]) -> Message:
    """One HCO message Bundle as a :class:`Message`."""
    resources = [e.get("resource") or {} for e in bundle.get("entry", [])]
    refs = _by_ref(bundle)
    header = resources[0]
    provenance = [r for r in resources if r.get("resourceType") == "Provenance"]
    own = next((p for p in provenance if str((p.get("target") or [{}])[0].get("reference", "")).endswith(
        header.get("id", ""))), provenance[0] if provenance else {})
    activity = next((c.get("code") for c in (own.get("activity") or {}).get("coding", [])), "new-message")
    previous = next((str(e.get("what", {}).get("reference", "")).rsplit("/", 1)[-1]
                     for p in provenance for e in p.get("entity", []) if e.get("role") in ("revision", "removal")),
                    None)
    report = next((r for r in resources if r.get("resourceType") == "DiagnosticReport"), {})
    sender = refs.get(str(header.get("sender", {}).get("reference", "")), {})
    signed_by = None
    for performer in report.get("performer", []):
        role = refs.get(str(performer.get("reference", "")), {})
        if role.get("resourceType") == "PractitionerRole":
            practitioner = refs.get(str(role.get("practitioner", {}).get("reference", "")), {})
            role_code = next((c.get("code") for cc in role.get("code", []) for c in cc.get("coding", [])), None)
            signed_by = ", ".join(p for p in (_name(practitioner), role_code) if p) or None
    results = []
    for ref in report.get("result", []):
        obs = refs.get(str(ref.get("reference", "")))
        if obs and obs.get("resourceType") == "Observation":
            results.append(_result(obs, repertoire, header.get("id", "")))
    return Message(
        header_id=str(header.get("id", "")), activity=str(activity), previous=previous,
        issued=report.get("issued") or bundle.get("timestamp"), team=str(sender.get("name") or "Ukendt akutteam"),
        team_sor=next((i.get("value") for i in sender.get("identifier", []) if i.get("system") == SOR_SYSTEM), None),
        signed_by=signed_by, clinical_comment=report.get("conclusion"), results=results)


def _result(obs: dict[str, Any], repertoire: dict[tuple[str, str], str], header_id: str) -> Result:
    codings = (obs.get("code") or {}).get("coding", [])
    coding = next((c for c in codings if (c.get("system"), c.get("code")) in repertoire), codings[0] if codings else {})
    system, code = str(coding.get("system", "")), str(coding.get("code", ""))
    name = repertoire.get((system, code)) or coding.get("display") or (obs.get("code") or {}).get("text") or code
    quantity = obs.get("valueQuantity")
    numeric = None
    if quantity is not None:
        raw = quantity.get("value")
        numeric = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
        value = f"{quantity.get('comparator', '')}{formatting.number(raw)}"
        unit = quantity.get("unit") or quantity.get("code")
    else:
        value, unit = str(obs.get("valueString", "")), None
    comment = " ".join(n.get("text", "") for n in obs.get("note", []) if n.get("text")) or None
    sampled = obs.get("effectiveDateTime")
    return Result(code, system, name, value, numeric if not quantity or "comparator" not in quantity else None,
                  unit, sampled, comment, header_id=header_id, sampled_text=formatting.date_time(sampled))


def _signature(result: Result) -> tuple[Any, ...]:
    return (result.value, result.unit, result.sampled, result.comment)


def assemble(messages: list[Message], invalid: list[Any]) -> ObservationsView:
    """The page: chains of versions, the newest results per analysis, cancelled messages apart."""
    by_id = {m.header_id: m for m in messages}
    by_entry = {m.entry_id: m for m in messages}

    def root(message: Message) -> str:
        seen = set()
        while message.previous and message.previous not in seen:
            seen.add(message.header_id)
            if message.previous not in by_id:
                return message.previous
            message = by_id[message.previous]
        return message.header_id

    groups: dict[str, list[Message]] = defaultdict(list)
    for message in messages:
        groups[root(message)].append(message)
    chains = []
    for key, versions in groups.items():
        versions.sort(key=lambda m: (m.activity == "retract-message", formatting.sort_key(m.issued)))
        # DDS's status is the authority on order: the current entry is the newest version.
        current = [v for v in versions if v.entry_status == "current" and v.activity != "retract-message"]
        if current:
            versions.remove(current[-1])
            shown_index = len([v for v in versions if v.activity != "retract-message"])
            versions.insert(shown_index, current[-1])
        chain = Chain(key, versions)
        retraction = next((v for v in versions if v.activity == "retract-message"), None)
        if retraction is not None or not current:
            chain.cancelled = retraction is not None or any(v.entry_status == CANCELLED_ENTRY for v in versions)
            # The retraction itself is not shared: its reason travels as the deprecated entry's description.
            chain.cancel_reason = retraction.clinical_comment if retraction else next(
                (v.entry_comment for v in versions if v.entry_status == CANCELLED_ENTRY and v.entry_comment), None)
        chains.append(chain)
    del by_entry
    shown, cancelled = [c for c in chains if not c.cancelled], [c for c in chains if c.cancelled]
    analyses: dict[tuple[str, str], Analysis] = {}
    for chain in shown:
        earlier = [r for v in chain.versions[:-1] if v.activity != "retract-message" for r in v.results]
        for result in chain.newest.results:
            before = [r for r in earlier if (r.system, r.code) == (result.system, result.code)]
            result.corrected = any(_signature(b) != _signature(result) for b in before)
            analysis = analyses.setdefault((result.system, result.code),
                                           Analysis(result.code, result.system, result.name, result.unit))
            analysis.results.append(result)
            analysis.unit = analysis.unit or result.unit
    for analysis in analyses.values():
        analysis.results.sort(key=lambda r: formatting.sort_key(r.sampled), reverse=True)
    ordered = sorted(analyses.values(), key=lambda a: a.name.lower())
    shown.sort(key=lambda c: formatting.sort_key(c.newest.issued), reverse=True)
    cancelled.sort(key=lambda c: formatting.sort_key(c.newest.issued), reverse=True)
    return ObservationsView(ordered, shown, cancelled, invalid)


def check(bundle: dict[str, Any]) -> list[str]:
    """Business rules beyond the profile: a message needs a MessageHeader first and a DiagnosticReport."""
    resources = [e.get("resource") or {} for e in bundle.get("entry", [])]
    if not resources or resources[0].get("resourceType") != "MessageHeader":
        return ["Bundle.entry[0]: en HCO-meddelelse begynder med en MessageHeader"]
    if not any(r.get("resourceType") == "DiagnosticReport" for r in resources):
        return ["Bundle.entry: en HCO-meddelelse har en DiagnosticReport"]
    return []
