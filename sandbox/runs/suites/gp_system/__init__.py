"""The ``gp-system`` suite (:mod:`.suite`): a vendor's GP system receiving HomeCareObservation messages. Its
parts: the target and its options (:mod:`.target`), sending through the sandbox's EOJ (:mod:`.sending`),
reading and checking the acknowledgements (:mod:`.acks`, :mod:`.ack_testscripts`), the kinds of case
(:mod:`.cases`)."""
