"""Read an input safely: a vmcollect bundle, a sosreport, or a captured directory.

Inputs come from outside, so this module treats them as hostile:

- nothing is ever extracted: archives are streamed and the files we need are read into
  memory; links, devices, FIFOs and directories inside an archive are skipped, never created
  or followed; a directory input is walked without following links;
- a member name that is absolute or contains ``..`` rejects the input;
- sizes are counted as the archive declares them (a sparse member at its expanded size) and
  capped *before* a member is read (:class:`Limits`): one member over ``max_member_bytes`` is
  skipped with a warning naming it; an input whose members add up to more than ``max_bytes``,
  whose kept files add up to more than ``max_read_bytes``, or with more than ``max_members``
  entries is refused. A decompression bomb stops with one line instead of exhausting memory;
- every name (tar member, directory entry) is made valid text (:func:`clean_text`), and a
  bundle's manifest and samples are checked against :mod:`vmanalyze.manifest_schema`;
- a truncated archive keeps what was complete, with a warning; a record stream with garbage
  keeps its good records, with a warning that names the file and the sample.

What the input *is* comes from its content, never its name.
"""

from __future__ import annotations

import bz2
import contextlib
import functools
import hashlib
import io
import lzma
import os
import re
import stat
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from vmanalyze.cache import Hashed, hash_and_keep
from vmanalyze.clock import collection_clock
from vmanalyze.errors import InputError, UnsupportedFormatError
from vmanalyze.manifest_schema import (
    INT64_MAX,
    SchemaError,
    clean_text,
    validate_manifest,
    validate_sample,
)
from vmanalyze.packs import Pack, Packs, packed_source
from vmanalyze.parsers import match_sources
from vmanalyze.paths import PID_DIR_TEXT, any_process
from vmanalyze.safeio import file_kind, open_regular

BUNDLE_FORMAT = "vmcollect-bundle"
SUPPORTED_FORMAT_VERSIONS = (1, 2)
DEFAULT_MAX_BYTES = 4 << 30
DEFAULT_MAX_MEMBER_BYTES = 64 << 20
DEFAULT_MAX_READ_BYTES = 512 << 20
DEFAULT_MAX_MEMBERS = 250_000
#: A tar header and its padding: what an empty member costs to read.
_HEADER_BYTES = 512

#: A record header; the length is ``=`` in a repeat record (format 2), which has no content.
_RECORD_HEADER = re.compile(rb"@@ vmcollect (start|end|[0-9]{1,9}) (?:([0-9]{1,18})|=)\n")
_REPEAT = b" =\n"
#: A run of repeat records, one after the other.
_REPEATS = re.compile(rb"(?:@@ vmcollect (?:start|end|[0-9]{1,9}) =\n)+")
_SOS_MARKERS = ("sos_commands/", "sos_reports/", "sos_logs/")
_EXTRA_PATHS = re.compile(
    rf"^({PID_DIR_TEXT}(comm|cmdline)|sos_commands/process/ps_[a-z]+|sos_commands/memory/[a-z_]+|sos_commands/kernel/"
    r"(dmesg[^/]*|uname_-a)|sos_commands/(host|general)/hostname|var/log/dmesg|etc/hostname|"
    r"hostname|uname|date|version\.txt|"
    r"sos_reports/manifest\.json|proc/sys/kernel/hostname)$"
)
_MAGIC = (
    (b"\x1f\x8b", "gz"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"BZh", "bz2"),
)


@dataclass
class Snapshot:
    """One point in time of an input: a bundle's start/end/sample, or a one-shot capture."""

    label: str
    wall_ns: int | None
    mono_ns: int | None = None
    duration_ns: int | None = None
    late: bool = False
    skipped_slots: int = 0


@dataclass
class CapturedInput:
    """Everything read from one input, before parsing."""

    path: str
    kind: str  # "vmcollect-bundle" | "sosreport" | "insights" | "directory"
    sha256: str
    manifest: dict[str, Any]
    snapshots: list[Snapshot]
    files: dict[str, list[tuple[str, bytes]]]  # bundle path -> [(snapshot label, bytes)]
    warnings: list[str] = field(default_factory=list)
    #: A bundle's per-process streams by source, unsplit (see vmanalyze.packs); their paths
    #: are not in `files`. Read them with :meth:`take_packs`.
    packs: dict[str, list[Pack]] = field(default_factory=dict)

    def take_packs(self, source: str) -> list[Pack]:
        """The packs of a source, handed over: they hold most of a bundle's bytes."""
        return self.packs.pop(source, [])


class _HashingReader(io.RawIOBase):
    """A file wrapper that hashes every byte read through it."""

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._f.read(len(b))
        n = len(data)
        b[:n] = data
        self.digest.update(data)
        return n


@dataclass
class Limits:
    """What reading one input may cost (docs: README "Limits on inputs").

    - ``max_bytes``: all members or files together, at their declared size (refused above);
    - ``max_member_bytes``: one member or file (skipped above, with a warning naming it);
    - ``max_read_bytes``: the files kept in memory for parsing together (refused above): this is
      what bounds the analyzer's memory: 2.5 to 3.5 times this, plus the code;
    - ``max_members``: members of an archive, or entries of a directory (refused above).
    """

    max_bytes: int = DEFAULT_MAX_BYTES
    max_members: int = DEFAULT_MAX_MEMBERS
    max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES
    max_read_bytes: int = DEFAULT_MAX_READ_BYTES


class _Budget:
    """Counts an input's declared and kept bytes and its entries against its :class:`Limits`."""

    def __init__(self, path: str, limits: Limits, warnings: list[str]) -> None:
        self.path = path
        self.limits = limits
        self.warnings = warnings
        self.declared = 0
        self.read = 0
        self.entries = 0

    def entry(self, size: int) -> None:
        """One more member or file of `size` declared bytes; refuse the input over a cap."""
        self.entries += 1
        if self.entries > self.limits.max_members:
            raise InputError(
                self.path, f"more than {self.limits.max_members:,} entries (--max-members)"
            )
        self.declared += max(size, 0) + _HEADER_BYTES
        if self.declared > self.limits.max_bytes:
            raise InputError(
                self.path,
                f"members add up to more than {self.limits.max_bytes:,} bytes (--max-bytes)",
            )

    def keep(self, name: str, size: int) -> bool:
        """Whether to read a wanted member of `size` bytes: False (and a warning) over its cap."""
        if size > self.limits.max_member_bytes:
            self.warnings.append(
                f"{name}: skipped: {size:,} bytes is over the per-member limit of "
                f"{self.limits.max_member_bytes:,} (--max-member-bytes)"
            )
            return False
        return True

    def take(self, size: int) -> None:
        """`size` more bytes kept in memory; refuse the input over ``max_read_bytes``."""
        self.read += max(size, 0)
        if self.read > self.limits.max_read_bytes:
            raise InputError(
                self.path,
                f"the files to analyze add up to more than {self.limits.max_read_bytes:,} "
                "bytes (--max-read-bytes)",
            )


def _check_name(name: str, input_path: str) -> str:
    """The member's path, relative and as valid text; refuse absolute paths and ``..``."""
    name = clean_text(name)
    if "\x00" in name:
        raise InputError(input_path, f"member name with a NUL byte: {name!r}")
    if name.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", name):
        raise InputError(input_path, f"absolute member path {name!r} (refused)")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InputError(input_path, f"member path with '..': {name!r} (refused)")
    return "/".join(parts)


def _strip_root(rel: str) -> str:
    """Paths inside an archive often sit below top directories: find the captured path.

    >>> _strip_root("sosreport-db01/proc/meminfo"), _strip_root("a/b/sys/kernel/mm/ksm/run")
    ('proc/meminfo', 'sys/kernel/mm/ksm/run')
    """
    markers = (
        "proc/",
        "sys/",
        "etc/",
        "dev/kmsg",
        "sos_commands/",
        "sos_reports/",
        "insights_commands/",
        "var/log/",
    )
    if rel.startswith(markers):
        return rel
    best = -1
    for marker in markers:
        index = rel.find("/" + marker)
        if index >= 0 and (best < 0 or index < best):
            best = index
    return rel[best + 1 :] if best >= 0 else rel


def _wanted(rel: str) -> bool:
    if rel in ("manifest.json", "samples.jsonl"):
        return True
    # One lookup per kind of per-process file: an archive may hold millions of them.
    return _wanted_captured(any_process(_strip_root(rel)))


@functools.lru_cache(maxsize=4096)
def _wanted_captured(stripped: str) -> bool:
    return bool(match_sources(stripped)) or bool(_EXTRA_PATHS.match(stripped))


class _ZlibStream:
    """zlib's decompressor with the ``needs_input`` interface of bz2's and lzma's."""

    def __init__(self) -> None:
        self._d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        self._tail = b""

    @property
    def eof(self) -> bool:
        return self._d.eof

    @property
    def needs_input(self) -> bool:
        return not self._tail

    @property
    def unused_data(self) -> bytes:
        return self._d.unused_data

    def decompress(self, data: bytes, max_length: int) -> bytes:
        out = self._d.decompress(self._tail + data, max_length)
        self._tail = self._d.unconsumed_tail
        return out


_DECOMPRESSORS: dict[str, Callable[[], Any]] = {
    "gz": _ZlibStream,
    "bz2": bz2.BZ2Decompressor,
    "xz": lzma.LZMADecompressor,
}


class _Decompressing(io.RawIOBase):
    """Decompress a stream giving out at most what each read asks for.

    tarfile's own stream mode decompresses every compressed block it reads in one call, and a
    10 KiB block of a bz2 or xz bomb expands to gigabytes. Here each read returns at most its
    size, so memory stays bounded whatever the ratio. Concatenated streams (pigz, pbzip2) are
    read one after the other; a corrupt or truncated stream is an OSError.
    """

    _CHUNK = 64 << 10

    def __init__(self, f: IO[bytes], kind: str) -> None:
        self._f = f
        self._new = _DECOMPRESSORS[kind]
        self._d = self._new()
        self._input = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if not len(b):
            return 0
        try:
            while True:
                if self._d.eof:
                    rest = self._d.unused_data or self._f.read(self._CHUNK)
                    if not rest.strip(b"\0"):
                        return 0  # the end (zero padding after a stream is allowed)
                    self._d = self._new()
                    self._input = rest
                elif self._d.needs_input and not self._input:
                    self._input = self._f.read(self._CHUNK)
                    if not self._input:
                        # An error, not an end: tarfile takes a short header for the end.
                        raise OSError("compressed data truncated before its end marker")
                out = self._d.decompress(self._input, len(b))
                self._input = b""
                if out:
                    b[: len(out)] = out
                    return len(out)
        except (zlib.error, lzma.LZMAError, EOFError) as exc:
            raise OSError(f"corrupt compressed data ({exc})") from None


def _archive_kind(head: bytes, path: str) -> str:
    """``gz``, ``bz2``, ``xz`` or ``tar`` (uncompressed), from the first bytes of the file."""
    if not head:
        raise InputError(path, "empty file")
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    raise InputError(path, "not a vmcollect bundle, sosreport or tar archive (unknown format)")


def _read_archive(
    path: str, limits: Limits, packs: Packs, hashed: Hashed | None = None
) -> tuple[dict[str, tuple[bytes, float]], str, list[str], bool]:
    """Stream a tar archive; return wanted files, the content hash and warnings.

    A bundle's per-process streams go to `packs` instead of the returned files. The archive
    is hashed while it is read, unless ``hashed`` has its hash already (and maybe its bytes).
    """
    files: dict[str, tuple[bytes, float]] = {}
    warnings: list[str] = []
    budget = _Budget(path, limits, warnings)
    is_bundle = saw_sos = False
    data = hashed.take_data() if hashed is not None else None
    try:
        # never blocks: a FIFO or device is refused unopened
        raw: IO[bytes] = io.BytesIO(data) if data is not None else open_regular(path)
    except OSError as exc:
        raise InputError(path, exc.strerror or str(exc)) from None
    del data  # the stream holds the bytes now, and lets them go when closed
    with raw:
        head = raw.read(512)
        kind = _archive_kind(head, path)
        raw.seek(0)
        hashing = _HashingReader(raw) if hashed is None else None
        source: Any = hashing or raw
        stream = io.BufferedReader(source, buffer_size=1 << 20)
        tar_stream: IO[bytes] = stream
        if kind != "tar":
            tar_stream = io.BufferedReader(_Decompressing(stream, kind), buffer_size=1 << 20)
        try:
            # tarfile's default bufsize: it copies what is left of a buffer on every read.
            tar = tarfile.open(fileobj=tar_stream, mode="r|")  # noqa: SIM115
        except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
            raise InputError(path, f"cannot open archive: {_short(exc)}") from None
        try:
            while True:
                try:
                    info = tar.next()
                except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
                    if budget.entries == 0:
                        raise InputError(path, f"not a readable archive: {_short(exc)}") from None
                    warnings.append(
                        f"archive is truncated or corrupt after {budget.entries} members "
                        f"({_short(exc)}): kept what was complete"
                    )
                    break
                if info is None:
                    break
                budget.entry(info.size)  # the declared size: a sparse member's expanded one
                name = _check_name(info.name, path)
                if any(marker in name + "/" for marker in _SOS_MARKERS):
                    saw_sos = True
                if not info.isreg():
                    continue  # links, devices, FIFOs, directories: never followed or created
                if budget.entries == 1 and name == "manifest.json":
                    is_bundle = True  # our own format: every member is a record stream we read
                if not is_bundle and not _wanted(name):
                    continue
                if not budget.keep(name, info.size):
                    continue
                budget.take(info.size)
                try:
                    member = tar.extractfile(info)
                    data = member.read(info.size) if member is not None else b""
                except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
                    warnings.append(f"{name}: truncated ({_short(exc)}); kept what was read")
                    break
                truncated = len(data) < info.size
                if truncated:
                    warnings.append(
                        f"{name}: truncated at {len(data)} of {info.size} bytes; "
                        "kept the complete records"
                    )
                if is_bundle and packed_source(name) is not None:
                    # The packs' bulk framing knows one record shape: repeats written out.
                    size = len(data)
                    data, error = expand_repeats(data, limits.max_member_bytes)
                    if error:
                        warnings.append(f"{name}: {error}")
                    budget.take(len(data) - size)
                if not (is_bundle and packs.add(name, data)):
                    files[name] = (data, _mtime(info.mtime))
                if truncated:
                    break
        finally:
            with contextlib.suppress(tarfile.TarError, EOFError, OSError, ValueError):
                tar.close()
        if hashing is None:
            assert hashed is not None
            return files, hashed.digest, warnings, saw_sos
        # Hash the rest of the file too, so the hash names the whole input.
        while True:
            chunk = stream.read(1 << 20)
            if not chunk:
                break
    return files, hashing.digest.hexdigest(), warnings, saw_sos


def _mtime(value: Any) -> float:
    """A member's modification time in seconds, or 0.0 (unknown) outside what a ns int64 holds.

    >>> _mtime(1764167405), _mtime(8 ** 40), _mtime(-5)
    (1764167405.0, 0.0, 0.0)
    """
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        return 0.0
    return seconds if 0 < seconds < INT64_MAX / 1e9 else 0.0


def _read_directory(
    path: str, limits: Limits, warnings: list[str], hashed: Hashed | None = None
) -> tuple[dict[str, tuple[bytes, float]], str]:
    """The wanted files of a directory and their digest; a file ``hashed`` kept while
    hashing the tree is used as it was read then, not read again."""
    files: dict[str, tuple[bytes, float]] = {}
    digest = hashlib.sha256()
    budget = _Budget(path, limits, warnings)
    for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
        dirnames.sort()
        for _ in dirnames:
            budget.entry(0)
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            try:
                st = os.lstat(full)
            except OSError:
                budget.entry(0)
                continue
            budget.entry(st.st_size if stat.S_ISREG(st.st_mode) else 0)
            if not stat.S_ISREG(st.st_mode):
                continue
            raw_rel = os.path.relpath(full, path).replace(os.sep, "/")
            rel = clean_text(raw_rel)
            if not _wanted(rel) or not budget.keep(rel, st.st_size):
                continue
            kept = hashed.take_file(raw_rel) if hashed is not None else None
            if kept is not None and len(kept[0]) <= limits.max_member_bytes:
                data, content = kept
            else:
                read = _read_regular(full, limits.max_member_bytes)
                if read is None:
                    continue
                data, content = read, hashlib.sha256(read).digest()
            budget.take(len(data))  # the read size: /proc-like files declare 0 bytes
            digest.update(raw_rel.encode("utf-8", "surrogateescape") + b"\0")
            digest.update(content)
            files[rel] = (data, _mtime(st.st_mtime))
    return files, digest.hexdigest()


def _read_regular(full: str, cap: int) -> bytes | None:
    """At most `cap` bytes of a regular file; None if it is not one (anymore) or unreadable.

    Opened without following links and without blocking, so an entry swapped for a link or a
    FIFO after it was listed is not followed or waited on.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(full, flags)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            return f.read(cap)
        except OSError:
            return None


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]


def parse_record_stream(
    data: bytes, limit: int = DEFAULT_MAX_MEMBER_BYTES
) -> tuple[list[tuple[str, bytes]], str | None]:
    """Split a bundle member into ``[(label, bytes)]``; return an error for trailing garbage.

    A repeat record (format 2) gives the bytes of the record before it (the same object, no
    copy); repeats stop at `limit` bytes in all, as they would written out (every record is
    parsed later: a member of repeats of a large record is a cheap way to ask for hours).

    >>> parse_record_stream(b"@@ vmcollect start 2\\nhi\\n@@ vmcollect 0 0\\n\\n")
    ([('start', b'hi'), ('0', b'')], None)
    >>> parse_record_stream(b"@@ vmcollect start 2\\nhi\\n@@ vmcollect 0 =\\n")
    ([('start', b'hi'), ('0', b'hi')], None)
    >>> parse_record_stream(b"@@ vmcollect 0 2\\nhi\\ngarbage")[1]
    'unreadable record header at byte 20'
    >>> parse_record_stream(b"@@ vmcollect 0 =\\n")[1]
    'a repeat record with no record before it at byte 0'
    >>> parse_record_stream(b"@@ vmcollect 0 2\\nhi\\n" + b"@@ vmcollect 1 =\\n" * 9, 7)[1]
    'repeats add up to more than 7 bytes; kept 4 records'
    """
    records: list[tuple[str, bytes]] = []
    pos = 0
    end = len(data)
    repeated = 0
    while pos < end:
        match = _RECORD_HEADER.match(data, pos)
        if not match:
            return records, f"unreadable record header at byte {pos}"
        start = match.end()
        length = match.group(2)
        if length is None:
            if not records:
                return records, f"a repeat record with no record before it at byte {pos}"
            repeated += len(records[-1][1])
            if repeated > limit:
                return records, (
                    f"repeats add up to more than {limit:,} bytes; kept {len(records)} records"
                )
            records.append((match.group(1).decode("ascii"), records[-1][1]))
            pos = start
            continue
        size = int(length)
        if start + size > end:
            return records, f"record {match.group(1).decode()} truncated"
        records.append((match.group(1).decode("ascii"), data[start : start + size]))
        pos = start + size + 1
    return records, None


def expand_repeats(data: bytes, limit: int) -> tuple[bytes, str | None]:
    """A record stream with its repeat records (format 2) written out in full, as in format 1.

    A repeat record, ``@@ vmcollect <label> =``, has no content: it stands for the record
    before it. Writing them out here keeps every later reader to the one record shape.
    At most `limit` bytes come out (repeats of a large record are a cheap way to ask for
    unbounded memory): the records past it are dropped, and so is anything from an
    unreadable header on, each with an error.

    Cheap on a large bundle (a million records): records kept as they are are copied in
    runs, not one by one, and a run of repeats is written out by one ``bytes.replace``.

    >>> expand_repeats(b"@@ vmcollect start 2\\nhi\\n@@ vmcollect 0 =\\n", 100)
    (b'@@ vmcollect start 2\\nhi\\n@@ vmcollect 0 2\\nhi\\n', None)
    >>> expand_repeats(b"@@ vmcollect 0 =\\n", 100)
    (b'', 'a repeat record with no record before it at byte 0')
    >>> expand_repeats(b"@@ vmcollect 0 1\\nx\\n" + b"@@ vmcollect 1 =\\n" * 9, 60)[1]
    'more than 60 bytes with its repeats written out; kept 3 records'
    """
    if b"=" not in data or _REPEAT not in data:
        return data, None
    out: list[bytes] = []
    size = 0  # bytes of `out`, and of the records from `copied` to `pos`
    count = 0
    previous: bytes | None = None  # the last record's content
    copied = 0  # where the records not yet in `out` start (their bytes are kept as they are)
    pos = 0
    end = len(data)
    error = None
    while pos < end:
        match = _RECORD_HEADER.match(data, pos)
        if not match:
            error = f"unreadable record header at byte {pos}"
            break
        start = match.end()
        length = match.group(2)
        if length is not None:
            next_pos = start + int(length) + 1
            record_size = min(next_pos, end) - pos
            if size + record_size > limit:
                error = (
                    f"more than {limit:,} bytes with its repeats written out; kept {count} records"
                )
                break
            previous = data[start : next_pos - 1]
            size += record_size
            count += 1
            pos = next_pos
            continue
        if previous is None:
            error = f"a repeat record with no record before it at byte {pos}"
            break
        # A run of repeats of `previous`: every header's " =" becomes its length and content.
        runs = _REPEATS.match(data, pos)
        run_end = runs.end() if runs else start
        run = data[pos:run_end]
        repeats = run.count(_REPEAT)
        filled = b" %d\n%s\n" % (len(previous), previous)
        grown = len(run) + repeats * (len(filled) - len(_REPEAT))
        if size + grown > limit:
            # Only the repeats that fit, one at a time: the error counts the records kept.
            headers = run.split(_REPEAT)[:-1]
            out.append(data[copied:pos])
            for header in headers:
                if size + len(header) + len(filled) > limit:
                    break
                out.append(header + filled)
                size += len(header) + len(filled)
                count += 1
            copied = pos = end
            error = f"more than {limit:,} bytes with its repeats written out; kept {count} records"
            break
        out.append(data[copied:pos])
        out.append(run.replace(_REPEAT, filled))
        size += grown
        count += repeats
        copied = pos = run_end
    out.append(data[copied:pos])
    return b"".join(out), error


def split_member(
    name: str, data: bytes, known: set[str], warnings: list[str]
) -> list[tuple[str, bytes]]:
    """The records of a bundle member whose label names a known snapshot; warn on garbage."""
    records, error = parse_record_stream(data)
    if error:
        warnings.append(f"{name}: {error}; kept {len(records)} complete records")
    return [(label, body) for label, body in records if label in known]


def missing_warnings(manifest: dict[str, Any]) -> list[str]:
    """The collector's own list of what it could not read for lack of privilege, as warnings.

    >>> missing_warnings({"host": {"uid": 1000}, "missing": [{"path": "dev/kmsg",
    ...     "what": "kernel log", "reason": "EPERM"}]})
    ['collected as uid 1000, not root: missed kernel log (dev/kmsg: EPERM)']
    >>> missing_warnings({"host": {"uid": 0}})
    []
    """
    missing = manifest.get("missing")
    if not isinstance(missing, list):
        return []
    uid = (manifest.get("host") or {}).get("uid")
    who = f"collected as uid {uid}, not root" if uid else "collected without full privilege"
    return [
        f"{who}: missed {m.get('what')} ({m.get('path')}: {m.get('reason')})"
        for m in missing
        if isinstance(m, dict)
    ]


def _load_bundle(
    path: str,
    files: dict[str, tuple[bytes, float]],
    digest: str,
    warnings: list[str],
    packs: Packs,
) -> CapturedInput:
    try:
        manifest = validate_manifest(files["manifest.json"][0])
    except SchemaError as exc:
        raise InputError(path, f"broken manifest.json: {exc}") from None
    version = manifest["format_version"]
    if version > max(SUPPORTED_FORMAT_VERSIONS):
        raise UnsupportedFormatError(
            path,
            f"bundle format version {version} is newer than this vmanalyze understands "
            f"(up to {max(SUPPORTED_FORMAT_VERSIONS)}): upgrade vmanalyze",
        )
    if version not in SUPPORTED_FORMAT_VERSIONS:
        raise UnsupportedFormatError(path, f"unknown bundle format version {version}")
    warnings.extend(missing_warnings(manifest))
    snapshots = _snapshots(files.get("samples.jsonl", (b"", 0.0))[0], warnings)
    if not snapshots:
        raise InputError(path, "bundle has no complete snapshot (samples.jsonl is empty)")
    known = {s.label for s in snapshots}
    streams: dict[str, list[tuple[str, bytes]]] = {}
    for name, (data, _mtime) in files.items():
        if name in ("manifest.json", "samples.jsonl"):
            continue
        kept = split_member(name, data, known, warnings)
        if kept:
            streams[name] = kept
    return CapturedInput(
        path, BUNDLE_FORMAT, digest, manifest, snapshots, streams, warnings, packs.by_source
    )


def _snapshots(raw_samples: bytes, warnings: list[str]) -> list[Snapshot]:
    """The snapshots of samples.jsonl; a line that breaks the schema is dropped with a warning."""
    snapshots: list[Snapshot] = []
    seen: set[str] = set()
    dropped = 0
    for lineno, line in enumerate(raw_samples.splitlines(), 1):
        try:
            row = validate_sample(line)
            if row["label"] in seen:
                raise SchemaError(f"label {row['label']} repeated")
        except SchemaError as exc:
            dropped += 1
            if dropped <= 20:
                warnings.append(f"samples.jsonl line {lineno}: {exc}; snapshot dropped")
            continue
        seen.add(row["label"])
        snapshots.append(
            Snapshot(
                label=row["label"],
                wall_ns=row["wall_ns"],
                mono_ns=row.get("mono_ns"),
                duration_ns=row.get("duration_ns") or 0,
                late=bool(row.get("late")),
                skipped_slots=row.get("skipped_slots") or 0,
            )
        )
    if dropped > 20:
        warnings.append(f"samples.jsonl: {dropped} lines dropped in all")
    return snapshots


def _load_one_shot(
    path: str, kind: str, files: dict[str, tuple[bytes, float]], digest: str, warnings: list
) -> CapturedInput:
    by_path: dict[str, list[tuple[str, bytes]]] = {}
    mtimes: list[float] = []
    for name, (data, mtime) in files.items():
        rel = _strip_root(name)
        if rel in by_path:
            continue
        by_path[rel] = [("0", data)]
        if rel == "proc/meminfo":
            mtimes.append(mtime)
    if not any(p.startswith(("proc/", "sys/")) for p in by_path):
        skipped = [w for w in warnings if "(--max-member-bytes)" in w]
        raise InputError(
            path,
            "no /proc or /sys memory files found: not a vmcollect bundle, sosreport "
            "or captured directory" + (f" ({skipped[0]})" if skipped else ""),
        )
    wall, clock, clock_warnings = collection_clock(by_path, mtimes[0] if mtimes else None)
    warnings.extend(clock_warnings)
    manifest = {
        "format": kind,
        "host": {},  # the facts come from the files: vmanalyze.facts
        "samples": 1,
        "files": {},
        "clock": clock,
    }
    # The monotonic clock at collection is the time since boot: kernel log timestamps (also
    # since boot) then convert to wall time the way a bundle's do.
    boot = clock.get("boot_ns")
    mono = wall - boot if wall is not None and boot is not None and wall >= boot else None
    return CapturedInput(
        path, kind, digest, manifest, [Snapshot("0", wall, mono)], by_path, warnings
    )


#: A file input up to this size is kept in memory by :func:`hash_input`, so that it is read
#: once (a bundle is a few hundred KiB to a few MiB, a sosreport tens of MiB). A larger
#: one is read a second time, from the page cache. Our choice: it bounds what the hash
#: adds to the memory :attr:`Limits.max_read_bytes` bounds.
MAX_KEPT_BYTES = 128 << 20


def hash_input(path: str, limits: Limits | None = None) -> Hashed:
    """The input's content hash (:func:`vmanalyze.cache.content_hash`), keeping what
    :func:`read_input` would read again: a file's bytes, a directory's wanted files."""
    limits = limits or Limits()
    cap = limits.max_member_bytes

    def wanted(rel: str, size: int) -> bool:
        return size <= cap and _wanted(clean_text(rel))

    return hash_and_keep(path, max_bytes=min(MAX_KEPT_BYTES, limits.max_read_bytes), wanted=wanted)


def read_input(
    path: str, limits: Limits | None = None, hashed: Hashed | None = None
) -> CapturedInput:
    """Read a bundle, sosreport or captured directory (or a tar of one) from `path`.

    ``hashed``: the input's content hash from :func:`hash_input` (or one known otherwise):
    its kept bytes are used instead of reading them again, and a file is not hashed again.
    """
    limits = limits or Limits()
    if not os.path.exists(path):
        raise InputError(path, "no such file or directory")
    warnings: list[str] = []
    packs = Packs()
    if os.path.isdir(path):
        files, digest = _read_directory(path, limits, warnings, hashed)
        saw_sos = any(
            os.path.isdir(os.path.join(dirpath, marker.rstrip("/")))
            for dirpath in (path, *[os.path.join(path, d) for d in _listdir(path)])
            for marker in _SOS_MARKERS
        )
    elif os.path.isfile(path):
        files, digest, warnings, saw_sos = _read_archive(path, limits, packs, hashed)
    else:
        kind = file_kind(os.stat(path).st_mode)
        raise InputError(path, f"{kind}, not a bundle, archive or directory")
    if "manifest.json" in files:
        return _load_bundle(path, files, digest, warnings, packs)
    kind = "sosreport" if saw_sos else "directory"
    if any(_strip_root(name).startswith("insights_commands/") for name in files):
        kind = "insights"
    return _load_one_shot(path, kind, files, digest, warnings)
