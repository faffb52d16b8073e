"""The GP system's HTTP faces, one router per group (composed in :mod:`services.lps.app`)."""
