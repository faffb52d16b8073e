"""Access control in DDS, one module per rule:

* ``tokens``               who is calling: the STS token, verified against NSP's JWKS (signature, expiry, audience)
* ``nsp``                  DDS's HTTP client for NSP (consent, BRS, persons, Min Log), never NSP's code
* ``readers``              who may read whose documents (citizen, relative/parent, professional; systems may not)
* ``fuldmagt``             a fuldmagt opens what its scope names (``prøvesvar``: test results only)
* ``treatment_relation``   a professional (or the one an assistant acts for) needs a treatment relation (BRS)
* ``blocking``             Min Spærring's consent items: all data withheld → empty result, part of it (a
                           treatment place, a data period) → filtered with a warning; positive items lift
* ``consent_override``     værdispring: level 4 and an authorisation code; reason and criticality
* ``min_log``              a non-empty look-up becomes Min Log entries (medhjælpslog, relatives' own log)
* ``address_protection``   a protected citizen's address is never shown to a non-authority user
* ``guard``                the rules above composed: one guarded read for every face
                           (authenticate → grant → query → warn → log)
"""
