"""The conformance engine, a ground-floor library every actor validates with: the FHIR package
loader (``packages``), terminology, and the profile validator (``validator``) driven by the
packages' snapshots. The ``/conformance`` actor (``services/conformance``) is its HTTP and command
line face."""
