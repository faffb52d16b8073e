"""The parts of the ``gp-system`` conformance suite (:mod:`sandbox.runs.suites.gp_system`): the target and its
options (:mod:`.target`), sending through the sandbox's EOJ (:mod:`.sending`), reading and checking the
acknowledgements (:mod:`.acks`, :mod:`.ack_testscripts`) and the kinds of case (:mod:`.cases`)."""
