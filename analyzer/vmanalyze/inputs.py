"""Read an input safely: a vmcollect bundle, a sosreport, or a captured directory.

Inputs come from outside, so this module treats them as hostile:

- nothing is ever extracted: archives are streamed and the files we need are read into
  memory; links, devices, FIFOs and directories inside an archive are skipped, never created
  or followed; a directory input is walked without following links;
- a member name that is absolute or contains ``..`` rejects the input;
- the decompressed size and the member count are capped *before* a member is read, so a
  decompression bomb stops with a clear error instead of exhausting memory;
- a truncated archive keeps what was complete, with a warning; a record stream with garbage
  keeps its good records, with a warning that names the file and the sample.

What the input *is* comes from its content, never its name.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any, cast

from vmanalyze.clock import collection_clock
from vmanalyze.errors import InputError, UnsupportedFormatError
from vmanalyze.packs import Pack, Packs
from vmanalyze.parsers import match_sources
from vmanalyze.safeio import file_kind, open_regular

BUNDLE_FORMAT = "vmcollect-bundle"
SUPPORTED_FORMAT_VERSIONS = (1,)
DEFAULT_MAX_BYTES = 4 << 30
DEFAULT_MAX_MEMBERS = 2_000_000

_RECORD_HEADER = re.compile(rb"@@ vmcollect (start|end|[0-9]+) ([0-9]+)\n")
_SOS_MARKERS = ("sos_commands/", "sos_reports/", "sos_logs/")
_EXTRA_PATHS = re.compile(
    r"^(proc/[0-9]+/(comm|cmdline)|sos_commands/process/ps_[a-z]+|sos_commands/memory/[a-z_]+|sos_commands/kernel/"
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

    @property
    def sample_count(self) -> int:
        """Periodic samples (a one-shot capture counts as one)."""
        labels = [s.label for s in self.snapshots]
        numeric = sum(1 for label in labels if label.isdigit())
        return numeric or len(labels)


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
    max_bytes: int = DEFAULT_MAX_BYTES
    max_members: int = DEFAULT_MAX_MEMBERS


def _check_name(name: str, input_path: str) -> str:
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
    stripped = _strip_root(rel)
    return bool(match_sources(stripped)) or bool(_EXTRA_PATHS.match(stripped))


def _archive_mode(head: bytes, path: str) -> str:
    if not head:
        raise InputError(path, "empty file")
    for magic, mode in _MAGIC:
        if head.startswith(magic):
            return "r|" + mode
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "r|"
    raise InputError(path, "not a vmcollect bundle, sosreport or tar archive (unknown format)")


def _read_archive(
    path: str, limits: Limits, packs: Packs
) -> tuple[dict[str, tuple[bytes, float]], str, list[str], bool]:
    """Stream a tar archive; return wanted files, the content hash and warnings.

    A bundle's per-process streams go to `packs` instead of the returned files.
    """
    files: dict[str, tuple[bytes, float]] = {}
    warnings: list[str] = []
    total = 0
    members = 0
    is_bundle = saw_sos = False
    try:
        raw = open_regular(path)  # never blocks: a FIFO or device is refused unopened
    except OSError as exc:
        raise InputError(path, exc.strerror or str(exc)) from None
    with raw:
        head = raw.read(512)
        mode = _archive_mode(head, path)
        raw.seek(0)
        hashing = _HashingReader(raw)
        stream = io.BufferedReader(hashing, buffer_size=1 << 20)
        try:
            tar = tarfile.open(fileobj=stream, mode=cast(Any, mode))  # noqa: SIM115
        except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
            raise InputError(path, f"cannot open archive: {_short(exc)}") from None
        try:
            while True:
                try:
                    info = tar.next()
                except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
                    if members == 0:
                        raise InputError(path, f"not a readable archive: {_short(exc)}") from None
                    warnings.append(
                        f"archive is truncated or corrupt after {members} members "
                        f"({_short(exc)}): kept what was complete"
                    )
                    break
                if info is None:
                    break
                members += 1
                if members > limits.max_members:
                    raise InputError(
                        path, f"more than {limits.max_members:,} members (--max-members)"
                    )
                total += max(info.size, 0) + 512
                if total > limits.max_bytes:
                    raise InputError(
                        path,
                        f"decompressed size exceeds {limits.max_bytes:,} bytes (--max-bytes)",
                    )
                name = _check_name(info.name, path)
                if any(marker in name + "/" for marker in _SOS_MARKERS):
                    saw_sos = True
                if not info.isreg():
                    continue  # links, devices, FIFOs, directories: never followed or created
                if members == 1 and name == "manifest.json":
                    is_bundle = True  # our own format: every member is a record stream we read
                if not is_bundle and not _wanted(name):
                    continue
                try:
                    member = tar.extractfile(info)
                    data = member.read() if member is not None else b""
                except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
                    warnings.append(f"{name}: truncated ({_short(exc)}); kept what was read")
                    break
                truncated = len(data) < info.size
                if truncated:
                    warnings.append(
                        f"{name}: truncated at {len(data)} of {info.size} bytes; "
                        "kept the complete records"
                    )
                if not (is_bundle and packs.add(name, data)):
                    files[name] = (data, float(info.mtime))
                if truncated:
                    break
        finally:
            with contextlib.suppress(tarfile.TarError, EOFError, OSError, ValueError):
                tar.close()
        # Hash the rest of the file too, so the hash names the whole input.
        while True:
            chunk = stream.read(1 << 20)
            if not chunk:
                break
    return files, hashing.digest.hexdigest(), warnings, saw_sos


def _read_directory(path: str, limits: Limits) -> tuple[dict[str, tuple[bytes, float]], str]:
    files: dict[str, tuple[bytes, float]] = {}
    digest = hashlib.sha256()
    total = 0
    count = 0
    for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            count += 1
            if count > limits.max_members:
                raise InputError(path, f"more than {limits.max_members:,} files (--max-members)")
            try:
                st = os.lstat(full)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            total += st.st_size
            if total > limits.max_bytes:
                raise InputError(path, f"more than {limits.max_bytes:,} bytes (--max-bytes)")
            rel = os.path.relpath(full, path).replace(os.sep, "/")
            if not _wanted(rel):
                continue
            try:
                with open_regular(full, follow=False) as f:
                    data = f.read(limits.max_bytes)
            except OSError:
                continue
            digest.update(rel.encode("utf-8", "surrogateescape") + b"\0")
            digest.update(hashlib.sha256(data).digest())
            files[rel] = (data, st.st_mtime)
    return files, digest.hexdigest()


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]


def parse_record_stream(data: bytes) -> tuple[list[tuple[str, bytes]], str | None]:
    """Split a bundle member into ``[(label, bytes)]``; return an error for trailing garbage.

    >>> parse_record_stream(b"@@ vmcollect start 2\\nhi\\n@@ vmcollect 0 0\\n\\n")
    ([('start', b'hi'), ('0', b'')], None)
    >>> parse_record_stream(b"@@ vmcollect 0 2\\nhi\\ngarbage")[1]
    'unreadable record header at byte 20'
    """
    records: list[tuple[str, bytes]] = []
    pos = 0
    end = len(data)
    while pos < end:
        match = _RECORD_HEADER.match(data, pos)
        if not match:
            return records, f"unreadable record header at byte {pos}"
        length = int(match.group(2))
        start = match.end()
        if start + length > end:
            return records, f"record {match.group(1).decode()} truncated"
        records.append((match.group(1).decode("ascii"), data[start : start + length]))
        pos = start + length + 1
    return records, None


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
        manifest = json.loads(files["manifest.json"][0].decode("utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError("manifest is not a JSON object")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(path, f"broken manifest.json: {_short(exc)}") from None
    version = manifest.get("format_version")
    if not isinstance(version, int):
        raise InputError(path, "broken manifest.json: no integer format_version")
    if version > max(SUPPORTED_FORMAT_VERSIONS):
        raise UnsupportedFormatError(
            path,
            f"bundle format version {version} is newer than this vmanalyze understands "
            f"(up to {max(SUPPORTED_FORMAT_VERSIONS)}): upgrade vmanalyze",
        )
    if version not in SUPPORTED_FORMAT_VERSIONS:
        raise UnsupportedFormatError(path, f"unknown bundle format version {version}")
    warnings.extend(missing_warnings(manifest))
    snapshots: list[Snapshot] = []
    raw_samples = files.get("samples.jsonl", (b"", 0.0))[0]
    for lineno, line in enumerate(raw_samples.splitlines(), 1):
        try:
            row = json.loads(line)
            snapshots.append(
                Snapshot(
                    label=str(row["label"]),
                    wall_ns=int(row["wall_ns"]),
                    mono_ns=int(row["mono_ns"]) if row.get("mono_ns") is not None else None,
                    duration_ns=int(row.get("duration_ns") or 0),
                    late=bool(row.get("late")),
                    skipped_slots=int(row.get("skipped_slots") or 0),
                )
            )
        except (ValueError, KeyError, TypeError):
            warnings.append(f"samples.jsonl line {lineno}: unreadable, snapshot dropped")
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
        raise InputError(
            path,
            "no /proc or /sys memory files found: not a vmcollect bundle, sosreport "
            "or captured directory",
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


def read_input(path: str, limits: Limits | None = None) -> CapturedInput:
    """Read a bundle, sosreport or captured directory (or a tar of one) from `path`."""
    limits = limits or Limits()
    if not os.path.exists(path):
        raise InputError(path, "no such file or directory")
    warnings: list[str] = []
    packs = Packs()
    if os.path.isdir(path):
        files, digest = _read_directory(path, limits)
        saw_sos = any(
            os.path.isdir(os.path.join(dirpath, marker.rstrip("/")))
            for dirpath in (path, *[os.path.join(path, d) for d in _listdir(path)])
            for marker in _SOS_MARKERS
        )
    elif os.path.isfile(path):
        files, digest, warnings, saw_sos = _read_archive(path, limits, packs)
    else:
        kind = file_kind(os.stat(path).st_mode)
        raise InputError(path, f"{kind}, not a bundle, archive or directory")
    if "manifest.json" in files:
        return _load_bundle(path, files, digest, warnings, packs)
    kind = "sosreport" if saw_sos else "directory"
    if any(_strip_root(name).startswith("insights_commands/") for name in files):
        kind = "insights"
    return _load_one_shot(path, kind, files, digest, warnings)


def iter_records(captured: CapturedInput, relpath: str) -> Iterator[tuple[str, bytes]]:
    """The (label, bytes) records of one captured path, in snapshot order."""
    yield from captured.files.get(relpath, [])
