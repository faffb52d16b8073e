"""The EOJ's HTTP faces, one router per transaction group (composed in :mod:`services.eoj_sender.app`)."""
