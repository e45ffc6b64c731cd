"""Files in and out, safely: the one place vmanalyze creates files or opens input files.

Writing. Every file vmanalyze and ``vmanalyze batch`` write (reports, JSON, Parquet
exports, cache entries, fleet files, resume state) goes through :func:`atomic_write` or
:func:`atomic_writer`: the data goes to a new file created exclusively (``O_CREAT|O_EXCL``,
which never follows a link) under a random name in the target's own directory, and that
file is then renamed onto the target. A link planted at any name, predictable or not, is
never written through: the rename replaces the link itself. On any error the temporary
file is removed, so a failed write leaves nothing behind.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> atomic_write(d / "a.txt", b"hello")
>>> (d / "a.txt").read_bytes(), sorted(p.name for p in d.iterdir())
(b'hello', ['a.txt'])

Reading. :func:`open_regular` opens an input file without ever blocking on a FIFO or a
device: it opens with ``O_NONBLOCK`` and refuses anything :func:`os.fstat` does not call a
regular file, before a byte is read.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = [
    "NotRegularFile",
    "atomic_write",
    "atomic_writer",
    "file_kind",
    "make_dirs",
    "open_regular",
]

#: Mode of files meant to be shared (reports, exports, fleet files), before the umask.
PUBLIC = 0o666
#: Mode of private files (cache entries hold command lines), whatever the umask.
PRIVATE = 0o600


class NotRegularFile(OSError):
    """An input path is a FIFO, a device, a socket... (never opened, never read)."""


def file_kind(mode: int) -> str:
    """A file type in words, for messages.

    >>> file_kind(stat.S_IFIFO | 0o644), file_kind(stat.S_IFREG)
    ('a FIFO', 'a regular file')
    """
    for test, name in (
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str], *, mode: int = PUBLIC) -> Iterator[IO[bytes]]:
    """A binary file to write ``path`` through: created exclusively beside it, renamed onto
    it when the block ends without error, removed otherwise.

    ``mode``: :data:`PUBLIC` (the umask applies, like any new file) or :data:`PRIVATE`.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.tmp-", dir=target.parent)
    try:
        os.fchmod(fd, mode if mode == PRIVATE else mode & ~_umask())
        with os.fdopen(fd, "wb") as f:
            fd = -1
            yield f
        os.replace(tmp, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write(path: str | os.PathLike[str], data: bytes, *, mode: int = PUBLIC) -> None:
    """Write ``data`` to ``path`` through :func:`atomic_writer`."""
    with atomic_writer(path, mode=mode) as f:
        f.write(data)


def make_dirs(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> None:
    """Create ``path`` and the directories between ``root`` and it, like ``mkdir -p``, but
    refuse (``OSError``) a component that is a link, not a directory, or another user's:
    a link planted in a shared output directory must not send the files elsewhere.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> make_dirs(d / "reports" / "x", d)
    >>> (d / "elsewhere").symlink_to(d / "reports")
    >>> make_dirs(d / "elsewhere" / "y", d)
    Traceback (most recent call last):
    PermissionError: [Errno 1] a symbolic link, not a directory (refused): '.../elsewhere'
    """
    base = Path(root)
    current = base
    for part in Path(path).relative_to(base).parts:
        current = current / part
        with contextlib.suppress(FileExistsError):
            os.mkdir(current)
        st = os.lstat(current)
        if not stat.S_ISDIR(st.st_mode):
            reason = f"{file_kind(st.st_mode)}, not a directory (refused)"
            raise PermissionError(errno.EPERM, reason, str(current))
        if st.st_uid != os.geteuid():
            reason = f"owned by uid {st.st_uid}, not by this user (refused)"
            raise PermissionError(errno.EPERM, reason, str(current))


def open_regular(path: str | os.PathLike[str], *, follow: bool = True) -> IO[bytes]:
    """Open a file for reading only if it is a regular file; never blocks on a FIFO.

    ``follow=False`` also refuses a symbolic link (for files found inside an input).
    The type is checked with a stat before the open (a device is never opened: opening
    some has effects) and again on the open descriptor, opened with ``O_NONBLOCK`` (a FIFO
    swapped in between cannot block). Raises :class:`NotRegularFile` (a FIFO, device,
    socket, directory or link; its ``strerror`` says which) or the ``OSError`` of the stat
    or the open (e.g. permission denied).
    """
    st = os.stat(path) if follow else os.lstat(path)
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularFile(errno.EINVAL, file_kind(st.st_mode), os.fspath(path))
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow:
        flags |= os.O_NOFOLLOW
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)  # the same file: it may have been swapped since the stat
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(errno.EINVAL, file_kind(st.st_mode), os.fspath(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
