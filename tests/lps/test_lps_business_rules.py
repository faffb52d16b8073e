"""Every GP business rule (``services/lps/business_rules.py`` and ``chain_rules.py``), each on a message
sent over HTTP to ``POST /lps/ehmi``: the rule id, its severity as ``hco.md`` §1.9 / §7.1 gives it
(an error refuses the message ``fatal-error``; the orphan entry and the MessageDefinition version
forms are warnings that travel on an ``ok``), the MedCom issue code and the element path the
acknowledgement carries. Each message is an official example re-stamped and changed in one place."""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from nsp_sandbox.config import Strictness
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.hco_examples import example_messages
from nsp_sandbox.hco_terms import (
    CONFIDENTIALITY_SYSTEM,
    GLN_SYSTEM,
    HCO_DEFINITION,
    PRODUCENT_SYSTEM,
    SOR_SYSTEM,
    gln_check_digit,
    repertoire,
)
from services.eoj_sender.replay_corpus import restamp
from services.lps.business_rules import check

FHIR = {"Content-Type": "application/fhir+json"}
NEW, MODIFIED, CANCELLED = ("Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json",
                            "Bundle-73996cdc-3192-4d15-bd16-c365ef0085e7.json",
                            "Bundle-5f341feb-9a20-463a-96cc-a9ca8ace5567.json")
WITH_MEDIA = "Bundle-add5e7e2-0c0f-4a4a-bfff-f6f984fa7e3c.json"
DEFINITION = HCO_DEFINITION.partition("|")[0]
Bundle = dict[str, Any]


def _all(b: Bundle, kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == kind]


def _one(b: Bundle, kind: str) -> dict[str, Any]:
    return _all(b, kind)[0]


def _org(b: Bundle, ref: str) -> dict[str, Any]:
    return next(e["resource"] for e in b["entry"] if f"Organization/{e['resource']['id']}" == ref)


def _receiver(b: Bundle) -> dict[str, Any]:
    return _org(b, b["entry"][0]["resource"]["destination"][0]["receiver"]["reference"])


def _producer(b: Bundle) -> dict[str, Any]:
    return _org(b, b["entry"][0]["resource"]["sender"]["reference"])


def _copy_entry(b: Bundle, kind: str) -> None:
    resource = copy.deepcopy(_one(b, kind))
    resource["id"] = str(uuid.uuid4())
    b["entry"].append({"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource})


def _set(resource: dict[str, Any], key: str, value: Any) -> None:
    if value is None:
        resource.pop(key, None)
    else:
        resource[key] = value


def _without_value(b: Bundle) -> None:
    obs = _one(b, "Observation")
    obs.pop("valueQuantity", None)
    obs.pop("valueString", None)


def _long_result(b: Bundle) -> None:
    obs = _one(b, "Observation")
    obs.pop("valueQuantity", None)
    obs["valueString"] = "Positiv, +++++"  # 14 characters


def _orphan(b: Bundle) -> None:
    _copy_entry(b, "Observation")  # in the Bundle, not among DiagnosticReport.result


def _two_foci(b: Bundle) -> None:
    header = b["entry"][0]["resource"]
    header["focus"] = header["focus"] * 2


def _not_kaf(b: Bundle) -> None:
    for identifier in _producer(b)["identifier"]:
        if identifier["system"] == PRODUCENT_SYSTEM:
            identifier["value"] = "KOM"


def _no_ydernummer(b: Bundle) -> None:
    org = _receiver(b)
    org["identifier"] = [i for i in org["identifier"] if i["system"] != "urn:oid:1.2.208.176.1.4"]


def _loinc(b: Bundle) -> None:
    _one(b, "Observation")["code"]["coding"] = [{"system": "http://loinc.org", "code": "2345-7"}]


def _npu2026(b: Bundle) -> None:
    _one(b, "Observation")["code"]["coding"] = [{"system": "urn:oid:1.2.208.176.2.1", "code": "NPU2026",
                                                 "display": "P; Invalid Code"}]


def _huge_conclusion(b: Bundle) -> None:
    _one(b, "DiagnosticReport")["conclusion"] = "x" * 1_048_577


def _huge_note(b: Bundle) -> None:
    _one(b, "Observation")["note"] = [{"text": "y" * 1_048_577}]


@dataclass(frozen=True)
class Rule:
    rule: str
    change: Callable[[Bundle], None]
    ack: str  # the acknowledgement's response.code
    severity: str  # the issue's severity
    msg_code: str  # the MedCom / HL7 MSG_* code in details.coding
    path: str  # regular expression the issue's expression must match
    base: str = NEW


NEW_MESSAGE_RULES = (
    Rule("hco-one-patient", lambda b: _copy_entry(b, "Patient"), "fatal-error", "error", "MSG_RESOURCE_REQUIRED",
         r"Bundle\.entry"),
    Rule("hco-one-diagnosticreport", lambda b: _copy_entry(b, "DiagnosticReport"), "fatal-error", "error",
         "MSG_RESOURCE_REQUIRED", r"Bundle\.entry"),
    Rule("hco-one-focus", _two_foci, "fatal-error", "error", "MSG_RESOURCE_REQUIRED",
         r"Bundle\.entry\[0\]\.resource\.focus"),
    Rule("hco-definition-version", lambda b: _set(b["entry"][0]["resource"], "definition", f"{DEFINITION}|2.0"),
         "fatal-error", "error", "MSG_BAD_FORMAT", r"Bundle\.entry\[0\]\.resource\.definition"),
    Rule("hco-definition-legacy", lambda b: _set(b["entry"][0]["resource"], "definition", f"{DEFINITION}1.1"),
         "ok", "warning", "MSG_VERSION_AWARE_URL", r"Bundle\.entry\[0\]\.resource\.definition"),
    Rule("hco-definition-published", lambda b: _set(b["entry"][0]["resource"], "definition", f"{DEFINITION}|1.2"),
         "ok", "warning", "MSG_VERSION_AWARE_URL", r"Bundle\.entry\[0\]\.resource\.definition"),
    Rule("hco-patient-cpr", lambda b: _set(_one(b, "Patient"), "identifier",
                                           [{"system": "urn:oid:1.2.208.176.1.99", "value": "local-4711"}]),
         "fatal-error", "error", "MSG_RESOURCE_REQUIRED", r"Bundle\.entry\[1\]\.resource\.identifier"),
    Rule("hco-producent-id", _not_kaf, "fatal-error", "error", "MSG_RESOURCE_REQUIRED",
         r"Bundle\.entry\[6\]\.resource\.identifier"),
    Rule("hco-national-repertoire", _loinc, "fatal-error", "error", "MSG_VALUESET_VALUE_UNKNOWN",
         r"Bundle\.entry\[8\]\.resource\.code"),
    Rule("hco-observation-final", lambda b: _set(_one(b, "Observation"), "status", "preliminary"), "fatal-error",
         "error", "MSG_VALUESET_VALUE_UNKNOWN", r"Bundle\.entry\[8\]\.resource\.status"),
    Rule("hco-sampling-time", lambda b: _set(_one(b, "Observation"), "effectiveDateTime", None), "fatal-error",
         "error", "MSG_RESOURCE_REQUIRED", r"Bundle\.entry\[8\]\.resource\.effectiveDateTime"),
    Rule("hco-interpretation-ni", lambda b: _set(_one(b, "Observation"), "interpretation", None), "fatal-error",
         "error", "MSG_RESOURCE_REQUIRED", r"Bundle\.entry\[8\]\.resource\.interpretation"),
    Rule("hco-result-value", _without_value, "fatal-error", "error", "MSG_Datatype_Wrong",
         r"Bundle\.entry\[8\]\.resource\.value\[x\]"),
    Rule("hco-comment-length", _huge_conclusion, "fatal-error", "error", "MSG_Element_To_Long",
         r"Bundle\.entry\[2\]\.resource\.conclusion"),
    Rule("hco-comment-length", _huge_note, "fatal-error", "error", "MSG_Element_To_Long",
         r"Bundle\.entry\[8\]\.resource\.note\[0\]\.text"),
    Rule("hco-orphan-entry", _orphan, "ok", "warning", "MSG_NO_MATCH", r"Bundle\.entry\[14\]\.resource$"),
)


def _examples(context: SandboxContext) -> dict[str, Bundle]:
    return dict(example_messages(context.packages))


def _post(client: TestClient, bundle: Bundle) -> tuple[str, list[dict[str, Any]]]:
    """Send ``bundle`` to the GP inbox; its acknowledgement's response code and OperationOutcome issues."""
    response = client.post("/lps/ehmi", json=bundle, headers=FHIR)
    assert response.status_code == 202, response.text
    header_id = bundle["entry"][0]["resource"]["id"]
    ack = client.get("/lps/received", params={"header_id": header_id}).json()[-1]["ack"]
    assert ack["entry"][0]["resource"]["response"]["identifier"] == header_id
    outcome = next((e["resource"] for e in ack["entry"] if e["resource"]["resourceType"] == "OperationOutcome"),
                   {"issue": []})
    return ack["entry"][0]["resource"]["response"]["code"], outcome["issue"]


def _issue_of(issues: list[dict[str, Any]], rule: str, path: str) -> dict[str, Any]:
    """The one issue of ``rule`` at an element matching ``path``."""
    found = [i for i in issues if i["details"]["text"].endswith(f"[{rule}]")
             and re.fullmatch(path, (i.get("expression") or [""])[0])]
    assert len(found) == 1, (rule, path, [(i.get("expression"), i["details"]["text"][:160]) for i in issues])
    return found[0]


def _assert_answer(code: str, issues: list[dict[str, Any]], case: Rule) -> None:
    assert code == case.ack, [i["details"]["text"][:160] for i in issues]
    issue = _issue_of(issues, case.rule, case.path)
    assert issue["severity"] == case.severity
    assert issue["details"]["coding"][0]["code"] == case.msg_code
    if case.ack == "ok":
        assert all(i["severity"] != "error" for i in issues)


@pytest.mark.parametrize("case", NEW_MESSAGE_RULES, ids=lambda c: f"{c.rule}-{c.msg_code}")
def test_each_rule_on_a_new_message_gets_its_acknowledgement(client: TestClient, context: SandboxContext,
                                                             case: Rule) -> None:
    bundle = restamp(_examples(context)[case.base])
    case.change(bundle)
    code, issues = _post(client, bundle)
    _assert_answer(code, issues, case)


def test_the_unchanged_message_has_no_findings(client: TestClient, context: SandboxContext) -> None:
    """The base of every case above is clean: each finding comes from its one change."""
    for name in (NEW, WITH_MEDIA):
        assert _post(client, restamp(_examples(context)[name])) == ("ok", [])



def _media_type(b: Bundle) -> None:
    _one(b, "Media")["content"]["contentType"] = "text/plain"


def _media_title(b: Bundle) -> None:
    _one(b, "Media")["content"].pop("title")


@dataclass(frozen=True)
class ProfileFirst:
    """A business rule the profile also enforces: the inbox refuses the message at its profile layer
    (``profile_rule`` with ``http``: the MSG_* code and element path), and the business rule itself,
    which guards the same fact where a profile does not, reports ``business``."""

    business: Rule
    profile_rule: str
    http: tuple[str, str]


PROFILE_FIRST = (
    ProfileFirst(Rule("hco-requester-ydernummer", _no_ydernummer, "fatal-error", "error",
                      "MSG_Receiver_Identifier_MISSING", r"Bundle\.entry\[5\]\.resource\.identifier"),
                 "slice-cardinality", ("MSG_BAD_FORMAT", r"Bundle\.entry\[5\]\.resource\.identifier")),
    ProfileFirst(Rule("hco-national-repertoire", _npu2026, "fatal-error", "error", "MSG_CodeSystem_VALUE_UNKNOWN",
                      r"Bundle\.entry\[8\]\.resource\.code"),
                 "code-system",
                 ("MSG_CodeSystem_VALUE_UNKNOWN", r"Bundle\.entry\[8\]\.resource\.code\.coding\[0\]\.code")),
    ProfileFirst(Rule("hco-result-length", _long_result, "fatal-error", "error", "MSG_Element_To_Long",
                      r"Bundle\.entry\[8\]\.resource\.value\[x\]"),
                 "max-length", ("MSG_Element_To_Long", r"Bundle\.entry\[8\]\.resource\.value\.ofType\(string\)")),
    ProfileFirst(Rule("hco-attachment-type", _media_type, "fatal-error", "error", "MSG_VALUESET_VALUE_UNKNOWN",
                      r"Bundle\.entry\[18\]\.resource\.content\.contentType", WITH_MEDIA),
                 "binding", ("MSG_VALUESET_VALUE_UNKNOWN", r"Bundle\.entry\[18\]\.resource\.content\.contentType")),
    ProfileFirst(Rule("hco-attachment-title", _media_title, "fatal-error", "error", "MSG_RESOURCE_REQUIRED",
                      r"Bundle\.entry\[18\]\.resource\.content\.title", WITH_MEDIA),
                 "cardinality", ("MSG_BAD_FORMAT", r"Bundle\.entry\[18\]\.resource\.content\.title")),
)


@pytest.mark.parametrize("case", PROFILE_FIRST, ids=lambda c: c.business.rule)
def test_rules_the_profile_also_enforces(client: TestClient, context: SandboxContext, case: ProfileFirst) -> None:
    bundle = restamp(_examples(context)[case.business.base])
    case.business.change(bundle)
    code, issues = _post(client, bundle)
    assert code == "fatal-error"
    issue = next(i for i in issues if re.fullmatch(case.http[1], i["expression"][0])
                 and i["details"]["text"].endswith(f"[{case.profile_rule}]"))
    assert (issue["severity"], issue["details"]["coding"][0]["code"]) == ("error", case.http[0])
    findings = check(bundle, repertoire(context.packages), lambda _: None)
    as_issues = [{"severity": f.issue.severity, "expression": [f.issue.expression],
                  "details": {"coding": [{"code": f.msg_code}], "text": f"{f.issue.diagnostics} [{f.issue.rule}]"}}
                 for f in findings]
    _assert_answer("fatal-error", as_issues, case.business)


Chain = dict[str, Bundle]


def _chain(context: SandboxContext) -> Chain:
    """The official new → modified → cancelled chain, re-stamped, still linked."""
    examples, header_ids = _examples(context), {}
    return {name: restamp(examples[name], header_ids) for name in (NEW, MODIFIED, CANCELLED)}


def _own_provenance(b: Bundle) -> dict[str, Any]:
    header = f"MessageHeader/{b['entry'][0]['resource']['id']}"
    return next(p for p in _all(b, "Provenance") if p["target"][0]["reference"] == header)


def _unlinked(b: Bundle, chain: Chain) -> None:
    _own_provenance(b).pop("entity")


def _other_sender(b: Bundle, chain: Chain) -> None:
    for identifier in _producer(b)["identifier"]:
        if identifier["system"] == SOR_SYSTEM:
            identifier["value"] = "1144561000016999"


def _after_retraction(b: Bundle, chain: Chain) -> None:
    cancelled = chain[CANCELLED]["entry"][0]["resource"]["id"]
    _own_provenance(b)["entity"][0]["what"]["reference"] = f"MessageHeader/{cancelled}"


def _other_cpr(b: Bundle, chain: Chain) -> None:
    _one(b, "Patient")["identifier"][0]["value"] = "0101010101"


def _other_name(b: Bundle, chain: Chain) -> None:
    _one(b, "Patient")["name"][0]["family"] = "Hansen"


def _other_ydernummer(b: Bundle, chain: Chain) -> None:
    for identifier in _receiver(b)["identifier"]:
        if identifier["system"] == "urn:oid:1.2.208.176.1.4":
            identifier["value"] = "099999"


def _other_producer_gln(b: Bundle, chain: Chain) -> None:
    for identifier in _producer(b)["identifier"]:
        if identifier["system"] == GLN_SYSTEM:
            identifier["value"] = "579000012399" + gln_check_digit("579000012399")


def _refused_consent(b: Bundle, chain: Chain) -> None:
    label = {"system": CONFIDENTIALITY_SYSTEM, "code": "R", "display": "Restricted"}
    _one(b, "DiagnosticReport").setdefault("meta", {})["security"] = [label]


def _recoded(b: Bundle, chain: Chain) -> None:
    _one(b, "Observation")["code"]["coding"] = [{"system": "urn:oid:1.2.208.176.2.1", "code": "NPU19748"}]


def _dropped(b: Bundle, chain: Chain) -> None:
    last = _all(b, "Observation")[-1]
    b["entry"] = [e for e in b["entry"] if e["resource"] is not last]
    report = _one(b, "DiagnosticReport")
    report["result"] = [r for r in report["result"] if r["reference"] != f"Observation/{last['id']}"]


def _no_reason(b: Bundle, chain: Chain) -> None:
    _one(b, "DiagnosticReport").pop("conclusion")


@dataclass(frozen=True)
class ChainRule:
    rule: str
    message: str  # MODIFIED or CANCELLED, sent after NEW (and CANCELLED when ``after_retraction``)
    change: Callable[[Bundle, Chain], None]
    msg_code: str
    path: str
    after_retraction: bool = False


ENTITY = r"Bundle\.entry\[\d+\]\.resource\.entity"
CHAIN_RULES = (
    ChainRule("hco-chain-reference", MODIFIED, _unlinked, "MSG_RESOURCE_REQUIRED", ENTITY),
    ChainRule("hco-chain-known", MODIFIED, _other_sender, "MSG_NO_EXIST", ENTITY),
    ChainRule("hco-chain-retracted", MODIFIED, _after_retraction, "MSG_NO_MATCH", ENTITY, after_retraction=True),
    ChainRule("hco-modify-keeps-cpr", MODIFIED, _other_cpr, "MSG_NO_MATCH", ENTITY),
    ChainRule("hco-modify-scope", MODIFIED, _other_name, "MSG_NO_MATCH", r"Bundle\.entry\[1\]\.resource\.name"),
    ChainRule("hco-modify-scope", MODIFIED, _other_ydernummer, "MSG_NO_MATCH",
              r"Bundle\.entry\[5\]\.resource\.identifier"),
    ChainRule("hco-modify-scope", MODIFIED, _other_producer_gln, "MSG_NO_MATCH",
              r"Bundle\.entry\[6\]\.resource\.identifier"),
    ChainRule("hco-modify-scope", MODIFIED, _refused_consent, "MSG_NO_MATCH",
              r"Bundle\.entry\[2\]\.resource\.meta\.security"),
    ChainRule("hco-modify-scope", MODIFIED, _recoded, "MSG_NO_MATCH", r"Bundle\.entry\[8\]\.resource\.code"),
    ChainRule("hco-modify-scope", MODIFIED, _dropped, "MSG_NO_MATCH", r"Bundle\.entry\[2\]\.resource\.result"),
    ChainRule("hco-retract-reason", CANCELLED, _no_reason, "MSG_RESOURCE_REQUIRED",
              r"Bundle\.entry\[2\]\.resource\.conclusion"),
)


@pytest.mark.parametrize("case", CHAIN_RULES, ids=lambda c: f"{c.rule}-{c.change.__name__.strip('_')}")
def test_each_rule_on_a_modification_or_retraction(client: TestClient, context: SandboxContext,
                                                   case: ChainRule) -> None:
    chain = _chain(context)
    assert _post(client, chain[NEW])[0] == "ok"
    if case.after_retraction:
        assert _post(client, chain[CANCELLED])[0] == "ok"
    case.change(chain[case.message], chain)
    code, issues = _post(client, chain[case.message])
    _assert_answer(code, issues, Rule(case.rule, lambda b: None, "fatal-error", "error", case.msg_code, case.path))


def test_a_modification_within_its_scope_is_accepted(client: TestClient, context: SandboxContext) -> None:
    """Results, sampling times, comments, the GP's initials and the signature may change; so may the
    set of results grow."""
    chain = _chain(context)
    assert _post(client, chain[NEW]) == ("ok", [])
    modified = chain[MODIFIED]
    first = _one(modified, "Observation")
    first["valueQuantity"]["value"] = 21
    first["effectiveDateTime"] = "2023-09-12T09:30:00+02:00"
    first["note"] = [{"text": "Målt igen"}]
    _one(modified, "DiagnosticReport")["conclusion"] = "Ny vurdering"
    _receiver(modified)["contact"] = [{"name": {"given": ["SDaA"]}}]
    _one(modified, "Practitioner")["name"][0]["family"] = "Jensen"
    _orphan(modified)
    added = _all(modified, "Observation")[-1]
    _one(modified, "DiagnosticReport")["result"].append({"reference": f"Observation/{added['id']}"})
    assert _post(client, modified) == ("ok", [])


def test_every_rule_in_the_code_has_a_case_above() -> None:
    """Each rule id the rule modules can report is covered by a case of this file."""
    import services.lps.business_rules as business
    import services.lps.chain_rules as chain

    in_code = set()
    for module in (business, chain):
        source = Path(module.__file__ or "").read_text(encoding="utf-8")
        for rule in re.findall(r'"(hco-[a-z0-9-]+)"', source):
            in_code |= {"hco-one-patient", "hco-one-diagnosticreport"} if rule == "hco-one-" else {rule}
    covered = ({c.rule for c in NEW_MESSAGE_RULES} | {c.business.rule for c in PROFILE_FIRST}
               | {c.rule for c in CHAIN_RULES})
    assert len(in_code) >= 24
    assert in_code == covered, (in_code - covered, covered - in_code)


@pytest.mark.parametrize(("level", "expected"), [("reject", ("fatal-error", ["error"])),
                                                 ("warning", ("ok", ["warning"])),
                                                 ("log", ("ok", [])), ("off", ("ok", []))])
def test_the_strictness_setting_decides_what_a_finding_does(client: TestClient, context: SandboxContext,
                                                            level: str, expected: tuple[str, list[str]]) -> None:
    """``NSP_SANDBOX_LPS_BUSINESS_RULES``: ``reject`` refuses, ``warning`` accepts with the finding as a
    warning, ``log`` and ``off`` accept without it."""
    context.settings.lps_business_rules = Strictness(level)
    bundle = restamp(_examples(context)[NEW])
    _set(_one(bundle, "Observation"), "effectiveDateTime", None)
    code, issues = _post(client, bundle)
    assert (code, [i["severity"] for i in issues]) == expected
    if issues:
        assert issues[0]["details"]["text"].endswith("[hco-sampling-time]")


def test_the_published_versions_come_from_the_loaded_packages(context: SandboxContext) -> None:
    bundle = restamp(_examples(context)[NEW])
    bundle["entry"][0]["resource"]["definition"] = f"{DEFINITION}|1.2"
    found = {f.issue.rule for f in check(bundle, repertoire(context.packages), lambda _: None, ["1.1", "1.2"])}
    assert "hco-definition-published" not in found
    for published in (["1.1"], []):  # none loaded: 1.1, the version MedCom publishes
        (finding,) = [f for f in check(bundle, repertoire(context.packages), lambda _: None, published)
                      if f.issue.rule == "hco-definition-published"]
        assert (finding.issue.severity, finding.msg_code) == ("warning", "MSG_VERSION_AWARE_URL")
