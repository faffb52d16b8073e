"""Who acts on an XDS.b request: the verified DGWS ID card plus the HSUID header, mapped to the
same :class:`~nsp_sandbox.tokens.Principal` a token from NSP's STS gives the MHD face, so the one
guarded read (``services.dds.access.guard``) decides and logs exactly as it does there.

HSUID 1.1 (dds-nsp.md §1.3) names the user; the card names the system that sends:

* ``nsi:Citizen`` → the citizen persona with ``ActingUserCivilRegistrationNumber`` (a relative
  persona when they act for others: ``acts_for`` as NSP's persona list says — fuldmagt, custody);
* ``nsi:HealthcareProfessional`` → the professional persona by authorisation code
  (``ResponsibleUserAuthorizationCode``, else the employee card's ``UserAuthorizationCode``), with
  ``OrgUsingID`` (NameFormat ``nsi:sor``) as organisation. An assistant (acting ≠ responsible user)
  acts under the responsible professional's authorisation: their treatment relations and the
  citizen's blocks for them decide. The Principal has no field for the assistant's own CPR, so
  ``acting_cpr`` is the assistant's and every other field is the responsible professional's;
* no HSUID → the card's own persona: an employee card's professional (by authorisation code), a
  system card's IT system (by ``ITSystemName``, else by ``CareProviderID`` as SOR code).

A user the sandbox does not know is the DGWS fault ``not_authorized``. NSP is reached over HTTP
only (``NspClient.recent_personas``: the list is kept half a second). With HSUID the card's type
does not make the caller a system: the HSUID user acts through the system, so ``id_card_type`` is
``user``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from nsp_sandbox.dgws.faults import DgwsFault
from nsp_sandbox.dgws.hsuid import CITIZEN, PROFESSIONAL, Hsuid
from nsp_sandbox.dgws.idcard import SOR, SYSTEM, USER, IdCard
from nsp_sandbox.dgws.security import VerifiedRequest
from nsp_sandbox.tokens import Principal
from services.dds.mhd.deps import Deps

SOR_FORMATS = frozenset({"nsi:sor", SOR})


async def principal_for(deps: Deps, verified: VerifiedRequest, *, use_hsuid: bool) -> Principal:
    """The acting principal of a verified request (``not_authorized`` for an unknown user)."""
    personas = await deps.guard.nsp.recent_personas()
    card, hsuid = verified.card, verified.hsuid if use_hsuid else None
    if hsuid is not None and hsuid.user_type == CITIZEN:
        return _citizen(card, hsuid, personas)
    if hsuid is not None and hsuid.user_type == PROFESSIONAL:
        return await _professional(deps, card, hsuid, personas)
    if card.card_type == USER and card.user is not None:
        persona = _by_authorisation(personas, card.user.authorisation_code, "medcom:UserAuthorizationCode")
        return _principal(persona, card, id_card_type=USER, user_type=PROFESSIONAL, acting_cpr=card.user.cpr)
    return _principal(_system(card, personas), card, id_card_type=SYSTEM, user_type=None, acting_cpr=None)


def _citizen(card: IdCard, hsuid: Hsuid, personas: list[dict[str, Any]]) -> Principal:
    cpr = hsuid.acting_cpr
    found = [p for p in personas if p.get("cpr") == cpr and p.get("kind") in ("citizen", "relative")]
    # A relative persona carries acts_for (fuldmagt, custody); the citizen persona does not.
    persona = next((p for p in found if p.get("kind") == "relative"), found[0] if found else None)
    if persona is None:
        raise DgwsFault("not_authorized", f"No citizen with CPR {cpr} is known to the sandbox",
                        "HsuidHeader/Attribute[@Name='nsi:ActingUserCivilRegistrationNumber']")
    found = _principal(persona, card, id_card_type=USER, user_type=CITIZEN, acting_cpr=cpr,
                       system_name=hsuid.system_name, organisation=(None, None))
    return replace(found, acting_as=tuple(sorted((persona.get("acting_as") or {}).items())),
                   fuldmagt_scopes=tuple(sorted((persona.get("power_of_attorney_scopes") or {}).items())))


async def _professional(deps: Deps, card: IdCard, hsuid: Hsuid, personas: list[dict[str, Any]]) -> Principal:
    code = hsuid.responsible_authorisation or (card.user.authorisation_code if card.user is not None else None)
    persona = _by_authorisation(personas, code, "HsuidHeader/Attribute[@Name='nsi:ResponsibleUserAuthorizationCode']")
    organisation = (persona.get("organisation"), persona.get("organisation_name"))
    org = hsuid.org_using
    if org is not None and org.id_format in SOR_FORMATS and org.id != organisation[0]:
        known = await deps.guard.nsp.organisation(org.id)
        organisation = (org.id, str(known.get("name")) if known else None)
    found = _principal(persona, card, id_card_type=USER, user_type=PROFESSIONAL, acting_cpr=hsuid.acting_cpr,
                       system_name=hsuid.system_name, organisation=organisation)
    return _assistant(found, card, hsuid, personas) if hsuid.is_assistant else found


def _assistant(responsible: Principal, card: IdCard, hsuid: Hsuid, personas: list[dict[str, Any]]) -> Principal:
    """The acting assistant for ``responsible`` (HSUID acting ≠ responsible user)."""
    persona = next((p for p in personas if p.get("kind") == "assistant" and p.get("cpr") == hsuid.acting_cpr), None)
    user = card.user if card.user is not None and card.user.cpr == hsuid.acting_cpr else None
    if persona is not None:
        name, role, persona_id = str(persona.get("name", "")), persona.get("role"), str(persona.get("id", ""))
    elif user is not None:
        name, role, persona_id = f"{user.given_name} {user.surname}".strip(), user.role or None, responsible.persona
    else:
        raise DgwsFault("not_authorized", "The acting user (an assistant) is not known to the sandbox: neither an "
                        "assistant persona nor the ID card's user has that CPR",
                        "HsuidHeader/Attribute[@Name='nsi:ActingUserCivilRegistrationNumber']")
    return replace(responsible, persona=persona_id, kind="assistant", name=name, role=role, authorisation=None,
                   responsible=responsible.authorisation, responsible_name=responsible.name)


def _by_authorisation(personas: list[dict[str, Any]], code: str | None, where: str) -> dict[str, Any]:
    persona = next((p for p in personas if p.get("kind") == "professional" and code
                    and p.get("authorisation") == code), None)
    if persona is None:
        raise DgwsFault("not_authorized", f"No authorised health professional with authorisation code "
                        f"'{code or ''}' is known to the sandbox", where)
    return persona


def _system(card: IdCard, personas: list[dict[str, Any]]) -> dict[str, Any]:
    systems = [p for p in personas if p.get("kind") == "system"]
    persona = next((p for p in systems if p.get("name") == card.it_system_name), None) or next(
        (p for p in systems if card.care_provider.id_format == SOR and p.get("organisation") == card.care_provider.id),
        None)
    if persona is None:
        raise DgwsFault("not_authorized", f"No IT system named '{card.it_system_name}' (care provider "
                        f"{card.care_provider.id}) is known to the sandbox", "medcom:ITSystemName")
    return persona


def _principal(persona: dict[str, Any], card: IdCard, *, id_card_type: str, user_type: str | None,
               acting_cpr: str | None, system_name: str | None = None,
               organisation: tuple[str | None, str | None] | None = None) -> Principal:
    org_sor, org_name = organisation if organisation is not None else (
        persona.get("organisation"), persona.get("organisation_name"))
    return Principal(
        persona=str(persona.get("id", "")), kind=str(persona.get("kind", "")), id_card_type=id_card_type,
        assurance_level=card.authentication_level, user_type=user_type, name=str(persona.get("name", "")),
        acting_cpr=acting_cpr, authorisation=persona.get("authorisation"), role=persona.get("role"),
        organisation_sor=org_sor, organisation_name=org_name,
        system_name=system_name or card.it_system_name, acts_for=tuple(persona.get("acts_for") or ()),
        token_id=card.card_id)
