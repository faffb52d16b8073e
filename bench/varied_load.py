"""``../shared/peers/load.py`` with HCO messages that differ as a sender's do: every id (and so every reference and
narrative anchor), each Observation's value and time, the report's and the provenance's times
(``engine_instructions.varied``), where the load's own messages differ only in two ids and the CPR. The rest of
the load (the DocumentReference, the SubmissionSet, the clients, the figures it prints) is load.py's own. Each run
varies from a seed of its own, so no message of one run comes again in the next.

Takes load.py's arguments; ``bench/served_bursts.py --load bench/varied_load.py`` serves two trees such a load::

    .venv/bin/python bench/varied_load.py --profile nsp --url http://127.0.0.1:8080 -n 1000 -c 8
    .venv/bin/python bench/served_bursts.py --load bench/varied_load.py --against ../before
"""

from __future__ import annotations

import json
import os
import random
import threading
from typing import Any

from engine_instructions import peer_load, varied


def main() -> None:
    load = peer_load()
    # A seed of its own for each run: a harness that runs this file burst after burst against one server (served_bursts,
    # provide_parts) would otherwise send the same messages again, and the findings kept by their content would
    # answer them without a validation.
    rng = random.Random(int.from_bytes(os.urandom(8), "big"))
    lock = threading.Lock()

    def document(self: Any, cpr: str) -> tuple[bytes, str]:
        text = self.msg_json.replace(self.msg_cpr, cpr)
        with lock:  # (bodies are built before each round; one generator, one order)
            message = varied(text, rng)
        return json.dumps(message).encode(), message["id"]

    load.Documents.document = document
    load.main()


if __name__ == "__main__":
    main()
