"""The ``eoj`` suite (:mod:`.suite`): a vendor's EOJ sending HomeCareObservation messages to the sandbox's GP
system. Its parts: watching the GP inbox (:mod:`.inbox`), checking what arrived (:mod:`.content`), the DDS
copy (:mod:`.dds`), setup and the resend case (:mod:`.steps`)."""
