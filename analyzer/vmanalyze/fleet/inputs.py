"""Finding a batch's inputs: files, directories and globs expanded, duplicates found.

Runs on the client. :func:`discover_inputs` expands the command line; :func:`split_duplicates`
drops inputs whose content is another input's, and hands over the content hashes it had to
compute, so the workers do not hash those inputs again.
"""

from __future__ import annotations

import glob
import os
import stat
from collections.abc import Iterable, Iterator, Sequence

from vmanalyze.errors import InputError
from vmanalyze.safeio import file_kind

__all__ = [
    "ARCHIVE_SUFFIXES",
    "discover_inputs",
    "error_without_path",
    "is_input_dir",
    "split_duplicates",
]

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.xz", ".tar.bz2")


def is_input_dir(path: str) -> bool:
    """A directory is an input itself when it holds ``proc/`` or ``sos_commands/``."""
    return os.path.isdir(os.path.join(path, "proc")) or os.path.isdir(
        os.path.join(path, "sos_commands")
    )


def _is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def _regular_or_refused(path: str, refused: list[tuple[str, str]]) -> bool:
    """True for a regular file (links followed); a FIFO, device or socket goes to
    ``refused`` with its reason, unopened (opening a FIFO would wait for a writer)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    if stat.S_ISREG(st.st_mode):
        return True
    if not stat.S_ISDIR(st.st_mode):
        refused.append((path, f"{file_kind(st.st_mode)}, not a bundle: skipped"))
    return False


def _search(directory: str, refused: list[tuple[str, str]]) -> Iterator[str]:
    """Bundles, sosreport archives and extracted inputs under ``directory`` (no links)."""
    if is_input_dir(directory):
        yield directory
        return
    for dirpath, dirnames, filenames in os.walk(directory, followlinks=False):
        keep = []
        for name in sorted(dirnames):
            full = os.path.join(dirpath, name)
            if name.startswith("."):
                continue  # .state/, .git/, spools: never inputs
            if is_input_dir(full):
                yield full
            else:
                keep.append(name)
        dirnames[:] = keep
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            if (
                _is_archive(name)
                and not os.path.islink(full)
                and _regular_or_refused(full, refused)
            ):
                yield full


def discover_inputs(
    args: Iterable[str],
) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """Expand files, directories and globs into input paths; also return what matched
    nothing, and the paths refused with their reason (FIFOs, devices, sockets: never opened).

    A file given by name is an input whatever its name (it fails later if it is not one); a
    directory is an input if it holds ``proc/`` or ``sos_commands/``, else it is searched
    for ``*.tar.gz``, ``*.tgz``, ``*.tar.xz``, ``*.tar.bz2`` and input directories. A path
    that does not exist here is kept as is: on a Dask cluster it may exist on the workers.
    Duplicates (the same real path twice) are dropped; the order is kept.
    """
    found: list[str] = []
    unmatched: list[str] = []
    refused: list[tuple[str, str]] = []
    for arg in args:
        if glob.has_magic(arg):
            matches = sorted(glob.glob(arg, recursive=True))
            if not matches:
                unmatched.append(arg)
            for match in matches:
                if os.path.isdir(match):
                    found.extend(_search(match, refused))
                elif _regular_or_refused(match, refused):
                    found.append(match)
        elif os.path.isdir(arg):
            before = len(found)
            found.extend(_search(arg, refused))
            if len(found) == before:
                unmatched.append(arg)
        elif not os.path.exists(arg) or _regular_or_refused(arg, refused):
            found.append(arg)
    seen: set[str] = set()
    unique = []
    for path in found:
        key = os.path.realpath(path) if os.path.exists(path) else path
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique, unmatched, refused


def error_without_path(path: object, error: object) -> str | None:
    """An input's error without the input's path in front (shown next to the path already).

    >>> error_without_path("/b/x.tar.gz", "/b/x.tar.gz: not a tar archive")
    'not a tar archive'
    >>> error_without_path("/b/x.tar.gz", "worker died"), error_without_path("/b/x", None)
    ('worker died', None)
    """
    if error is None:
        return None
    text, prefix = str(error), f"{path}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def split_duplicates(
    paths: Sequence[str],
) -> tuple[list[str], list[tuple[str, str]], dict[str, str]]:
    """The inputs to analyze, ``(duplicate, first)`` pairs of identical content, and the
    content hash of each input that had to be hashed (path -> hash, for the worker).

    Only regular files that share their size with another input are hashed (identical
    content has the same size), so a fleet of distinct bundles costs one ``stat`` each.
    Anything that cannot be examined here (a path only Dask workers see, a FIFO, a
    directory) is kept and analyzed as given.
    """
    from vmanalyze import cache

    by_size: dict[int, list[str]] = {}
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            by_size.setdefault(st.st_size, []).append(path)
    first_of: dict[str, str] = {}
    duplicates: dict[str, str] = {}
    hashes: dict[str, str] = {}
    for group in by_size.values():
        if len(group) < 2:
            continue
        for path in group:
            try:
                digest = cache.content_hash(path)
            except (OSError, InputError):  # unreadable: the worker reports it
                continue
            if digest in first_of:
                duplicates[path] = first_of[digest]
            else:
                first_of[digest] = path
                hashes[path] = digest
    unique = [p for p in paths if p not in duplicates]
    return unique, [(p, duplicates[p]) for p in paths if p in duplicates], hashes
