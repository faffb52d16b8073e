"""EOJ — the municipal EHR of an acute team: sends HomeCareObservation messages and shares them to DDS."""
