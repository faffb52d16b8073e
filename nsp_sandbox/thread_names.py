"""The sandbox's threads named for the operating system too, not only for Python.

Python 3.11 gives a thread's name to Python alone: ``top -H``, ``ps -L``, ``/proc/PID/task/*/comm`` and a
profiler that reads the kernel's view show every thread of a served sandbox as ``nsp-sandbox``. A thread that
runs :class:`NamedThread` (or calls :func:`name_os_thread` first) is shown by its Python name there, cut to the
15 bytes the kernel keeps: ``cpu-lane_0``, ``dds-dsubm-notif``, ``sqlite-checkpoi``… So the CPU each part of the
sandbox takes can be read off a running process (``bench/served_threads.py``).
"""

from __future__ import annotations

import threading

COMM_BYTES = 15  # the kernel's TASK_COMM_LEN, less its terminating NUL


def name_os_thread(name: str | None = None) -> bool:
    """Give the calling thread ``name`` (by default its Python name) at the operating system, cut to
    :data:`COMM_BYTES` bytes of UTF-8; whether it took (Linux's ``/proc/thread-self/comm`` is writable)."""
    wanted = (threading.current_thread().name if name is None else name).encode(errors="replace")[:COMM_BYTES]
    try:
        with open("/proc/thread-self/comm", "wb") as comm:
            comm.write(wanted.decode(errors="ignore").encode())
    except OSError:  # not Linux, or /proc not mounted
        return False
    return True


class NamedThread(threading.Thread):
    """A ``threading.Thread`` that takes its Python name at the operating system too as it starts."""

    def run(self) -> None:
        name_os_thread(self.name)
        super().run()
