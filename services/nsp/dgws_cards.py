"""The ID cards the sandbox STS issues for the world's personas (DGWS 1.0.1; dds-nsp.md §1.3):
IT systems get system cards (level 3, VOCES/FOCES) naming the system and its care provider (SOR,
or Sundhedsdatastyrelsen's CVR for national systems); health professionals get employee cards
(level 4, MOCES) with their CPR, name, role and authorisation code. Citizens use OIOIDWS tokens,
not ID cards. Cards live 24 hours, as the national STS's do."""

from __future__ import annotations

import base64
import hashlib
import os
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from nsp_sandbox.dgws.faults import DgwsFault
from nsp_sandbox.dgws.idcard import CVR, SOR, SYSTEM, USER, CardUser, CareProvider, IdCard
from nsp_sandbox.dgws.security import EMPLOYEE_LEVEL, SYSTEM_LEVEL
from services.nsp.personas import Persona
from services.nsp.world import World

ISSUER = "NSP-SANDBOX-STS"
CARD_LIFETIME = timedelta(hours=24)
NATIONAL_PROVIDER = CareProvider("33257872", CVR, "Sundhedsdatastyrelsen")  # national systems (DDS, PLSP)
PERSONA_SYSTEM_NAME = "nsp-sandbox persona"


def cert_hash(certificate: x509.Certificate) -> str:
    """``sosi:OCESCertHash``: base64 of the SHA-1 of the holder certificate's DER."""
    der = certificate.public_bytes(serialization.Encoding.DER)
    return base64.b64encode(hashlib.sha1(der, usedforsecurity=False).digest()).decode()


def _provider(world: World, sor: str | None) -> CareProvider:
    if not sor or sor not in world.organisations:
        return NATIONAL_PROVIDER
    return CareProvider(sor, SOR, world.organisations[sor].name)


def card_for(persona: Persona, world: World, now: datetime, holder: x509.Certificate | None = None,
             it_system_name: str | None = None) -> IdCard:
    """The card for ``persona`` issued at ``now``; ``holder`` is the certificate the request was
    signed with (its DN and hash go into the card). ``not_authorized`` for citizens and relatives."""
    base = {"card_id": base64.b64encode(os.urandom(16)).decode(), "issuer": ISSUER, "issue_instant": now,
            "not_before": now, "not_on_or_after": now + CARD_LIFETIME,
            "cert_hash": cert_hash(holder) if holder is not None else None}
    if persona.kind == "system":
        system = world.systems[persona.id]
        subject = holder.subject.rfc4514_string() if holder is not None else f"CN={system.name}"
        return IdCard(card_type=SYSTEM, authentication_level=SYSTEM_LEVEL, name_id=subject,
                      name_id_format="medcom:other", it_system_name=system.name,
                      care_provider=_provider(world, system.organisation), **base)
    if persona.kind == "professional":
        professional = world.professionals[persona.id]
        given, _, surname = professional.name.rpartition(" ")
        user = CardUser(cpr=professional.cpr, given_name=given, surname=surname, role=professional.role,
                        occupation=professional.role, authorisation_code=professional.authorisation)
        return IdCard(card_type=USER, authentication_level=EMPLOYEE_LEVEL, name_id=professional.cpr,
                      name_id_format="medcom:cprnumber", it_system_name=it_system_name or PERSONA_SYSTEM_NAME,
                      care_provider=_provider(world, professional.organisation), user=user, **base)
    raise DgwsFault("not_authorized", f"{persona.name} is a {persona.kind}: citizens get OIOIDWS tokens, "
                    "not DGWS ID cards", "persona")


def persona_for_request(requested: IdCard, personas: list[Persona], world: World) -> Persona:
    """The persona a request's card names: an employee card by its user's CPR, a system card by
    its ``ITSystemName`` (``not_authorized`` when the world knows neither)."""
    if requested.card_type == USER and requested.user is not None:
        cpr = requested.user.cpr
        found = next((p for p in personas if p.kind == "professional" and world.professionals[p.id].cpr == cpr), None)
        if found is None:
            raise DgwsFault("not_authorized", f"No authorised health professional with CPR {cpr} is known",
                            "medcom:UserCivilRegistrationNumber")
        return found
    found = next((p for p in personas if p.kind == "system" and world.systems[p.id].name == requested.it_system_name),
                 None)
    if found is None:
        raise DgwsFault("not_authorized", f"No IT system named '{requested.it_system_name}' is known "
                        "(see GET /nsp/personas?kind=system)", "medcom:ITSystemName")
    return found


def registered_certificate_problem(persona: Persona, world: World, holder: x509.Certificate) -> str | None:
    """Why a system loaded with its own certificate (a world file) gets no card for a request signed
    with ``holder``, or ``None`` (systems without a registered certificate take any accepted one)."""
    system = world.systems.get(persona.id) if persona.kind == "system" else None
    if system is None or not system.certificate:
        return None
    registered = x509.load_pem_x509_certificate(system.certificate.encode())
    if registered == holder:
        return None
    return (f"The request is signed with {holder.subject.rfc4514_string()}, not with the certificate registered "
            f"for {system.name} ({registered.subject.rfc4514_string()})")
