"""A package archive is unpacked into its folder and nowhere else, with or without Python's extraction filters."""

from __future__ import annotations

import io
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from nsp_sandbox.archive_unpack import HAS_FILTERS, unpack_checked, unpack_data

Unpack = Callable[[tarfile.TarFile, Path], None]


def _by_hand(tar: tarfile.TarFile, target: Path) -> None:
    unpack_checked(tar, target, tar.getmembers())


# unpack_data takes the filters where this Python has them; unpack_checked is what runs where it has none.
WAYS = [pytest.param(unpack_data, id="unpack_data"), pytest.param(_by_hand, id="without-filters")]


def _archive(*members: tuple[tarfile.TarInfo, bytes | None]) -> tarfile.TarFile:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    buffer.seek(0)
    return tarfile.open(fileobj=buffer, mode="r:gz")


def _file(name: str, data: bytes = b"{}", mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = mode
    return info, data


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


@pytest.mark.parametrize("unpack", WAYS)
def test_a_package_is_unpacked_into_its_folder(tmp_path: Path, unpack: Unpack) -> None:
    folder = tarfile.TarInfo("package")
    folder.type = tarfile.DIRTYPE
    folder.mode = 0o755
    with _archive((folder, None), _file("package/package.json", b'{"name": "x"}'),
                  _file("package/StructureDefinition-a.json", b"[]")) as tar:
        unpack(tar, tmp_path)
    assert (tmp_path / "package" / "package.json").read_bytes() == b'{"name": "x"}'
    assert (tmp_path / "package" / "StructureDefinition-a.json").read_bytes() == b"[]"


@pytest.mark.parametrize("unpack", WAYS)
@pytest.mark.parametrize("name", ["../outside.json", "package/../../outside.json"])
def test_a_name_reaching_outside_refuses_the_archive(tmp_path: Path, unpack: Unpack, name: str) -> None:
    target = tmp_path / "target"
    target.mkdir()
    with _archive(_file("package/package.json"), _file(name)) as tar, pytest.raises(tarfile.TarError):
        unpack(tar, target)
    assert not (tmp_path / "outside.json").exists()


@pytest.mark.parametrize("unpack", WAYS)
def test_an_absolute_name_never_lands_at_its_path(tmp_path: Path, unpack: Unpack) -> None:
    absolute = tmp_path / "absolute.json"
    target = tmp_path / "target"
    target.mkdir()
    with _archive(_file("package/package.json"), _file(str(absolute))) as tar:
        try:
            unpack(tar, target)  # the filter unpacks it inside the folder, without its leading slash
        except tarfile.TarError:
            assert unpack is _by_hand or not HAS_FILTERS  # refused by hand
    assert not absolute.exists()


@pytest.mark.parametrize("unpack", WAYS)
@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_a_link_out_of_the_folder_refuses_the_archive(tmp_path: Path, unpack: Unpack, kind: bytes) -> None:
    target = tmp_path / "target"
    target.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    with _archive(_link("package/escape", str(secret), kind), _file("package/package.json")) as tar, \
            pytest.raises(tarfile.TarError):
        unpack(tar, target)
    assert not (target / "package" / "escape").exists()


def test_without_filters_every_member_is_checked_before_anything_is_written(tmp_path: Path) -> None:
    with _archive(_file("package/package.json"), _file("../late.json")) as tar, pytest.raises(tarfile.TarError):
        _by_hand(tar, tmp_path)
    assert not (tmp_path / "package").exists()


def test_without_filters_a_link_even_inside_the_folder_is_refused(tmp_path: Path) -> None:
    with _archive(_file("package/package.json"), _link("package/alias.json", "package.json")) as tar, \
            pytest.raises(tarfile.TarError, match="not a regular file"):
        _by_hand(tar, tmp_path)


@pytest.mark.parametrize("unpack", WAYS)
def test_set_id_and_others_write_bits_are_dropped(tmp_path: Path, unpack: Unpack) -> None:
    with _archive(_file("package/package.json", mode=0o6777), _file("package/locked.json", mode=0o000)) as tar:
        unpack(tar, tmp_path)
    mode = stat.S_IMODE((tmp_path / "package" / "package.json").stat().st_mode)
    assert mode & (stat.S_ISUID | stat.S_ISGID | stat.S_IWGRP | stat.S_IWOTH) == 0
    assert stat.S_IMODE((tmp_path / "package" / "locked.json").stat().st_mode) & 0o600 == 0o600
