"""The suites of DDS's clients: ``document-source`` (:mod:`.source`, its metadata checks in
:mod:`.source_metadata`) and ``document-consumer`` (:mod:`.consumer`, what it seeds in
:mod:`.consumer_seed`); both watch DDS's request log (:mod:`.watch`)."""
