"""An independent reader of the bundle format, written from docs/bundle-format.md only.

The tests read bundles with this instead of the collector's own code, so a change to the
writer that breaks the documented format fails here.
"""

import json
import re
import tarfile

HEADER = re.compile(rb"^@@ vmcollect (start|end|[0-9]+) ([0-9]+|=)$")


class Bundle(object):
    def __init__(self, path):
        self.path = path
        self.members = {}
        with tarfile.open(path, "r:gz") as tar:
            self.member_info = tar.getmembers()
            for info in self.member_info:
                assert info.isfile(), "non-regular member %s" % info.name
                assert not info.name.startswith("/") and ".." not in info.name.split("/")
                self.members[info.name] = tar.extractfile(info).read()
        self.manifest = json.loads(self.members["manifest.json"].decode("utf-8"))
        self.samples = [
            json.loads(line) for line in self.members["samples.jsonl"].decode("utf-8").splitlines()
        ]

    def records(self, path):
        """[(label, bytes)] of one record stream, in order; a repeat record (format 2) gives
        the bytes of the record before it."""
        data = self.members[path]
        out = []
        pos = 0
        while pos < len(data):
            nl = data.index(b"\n", pos)
            match = HEADER.match(data[pos:nl])
            assert match, "bad header in %s at %d: %r" % (path, pos, data[pos:nl][:80])
            label = match.group(1).decode("ascii")
            label = label if label in ("start", "end") else int(label)
            if match.group(2) == b"=":
                assert out, "%s starts with a repeat" % path
                assert self.manifest["format_version"] >= 2, "a repeat in a format 1 bundle"
                out.append((label, out[-1][1]))
                pos = nl + 1
                continue
            length = int(match.group(2))
            body = data[nl + 1 : nl + 1 + length]
            assert len(body) == length, "truncated record in %s" % path
            assert data[nl + 1 + length : nl + 2 + length] == b"\n"
            out.append((label, body))
            pos = nl + 2 + length
        return out

    def labels(self, path):
        return [label for label, _ in self.records(path)]

    def pids(self):
        return sorted(
            set(
                int(name.split("/")[1]) for name in self.members if re.match(r"^proc/[0-9]+/", name)
            )
        )

    def everything(self):
        return b"".join(self.members.values())
