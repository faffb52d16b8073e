"""The conformance engine, a ground-floor library every actor validates with: the FHIR package
loader (``packages``), terminology, and the profile validator (``validator``) driven by the
packages' snapshots. The ``/conformance`` actor (``services/conformance``) is its HTTP and command
line face.

Its hot modules may run compiled (``compiled``); which, is decided here, before any of them is imported.
"""

from nsp_sandbox.conformance.compiled import use_sources_if_stale

use_sources_if_stale()
