"""NSP's HTTP faces, one router per service (composed in :mod:`services.nsp.app`)."""
