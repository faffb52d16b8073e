"""LPS — the GP system (lægepraksissystem) emulator: EHMI inbox for HomeCareObservation messages."""
