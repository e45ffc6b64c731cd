"""Files the collector writes: created exclusively, never through a link, then put in place.

vmcollect runs as root and often writes into a shared, world-writable directory such as /tmp,
where another local user can plant a symbolic link at any name they can predict. So every file
is created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` under an unpredictable name (random bytes,
like ``mkstemp``) in its target directory, with mode 0600 while it is written. A finished file
is published under its final name with ``link(2)``, which fails if that name exists (a file, a
link, anything) instead of replacing it; the temporary name is then removed. Nothing here ever
checks a name and then acts on it.

>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> fd, tmp = create_temp(d, ".x.partial-")
>>> os.write(fd, b"data"); os.close(fd)
4
>>> oct(os.stat(tmp).st_mode & 0o777)
'0o600'
>>> publish(tmp, os.path.join(d, "x")) == os.path.join(d, "x")
True
>>> fd, tmp = create_temp(d, ".x.partial-"); os.close(fd)
>>> os.path.basename(publish(tmp, os.path.join(d, "x"), unique=True))
'x-2'
"""

import binascii
import errno
import json
import os

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
_FLAGS |= getattr(os, "O_CLOEXEC", 0)
_ATTEMPTS = 100


def random_suffix():
    """12 hex digits from os.urandom: not guessable from the pid or the time."""
    return binascii.hexlify(os.urandom(6)).decode("ascii")


def create_exclusive(path, mode=0o600):
    """Open a new file at `path` for writing; fails (FileExistsError) if anything is there."""
    return os.open(path, _FLAGS, mode)


def create_temp(directory, prefix, suffix=""):
    """(fd, path) of a new empty file with a random name in `directory`, mode 0600."""
    for _ in range(_ATTEMPTS):
        path = os.path.join(directory, prefix + random_suffix() + suffix)
        try:
            return create_exclusive(path), path
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", directory)


def numbered(path, n):
    """`path` with ``-n`` before its extension: bundle.tar.gz -> bundle-2.tar.gz.

    >>> numbered("/tmp/vmcollect-db01-20240101T000000Z.tar.gz", 2)
    '/tmp/vmcollect-db01-20240101T000000Z-2.tar.gz'
    >>> numbered("map.json", 3)
    'map-3.json'
    """
    if n <= 1:
        return path
    directory, name = os.path.split(path)
    for ext in (".tar.gz", ".json"):
        if name.endswith(ext):
            return os.path.join(directory, "%s-%d%s" % (name[: -len(ext)], n, ext))
    return os.path.join(directory, "%s-%d" % (name, n))


def _link_or_reserve(tmp_path, final):
    """Give the file at `tmp_path` the name `final` if it is free; FileExistsError if not."""
    try:
        os.link(tmp_path, final)
        return
    except FileExistsError:
        raise
    except OSError as exc:
        # File systems without hard links: reserve the name exclusively (our own empty file,
        # which nobody else may remove from a sticky directory), then rename over it.
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
    os.close(create_exclusive(final))
    os.rename(tmp_path, final)


def publish(tmp_path, final, unique=False):
    """Put the finished temporary file under `final` without replacing anything; return the name.

    With `unique`, a taken name moves on to ``-2``, ``-3``, ... (two collectors started in the
    same second); without it a taken name raises FileExistsError. The temporary name is gone
    afterwards either way.
    """
    try:
        for n in range(1, _ATTEMPTS + 1):
            candidate = numbered(final, n)
            try:
                _link_or_reserve(tmp_path, candidate)
                return candidate
            except FileExistsError:
                if not unique:
                    raise
        raise FileExistsError(errno.EEXIST, "no free name", final)
    finally:
        if os.path.lexists(tmp_path):
            os.unlink(tmp_path)


def write_file(final, data, mode=0o600, unique=False):
    """Write `data` (bytes) to a new file `final` (safely, as above); return its name."""
    fd, tmp = create_temp(os.path.dirname(os.path.abspath(final)), ".vmcollect-tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
    except BaseException:
        os.unlink(tmp)
        raise
    return publish(tmp, final, unique)


def replace_json(path, obj):
    """Rewrite a JSON file the collector owns (in its private spool): new file, then rename."""
    fd, tmp = create_temp(os.path.dirname(path), ".tmp-")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, sort_keys=True)
        os.rename(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def open_new(path, text=False):
    """A new file object at `path` (exclusive, no links followed)."""
    return os.fdopen(create_exclusive(path), "w" if text else "wb")
