"""The ID card's enveloped XML signature (DGWS 1.0.1 "ID card signature"; dds-nsp.md §1.3):
exclusive C14N, a single reference to the assertion's ``id``, the signing certificate in
``ds:KeyInfo/ds:X509Data``. Canonicalisation, digests and RSA are :mod:`signxml`'s; this module
only configures it for the real cards' quirks:

* RSA-SHA1 over SHA-1 digests (signxml refuses SHA-1 unless the configuration lists it);
* a lowercase ``id`` on the assertion (the reference's target) and on ``ds:Signature``, which the
  XML-DSig schema does not allow, so schema validation of the signature element is off.

Trust is decided here, not by KeyInfo: the certificate KeyInfo carries must *be* one of the trusted
certificates (compared by DER bytes) and valid at the instant given; only then is the signature
checked with it."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConfiguration,
    SignatureMethod,
    XMLSigner,
    XMLVerifier,
)
from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidInput, InvalidSignature

from nsp_sandbox.dgws.certificates import TrustList, describe, from_base64_der, validity_problem
from nsp_sandbox.dgws.faults import DgwsFault
from nsp_sandbox.dgws.idcard import SIGNATURE_ID
from nsp_sandbox.dgws.namespaces import DS, q

ACCEPTED_SIGNATURE_METHODS = frozenset({SignatureMethod.RSA_SHA1, SignatureMethod.RSA_SHA256,
                                        SignatureMethod.RSA_SHA512})
ACCEPTED_DIGESTS = frozenset({DigestAlgorithm.SHA1, DigestAlgorithm.SHA256, DigestAlgorithm.SHA512})
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def sign_enveloped(element: etree._Element, key: rsa.RSAPrivateKey, certificate: x509.Certificate,
                   signature_id: str = SIGNATURE_ID) -> etree._Element:
    """A copy of ``element`` (which carries a lowercase ``id``) with an enveloped RSA-SHA256 /
    SHA-256 signature as its last child, exclusive C14N, the certificate in KeyInfo and
    ``id=signature_id`` on ``ds:Signature`` as the real cards have it."""
    signer = XMLSigner(signature_algorithm=SignatureMethod.RSA_SHA256, digest_algorithm=DigestAlgorithm.SHA256,
                       c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0)
    standalone = etree.fromstring(etree.tostring(element), parser=_PARSER)
    signed = signer.sign(standalone, key=key, cert=[certificate], reference_uri=element.get("id"),
                         id_attribute="id")
    signature = signed.find(q(DS, "Signature"))
    if signature is not None:
        signature.set("id", signature_id)
    return signed


def signature_of(element: etree._Element) -> etree._Element:
    """The one ``ds:Signature`` child of ``element`` (``invalid_signature`` when there is none or several)."""
    found = element.findall(q(DS, "Signature"))
    if len(found) != 1:
        raise DgwsFault("invalid_signature", f"Expected one enveloped ds:Signature, found {len(found)}",
                         "saml:Assertion/ds:Signature")
    return found[0]


def key_info_certificate(element: etree._Element) -> x509.Certificate:
    """The certificate in the enveloped signature's ``ds:KeyInfo/ds:X509Data/ds:X509Certificate``."""
    text = signature_of(element).findtext(f"{q(DS, 'KeyInfo')}/{q(DS, 'X509Data')}/{q(DS, 'X509Certificate')}")
    if not text:
        raise DgwsFault("invalid_signature", "The signature's KeyInfo carries no X509Certificate",
                        "ds:Signature/ds:KeyInfo")
    try:
        return from_base64_der(text)
    except ValueError as exc:
        raise DgwsFault("invalid_certificate", f"The KeyInfo certificate cannot be read: {exc}",
                        "ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate") from exc


def verify_enveloped(element: etree._Element, trusted: TrustList, now: datetime,
                     what: str = "trusted STS") -> tuple[etree._Element, x509.Certificate]:
    """Check ``element``'s enveloped signature; answers the signed XML (what was signed and
    only that, the signature removed) and the signing certificate.

    Faults: ``invalid_certificate`` when the KeyInfo certificate is not in ``trusted`` or not valid
    at ``now``; ``invalid_signature`` when the signature does not cover ``element`` by its ``id`` or
    does not verify."""
    certificate = key_info_certificate(element)
    if certificate not in trusted:
        raise DgwsFault("invalid_certificate", f"The signing certificate {describe(certificate)} is not a {what}",
                         "ds:Signature/ds:KeyInfo")
    problem = validity_problem(certificate, now)
    if problem:
        raise DgwsFault("invalid_certificate", f"{describe(certificate)}: {problem} (at {now.isoformat()})",
                        "ds:Signature/ds:KeyInfo")
    element_id = element.get("id")
    references = signature_of(element).findall(f"{q(DS, 'SignedInfo')}/{q(DS, 'Reference')}")
    if not element_id or [r.get("URI") for r in references] != [f"#{element_id}"]:
        raise DgwsFault("invalid_signature", f"The signature must have one reference, to #{element_id}",
                         "ds:Signature/ds:SignedInfo/ds:Reference")
    signed = _signed_content(etree.tostring(element), certificate.public_bytes(serialization.Encoding.DER))
    return etree.fromstring(signed, parser=_PARSER), certificate


@lru_cache(maxsize=256)
def _signed_content(serialized: bytes, certificate_der: bytes) -> bytes:
    """What the enveloped signature of the serialized element signs, verified with the certificate
    (``invalid_signature`` when it does not verify). Whether a signature verifies depends on these
    bytes and this key only — the certificate's trust and validity at the instant are checked
    before, on every call — so a verified ID card, which a client sends unchanged with every
    request for its lifetime, is not verified again; a card changed in any byte is."""
    certificate = x509.load_der_x509_certificate(certificate_der)
    # signxml checks the certificate's validity at verification_time: the caller has checked it at
    # the sandbox's instant, so any instant inside it gives the same answer here.
    config = SignatureConfiguration(location="./", expect_references=1, signature_methods=ACCEPTED_SIGNATURE_METHODS,
                                    digest_algorithms=ACCEPTED_DIGESTS,
                                    verification_time=certificate.not_valid_before_utc)
    standalone = etree.fromstring(serialized, parser=_PARSER)
    try:
        result = XMLVerifier().verify(standalone, x509_cert=certificate,
                                      validate_schema=False, id_attribute="id", expect_config=config)
    except (InvalidSignature, InvalidDigest, InvalidInput, InvalidCertificate) as exc:
        raise DgwsFault("invalid_signature", f"The signature does not verify: {exc}", "ds:Signature") from exc
    signed = result.signed_xml if not isinstance(result, list) else None
    if signed is None:
        raise DgwsFault("invalid_signature", "The signed content is not XML", "ds:Signature")
    return bytes(etree.tostring(signed))
