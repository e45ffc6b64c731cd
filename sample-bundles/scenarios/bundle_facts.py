#!/usr/bin/env python3
"""Read facts back from a vmcollect bundle, for the sample-bundle scenarios' self-checks.

Independent of vmanalyze on purpose (stdlib only, reads docs/bundle-format.md directly): it proves
that the bundle itself holds the episode, so a scenario can refuse to publish a capture that
missed its condition.

    bundle_facts.py BUNDLE QUERY...          print one value per query
    bundle_facts.py BUNDLE --summary         print the main facts (for humans)
    bundle_facts.py BUNDLE --readme-row README SCENARIO WHAT MUST_FIND OBSERVED

Queries (values are integers unless said otherwise):
    vmstat:KEY:delta            end minus start of a /proc/vmstat counter
    vmstat:KEY:rising           number of sample-to-sample steps in which the counter rose
    meminfo:KEY:max / :min      over all snapshots, kB as in /proc/meminfo
    meminfo:KEY:fall            first snapshot minus last (kB; negative when it rose)
    commit_pct:max              max of Committed_AS / (MemTotal + SwapTotal), in percent
    kmsg:TEXT:count             kernel log lines that appeared during the capture (dev/kmsg records
                                after the start snapshot) and contain TEXT
    proc:COMM:pids              distinct pids whose comm (stat field 2) is COMM
    proc:COMM:rss_max_kib       largest RSS seen for such a process
    proc:COMM:rss_growth_kib    largest (last - first) RSS of one such process
    proc:COMM:rss_rate_kib_s    that growth divided by the time between first and last sighting
    proc:COMM:alive_samples     snapshots in which at least one such process was seen
    proc:top_grower             comm of the process whose RSS grew most (last - first) -> text
    knob:PATH:start / :end      selected value of a config file (e.g. THP's "[madvise]") -> text
    slab:NAME:growth_kib        end minus start of a slab cache's size (proc/slabinfo: slabs x
                                pages per slab x 4 KiB, read at start and end)
    slab:top_grower             the slab cache whose size grew most -> text
    tmpfs:MOUNT:growth_kib      end minus start of a tmpfs mount's used KiB (vmcollect/tmpfs_mounts,
                                statvfs at start and end)
    tmpfs:top_grower            the tmpfs mount point whose used bytes grew most -> text
    status:COMM:KEY:max / :growth  largest value / largest (last - first) of a kB field of
                                proc/<pid>/status (VmLck, RssShmem) of processes named COMM
    samples                     number of snapshots listed in samples.jsonl
    duration_s                  seconds from the first to the last snapshot
"""

import contextlib
import json
import sys
import tarfile

PAGE_KIB = 4


class Bundle:
    def __init__(self, path, only=None):
        self.path = path
        self.members = {}
        with tarfile.open(path, "r|gz") as tar:
            for m in tar:
                if m.isfile() and (only is None or m.name in only):
                    self.members[m.name] = tar.extractfile(m).read()
                    # manifest.json and samples.jsonl come first: no need to read further
                    if only is not None and len(self.members) == len(only):
                        break
        self.manifest = json.loads(self.members["manifest.json"])
        self.samples = [
            json.loads(line) for line in self.members["samples.jsonl"].splitlines() if line.strip()
        ]
        self.order = [str(s["label"]) for s in self.samples]
        self.mono = {str(s["label"]): s["mono_ns"] for s in self.samples}
        self._streams = {}
        self._procs = None

    def stream(self, name):
        """{label: bytes} of one record stream in snapshot order (unlisted labels dropped)."""
        if name in self._streams:
            return self._streams[name]
        data = self.members.get(name)
        out = {}
        previous = None
        if data is not None:
            pos = 0
            while pos < len(data):
                nl = data.find(b"\n", pos)
                if nl < 0:
                    break
                header = data[pos:nl].split(b" ")
                if len(header) != 4 or header[0] != b"@@" or header[1] != b"vmcollect":
                    raise ValueError(f"{name}: bad record header at {pos}: {data[pos:nl]!r}")
                label, start = header[2].decode(), nl + 1
                if header[3] == b"=":  # a repeat record (format 2): the content before it
                    if previous is None:
                        raise ValueError(f"{name}: stream starts with a repeat record")
                    out[label] = previous
                    pos = start
                    continue
                length = int(header[3])
                if start + length > len(data):
                    break
                out[label] = previous = data[start : start + length]
                pos = start + length + 1
        ordered = {lab: out[lab] for lab in self.order if lab in out}
        self._streams[name] = ordered
        return ordered

    def keyed(self, name, sep=None):
        """{label: {key: int}} for meminfo/vmstat-style files."""
        res = {}
        for lab, content in self.stream(name).items():
            d = {}
            for line in content.decode("ascii", "replace").splitlines():
                parts = line.replace(":", " ").split()
                if len(parts) >= 2:
                    with contextlib.suppress(ValueError):
                        d[parts[0]] = int(parts[1])
            res[lab] = d
        return res

    def procs(self):
        """{pid: [(label, comm, rss_kib)]} from every proc/<pid>/stat stream."""
        if self._procs is not None:
            return self._procs
        res = self._procs = {}
        for name in self.members:
            parts = name.split("/")
            if len(parts) == 3 and parts[0] == "proc" and parts[1].isdigit() and parts[2] == "stat":
                seen = []
                for lab, content in self.stream(name).items():
                    text = content.decode("utf-8", "replace")
                    lp, rp = text.find("("), text.rfind(")")
                    if lp < 0 or rp < 0:
                        continue
                    comm = text[lp + 1 : rp]
                    rest = text[rp + 2 :].split()
                    # rest[0] is field 3 (state); rss is field 24 -> rest[21]
                    seen.append((lab, comm, int(rest[21]) * PAGE_KIB))
                res[int(parts[1])] = seen
        return res

    def slabs(self):
        """{cache name: (start KiB, end KiB)} from the first and last proc/slabinfo record."""
        records = list(self.stream("proc/slabinfo").values())
        if len(records) < 2:
            raise KeyError("proc/slabinfo at start and end")
        sizes = []
        for content in (records[0], records[-1]):
            size = {}
            for line in content.decode("ascii", "replace").splitlines()[2:]:
                head, _, rest = line.partition(" : ")
                words, slabdata = head.split(), rest.rsplit(" : slabdata ", 1)[-1].split()
                if len(words) >= 6 and len(slabdata) == 3:
                    size[words[0]] = int(slabdata[1]) * int(words[5]) * PAGE_KIB
            sizes.append(size)
        return {name: (sizes[0].get(name, 0), kib) for name, kib in sizes[1].items()}

    def tmpfs(self):
        """{mount point: (start KiB, end KiB)}: used KiB in the first and last tmpfs record."""
        records = list(self.stream("vmcollect/tmpfs_mounts").values())
        if len(records) < 2:
            raise KeyError("vmcollect/tmpfs_mounts at start and end")
        used = []
        for content in (records[0], records[-1]):
            rows = [line.split() for line in content.decode("utf-8", "replace").splitlines()]
            used.append({r[0]: int(r[3]) // 1024 for r in rows[2:] if len(r) == 7})
        return {point: (used[0][point], kib) for point, kib in used[1].items() if point in used[0]}

    def status_field(self, comm, key):
        """{pid: [kB values of KEY]} of the processes whose status Name is COMM."""
        res = {}
        for name in self.members:
            parts = name.split("/")
            if len(parts) != 3 or parts[0] != "proc" or parts[2] != "status":
                continue
            for content in self.stream(name).values():
                fields = dict(
                    line.split(":", 1)
                    for line in content.decode("utf-8", "replace").splitlines()
                    if ":" in line
                )
                if fields.get("Name", "").strip() == comm and key in fields:
                    res.setdefault(parts[1], []).append(int(fields[key].split()[0]))
        return res

    def knob(self, path):
        st = self.stream(path)
        return {lab: _selected(v.decode("ascii", "replace")) for lab, v in st.items()}


def _selected(text):
    text = text.strip()
    if "[" in text and "]" in text:
        return text[text.index("[") + 1 : text.index("]")]
    return text


def query(b, q):
    if q == "samples":
        return len(b.samples)
    if q == "duration_s":
        return round((b.samples[-1]["mono_ns"] - b.samples[0]["mono_ns"]) / 1e9, 1)
    kind, _, rest = q.partition(":")
    arg, _, what = rest.rpartition(":")
    if kind == "vmstat":
        series = [d[arg] for d in b.keyed("proc/vmstat").values() if arg in d]
        if not series:
            raise KeyError(q)
        if what == "delta":
            return series[-1] - series[0]
        if what == "rising":
            return sum(1 for a, c in zip(series, series[1:], strict=False) if c > a)
    if kind == "meminfo":
        series = [d[arg] for d in b.keyed("proc/meminfo").values() if arg in d]
        if not series:
            raise KeyError(q)
        if what == "max":
            return max(series)
        if what == "min":
            return min(series)
        if what == "fall":
            return series[0] - series[-1]
    if kind == "commit_pct" and rest == "max":
        return max(
            100 * d["Committed_AS"] // (d["MemTotal"] + d.get("SwapTotal", 0))
            for d in b.keyed("proc/meminfo").values()
        )
    if kind == "kmsg" and what == "count":
        # not the start record: it holds what the ring buffer had from before the capture
        return sum(
            v.decode("utf-8", "replace").count(arg)
            for lab, v in b.stream("dev/kmsg").items()
            if lab != "start"
        )
    if q == "proc:top_grower":
        best, comm = None, ""
        for recs in b.procs().values():
            if recs and (best is None or recs[-1][2] - recs[0][2] > best):
                best, comm = recs[-1][2] - recs[0][2], recs[-1][1]
        return comm
    if kind == "proc":
        mine = {
            pid: [(lab, rss) for lab, comm, rss in recs if comm == arg]
            for pid, recs in b.procs().items()
        }
        mine = {pid: recs for pid, recs in mine.items() if recs}
        if what == "pids":
            return len(mine)
        if what == "alive_samples":
            return len({lab for recs in mine.values() for lab, _ in recs})
        if not mine:
            return 0
        if what == "rss_max_kib":
            return max(rss for recs in mine.values() for _, rss in recs)
        growths = [(recs[-1][1] - recs[0][1], recs) for recs in mine.values()]
        growth, recs = max(growths, key=lambda g: g[0])
        if what == "rss_growth_kib":
            return growth
        if what == "rss_rate_kib_s":
            secs = (b.mono[recs[-1][0]] - b.mono[recs[0][0]]) / 1e9
            return int(growth / secs) if secs > 0 else 0
    if q == "slab:top_grower":
        return max(b.slabs().items(), key=lambda kv: kv[1][1] - kv[1][0])[0]
    if kind == "slab" and what == "growth_kib":
        first, last = b.slabs().get(arg, (0, 0))
        return last - first
    if q == "tmpfs:top_grower":
        return max(b.tmpfs().items(), key=lambda kv: kv[1][1] - kv[1][0])[0]
    if kind == "tmpfs" and what == "growth_kib":
        first, last = b.tmpfs().get(arg, (0, 0))
        return last - first
    if kind == "status" and what in ("max", "growth"):
        comm, _, key = arg.rpartition(":")
        values = b.status_field(comm, key).values()
        if what == "max":
            return max((max(v) for v in values), default=0)
        return max((v[-1] - v[0] for v in values), default=0)
    if kind == "knob" and what in ("start", "end"):
        vals = b.knob(arg)
        if not vals:
            raise KeyError(q)
        return list(vals.values())[0 if what == "start" else -1]
    raise SystemExit(f"bundle_facts: unknown query {q!r}")


def readme_row(b, readme, scenario, what, must_find, observed):
    m = b.manifest
    coll = m.get("collector", {})
    host = m.get("host", {})
    opts = m.get("options", {})
    interval = opts.get("interval_s")
    dur = query(b, "duration_s")
    cells = [
        f"`{scenario}`",
        what,
        "`{}`".format(host.get("kernel_release", "?")),
        "{} {}".format(coll.get("name", "vmcollect"), coll.get("version", "?")),
        "{}: {}s, {} snapshots every {}s".format(
            _date(m.get("start_wall_ns")), int(round(dur)), len(b.samples), _num(interval)
        ),
        must_find,
        observed,
    ]
    row = "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"
    begin, end = "<!-- scenarios:begin -->", "<!-- scenarios:end -->"
    with open(readme) as f:
        lines = f.read().split("\n")
    if begin not in lines or end not in lines:
        raise SystemExit(f"bundle_facts: {readme} lacks the {begin} / {end} markers")
    i0, i1 = lines.index(begin), lines.index(end)
    key = f"| `{scenario}` |"
    body = [ln for ln in lines[i0 + 1 : i1] if ln.strip()]
    head, rows = body[:2], body[2:]
    rows = [ln for ln in rows if not ln.startswith(key)] + [row]
    order = _ORDER + [r.split("`")[1] for r in rows if r.split("`")[1] not in _ORDER]
    rows.sort(key=lambda r: order.index(r.split("`")[1]))
    lines[i0 + 1 : i1] = head + rows
    with open(readme + ".tmp", "w") as f:
        f.write("\n".join(lines))
    import os

    os.replace(readme + ".tmp", readme)


_ORDER = [
    "healthy-idle",
    "thp-always-postgres",
    "swap-thrash",
    "pagecache-thrash",
    "overcommit",
    "oom-kill",
    "memory-leak",
    "kernel-thread-leak",
    "shmem-growth",
    "mlock-growth",
    "numa-remote",
]


def _date(wall_ns):
    import time

    return time.strftime("%Y-%m-%d", time.gmtime(wall_ns / 1e9)) if wall_ns else "?"


def _num(x):
    if x is None:
        return "?"
    return (f"{x:g}") if isinstance(x, float) else str(x)


def summary(b):
    m = b.manifest
    print(
        f"collector {m.get('collector', {}).get('version')},"
        f" kernel {m.get('host', {}).get('kernel_release')}, {len(b.samples)} snapshots,"
        f" {query(b, 'duration_s'):.1f}s, stop_reason={m.get('stop_reason')}"
    )
    vm = list(b.keyed("proc/vmstat").values())
    if vm:
        keys = [
            "pswpin",
            "pswpout",
            "pgmajfault",
            "workingset_refault_file",
            "workingset_refault_anon",
            "oom_kill",
            "thp_fault_alloc",
            "thp_fault_fallback",
            "compact_stall",
        ]
        print(
            "vmstat deltas: " + ", ".join(f"{k}={vm[-1].get(k, 0) - vm[0].get(k, 0)}" for k in keys)
        )
    print(
        f"Committed_AS max {query(b, 'meminfo:Committed_AS:max')} kB,"
        f" commit_pct max {query(b, 'commit_pct:max')}%"
    )
    print(f"kmsg 'Killed process' lines: {query(b, 'kmsg:Killed process:count')}")
    big = {}
    for pid, recs in b.procs().items():
        if recs:
            big[pid] = (max(r[2] for r in recs), recs[-1][1], recs[-1][2] - recs[0][2])
    for pid, (mx, comm, growth) in sorted(big.items(), key=lambda kv: -kv[1][0])[:8]:
        print(f"  pid {pid} {comm:<16} rss max {mx:7d} KiB growth {growth:+d} KiB")


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    if argv[2:3] == ["--readme-row"]:
        readme_row(Bundle(argv[1], only=("manifest.json", "samples.jsonl")), *argv[3:8])
        return
    b = Bundle(argv[1])
    if argv[2:3] == ["--summary"]:
        summary(b)
        return

    for q in argv[2:]:
        print(query(b, q))


if __name__ == "__main__":
    main(sys.argv)
