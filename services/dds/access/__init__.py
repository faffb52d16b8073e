"""Access control in DDS, one module per rule:

* ``tokens``               who is calling: the STS token, verified against NSP's JWKS (signature, expiry, audience)
* ``nsp``                  DDS's HTTP client for NSP (consent, BRS, persons, Min Log), never NSP's code
* ``readers``              who may read whose documents (citizen, relative/parent, professional; systems may not)
* ``treatment_relation``   a professional needs a treatment relation (BRS)
* ``blocking``             Min Spærring: blocked → empty result, data period → filtered with a warning
* ``consent_override``     værdispring: ``X-Consent-Override: <reason>``
* ``min_log``              a professional's non-empty look-up becomes a Min Log entry
* ``address_protection``   a protected citizen's address is never shown to a non-authority user
* ``guard``                the rules above composed: one guarded read for every face
                           (authenticate → grant → query → warn → log)
"""
