"""The real bundles the benchmarks measure, and the limits they need (shared by analyzer.py,
report.py and story.py).

The one-hour bundle is collected once from this host (so it is what the host was doing then);
everything derived from it is built reproducibly: :func:`rewrite_format2` writes the same capture
as a format-2 bundle (repeat records) byte for byte the same on every run, so the two formats are
compared on the same records.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

from vmanalyze.inputs import expand_repeats

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = Path("/tmp/vmtriage-bench")

#: The one-hour-equivalent bundle of the analyzer's and the report's budgets: the collector's
#: defaults except --interval 0.5s --count 720 (one hour's samples at 5 s), 1,000 extra
#: processes running.
HOUR_ARGS = ("--interval", "0.5s", "--count", "720")
HOUR_EXTRA_PROCESSES = 1000

#: The reading limit the one-hour bundle needs: its records are 0.9 GB of text on a busy host,
#: over the analyzer's default --max-read-bytes (512 MiB, sized for untrusted inputs). Passed
#: explicitly by the benchmarks (``--max-read-bytes`` or ``Limits(max_read_bytes=...)``); the
#: product's defaults stay as they are.
HOUR_MAX_READ_BYTES = 4 << 30

_HEADER = re.compile(rb"@@ vmcollect (start|end|[0-9]{1,9}) (?:([0-9]{1,18})|=)\n")


def collect(path: Path, *args: str, extra_processes: int = 0) -> None:
    """Run the collector from this checkout into `path` while `extra_processes` idle ones run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    load = [subprocess.Popen(["sleep", "7200"]) for _ in range(extra_processes)]
    try:
        env = dict(os.environ, PYTHONPATH=str(REPO / "collector"))
        out = subprocess.run(
            [sys.executable, "-m", "vmcollect", *args, "-o", str(path), "-q"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        print(f"collected {out.strip()}", file=sys.stderr)
    finally:
        for p in load:
            p.kill()
        for p in load:
            p.wait()


def hour_bundle(path: Path) -> Path:
    """`path`, collected first if it does not exist (6 minutes)."""
    if not path.exists():
        print(f"collecting the one-hour bundle into {path} (6 minutes)...", file=sys.stderr)
        collect(path, *HOUR_ARGS, extra_processes=HOUR_EXTRA_PROCESSES)
    return path


def with_repeats(stream: bytes) -> bytes:
    """A record stream with every record equal to the one before it written as a repeat record.

    >>> with_repeats(b"@@ vmcollect 0 2\\nhi\\n@@ vmcollect 1 2\\nhi\\n@@ vmcollect 2 0\\n\\n")
    b'@@ vmcollect 0 2\\nhi\\n@@ vmcollect 1 =\\n@@ vmcollect 2 0\\n\\n'
    """
    out = []
    previous = None
    pos = 0
    while pos < len(stream):
        match = _HEADER.match(stream, pos)
        if match is None:  # not a record stream (or garbage): kept as it is
            out.append(stream[pos:])
            break
        start = match.end()
        if match.group(2) is None:
            out.append(stream[pos:start])
            pos = start
            continue
        end = start + int(match.group(2))
        body = stream[start:end]
        if body == previous:
            out.append(b"@@ vmcollect %s =\n" % match.group(1))
        else:
            out.append(stream[pos : end + 1])
        previous = body
        pos = end + 1
    return b"".join(out)


def written_out(stream: bytes) -> bytes:
    """A record stream with its repeat records written out in full (format 1), by the
    analyzer's own reader (no size cap: these are our benchmark bundles).

    >>> written_out(b"@@ vmcollect 0 2\\nhi\\n@@ vmcollect 1 =\\n")
    b'@@ vmcollect 0 2\\nhi\\n@@ vmcollect 1 2\\nhi\\n'
    """
    expanded, error = expand_repeats(stream, sys.maxsize)
    if error is not None:
        raise ValueError(error)
    return expanded


def rewrite(source: Path, target: Path, version: int) -> Path:
    """`source` rewritten as bundle format `version` (1 or 2) into `target`, unless it exists.

    Format 2: every member's records equal to the one before them become repeat records, as
    the collector writes them. Format 1: repeat records written out in full, as the collector
    wrote before format 2 (a checkout older than format 2 reads only that). The manifest says
    the new ``format_version``. Reproducible: members in the same order with the same
    metadata, gzip level 5 (the collector's) with no file name or timestamp.
    """
    if target.exists():
        return target
    change = with_repeats if version == 2 else written_out
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)  # left by an interrupted run
    with (
        tarfile.open(source, "r:gz") as tar,
        open(partial, "xb") as raw,
        gzip.GzipFile("", "wb", 5, raw, mtime=0) as gz,  # no name, no time
        tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as out,
    ):
        for info in tar:
            member = tar.extractfile(info)
            if member is None:
                out.addfile(info)
                continue
            data = member.read()
            if info.name == "manifest.json":
                manifest = json.loads(data)
                manifest["format_version"] = version
                data = json.dumps(manifest, indent=1, sort_keys=True).encode() + b"\n"
            elif info.name != "samples.jsonl":
                data = change(data)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    partial.rename(target)
    print(f"wrote {target} (format {version} of {source})", file=sys.stderr)
    return target


def rewrite_format2(source: Path, target: Path) -> Path:
    """`source` (a format-1 bundle) as format 2 into `target` (see :func:`rewrite`)."""
    return rewrite(source, target, 2)
