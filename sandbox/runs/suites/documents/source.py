"""The ``document-source`` suite: a vendor's system that shares documents through DDS.

The target is the vendor's source system as DDS sees it: the persona of its STS token (MHD) or of its
ID card (XDS.b), e.g. ``system-eoj-aarhus``. The run tells the participant what to submit — a new
document, a replacement, a retraction, a document DDS must refuse, a message with refused consent —
and watches DDS's request log (``GET /dds/requests``) for what the target sent after each
instruction; it reads what was registered over DDS's MHD face with a system token. See
``docs/runs.md`` ("Suite: document-source").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sandbox.runs.suite import Case, CaseContext, Suite
from sandbox.runs.suites.documents import watch as w
from sandbox.runs.suites.documents.source_metadata import check_codes, check_document_and_author, check_identifiers

SUBMISSIONS = {"mhd": ("ITI-65",), "xds": ("ITI-41", "ITI-61"), "either": ("ITI-65", "ITI-41", "ITI-61")}
UPDATES = ("ITI-92", "ITI-57")
DOOR_TEXT = {"mhd": "over MHD: ITI-65 Provide Document Bundle to POST /dds/fhir",
             "xds": "over XDS.b: ITI-41 Provide and Register Document Set-b to /dds/drs/proxy",
             "either": "over MHD (ITI-65, POST /dds/fhir) or XDS.b (ITI-41, /dds/drs/proxy)"}
REFUSED_CONSENT_RULE = "dk-xds-hco-refused-consent"
Probe = Callable[[list[w.Record]], w.Record | None]
DANISH_RULES = "dk-xds-"  # the Danish metadata rules' prefix: their warnings are findings (not "binding not checked")


def _door(ctx: CaseContext) -> str:
    door = str(ctx.options.get("door", "either"))
    ctx.check(door in SUBMISSIONS, f"option door is mhd, xds or either, not {door!r}")
    return door


def _citizen(ctx: CaseContext) -> str:
    return str(ctx.options.get("citizen", "0602631234"))


def _reader(ctx: CaseContext) -> str:
    return str(ctx.options.get("reader_system", "system-dds"))


def _submission_for(cpr: str, transactions: tuple[str, ...] = SUBMISSIONS["either"]) -> Probe:
    """A probe for the first submission (ITI-65, ITI-41, ITI-61) about ``cpr``."""
    def wanted(records: list[w.Record]) -> w.Record | None:
        return next((r for r in records if r["transaction"] in transactions and cpr in r["patients"]), None)
    return wanted


async def setup(ctx: CaseContext) -> None:
    """The target must be a persona DDS would take submissions from: a system (or a professional)."""
    _door(ctx)
    found = await w.persona(ctx, ctx.target)
    ctx.check(found is not None, f"The target {ctx.target!r} is no persona of NSP's STS (GET /nsp/personas): name "
              "the persona your system's token or ID card is issued for, e.g. system-eoj-aarhus")
    ctx.check(found and found.get("kind") in ("system", "professional"),
              f"The target {ctx.target!r} is a {found and found.get('kind')}: documents are provided by a "
              "source system (or a professional), not by citizens")
    ctx.shared["organisation"] = found.get("organisation") if found else None


async def provide_accepted(ctx: CaseContext) -> None:
    door, cpr = _door(ctx), _citizen(ctx)
    after = await w.mark(ctx)
    ctx.instruct(f"Share one new document about the test citizen CPR {cpr} from your system ({ctx.target}) "
                 f"{DOOR_TEXT[door]}. DDS must accept it.")
    record = await w.watch(ctx, after, _submission_for(cpr), what=f"a submission about CPR {cpr}")
    ctx.check(record["transaction"] in SUBMISSIONS[door],
              f"The document came as {record['transaction']}, but this run's door is {door} ({DOOR_TEXT[door]})")
    if not w.accepted(record):
        problems = "; ".join(w.issue_text(i) for i in w.errors_of(record)) or f"HTTP {record['status']}"
        ctx.fail(f"DDS refused the submission ({w.describe(record)}): {problems}")
    ctx.check(record["entries"], f"DDS accepted the submission but registered no DocumentReference "
              f"({w.describe(record)})")
    ctx.shared.update(provided=record, entries=record["entries"], entry=record["entries"][0])
    ctx.note(f"Registered DocumentReference/{record['entries'][0]} ({w.describe(record)})")


def _provided(ctx: CaseContext) -> w.Record:
    record = ctx.shared.get("provided")
    ctx.check(record is not None, "No document of this run was registered (case provide-accepted did not pass): "
              "nothing to judge")
    return dict(record)


async def _entries(ctx: CaseContext) -> list[w.Record]:
    return [await w.read_entry(ctx, entry_id, _reader(ctx)) for entry_id in _provided(ctx)["entries"]]


async def metadata_codes(ctx: CaseContext) -> None:
    record = _provided(ctx)
    problems = [f"DDS warned: {w.issue_text(i)}" for i in record.get("issues", [])
                if i.get("severity") == "warning" and str(i.get("rule") or "").startswith(DANISH_RULES)]
    for dr in await _entries(ctx):
        problems.extend(check_codes(dr))
    ctx.check(not problems, "The coded metadata is not as the Danish profile wants it: " + "; ".join(problems))


async def metadata_identifiers(ctx: CaseContext) -> None:
    problems: list[str] = []
    for dr in await _entries(ctx):
        problems.extend(check_identifiers(dr, _citizen(ctx)))
    ctx.check(not problems, "Identifiers not in the form DDS and the Danish profile want: " + "; ".join(problems))


async def metadata_document_author(ctx: CaseContext) -> None:
    problems: list[str] = []
    for dr in await _entries(ctx):
        found, sors = check_document_and_author(dr)
        problems.extend(found)
        for sor in sors:
            response = await ctx.actor("nsp", "GET", f"/organisations/{sor}")
            if response.status_code != 200:
                problems.append(f"DocumentReference/{dr.get('id')}.author names SOR {sor}, which SOR does not know "
                                f"(GET /nsp/organisations/{sor} answered {response.status_code})")
            elif sor != ctx.shared.get("organisation"):
                ctx.note(f"Author institution SOR {sor} ({response.json().get('name')}) is not the organisation of "
                         f"{ctx.target} (SOR {ctx.shared.get('organisation')})")
    ctx.check(not problems, "; ".join(problems))


async def replacement_chain(ctx: CaseContext) -> None:
    old_id = str(ctx.shared.get("entry") or "")
    ctx.check(old_id, "No document of this run was registered (case provide-accepted did not pass): nothing to replace")
    old = await w.read_entry(ctx, old_id, _reader(ctx))
    unique_id = (old.get("masterIdentifier") or {}).get("value")
    after = await w.mark(ctx)
    ctx.instruct(f"Correct the document about CPR {_citizen(ctx)} you just shared (DocumentReference/{old_id}, "
                 f"uniqueId {unique_id}): share "
                 f"its replacement {DOOR_TEXT[_door(ctx)]} — a new document with relatesTo "
                 "{code: replaces, target: the old one} (MHD) or an RPLC association to its entryUUID (XDS.b).")
    record = await w.watch(ctx, after, _submission_for(_citizen(ctx)), what="the replacement")
    if not w.accepted(record):
        ctx.fail(f"DDS refused the replacement ({w.describe(record)}): "
                 + "; ".join(w.issue_text(i) for i in w.errors_of(record)))
    new_id = record["entries"][0]
    new, old = await w.read_entry(ctx, new_id, _reader(ctx)), await w.read_entry(ctx, old_id, _reader(ctx))
    replaces = [r for r in new.get("relatesTo") or [] if r.get("code") == "replaces"]
    # the target by reference (DocumentReference/{id}) or by identifier (entryUUID or uniqueId), docs/dds.md
    targets = {str((r.get("target") or {}).get("reference", "")).rpartition("/")[2] for r in replaces} | {
        str(((r.get("target") or {}).get("identifier") or {}).get("value", "")) for r in replaces}
    ctx.check(targets & {old_id, f"urn:uuid:{old_id}", unique_id},
              f"DocumentReference/{new_id}.relatesTo does not replace DocumentReference/{old_id} (relatesTo: "
              f"{new.get('relatesTo')}): the new document was shared as a document of its own, not as the replacement")
    ctx.check(old.get("status") == "superseded", f"DocumentReference/{old_id}.status is {old.get('status')!r} "
              "after the replacement; superseded wanted")
    ctx.check(new.get("status") == "current", f"DocumentReference/{new_id}.status is {new.get('status')!r}; current "
              "wanted")
    ctx.shared["current"] = new_id


async def retraction(ctx: CaseContext) -> None:
    entry_id = str(ctx.shared.get("current") or "")
    ctx.check(entry_id, "No replacement of this run was registered (case replacement-chain did not pass): "
              "nothing to retract")
    after = await w.mark(ctx)
    ctx.instruct(f"Retract the corrected document (DocumentReference/{entry_id}) as entered in error: ITI-92 "
                 "(PUT /dds/fhir/DocumentReference/{id}, only status changed to entered-in-error) or ITI-57 "
                 "(Approved → Deprecated).")

    def wanted(records: list[w.Record]) -> w.Record | None:
        return next((r for r in records if r["transaction"] in UPDATES), None)

    record = await w.watch(ctx, after, wanted, what=f"the retraction of DocumentReference/{entry_id}")
    if not w.accepted(record):
        ctx.fail(f"DDS refused the retraction ({w.describe(record)}): "
                 + "; ".join(w.issue_text(i) for i in w.errors_of(record)))
    entry = await w.read_entry(ctx, entry_id, _reader(ctx))
    ctx.check(entry.get("status") == "entered-in-error", f"DocumentReference/{entry_id}.status is "
              f"{entry.get('status')!r} after the retraction ({w.describe(record)}); entered-in-error wanted "
              "(a retraction, not a supersession)")


async def wrong_patient_refused(ctx: CaseContext) -> None:
    cpr, other = _citizen(ctx), str(ctx.options.get("other_citizen", "2509479989"))
    after = await w.mark(ctx)
    ctx.instruct(f"Share a document whose metadata names CPR {cpr} but whose content is about CPR {other} "
                 f"{DOOR_TEXT[_door(ctx)]}. DDS must refuse it (XDSPatientIdDoesNotMatch); show the refusal to the "
                 "user and do not resend it unchanged.")
    record = await w.watch(ctx, after, _submission_for(cpr), what=f"a submission about CPR {cpr}")
    ctx.check(not w.accepted(record), f"DDS accepted the submission ({w.describe(record)}): it was not the document "
              f"asked for (content about CPR {other}), or DDS's document-patient rule is off")
    codes = {i.get("ihe_code") for i in w.errors_of(record)}
    ctx.check("XDSPatientIdDoesNotMatch" in codes, f"DDS refused the submission, but not for the patient mismatch "
              f"asked for ({w.describe(record)}): " + "; ".join(w.issue_text(i) for i in w.errors_of(record)))
    await asyncio.sleep(float(ctx.options.get("retry_window_seconds", 60)))
    again = [r for r in await w.requests_after(ctx, record["id"], caller=ctx.target, patient=cpr)
             if r["transaction"] in SUBMISSIONS["either"] and not w.accepted(r)]
    ctx.check(not again, f"The refused submission was sent again {len(again)} time(s) after DDS refused it "
              f"({', '.join(w.describe(r) for r in again[:3])}): a refusal is not a transient error")
    ctx.note(f"Refused as wanted: {w.describe(record)}")


async def refused_consent_not_retried(ctx: CaseContext) -> None:
    cpr = _citizen(ctx)
    after = await w.mark(ctx)
    ctx.instruct(f"Record a municipal test result (HomeCareObservation) for CPR {cpr} whose citizen refused sharing "
                 "(DiagnosticReport.meta.security R) and let your system do what it does with it. It must not be "
                 "shared; if it reaches DDS, DDS refuses it (dk-xds-hco-refused-consent) and it must not be sent "
                 "again.")
    await asyncio.sleep(float(ctx.options.get("retry_window_seconds", 60)))
    records = [r for r in await w.requests_after(ctx, after, caller=ctx.target, patient=cpr)
               if r["transaction"] in SUBMISSIONS["either"]]
    refused = [r for r in records if any(REFUSED_CONSENT_RULE in (i.get("rule") or "") + (i.get("diagnostics") or "")
                                         for i in w.errors_of(r))]
    if not refused:
        ctx.note(f"No submission with refused consent reached DDS ({len(records)} other submission(s) about CPR "
                 f"{cpr}): the message was kept from sharing, as it should be")
        return
    ctx.check(len(refused) == 1, f"DDS refused the message for refused consent {len(refused)} times "
              f"({', '.join(w.describe(r) for r in refused[:3])}): the system resent it blindly; a refusal for "
              "refused consent is final")
    ctx.note(f"Sent once and refused ({w.describe(refused[0])}); not sent again")


SUITE = Suite(
    name="document-source",
    title="Document source: sharing documents through DDS (MHD ITI-65 / XDS.b ITI-41)",
    target_kind="document-source",
    description=("The target is the persona your source system's token or ID card is issued for (e.g. "
                 "system-eoj-aarhus). The run instructs you what to share — a document, its replacement, its "
                 "retraction, a document DDS must refuse, a message with refused consent — and judges what DDS "
                 "received from your system (DDS's request log) and registered."),
    cases=(
        Case("provide-accepted", "A new document for the test citizen is accepted through the run's door",
             provide_accepted, "docs/dds.md ITI-65; docs/xds.md ITI-41; IHE ITI-65/ITI-41"),
        Case("metadata-codes", "type, class, format, facility, practice setting and confidentiality codes",
             metadata_codes, "docs/dds.md validation layers (DDS_RULES_CODES); dds-nsp.md §1.5"),
        Case("metadata-identifiers", "patient id, sourcePatientInfo, uniqueId, entryUUID and creation time forms",
             metadata_identifiers, "docs/dds.md (DDS_RULES_PATIENT, DDS_RULES_METADATA); dds-nsp.md §1.5"),
        Case("metadata-document-author", "hash and size of a stable document; author institution by SOR",
             metadata_document_author, "docs/dds.md (document bytes, DDS_RULES_AUTHOR); dds-nsp.md §1.5"),
        Case("replacement-chain", "A replacement supersedes the old entry and is current itself",
             replacement_chain, "docs/dds.md Correction lifecycle (RPLC); IHE ITI TF-3 §4.2.2"),
        Case("retraction", "A retraction leaves the entry entered-in-error",
             retraction, "docs/dds.md Deprecate (ITI-92); docs/xds.md ITI-57"),
        Case("wrong-patient-refused", "A document about another patient than its metadata is refused, not resent",
             wrong_patient_refused, "docs/dds.md dk-xds-document-patient (XDSPatientIdDoesNotMatch)"),
        Case("refused-consent-not-retried", "A message with refused consent is not shared, or not resent when refused",
             refused_consent_not_retried, "docs/dds.md DDS_RULES_HCO_CONSENT; dds-nsp.md §2.3; docs/hco.md"),
    ),
    options={
        "citizen": "CPR of the test citizen the documents are about (default 0602631234)",
        "other_citizen": "CPR the wrong-patient document's content is about (default 2509479989)",
        "door": "mhd, xds or either (default): the door the documents must come through",
        "reader_system": "system persona the run reads registered entries with (default system-dds)",
        "timeout_seconds": "how long each case waits for your system (default 300)",
        "retry_window_seconds": "how long the refusal cases watch for a resend (default 60)",
    },
    setup=setup,
)
