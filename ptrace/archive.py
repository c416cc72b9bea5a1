"""Binaries inside zip archives (an Android APK's libraries): `ARCHIVE!/MEMBER`.

A uprobe on a member is a uprobe on the archive file, at the member's offset
in it plus the function's offset in the member; the kernel maps such a
member straight from the archive, so only a member stored uncompressed can
be probed. Input: a path as a script writes it; output: the member's bytes
and where they start in the archive. `zipfile` is imported only for a path
that names a member.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

SEPARATOR = "!/"
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, …, name length, extra length
_LOCAL_SIGNATURE = b"PK\x03\x04"


class Member(NamedTuple):
    archive: str
    name: str
    offset: int  # where the member's bytes start in the archive
    size: int
    stored: bool  # kept uncompressed (a compressed member cannot be probed)


class ArchiveError(Exception):
    """The archive cannot be read, or has no such member."""


def split(path: str) -> tuple[str, str] | None:
    """(archive, member) of `ARCHIVE!/MEMBER`; None for a plain path."""
    archive, separator, member = path.partition(SEPARATOR)
    return (archive, member) if separator and archive and member else None


def member(path: str) -> Member:
    """The member `ARCHIVE!/MEMBER` names; ArchiveError if there is none."""
    parts = split(path)
    if parts is None:
        raise ArchiveError(f"{path} names no member of an archive")
    archive, name = parts
    import zipfile

    try:
        with zipfile.ZipFile(archive) as zipped:
            info = zipped.getinfo(name)
        with open(archive, "rb") as f:
            f.seek(info.header_offset)
            signature, name_length, extra_length = _LOCAL_HEADER.unpack(
                f.read(_LOCAL_HEADER.size))
    except KeyError:
        raise ArchiveError(f"{archive} has no member {name}") from None
    except (OSError, zipfile.BadZipFile, struct.error) as error:
        raise ArchiveError(f"cannot read {archive} as a zip archive: {error}") from None
    if signature != _LOCAL_SIGNATURE:
        raise ArchiveError(f"cannot read {archive} as a zip archive: member {name} has no "
                           "local header")
    offset = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
    return Member(archive, name, offset, info.file_size,
                  info.compress_type == zipfile.ZIP_STORED)


def read_binary(path: str) -> bytes:
    """The bytes of a file, or of an archive's stored member; OSError if they
    cannot be read."""
    if split(path) is None:
        with open(path, "rb") as f:
            return f.read()
    try:
        found = member(path)
    except ArchiveError as error:
        raise OSError(str(error)) from None
    if not found.stored:
        raise OSError(f"{path} is compressed in its archive")
    with open(found.archive, "rb") as f:
        f.seek(found.offset)
        return f.read(found.size)
