"""How the suite sends to the GP system under test — always through the sandbox's EOJ over HTTP, so every
message travels as the EOJ sends (its endpoint register, envelope and format) and its acknowledgement
returns to the EOJ's EHMI inbox:

* MedCom's example messages, read from the loaded HCO package, re-stamped and re-addressed to the test GP
  (``nsp_sandbox.hco_replay``), by ``POST /eoj/messages`` as FHIR JSON or FHIR XML;
* the EOJ's replay corpus (``POST /eoj/corpus/run``): MedCom's receive-test material and the faults of
  ``hco.md`` §7.3, each with the answer it is owed;
* duplicates by the EOJ's own fault switches (``eoj/duplicate``, ``eoj/resend``) for one message;
* an acknowledgement, posted to the target directly (only the sandbox's EHMI inbox may answer one).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from nsp_sandbox.fhir_format import serialise
from nsp_sandbox.hco_examples import example_messages
from nsp_sandbox.hco_replay import address_to, restamp
from nsp_sandbox.hco_sbdh import CONTENT_TYPE as SBDH_CONTENT_TYPE
from nsp_sandbox.hco_sbdh import wrap
from nsp_sandbox.hco_terms import ACK_PACKAGE, GLN_SYSTEM, SOR_SYSTEM
from sandbox.runs.suite import CaseContext
from sandbox.runs.suites.gp_system.acks import Sent
from sandbox.runs.suites.gp_system.target import eoj, gp_identifiers, option

MEDIA = {"json": "application/fhir+json", "xml": "application/fhir+xml"}


def example(ctx: CaseContext, name: str) -> dict[str, Any]:
    """Example message ``Bundle-<name>.json`` of the loaded HCO package."""
    found = dict(example_messages(ctx.sandbox.packages)).get(f"Bundle-{name}.json")
    ctx.check(found is not None, f"The loaded HomeCareObservation package has no example message {name}")
    assert found is not None
    return found


def addressed(ctx: CaseContext, bundle: dict[str, Any], header_ids: dict[str, str] | None = None) -> dict[str, Any]:
    """``bundle`` re-stamped (``header_ids`` shared by one chain) and addressed to the test GP at the target."""
    gp = ctx.shared["gp"]
    return address_to(restamp(bundle, header_ids), gp_identifiers(ctx), gp["name"], ctx.target)


async def send_message(ctx: CaseContext, bundle: dict[str, Any], fhir_format: str, label: str, *,
                       expected: str = "ok", transmissions: int = 1) -> Sent:
    """Send ``bundle`` as is through the EOJ (``POST /eoj/messages``) in ``fhir_format``."""
    body = serialise(bundle, fhir_format, ctx.sandbox.validator.structures)
    answer = await eoj(ctx, "POST", "/messages", params={"receiver": ctx.shared["gp"]["sor"]}, content=body,
                             headers={"Content-Type": MEDIA[fhir_format]})
    ctx.check(answer.status_code == 201, f"{label}: the sandbox's EOJ did not send it: HTTP {answer.status_code} "
              f"{answer.text[:500]}")
    status = answer.json()
    return Sent(f"{label} ({fhir_format})", status["id"], bundle, datetime.fromisoformat(status["sent_at"]), expected,
                transmissions=transmissions)


async def run_corpus(ctx: CaseContext, case: str, fhir_format: str) -> list[Sent]:
    """Send corpus case (or group) ``case`` through the EOJ; each message sent with the answer it is owed."""
    answer = await eoj(ctx, "POST", "/corpus/run",
                       params={"receiver": ctx.shared["gp"]["sor"], "case": case, "format": fhir_format})
    ctx.check(answer.status_code == 200, f"{case}: the sandbox's EOJ could not run it: HTTP {answer.status_code} "
              f"{answer.text[:500]}")
    out = []
    for result in answer.json():
        status = await eoj(ctx, "GET", f"/hco/{result['message']}")
        ctx.check(status.status_code == 200, f"{case}: the EOJ does not know the message it sent: HTTP "
                  f"{status.status_code}")
        sent = status.json()
        out.append(Sent(f"{result['case']} ({fhir_format})", result["message"], sent["bundle"],
                        datetime.fromisoformat(sent["sent_at"]), result["expected"], result.get("expected_issue")))
    return out


async def eoj_fault(ctx: CaseContext, name: str, on: bool) -> None:
    """Switch the EOJ's fault ``name`` on for its next message, or off."""
    body: dict[str, Any] = {"on": True, "calls": 1} if on else {"on": False}
    answer = await ctx.actor("sandbox", "PUT", f"/faults/eoj/{name}", json=body, operator=True)
    ctx.check(answer.status_code == 200, f"The EOJ's fault switch {name} could not be set: HTTP {answer.status_code} "
              f"{answer.text[:300]}")


def acknowledgement(ctx: CaseContext, answers: str) -> dict[str, Any]:
    """A MedCom Acknowledgement (the acknowledgement package's positive example, re-stamped) from the sandbox's
    EOJ to the test GP, answering MessageHeader.id ``answers``, its ``source.endpoint`` the EOJ's EHMI inbox."""
    package = ctx.sandbox.packages.get(ACK_PACKAGE)
    examples = [r for _, r in package.examples()] if package else []
    found = next((b for b in examples if b.get("resourceType") == "Bundle" and
                  ((b.get("entry") or [{}])[0].get("resource") or {}).get("response", {}).get("code") == "ok"), None)
    ctx.check(found is not None, f"The loaded package {ACK_PACKAGE} has no positive acknowledgement example")
    assert found is not None
    ack = restamp(found)
    header = ack["entry"][0]["resource"]
    header["response"]["identifier"] = answers
    header["source"]["endpoint"] = ctx.actor_url("eoj", "/ehmi")
    destination = header["destination"][0]
    destination["endpoint"] = ctx.target
    receiver = next(e["resource"] for e in ack["entry"]
                    if f"Organization/{e['resource'].get('id')}" == destination["receiver"]["reference"])
    gp = ctx.shared["gp"]
    receiver["identifier"] = [{"system": GLN_SYSTEM, "value": gp["gln"]}, {"system": SOR_SYSTEM, "value": gp["sor"]}]
    receiver["name"] = gp["name"]
    ack["timestamp"] = ctx.now().isoformat(timespec="seconds")
    return ack


async def post_acknowledgement(ctx: CaseContext, ack: dict[str, Any], fhir_format: str) -> int:
    """Post ``ack`` to the target as the EOJ's transport would (in the envelope and format of the run); its
    HTTP status."""
    content = serialise(ack, fhir_format, ctx.sandbox.validator.structures)
    if option(ctx, "envelope") == "sbdh":
        body, _ = wrap(ack, ctx.now(), content=content, content_type=MEDIA[fhir_format])
        media = SBDH_CONTENT_TYPE
    else:
        body, media = content, MEDIA[fhir_format]
    answer = await ctx.request("POST", ctx.target, content=body, headers={"Content-Type": media})
    return answer.status_code

