#!/usr/bin/env python3
"""Replace one path prefix in a vmcollect bundle's captured content, keeping it a valid bundle.

The sample bundles are captured on a shared development host: other people's processes (test
runs, builds) show up with command lines and mapped files under the folder that holds the
checkouts. Those paths say nothing about the scenario and must not be published, so they are
rewritten (OLD -> NEW) in every member. Record streams are re-framed (each record's length header
is recomputed, see docs/bundle-format.md), member order and metadata are kept. This is the only
edit made to captured content; it touches nothing outside those paths.

    scrub_bundle.py BUNDLE OLD_PREFIX NEW_PREFIX      prints how many occurrences were replaced
"""

import io
import os
import sys
import tarfile


def reframe(data, old, new):
    """Replace in each record of a record stream; returns (new bytes, count)."""
    out, pos, count = [], 0, 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        header = data[pos:nl].split(b" ") if nl >= 0 else []
        if len(header) != 4 or header[:2] != [b"@@", b"vmcollect"]:
            raise ValueError(f"bad record header at byte {pos}")
        if header[3] == b"=":  # a repeat record (format 2): the record before it, scrubbed
            out.append(data[pos : nl + 1])
            pos = nl + 1
            continue
        length = int(header[3])
        body = data[nl + 1 : nl + 1 + length]
        if len(body) < length:  # truncated last record: keep as it was
            out.append(data[pos:])
            break
        n = body.count(old)
        if n:
            body = body.replace(old, new)
            count += n
        out.append(b"@@ vmcollect %s %d\n" % (header[2], len(body)) + body + b"\n")
        pos = nl + 1 + length + 1
    return b"".join(out), count


def scrub(path, old, new):
    total = 0
    tmp = path + ".scrub-tmp"
    with (
        tarfile.open(path, "r:gz") as src,
        tarfile.open(tmp, "w:gz", format=tarfile.PAX_FORMAT) as dst,
    ):
        for m in src.getmembers():
            if not m.isfile():
                dst.addfile(m)
                continue
            data = src.extractfile(m).read()
            if old in data:
                if m.name in ("manifest.json", "samples.jsonl"):
                    n = data.count(old)
                    data = data.replace(old, new)
                else:
                    data, n = reframe(data, old, new)
                total += n
            info = tarfile.TarInfo(m.name)
            info.size, info.mtime, info.mode = len(data), m.mtime, m.mode
            info.uid, info.gid, info.uname, info.gname = m.uid, m.gid, m.uname, m.gname
            dst.addfile(info, io.BytesIO(data))
    if total:
        os.replace(tmp, path)
    else:
        os.remove(tmp)
    return total


if __name__ == "__main__":
    if len(sys.argv) != 4 or not sys.argv[2]:
        raise SystemExit(__doc__)
    print(scrub(sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()))
