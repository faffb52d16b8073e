"""A vendor's own part of the world, as ``POST /sandbox/world`` (and ``nsp-sandbox up --world FILE``)
hands it to NSP: its test citizens, relatives, organisations (a SOR hierarchy), professionals, IT
systems (with their certificate), treatment relations and Min Spærring blocks.

Read strictly: an unknown section or field, a missing or mistyped field, a CPR number that is not
one, a reference to an organisation, citizen or professional that neither the world nor the file
has — every problem is a 422 issue naming where it is (``citizens[2].gp``), and nothing is loaded
unless everything is right. An entry with the key of one already in the world (SOR, CPR, persona
id) replaces it. The format is documented in ``docs/control.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from cryptography import x509

from nsp_sandbox.cpr import cpr_problem, is_ecpr
from nsp_sandbox.digits import all_digits
from nsp_sandbox.hco_terms import valid_gln
from nsp_sandbox.outcome import FhirError, Issue
from services.nsp.bodies import BlockBody, parse
from services.nsp.world import World

SOURCE = "nsp-sandbox world file (docs/control.md)"
TEXT, FLAG, DAY, INSTANT, TEXTS, OBJECT = "text", "flag", "date", "instant", "texts", "object"

#: section → field → (kind, required)
SECTIONS: dict[str, dict[str, tuple[str, bool]]] = {
    "organisations": {"sor": (TEXT, True), "name": (TEXT, True), "kind": (TEXT, True), "parent": (TEXT, False),
                      "municipality": (TEXT, False), "gln": (TEXT, False), "producent_id": (TEXT, False),
                      "ydernummer": (TEXT, False)},
    "citizens": {"cpr": (TEXT, True), "name": (TEXT, True), "gp": (TEXT, False), "address": (TEXT, False),
                 "ecpr": (FLAG, False), "name_and_address_protected": (FLAG, False), "deceased": (DAY, False),
                 "custodial_parents": (TEXTS, False)},
    "relatives": {"cpr": (TEXT, True), "acts_for": (TEXT, True), "basis": (TEXT, True), "scope": (TEXT, False),
                  "valid_from": (DAY, False), "valid_to": (DAY, False)},
    "professionals": {"id": (TEXT, True), "name": (TEXT, True), "cpr": (TEXT, True), "authorisation": (TEXT, True),
                      "role": (TEXT, True), "organisation": (TEXT, True)},
    "systems": {"id": (TEXT, True), "name": (TEXT, True), "kind": (TEXT, True), "organisation": (TEXT, False),
                "certificate": (TEXT, False), "rights": (TEXTS, False)},
    "relations": {"professional": (TEXT, True), "cpr": (TEXT, True), "valid_from": (DAY, False),
                  "valid_to": (DAY, False)},
    "blocks": {"cpr": (TEXT, True), "kind": (TEXT, False), "who": (OBJECT, True), "what": (OBJECT, False),
               "valid_from": (INSTANT, False), "valid_to": (INSTANT, False), "data_from": (INSTANT, False),
               "data_to": (INSTANT, False)},
}
BASES = ("custody", "power-of-attorney")
# brs-register: a system may register treatment relations for its own staff (BRS); dsubm-subscribe: it may
# subscribe to DDS's notifications of new entries (IHE DSUBm) and retrieve what it is notified of.
SYSTEM_RIGHTS = ("brs-register", "dsubm-subscribe")
MAX_ENTRIES = 5000


@dataclass
class _Reader:
    world: World
    issues: list[Issue]

    def problem(self, where: str, text: str, rule: str = "sandbox-world", code: str = "invalid") -> None:
        self.issues.append(Issue("error", code, text, expression=where, rule=rule, source=SOURCE))

    def entries(self, body: dict[str, Any], section: str) -> list[dict[str, Any]]:
        value = body.get(section, [])
        if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
            self.problem(section, f"'{section}' is a list of objects")
            return []
        if len(value) > MAX_ENTRIES:
            self.problem(section, f"at most {MAX_ENTRIES} entries in '{section}'")
            return []
        fields = SECTIONS[section]
        for i, entry in enumerate(value):
            where = f"{section}[{i}]"
            for name in sorted(set(entry) - set(fields)):
                self.problem(f"{where}.{name}", f"Unknown field '{name}'; {section} take {', '.join(fields)}",
                             "sandbox-unknown-field", "structure")
            for name, (kind, required) in fields.items():
                self._field(entry, name, kind, required, f"{where}.{name}")
        return value

    def _field(self, entry: dict[str, Any], name: str, kind: str, required: bool, where: str) -> None:
        value = entry.get(name)
        if value is None:
            if required:
                self.problem(where, f"'{name}' is required", code="required")
            return
        if kind == FLAG and not isinstance(value, bool):
            self.problem(where, f"'{name}' is true or false")
        elif kind == TEXTS and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            self.problem(where, f"'{name}' is a list of strings")
        elif kind == OBJECT and not isinstance(value, dict):
            self.problem(where, f"'{name}' is an object")
        elif kind in (TEXT, DAY, INSTANT) and not isinstance(value, str):
            self.problem(where, f"'{name}' is a string (quote numbers such as CPR and SOR codes)")
        elif kind == DAY:
            self._day(value, name, where)
        elif kind == INSTANT:
            self._instant(value, name, where)

    def _day(self, value: str, name: str, where: str) -> None:
        try:
            date.fromisoformat(value)
        except ValueError:
            self.problem(where, f"'{name}' is a date (YYYY-MM-DD): {value[:40]!r}")

    def _instant(self, value: str, name: str, where: str) -> None:
        """A date (the whole day) or an instant with a time zone, as Min Spærring takes them."""
        try:
            moment = date.fromisoformat(value) if len(value) == 10 else \
                datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            self.problem(where, f"'{name}' is a date or an instant with a time zone: {value[:40]!r}")
            return
        if isinstance(moment, datetime) and moment.tzinfo is None:
            self.problem(where, f"'{name}' needs a time zone: {value[:40]!r}")


def read_world_file(body: Any, world: World) -> dict[str, list[dict[str, Any]]]:
    """The sections of ``body`` checked against ``world`` (422 with every problem found)."""
    if not isinstance(body, dict):
        raise FhirError(422, Issue("error", "structure", "A world file is an object with the sections "
                                   + ", ".join(SECTIONS), rule="sandbox-world", source=SOURCE))
    reader = _Reader(world, [])
    for name in sorted(set(body) - set(SECTIONS)):
        reader.problem(name, f"Unknown section '{name}'; a world file has {', '.join(SECTIONS)}",
                       "sandbox-unknown-field", "structure")
    sections = {name: reader.entries(body, name) for name in SECTIONS}
    if not reader.issues:
        _references(reader, sections)
    if reader.issues:
        raise FhirError(422, reader.issues)
    return sections


def _references(reader: _Reader, sections: dict[str, list[dict[str, Any]]]) -> None:
    world, problem = reader.world, reader.problem
    orgs = set(world.organisations) | {o["sor"] for o in sections["organisations"]}
    cprs = set(world.citizens) | {c["cpr"] for c in sections["citizens"]}
    professionals = set(world.professionals) | {p["id"] for p in sections["professionals"]}
    authorisations = set(world.by_authorisation) | {p["authorisation"] for p in sections["professionals"]}
    for i, org in enumerate(sections["organisations"]):
        if not (all_digits(org["sor"]) and len(org["sor"]) >= 11):
            problem(f"organisations[{i}].sor", "A SOR code has at least 11 digits", "dk-core-sor")
        if org.get("parent") and org["parent"] not in orgs:
            problem(f"organisations[{i}].parent", f"No organisation with SOR code {org['parent']}", "sor-known")
        if org.get("gln") and not valid_gln(org["gln"]):
            problem(f"organisations[{i}].gln", "A GLN has 13 digits with a GS1 mod-10 check digit", "dk-core-gln")
    for i, citizen in enumerate(sections["citizens"]):
        where = f"citizens[{i}]"
        number = citizen["cpr"]
        if citizen.get("ecpr") and not is_ecpr(number):
            problem(f"{where}.cpr", f"'{number}' is not an eCPR number (DDMMYY, 1 or 7, two letters, a digit)")
        elif not citizen.get("ecpr") and (text := cpr_problem(number)):
            problem(f"{where}.cpr", text, "cpr-valid")
        if citizen.get("gp") and citizen["gp"] not in orgs:
            problem(f"{where}.gp", f"No organisation with SOR code {citizen['gp']}", "sor-known")
        for j, parent in enumerate(citizen.get("custodial_parents") or []):
            if parent not in cprs:
                problem(f"{where}.custodial_parents[{j}]", f"No citizen with CPR {parent}", "cpr-known")
    for i, relative in enumerate(sections["relatives"]):
        for field in ("cpr", "acts_for"):
            if relative[field] not in cprs:
                problem(f"relatives[{i}].{field}", f"No citizen with CPR {relative[field]}", "cpr-known")
        if relative["basis"] not in BASES:
            problem(f"relatives[{i}].basis", f"'basis' is one of {', '.join(BASES)}")
    for i, person in enumerate(sections["professionals"]):
        if text := cpr_problem(person["cpr"]):
            problem(f"professionals[{i}].cpr", text, "cpr-valid")
        if person["organisation"] not in orgs:
            problem(f"professionals[{i}].organisation", f"No organisation with SOR code {person['organisation']}",
                    "sor-known")
    for i, system in enumerate(sections["systems"]):
        if system.get("organisation") and system["organisation"] not in orgs:
            problem(f"systems[{i}].organisation", f"No organisation with SOR code {system['organisation']}",
                    "sor-known")
        if system.get("certificate"):
            try:
                x509.load_pem_x509_certificate(system["certificate"].encode())
            except ValueError:
                problem(f"systems[{i}].certificate", "'certificate' is an X.509 certificate in PEM")
        for right in system.get("rights", ()):
            if right not in SYSTEM_RIGHTS:
                problem(f"systems[{i}].rights", f"Unknown right '{right}' (known: {', '.join(SYSTEM_RIGHTS)})")
    for i, relation in enumerate(sections["relations"]):
        if relation["professional"] not in professionals:
            problem(f"relations[{i}].professional", f"No professional with persona id {relation['professional']}")
        if relation["cpr"] not in cprs:
            problem(f"relations[{i}].cpr", f"No citizen with CPR {relation['cpr']}", "cpr-known")
    for i, block in enumerate(sections["blocks"]):
        if block["cpr"] not in cprs:
            problem(f"blocks[{i}].cpr", f"No citizen with CPR {block['cpr']}", "cpr-known")
        try:  # a consent item as POST /nsp/consent/blocks takes it (docs/nsp.md), with the citizen's cpr
            item = block_body(block)
        except FhirError as refused:
            for issue in refused.issues:
                problem(f"blocks[{i}].{issue.expression or 'who'}", issue.diagnostics)
            continue
        if item.who.type == "professional" and item.who.id not in authorisations:
            problem(f"blocks[{i}].who.id", f"No professional with authorisation id {item.who.id!r}")
        if item.what.type == "organisation" and item.what.id not in orgs:
            problem(f"blocks[{i}].what.id", f"No organisation with SOR code {item.what.id!r}", "sor-known")


def block_body(block: dict[str, Any]) -> BlockBody:
    """A world file's block as the consent item it stands for (``FhirError`` naming what is wrong)."""
    return parse(BlockBody, {k: v for k, v in block.items() if k != "cpr"})
