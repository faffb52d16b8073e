"""The ``gp-system-plsp`` suite (:mod:`.suite`): a vendor's GP system sending its diagnosis card and notes to
PLSP. Its cases (:mod:`.card_cases`, :mod:`.note_cases`) and how it watches PLSP and DDS (:mod:`.observe`)."""
