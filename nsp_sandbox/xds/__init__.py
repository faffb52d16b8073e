"""The IHE XDS.b wire layer: SOAP 1.1/1.2 envelopes, WS-Addressing, MTOM/XOP packaging and a typed ebRIM model.

Modules, bottom up: ``errors`` (the one typed error), ``namespaces``, ``vocabulary`` (XDS.b UUIDs, actions,
stored queries), ``hl7v2`` (CX/XCN/XON/DTM), ``soap`` (envelopes and faults), ``mtom`` (MIME multipart/related
with XOP), ``xml`` (small lxml helpers), ``rim`` (ebRIM registry objects), ``query_values`` (the stored-query
value syntax), ``ebrim`` (the SubmitObjectsRequest family), ``registry_response``, ``query`` (ITI-18) and
``retrieve`` (ITI-43). Specification: IHE ITI TF-2 (transactions), ITI TF-3 §4.2-4.3 (metadata and its ebRIM
representation), OASIS ebRIM/ebRS 3.0, SOAP 1.1/1.2, WS-Addressing 1.0, XOP/MTOM (W3C 2005).
"""
