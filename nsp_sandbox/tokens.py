"""Security tokens: the claims NSP's STS signs, and their verification by every actor.

A token is a JWT (ES256) that models a DGWS ID card together with the HSUID header:

| claim | DGWS / HSUID counterpart |
|---|---|
| ``id_card_type`` (``user`` / ``system``) | ``sosi:IDCardType`` |
| ``assurance_level`` (4 personal, 3 system) | ``sosi:AuthenticationLevel`` (DGWS security level) |
| ``user_type`` (``nsi:Citizen`` / ``nsi:HealthcareProfessional``) | ``nsi:UserType`` |
| ``acting_cpr`` | ``nsi:ActingUserCivilRegistrationNumber`` |
| ``authorisation``, ``role`` | ``medcom:UserAuthorizationCode``, ``medcom:UserRole`` |
| ``organisation`` (SOR code and name) | ``nsi:OrgUsingID`` (NameFormat ``nsi:sor``) |
| ``system_name`` | ``medcom:ITSystemName`` / ``nsi:SystemName`` |
| ``acts_for`` (CPRs) | ``nsi:CitizenCivilRegistrationNumber``: the citizens acted for (fuldmagt, custody) |
| ``citizen_user_relation`` | ``nsi:CitizenUserRelation`` |
| ``acting_as`` (CPR → ``parent`` / ``fuldmagt`` / ``guardian``) | ``nsi:CitizenUserRelation``, per citizen acted for |
| ``fuldmagt_scopes`` (CPR → scope: ``sundhedsjournal``, ``prøvesvar``) | the fuldmagt's self-service |
| ``responsible``, ``responsible_name`` (assistant) | ``nsi:ResponsibleUserAuthorizationCode`` (+ their name) |
| ``pseudonymised_cvrs`` (a citizen's token) | the IDWS token's list of CVRs whose staff Min Log shows pseudonymised |
| ``rights`` (a system's token) | the rights NSP grants the IT system (e.g. ``brs-register``, ``dsubm-subscribe``) |

``aud`` names the services the token is for (``urn:nsp-sandbox:<actor>``); tokens are short-lived.
Expiry is judged on the sandbox clock, so scenarios that travel in time expire tokens too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt

from nsp_sandbox.kept import kept
from nsp_sandbox.outcome import FhirError, Issue

ISSUER = "urn:nsp-sandbox:sts"
ALGORITHM = "ES256"
LEEWAY_SECONDS = 30
# A DGWS ID card is valid for at most 24 hours (DGWS 1.0.1 §"ID card validity"); no token lives longer.
MAX_LIFETIME_SECONDS = 24 * 3600
TOKEN_SOURCE = "DGWS 1.0.1 ID card + HSUID header (NSP STS), modelled as a JWT"


def audience(actor: str) -> str:
    """The ``aud`` value of a service, e.g. ``urn:nsp-sandbox:dds``."""
    return f"urn:nsp-sandbox:{actor}"


@dataclass(frozen=True)
class Principal:
    """Who is calling, as a verified token says."""

    persona: str
    kind: str  # citizen | relative | professional | system
    id_card_type: str
    assurance_level: int
    user_type: str | None
    name: str
    acting_cpr: str | None
    authorisation: str | None
    role: str | None
    organisation_sor: str | None
    organisation_name: str | None
    system_name: str | None
    acts_for: tuple[str, ...]
    token_id: str
    responsible: str | None = None  # an assistant acts for the professional with this authorisation id
    responsible_name: str | None = None
    acting_as: tuple[tuple[str, str], ...] = ()  # (CPR acted for, parent | fuldmagt | guardian)
    fuldmagt_scopes: tuple[tuple[str, str], ...] = ()  # (grantor CPR, scope)
    pseudonymised_cvrs: tuple[str, ...] = ()
    rights: tuple[str, ...] = ()  # a system's rights, as NSP granted them (``systems.json``)

    @property
    def judged_authorisation(self) -> str | None:
        """The authorisation access is judged on: the responsible professional's for an assistant."""
        return self.responsible or self.authorisation

    def relation_to(self, cpr: str) -> str | None:
        """How this citizen user acts for ``cpr``: ``self``, ``parent``, ``fuldmagt``, ``guardian`` (None: not)."""
        if self.is_citizen and cpr == self.acting_cpr:
            return "self"
        return dict(self.acting_as).get(cpr) or ("fuldmagt" if cpr in self.acts_for else None)

    def fuldmagt_scope(self, cpr: str) -> str | None:
        return dict(self.fuldmagt_scopes).get(cpr)

    @property
    def is_system(self) -> bool:
        return self.id_card_type == "system"

    @property
    def is_professional(self) -> bool:
        return self.user_type == "nsi:HealthcareProfessional"

    @property
    def is_citizen(self) -> bool:
        return self.user_type == "nsi:Citizen"

    def citizens_represented(self) -> tuple[str, ...]:
        """The CPRs a citizen user may act as: their own and those they act for."""
        own = (self.acting_cpr,) if self.is_citizen and self.acting_cpr else ()
        return own + tuple(c for c in self.acts_for if c not in own)

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Principal:
        organisation = claims.get("organisation") or {}
        return cls(
            persona=str(claims["sub"]), kind=str(claims.get("persona_kind", "")),
            id_card_type=str(claims.get("id_card_type", "")), assurance_level=int(claims.get("assurance_level", 0)),
            user_type=claims.get("user_type"), name=str(claims.get("name", "")),
            acting_cpr=claims.get("acting_cpr"), authorisation=claims.get("authorisation"),
            role=claims.get("role"), organisation_sor=organisation.get("sor"),
            organisation_name=organisation.get("name"), system_name=claims.get("system_name"),
            acts_for=tuple(claims.get("acts_for") or ()), token_id=str(claims.get("jti", "")),
            responsible=claims.get("responsible"), responsible_name=claims.get("responsible_name"),
            acting_as=tuple(sorted((claims.get("acting_as") or {}).items())),
            fuldmagt_scopes=tuple(sorted((claims.get("fuldmagt_scopes") or {}).items())),
            pseudonymised_cvrs=tuple(claims.get("pseudonymised_cvrs") or ()),
            rights=tuple(claims.get("rights") or ()),
        )


def unauthorised(message: str, rule: str) -> FhirError:
    """401 with the OAuth ``WWW-Authenticate`` challenge."""
    return FhirError(401, Issue("error", "login", message, rule=rule, source=TOKEN_SOURCE),
                     headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer …`` header; 401 without one."""
    if not authorization:
        raise FhirError(401, Issue("error", "login", "No security token: send 'Authorization: Bearer <token>' "
                                   "from NSP's STS (POST /nsp/sts/token)", rule="token-required",
                                   source=TOKEN_SOURCE), headers={"WWW-Authenticate": "Bearer"})
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorised("The Authorization header is not 'Bearer <token>'", "token-required")
    return token.strip()


def key_id(token: str) -> str | None:
    """The ``kid`` of the token's header (401 for a token that is no JWT), kept by the token: decoding the
    header checks every character of the whole token, which cost more than the rest of a verified use."""
    if token in _key_ids:
        return _key_ids[token]
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        raise unauthorised("The token is not a JWT", "token-format") from None
    if kid is not None and not isinstance(kid, str):
        raise unauthorised("The token's key id is not a string", "token-format")
    return kept(_key_ids, token, kid, _VERIFIED_LIMIT)


_key_ids: dict[str, str | None] = {}  # token → its header's kid (only tokens that decoded)


_NUMBER_CLAIMS = ("exp", "iat", "nbf")
_TEXT_CLAIMS = ("iss", "sub", "jti", "persona_kind", "id_card_type", "name")
_OPTIONAL_TEXT_CLAIMS = ("user_type", "acting_cpr", "authorisation", "role", "system_name", "citizen_user_relation",
                         "responsible", "responsible_name")
_TEXT_MAP_CLAIMS = ("acting_as", "fuldmagt_scopes")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def claims_problem(claims: dict[str, Any]) -> str | None:
    """What is wrong with the claims' types or lifetime (None when nothing is): a signed token is
    still refused when ``exp`` is not a number, a name is not a string, or it lives over 24 hours."""
    for name in _NUMBER_CLAIMS:
        if name in claims and not _is_number(claims[name]):
            return f"claim '{name}' must be a number of seconds (NumericDate), not {type(claims[name]).__name__}"
    for name in _TEXT_CLAIMS:
        if name in claims and not isinstance(claims[name], str):
            return f"claim '{name}' must be a string"
    for name in _OPTIONAL_TEXT_CLAIMS:
        if claims.get(name) is not None and not isinstance(claims[name], str):
            return f"claim '{name}' must be a string or absent"
    if "assurance_level" in claims and (not isinstance(claims["assurance_level"], int)
                                        or isinstance(claims["assurance_level"], bool)):
        return "claim 'assurance_level' must be a whole number"
    for name in ("acts_for", "pseudonymised_cvrs", "rights"):
        listed = claims.get(name)
        if listed is not None and not (isinstance(listed, list) and all(isinstance(c, str) for c in listed)):
            return f"claim '{name}' must be a list of strings"
    for name in _TEXT_MAP_CLAIMS:
        mapping = claims.get(name)
        if mapping is not None and not (isinstance(mapping, dict)
                                        and all(isinstance(v, str) for v in mapping.values())):
            return f"claim '{name}' must be an object of strings"
    organisation = claims.get("organisation")
    if organisation is not None and not (isinstance(organisation, dict)
                                         and all(isinstance(v, str | None) for v in organisation.values())):
        return "claim 'organisation' must be an object of strings"
    if _is_number(claims.get("exp")) and _is_number(claims.get("iat")) \
            and claims["exp"] - claims["iat"] > MAX_LIFETIME_SECONDS:
        return f"it lives {int(claims['exp'] - claims['iat'])} s; the most a token may live is {MAX_LIFETIME_SECONDS} s"
    return None


def verify(token: str, jwks: dict[str, Any], expected_audience: str, now: datetime) -> Principal:
    """Check signature (against ``jwks``), issuer, audience, and validity at ``now``; 401 otherwise.

    What does not depend on the moment — the signature, issuer, audience and claims of this very token
    under this very key — is kept (by the token and the key's JWK); the lifetime is checked at every use.
    A key the STS no longer publishes refuses its tokens at once."""
    kid = key_id(token)
    keys = {k.get("kid"): k for k in jwks.get("keys", [])}
    if kid not in keys:
        raise unauthorised(f"The token is signed with key '{kid}', which the STS does not publish", "token-signature")
    jwk = json.dumps(keys[kid], sort_keys=True)
    kept_key = (token, expected_audience, jwk)
    found = _verified.get(kept_key)
    if found is None:
        found = kept(_verified, kept_key, _verified_claims(token, jwk, expected_audience), _VERIFIED_LIMIT)
    claims, principal = found
    moment = now.timestamp()
    if float(claims["exp"]) + LEEWAY_SECONDS <= moment:
        raise unauthorised("The token has expired", "token-expired")
    if float(claims.get("nbf", claims["iat"])) - LEEWAY_SECONDS > moment:
        raise unauthorised("The token is not valid yet", "token-not-yet-valid")
    return principal


_VERIFIED_LIMIT = 4096  # tokens whose signature and claims were checked; emptied when full
_verified: dict[tuple[str, str, str], tuple[dict[str, Any], Principal]] = {}
_keys: dict[str, Any] = {}


def _verified_claims(token: str, jwk: str, expected_audience: str) -> tuple[dict[str, Any], Principal]:
    """The claims of ``token`` once its signature (by ``jwk``), issuer, audience and claim types check out."""
    key = _keys.get(jwk)
    if key is None:
        key = kept(_keys, jwk, jwt.PyJWK.from_json(jwk), 64)
    try:
        claims = jwt.decode(token, key.key, algorithms=[ALGORITHM], audience=expected_audience, issuer=ISSUER,
                            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                                     "require": ["exp", "iat", "aud", "iss", "sub", "jti"]})
    except jwt.InvalidAudienceError:
        raise unauthorised(f"The token is not for this service (audience {expected_audience})",
                           "token-audience") from None
    except jwt.InvalidSignatureError:
        raise unauthorised("The token's signature does not verify", "token-signature") from None
    except jwt.PyJWTError as exc:
        raise unauthorised(f"The token is not valid: {exc}", "token-invalid") from None
    problem = claims_problem(claims)
    if problem:
        raise unauthorised(f"The token is not valid: {problem}", "token-claims")
    return claims, Principal.from_claims(claims)
