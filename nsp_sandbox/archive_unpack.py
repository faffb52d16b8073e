"""Unpacking a tar archive that came from elsewhere (a FHIR package) so that nothing lands outside its folder.

``unpack_data`` is ``TarFile.extractall(target, filter="data")`` (PEP 706) where the Python has extraction
filters: CPython 3.12, and 3.11 from 3.11.4. Python 3.11.0–3.11.3 (Debian 12's python3.11 is 3.11.2) has none;
there the same refusals are made here, a little stricter and before anything is written: only regular files and
folders are unpacked, and a name with ``..``, an absolute name (the filter unpacks it inside the folder), a link
or a device refuses the whole archive. Either way a refusal is a ``tarfile.TarError`` (with the filter, the members
before the refused one are unpacked: callers unpack into a folder of their own and remove it), modes lose their
set-id, sticky and group/other write bits, and files keep the unpacking user as owner.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

HAS_FILTERS = hasattr(tarfile, "data_filter")


def unpack_data(tar: tarfile.TarFile, target: Path, members: Iterable[tarfile.TarInfo] | None = None) -> None:
    """Unpack ``members`` (by default all) of ``tar`` into ``target``, or raise ``tarfile.TarError`` for one that
    would reach outside it or is not plain data."""
    chosen = list(tar.getmembers() if members is None else members)
    if HAS_FILTERS:
        tar.extractall(target, members=chosen, filter="data")
    else:
        unpack_checked(tar, target, chosen)


def unpack_checked(tar: tarfile.TarFile, target: Path, members: list[tarfile.TarInfo]) -> None:
    """What :func:`unpack_data` does on a Python without extraction filters: every member checked first, then
    unpacked with its mode cleaned and without its owner."""
    for member in members:
        refused = refusal(member)
        if refused is not None:
            raise tarfile.TarError(f"{member.name!r} {refused}")
    for member in members:
        clean = member.mode & 0o755
        member.mode = clean | (0o700 if member.isdir() else 0o600)
        member.uid, member.gid, member.uname, member.gname = os.getuid(), os.getgid(), "", ""
    if HAS_FILTERS:  # this function's tests: every member is checked above
        tar.extractall(target, members=members, filter="fully_trusted")
    else:
        tar.extractall(target, members=members)


def refusal(member: tarfile.TarInfo) -> str | None:
    """Why ``member`` is not plain data inside the target folder (None when it is): a link, a device, an absolute
    name or one with ``..``."""
    if not (member.isfile() or member.isdir()):
        return "is not a regular file or folder"
    if member.name.startswith("/") or ".." in PurePosixPath(member.name).parts:
        return "would be unpacked outside the target folder"
    return None
