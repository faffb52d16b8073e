"""The ``document-consumer`` suite: a vendor's system that finds and reads documents in DDS (MHD face).

The target is the health professional the vendor's system acts as, as DDS sees it: the persona of the
STS token it sends (e.g. ``doctor-auh-acute``). The run gives the target treatment relations with
three test citizens, shares documents about them, has one citizen block everything and another block
the documents of one treatment place, then instructs the participant to look them up and judges what
the vendor's client sent to DDS (DDS's request log, ``GET /dds/requests``) and what NSP's Min Log got.
See ``docs/runs.md`` ("Suite: document-consumer").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from sandbox.runs.suite import Case, CaseContext, CaseFailed, Suite
from sandbox.runs.suites.documents import consumer_seed as seed
from sandbox.runs.suites.documents import watch as w

PATIENT_PARAMETER = "patient.identifier"
FILTERED_RULE = "dds-consent-filtered"
FIND = "ITI-67 Find Document References"
RETRIEVE = "ITI-68 Retrieve Document"


def _cpr(ctx: CaseContext, option: str, default: str) -> str:
    return str(ctx.options.get(option, default))


def open_citizen(ctx: CaseContext) -> str:
    return _cpr(ctx, "citizen", "0108629996")


def blocked_citizen(ctx: CaseContext) -> str:
    return _cpr(ctx, "blocked_citizen", "1207899997")


def filtered_citizen(ctx: CaseContext) -> str:
    return _cpr(ctx, "filtered_citizen", "2701779899")


async def setup(ctx: CaseContext) -> None:
    found = await w.persona(ctx, ctx.target)
    ctx.check(found is not None and found.get("kind") == "professional",
              f"The target {ctx.target!r} is {'no persona of NSP' if found is None else 'a ' + str(found.get('kind'))}"
              ": name the health professional persona your system's STS token is issued for (GET /nsp/personas, "
              "kind professional), e.g. doctor-auh-acute")
    ctx.shared["authorisation"] = found.get("authorisation") if found else None
    source = str(ctx.options.get("source_system", "system-lps-medcom-testcenter"))
    blocked_place = await seed.organisation(ctx, str(ctx.options.get("blocked_place", "52581000016005")))
    other_place = await seed.organisation(ctx, str(ctx.options.get("other_place", "325381000016008")))
    content = await seed.condition_list(ctx)
    citizens = (open_citizen(ctx), blocked_citizen(ctx), filtered_citizen(ctx))
    ctx.shared["logged_before"] = {cpr: {e.get("id") for e in await seed.min_log(ctx, cpr)} for cpr in citizens}
    for cpr in citizens:
        await seed.relate(ctx, ctx.target, cpr)
    ctx.shared["documents"] = {
        open_citizen(ctx): await seed.provide(ctx, source, open_citizen(ctx), [other_place, blocked_place], content),
        blocked_citizen(ctx): await seed.provide(ctx, source, blocked_citizen(ctx), [other_place], content),
        filtered_citizen(ctx): await seed.provide(ctx, source, filtered_citizen(ctx), [blocked_place, other_place],
                                                  content)}
    await seed.block(ctx, blocked_citizen(ctx))
    await seed.block(ctx, filtered_citizen(ctx), {"type": "organisation", "id": blocked_place.sor,
                                                  "include_sub_units": True})
    ctx.shared["blocked_place"] = blocked_place


def _find_for(cpr: str, *, override: bool | None = None) -> Callable[[list[w.Record]], w.Record | None]:
    """A probe for the first ITI-67 about ``cpr`` (with or without værdispring when ``override`` says)."""
    def wanted(records: list[w.Record]) -> w.Record | None:
        return next((r for r in records if r["transaction"] == "ITI-67" and cpr in r["patients"]
                     and (override is None or bool(r.get("consent_override")) == override)), None)
    return wanted


async def _look_up(ctx: CaseContext, cpr: str, text: str, *, override: bool | None = None) -> w.Record:
    after = await w.mark(ctx)
    ctx.instruct(text)
    return dict(await w.watch(ctx, after, _find_for(cpr, override=override),
                              what=f"an ITI-67 look-up of CPR {cpr} (GET /dds/fhir/DocumentReference)"))


def _query(record: w.Record) -> list[tuple[str, str]]:
    return parse_qsl(record.get("query") or "", keep_blank_values=True)


async def query_patient_identifier(ctx: CaseContext) -> None:
    cpr = open_citizen(ctx)
    record = await _look_up(ctx, cpr, f"Look up the documents of CPR {cpr} in DDS with your system, acting as "
                            f"{ctx.target} (ITI-67 Find Document References). Show what DDS lists.")
    ctx.shared["open_search"] = record
    named = [(n, v) for n, v in _query(record) if n.startswith("patient")]
    wanted = f"{PATIENT_PARAMETER}={w.CPR_SYSTEM}|{cpr}"
    ctx.check(named == [(PATIENT_PARAMETER, f"{w.CPR_SYSTEM}|{cpr}")],
              f"The look-up named the patient as {' & '.join(f'{n}={v}' for n, v in named) or 'nothing'}; DDS wants "
              f"{wanted} (the CPR number with its system, docs/dds.md ITI-67)")


async def query_status_current(ctx: CaseContext) -> None:
    record = ctx.shared.get("open_search")
    ctx.check(record is not None, "No look-up of this run was seen (case query-patient-identifier did not see one)")
    statuses = [v for n, v in _query(record or {}) if n == "status"]
    ctx.check(statuses, f"The look-up ({w.describe(record or {})}) had no status parameter; ask for status=current "
              "(DDS answers 400 without one)")
    ctx.check(statuses == ["current"], f"The look-up asked for status={'&status='.join(statuses)}; a consumer lists "
              "the current documents: status=current (superseded and entered-in-error ones are not shown)")
    ctx.check(w.accepted(record or {}), f"DDS refused the look-up ({w.describe(record or {})}): "
              + "; ".join(w.issue_text(i) for i in w.errors_of(record or {})))


async def retrieve_listed(ctx: CaseContext) -> None:
    cpr = open_citizen(ctx)
    after = await w.mark(ctx)
    ctx.instruct(f"Open each document DDS listed for CPR {cpr} (ITI-68: GET each DocumentReference's "
                 "content.attachment.url), as a user opening them one by one would.")
    listed: dict[str, Any] = {}

    def wanted(records: list[w.Record]) -> list[str] | None:
        searches = [r for r in [ctx.shared.get("open_search"), *records] if r and r["transaction"] == "ITI-67"
                    and cpr in r["patients"] and w.accepted(r)]
        listed["ids"] = [i for r in searches[-1:] for i in r["entries"]]
        retrieved = {e for r in records if r["transaction"] == "ITI-68" and w.accepted(r) for e in r["entries"]}
        listed["missing"] = [i for i in listed["ids"] if i not in retrieved]
        return listed["ids"] if listed["ids"] and not listed["missing"] else None

    try:
        ids = await w.watch(ctx, after, wanted, what="the retrieval of every listed document")
    except CaseFailed:
        ctx.check(listed.get("ids"), f"No successful look-up of CPR {cpr} listed any document: nothing to open")
        ctx.fail(f"Not retrieved (ITI-68): {', '.join(f'DocumentReference/{i}' for i in listed['missing'])} of the "
                 f"{len(listed['ids'])} document(s) listed for CPR {cpr}")
    seeded = set(ctx.shared.get("documents", {}).get(cpr, []))
    ctx.check(seeded <= set(ids), f"The look-up listed {len(ids)} document(s) but not the run's own "
              f"{sorted(seeded - set(ids))}: it narrowed the search more than asked")


async def blocked_citizen_silent(ctx: CaseContext) -> None:
    cpr, other = blocked_citizen(ctx), open_citizen(ctx)
    record = await _look_up(ctx, cpr, f"Look up the documents of CPR {cpr}. The citizen has blocked all sharing "
                            "(Min Spærring): DDS answers an empty list and does not say why. Show it as 'no "
                            f"documents' and go on: then look up CPR {other} again.", override=False)
    ctx.check(w.accepted(record) and record.get("total") == 0, f"DDS answered the blocked citizen's look-up "
              f"{w.describe(record)} with total {record.get('total')}; the silent empty result (200, total 0) wanted")
    follow = await w.requests_after(ctx, record["id"], caller=ctx.target)
    again = [r for r in follow if r["transaction"] == "ITI-67" and cpr in r["patients"]]
    ctx.check(len(again) < 2, f"The empty answer for CPR {cpr} was asked again {len(again)} times at once: an empty "
              "result is an answer, not an error to retry")
    nxt = [r for r in follow if cpr not in r["patients"]]
    if nxt:
        ctx.note(f"Next request after the empty answer: {w.describe(nxt[0])}; the client went on")
    else:
        ctx.note("No further request was seen after the empty answer: the participant should confirm the client "
                 "showed 'no documents' without an error")


async def filtered_with_warning(ctx: CaseContext) -> None:
    cpr = filtered_citizen(ctx)
    place = ctx.shared.get("blocked_place")
    record = await _look_up(ctx, cpr, f"Look up the documents of CPR {cpr}. The citizen has blocked the documents "
                            f"from {getattr(place, 'name', 'one treatment place')}: DDS lists the others with a "
                            "warning (OperationOutcome, dds-consent-filtered). Show the user that some documents are "
                            "withheld.", override=False)
    ctx.check(w.accepted(record), f"DDS refused the look-up ({w.describe(record)}): "
              + "; ".join(w.issue_text(i) for i in w.errors_of(record)))
    warned = [i for i in record.get("issues", []) if i.get("rule") == FILTERED_RULE]
    ctx.check(warned, f"DDS's answer to {w.describe(record)} carried no {FILTERED_RULE} warning")
    seeded = ctx.shared.get("documents", {}).get(cpr, [])
    ctx.check(seeded and seeded[0] not in record["entries"] and seeded[1] in record["entries"],
              f"The answer listed {record['entries']}; wanted the run's document DocumentReference/{seeded[1:2]} "
              f"without the withheld DocumentReference/{seeded[:1]}")
    ctx.note(f"DDS warned: {w.issue_text(warned[0])}")


async def consent_override_reason(ctx: CaseContext) -> None:
    cpr = blocked_citizen(ctx)
    record = await _look_up(ctx, cpr, f"Look up the documents of CPR {cpr} again, now with værdispring (consent "
                            "override) as the professional would in an emergency: the reason in the header "
                            "X-Consent-Override (percent-encoded UTF-8), a criticality in "
                            "X-Consent-Override-Criticality if your system has one.")
    ctx.check(record.get("consent_override"), f"The look-up of CPR {cpr} ({w.describe(record)}) carried no "
              "X-Consent-Override header: værdispring on DDS's MHD face is the reason in X-Consent-Override "
              "(docs/dds.md, Access control)")
    ctx.check(w.accepted(record), f"DDS refused the værdispring look-up ({w.describe(record)}): "
              + "; ".join(w.issue_text(i) for i in w.errors_of(record)))
    ctx.check((record.get("total") or 0) > 0, f"The værdispring look-up of CPR {cpr} answered total "
              f"{record.get('total')}; the blocked documents wanted")
    ctx.shared["override"] = record
    ctx.note(f"Reason {record['consent_override']!r}, criticality {record.get('criticality')!r}")


def _new_entries(ctx: CaseContext, cpr: str, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    before = ctx.shared.get("logged_before", {}).get(cpr, set())
    return [e for e in entries if e.get("id") not in before
            and e.get("user_identifier") == ctx.shared.get("authorisation")]


async def min_log_written(ctx: CaseContext) -> None:
    problems: list[str] = []
    opened = _new_entries(ctx, open_citizen(ctx), await seed.min_log(ctx, open_citizen(ctx)))
    for activity in (FIND, RETRIEVE):
        if not any(e.get("activity") == activity for e in opened):
            problems.append(f"CPR {open_citizen(ctx)}'s Min Log has no '{activity}' entry by "
                            f"{ctx.shared.get('authorisation')} from this run")
    override = ctx.shared.get("override")
    if override:
        logged = _new_entries(ctx, blocked_citizen(ctx), await seed.min_log(ctx, blocked_citizen(ctx)))
        if not any(e.get("consent_override") and e.get("reason") == override["consent_override"] for e in logged):
            problems.append(f"CPR {blocked_citizen(ctx)}'s Min Log has no værdispring entry with the reason "
                            f"{override['consent_override']!r} ({len(logged)} entries from this run)")
    ctx.check(not problems, "; ".join(problems))


SUITE = Suite(
    name="document-consumer",
    title="Document consumer: finding and reading documents in DDS (MHD ITI-67 / ITI-68)",
    target_kind="document-consumer",
    description=("The target is the health professional persona your system's STS token is issued for (e.g. "
                 "doctor-auh-acute). The run gives it treatment relations with three test citizens, shares "
                 "documents about them and registers their blocks, then instructs you to look them up; it judges "
                 "what your client sent to DDS (DDS's request log) and the Min Log entries the look-ups left."),
    cases=(
        Case("query-patient-identifier",
             "The look-up names the patient as patient.identifier=urn:oid:1.2.208.176.1.2|CPR",
             query_patient_identifier, "docs/dds.md ITI-67, Access control (a search names its patients)"),
        Case("query-status-current", "The look-up asks for current documents only (status=current)",
             query_status_current, "docs/dds.md ITI-67 (status required); IHE ITI-67"),
        Case("retrieve-listed", "Each listed document is retrieved with ITI-68", retrieve_listed,
             "docs/dds.md ITI-68; IHE ITI-68"),
        Case("blocked-citizen-silent", "A fully blocked citizen's empty answer is taken as an answer",
             blocked_citizen_silent, "docs/dds.md Consent items; docs/nsp.md Min Spærring; dds-nsp.md §2.1"),
        Case("filtered-with-warning", "A data-specific block filters the answer and DDS warns",
             filtered_with_warning, "docs/dds.md Consent items (dds-consent-filtered)"),
        Case("consent-override-reason", "Værdispring carries its reason in X-Consent-Override",
             consent_override_reason, "docs/dds.md Værdispring; dds-nsp.md §2.2"),
        Case("min-log-written", "The look-ups are on the citizens' Min Log, værdispring with its reason",
             min_log_written, "docs/dds.md Min Log; docs/nsp.md Min Log; dds-nsp.md §2.6"),
    ),
    options={
        "citizen": "CPR of the citizen with open documents (default 0108629996)",
        "blocked_citizen": "CPR of the citizen who blocks everything (default 1207899997)",
        "filtered_citizen": "CPR of the citizen who blocks one treatment place's documents (default 2701779899)",
        "blocked_place": "SOR of the treatment place whose documents are blocked (default 52581000016005)",
        "other_place": "SOR of the other author of the documents (default 325381000016008)",
        "source_system": "system persona that shares the run's documents (default system-lps-medcom-testcenter)",
        "timeout_seconds": "how long each case waits for your system (default 300)",
    },
    setup=setup,
)
