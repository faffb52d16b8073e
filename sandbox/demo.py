"""Demo data and the HCO scenario, both driven through the EOJ's HTTP face only.

* :func:`send_hco_examples` sends the official MedCom HomeCareObservation example messages as they
  are (``POST /eoj/messages``), in chain order (new, then modified, then retracted); the EOJ sends
  each to the GP system and, with it, a copy to DDS by its own rules
  (``services/eoj_sender/sharing.py``): a modification replaces, a retraction deprecates, refused
  consent and eCPR patients are not published. Running it again changes nothing.
* :func:`hco_scenario` runs new → modify → retract for one seeded citizen, over EHMI's SBDH envelope,
  and traces what happened to each message: who the EOJ speaks as (from NSP's SOR register), the SBDH
  envelope receipt, the acknowledgement, the DDS copy sent in parallel (EHMI's secondary delivery) with
  its DocumentReference profile, the delivery-status events EDS collected, what the GP sees, and DDS's
  own view; then a refused-consent message, which the GP gets and DDS never does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2 as httpx

HCO_PACKAGE = "medcom.fhir.dk.homecareobservation"
HCO_EVENT = "homecareobservation-message"
ACTIVITY_ORDER = {"new-message": 0, "modified-message": 1, "retract-message": 2}
FHIR_JSON = "application/fhir+json"
DEMO_CPR = "2509479989"  # Bruno Elmer, MedCom's receive-test patient (a seeded citizen)
DEMO_GP = "52581000016005"  # Skødstrup Lægepraksis: the sandbox's GP emulator
EOJ_PERSONA = "system-eoj-aarhus"  # the sandbox EOJ's own system (NSP_SANDBOX_EOJ_PERSONA): orders at the EOJ
GP_PERSONA = "gp-skodstrup"  # a GP of Skødstrup Lægepraksis: reads the GP system's inbox


def persona_auth(http: httpx.Client, nsp_base: str, persona: str, audience: str) -> dict[str, str]:
    """The ``Authorization`` header of ``persona`` for ``audience``, from NSP's STS (``docs/hco.md``)."""
    response = http.post(f"{nsp_base.rstrip('/')}/sts/token", json={"persona": persona, "audience": audience})
    if response.status_code != 200:
        raise RuntimeError(f"NSP's STS gave no token for {persona}: HTTP {response.status_code} {response.text[:300]}")
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _activity(bundle: dict[str, Any]) -> str:
    entries = [e.get("resource", {}) for e in bundle.get("entry", [])]
    header_id = entries[0].get("id") if entries else None
    own = next((r for r in entries if r.get("resourceType") == "Provenance"
                and any(t.get("reference") == f"MessageHeader/{header_id}" for t in r.get("target", []))), {})
    return str(((own.get("activity") or {}).get("coding") or [{}])[0].get("code", "new-message"))


def _is_hco(bundle: dict[str, Any]) -> bool:
    entries = bundle.get("entry") or []
    header = (entries[0].get("resource") or {}) if entries else {}
    return bundle.get("resourceType") == "Bundle" and header.get("eventCoding", {}).get("code") == HCO_EVENT


def send_hco_examples(http: httpx.Client, eoj_base: str, examples: list[tuple[str, dict[str, Any]]],
                      report: Callable[[str], None] = print, nsp_base: str | None = None,
                      eoj_persona: str = EOJ_PERSONA) -> int:
    """Send the official HCO example messages through the EOJ, as its own system (a token from NSP's STS
    at ``nsp_base``, by default beside the EOJ); answers how many DDS entries changed."""
    nsp_base = nsp_base or f"{eoj_base.rstrip('/').removesuffix('/eoj')}/nsp"
    headers = {"Content-Type": FHIR_JSON, **persona_auth(http, nsp_base, eoj_persona, "eoj")}
    messages = [(name, b) for name, b in examples if _is_hco(b)]
    messages.sort(key=lambda m: (ACTIVITY_ORDER.get(_activity(m[1]), 9), m[1].get("timestamp", "")))
    changed = 0
    for _, bundle in messages:
        response = http.post(f"{eoj_base.rstrip('/')}/messages", json=bundle, headers=headers)
        if response.status_code == 409 and changed == 0 and "already sent" in response.text:
            report("  demo data already present")
            return 0
        if response.status_code != 201:
            report(f"  refused HCO {bundle.get('id')}: HTTP {response.status_code} {response.text[:300]}")
            continue
        status = response.json()
        label = f"HCO {status['bundle_id']} ({status['activity']}, CPR {status['cpr']}, ack {status['ack']})"
        entry, why_not = status["dds"]["entry"], status["dds"]["why_not"]
        if entry:
            changed += 1
            verb = "replaced an entry with" if status["activity"] == "modified-message" else "provided"
            report(f"  {verb} DocumentReference/{entry} ← {label}")
        elif status["activity"] == "retract-message" and "deprecated" in (why_not or ""):
            changed += 1
            report(f"  {why_not} ← {label}")
        else:
            report(f"  not shared {label}: {why_not}")
    return changed


def hco_scenario(http: httpx.Client, origin: str, report: Callable[[str], None] = print,
                 after_step: Callable[[list[str]], None] | None = None,
                 eoj_persona: str = EOJ_PERSONA) -> dict[str, Any]:
    """new → modify → retract for the seeded citizen, through the EOJ (as its own system); answers the
    final status. ``after_step`` gets the DDS entry ids of the chain so far (to show DDS's view after
    each step). The GP's inbox is read as a GP of the practice."""
    origin = origin.rstrip("/")
    eoj = persona_auth(http, f"{origin}/nsp", eoj_persona, "eoj")
    order = {
        "cpr": DEMO_CPR, "family": "Elmer", "given": ["Bruno"], "receiver": DEMO_GP, "initials": "SDaA",
        "clinical_comment": "Borger afkræftet og febril; drikker sparsomt.",
        "observations": [{"code": "NPU08676", "value": 38.7}, {"code": "NPU19748", "value": 26},
                         {"code": "NPU22089", "value": 6.8, "comment": "Ikke fastende"}],
    }
    endpoint = next(e for e in http.get(f"{origin}/eoj/endpoints").json() if e["sor"] == DEMO_GP)
    http.put(f"{origin}/eoj/endpoints", json={**endpoint, "envelope": "sbdh"})  # EHMI's envelope, with receipts
    try:
        return _scenario(http, origin, order, report, after_step, eoj)
    finally:
        http.put(f"{origin}/eoj/endpoints", json=endpoint)


def _scenario(http: httpx.Client, origin: str, order: dict[str, Any], report: Callable[[str], None],
              after_step: Callable[[list[str]], None] | None, eoj: dict[str, str]) -> dict[str, Any]:
    first_status = _step(http, origin, "new", "/eoj/hco", order, report, eoj)
    first = first_status["id"]
    entries = {f"{e['resource']['resourceType']}/{e['resource']['id']}": e["resource"]
               for e in first_status["bundle"]["entry"]}
    producer = entries.get(first_status["bundle"]["entry"][0]["resource"]["sender"]["reference"], {})
    labels = {"https://www.gs1.org/gln": "GLN", "urn:oid:1.2.208.176.1.1": "SOR"}
    ids = ", ".join(f"{labels.get(i['system'], i['system'].rsplit('/', 1)[-1])} {i['value']}"
                    for i in producer.get("identifier", []))
    report(f"  sender: {producer.get('name')} ({ids}) — the EOJ's acute team, from NSP's SOR register")
    later = [("modify", f"/eoj/hco/{first}/modify", {
        "observations": [{"code": "NPU19748", "value": 62, "comment": "Målt igen: første måling fejlaflæst"}],
        "clinical_comment": "Borger afkræftet og febril; CRP målt igen."}),
        ("retract", f"/eoj/hco/{first}/retract", {"reason": "Cancellation due to incorrect CPR-number"})]
    for step, path, body in [("", "", {}), *later]:
        if step:
            _step(http, origin, step, path, body, report, eoj)
        if after_step is not None:
            chain = http.get(f"{origin}/eoj/hco/{first}", headers=eoj).json()["chain"]
            after_step([m["dds_entry"] for m in chain if m["dds_entry"]])
    refused = _step(http, origin, "refused consent", "/eoj/hco", {**order, "refused_consent": True}, report, eoj)
    report(f"GP inbox (GET /lps/inbox, as {GP_PERSONA}):")
    gp = persona_auth(http, f"{origin}/nsp", GP_PERSONA, "lps")
    for message in http.get(f"{origin}/lps/inbox", params={"cpr": DEMO_CPR}, headers=gp).json():
        if message["message"] == refused["id"]:
            report(f"  refused consent: status {message['status']}, marked {message['refused_consent']} "
                   "(the GP who asked always sees the results)")
        if message["message"] != first:
            continue
        report(f"  status {message['status']}, archived {message['archived']}, "
               f"reason {message['cancellation_reason']!r}")
        for result in message["results"]:
            mark = f" {result['mark']}" if result["mark"] else ""
            report(f"    {result['code']} {result['comparator'] or ''}{result['value']} {result['unit'] or ''}{mark}")
        for version in message["history"]:
            report(f"    history: {version['activity']} {version['id']}")
    return http.get(f"{origin}/eoj/hco/{first}", headers=eoj).json()  # type: ignore[no-any-return]


def _step(http: httpx.Client, origin: str, step: str, path: str, body: dict[str, Any],
          report: Callable[[str], None], headers: dict[str, str]) -> dict[str, Any]:
    response = http.post(f"{origin}{path}", json=body, headers=headers)
    if response.status_code != 201:
        raise RuntimeError(f"{step}: HTTP {response.status_code} {response.text[:500]}")
    status: dict[str, Any] = response.json()
    report(f"{step}: MessageHeader {status['id']} ({status['activity']}) → {status['endpoint']} "
           f"[{status['send_result']}]")
    for receipt in status.get("receipts", []):
        report(f"  SBDH receipt: {receipt['kind'] or 'none yet'} for envelope {receipt['envelope']} — "
               f"{receipt['state']} (expected by {receipt['expected_by']})")
    report(f"  acknowledgement: {status['ack']}" + "".join(
        f"; {a['verdict']} {a['code']}" for a in status["ack_log"][1:]))
    dds = status["dds"]
    if dds["entry"]:
        profile = (dds.get("profile") or "").rsplit("/", 1)[-1]
        report(f"  DDS copy, sent in parallel with the message (EHMI secondary delivery, not waiting for the "
               f"acknowledgement): DocumentReference/{dds['entry']}" + (f" ({profile})" if profile else ""))
    else:
        report(f"  DDS copy: none — {dds['why_not']}")
    events = http.get(f"{origin}/eds/fhir/AuditEvent", params={"entity": status["id"]})
    if events.status_code == 200:
        stations = [f"{e['resource']['subtype'][0]['code']} ({e['resource']['source']['observer']['display']})"
                    for e in events.json().get("entry", [])]
        report("  delivery status (EDS): " + ("; ".join(stations) or "none reported"))
    return status
