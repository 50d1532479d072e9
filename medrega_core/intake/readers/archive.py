"""Zip archives of DICOM series, read in memory (nothing is extracted to disk).

Every member is checked before it is read: no absolute paths or ``..`` components, at most
``max_files`` members, a bounded total uncompressed size and compression ratio; each read is capped
at the declared size, so a member that lies about its size cannot inflate further.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import PurePosixPath, PureWindowsPath

from medrega_core.errors import N_
from medrega_core.intake.errors import (
    ArchiveTooLargeError,
    CorruptFileError,
    TooManyFilesError,
    UnsafeArchiveError,
)
from medrega_core.intake.limits import IntakeLimits

__all__ = ["read_zip_members", "is_zip"]

#: Members that are never images: folder metadata written by macOS and DICOM media directories.
_SKIPPED_PARTS = ("__MACOSX", "DICOMDIR", ".DS_Store")


def is_zip(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) == b"PK\x03\x04"


def _is_unsafe(member: str) -> bool:
    posix, windows = PurePosixPath(member), PureWindowsPath(member)
    return posix.is_absolute() or windows.is_absolute() or bool(windows.drive) or ".." in posix.parts or ".." in windows.parts


def read_zip_members(path: str, name: str, limits: IntakeLimits) -> list[tuple[str, bytes]]:
    """The files in the zip at ``path`` as ``(member name, content)`` pairs, in archive order.

    Raises
    ------
    UnsafeArchiveError
        A member path escapes the archive, or the zip is encrypted.
    TooManyFilesError, ArchiveTooLargeError
        Over ``limits``.
    CorruptFileError
        The zip cannot be read.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
            for info in members:
                if _is_unsafe(info.filename):
                    raise UnsafeArchiveError(
                        N_("The zip file {name} contains an unsafe path ({member}); it was not opened."),
                        name=name, member=info.filename,
                    )
                if info.flag_bits & 0x1:
                    raise UnsafeArchiveError(N_("The zip file {name} is encrypted; it was not opened."), name=name)
            members = [info for info in members if not any(part in _SKIPPED_PARTS for part in PurePosixPath(info.filename).parts)]
            if len(members) > limits.max_files:
                raise TooManyFilesError(
                    N_("Too many files ({count}); at most {limit} can be opened at once."),
                    count=len(members), limit=limits.max_files,
                )
            total = sum(info.file_size for info in members)
            if total > limits.max_uncompressed_bytes or any(
                info.file_size > 1_000_000 and info.file_size > limits.max_compression_ratio * max(info.compress_size, 1)
                for info in members
            ):
                raise ArchiveTooLargeError(
                    N_("The zip file {name} expands to {size} MB, over the limit of {limit} MB, or is compressed suspiciously well."),
                    name=name, size=total // 1_000_000, limit=limits.max_uncompressed_bytes // 1_000_000,
                )
            contents = []
            for info in members:
                with archive.open(info) as handle:
                    data = handle.read(info.file_size + 1)
                if len(data) != info.file_size:
                    raise CorruptFileError(N_("The zip file {name} is damaged or truncated."), name=name)
                contents.append((info.filename, data))
            return contents
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError, OSError) as error:
        raise CorruptFileError(N_("The zip file {name} is damaged or truncated."), name=name) from error
