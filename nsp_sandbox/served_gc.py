"""The garbage collector's thresholds in a served process: the sandbox's (``sandbox.start_steps.freeze_long_lived``)
and its validation process's (:mod:`nsp_sandbox.validation_process`)."""

from __future__ import annotations

#: ``gc.set_threshold`` in a served process (Python's own are 700, 10, 10). A provide, and a validation, allocates
#: some tens of thousands of containers, nearly all freed by their reference counts, so a young collection every 700
#: of them mostly walks the provide's own live document again and again, and promotes it; a full collection every
#: hundred young ones walks every object kept since "ready". With 2,000 and a full collection a tenth as often, the
#: collector's CPU per provide halves, resident memory the same (docs/benchmarks.md: the collector in a served
#: sandbox).
SERVED_GC_THRESHOLDS = (2_000, 10, 100)
