"""Can this Python hold nsp-sandbox's .venv, and how fast does it run the sandbox's kind of Python?

``scripts/install.sh`` runs this with each Python it finds when it creates ``.venv`` (``PYTHON`` unset) and
makes the venv with the fastest that can hold it. The same CPython release runs the sandbox at quite different
speeds depending on how it was built: on the 2-core machine of ``docs/benchmarks.md``, pyenv's default build of
3.11 (``libpython`` a shared library, no ``--enable-optimizations``) took from a third to twice as long as Debian's
``/usr/bin/python3.11`` over this workload, and 7–19 % more CPU per served provide.

It prints one line: ``ok <milliseconds> <executable> <version>`` when this Python is 3.11 or newer, can make a
venv with pip (``venv``, ``ensurepip``) and has the headers the conformance engine is compiled against; else
``no <why>``. The milliseconds are CPU time (``time.process_time``), the best of five runs of a fixed piece of
work like the sandbox's own: a JSON resource parsed and walked key by key, strings tested, small functions called.
Standard library only; it runs on Python 3.6 and newer, to say why an older one cannot hold the venv.
"""

import json
import os
import sys
import sysconfig
import time


def _fit():
    if sys.version_info < (3, 11):  # noqa: UP036 - run by whatever python3 a machine has
        return "Python {}.{} is older than 3.11".format(*sys.version_info[:2])
    try:
        import ensurepip  # noqa: F401
        import venv  # noqa: F401
    except ImportError:
        return "no venv with pip (Debian: apt-get install python3-venv)"
    include = sysconfig.get_paths().get("include") or ""
    if not os.path.exists(os.path.join(include, "Python.h")):
        return "no Python headers: the conformance engine could not be compiled (Debian: python3-dev)"
    return None


def _resource(n):
    return {"resourceType": "Bundle", "type": "message", "entry": [
        {"fullUrl": f"urn:uuid:{i:08d}-0000-4000-8000-000000000000",
         "resource": {"resourceType": "Observation", "id": f"obs-{i}", "status": "final",
                      "code": {"coding": [{"system": "http://loinc.org", "code": f"{1000 + i}-5",
                                           "display": "C-reaktivt protein [Masse/volumen] i Plasma"}]},
                      "valueQuantity": {"value": i * 1.5, "unit": "mg/L", "system": "http://unitsofmeasure.org"},
                      "_status": {"extension": [{"url": "http://example.org/x", "valueBoolean": True}]}}}
        for i in range(n)]}


def _walk(node, path):
    if isinstance(node, dict):
        count = 1
        for key, value in node.items():
            if key.startswith("_"):
                key = key[1:]
            count += _walk(value, path + "." + key)
        return count
    if isinstance(node, list):
        return sum(_walk(item, path) for item in node)
    if isinstance(node, str):
        return 1 if node.isprintable() else 2
    return 1


def _work(text):
    total = 0
    for _ in range(8):
        total += _walk(json.loads(text), "Bundle")
    return total


def main():
    why = _fit()
    if why is not None:
        print("no " + why)
        return
    text = json.dumps(_resource(150))
    _work(text)
    best = None
    for _ in range(5):
        started = time.process_time()
        _work(text)
        spent = time.process_time() - started
        best = spent if best is None else min(best, spent)
    version = "{}.{}.{}".format(*sys.version_info[:3])
    print(f"ok {best * 1e3:.1f} {sys.executable} {version}")


if __name__ == "__main__":
    main()
