"""nsp-sandbox: a runnable sandbox of the Danish national health-data sharing infrastructure.

This package holds what every actor shares: settings, the clock, database access, FHIR HTTP
helpers, the one-process composition of all actors and the command line.
"""

__version__ = "0.1.0"
