"""EDS — EHMI Delivery Status: the track-and-trace service of the EHMI messaging infrastructure."""
