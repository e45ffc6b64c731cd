#!/usr/bin/env python3
"""Check that a numa-remote bundle holds the episode; print one line of what it shows.

    check_bundle.py BUNDLE

Read from the bundle alone (with bundle_facts.py's reader, not vmanalyze):
- per-node numastat, end minus start: node 1 must lead on other_node and numa_miss, node 0 on
  numa_foreign, and node 1's counters must rise in many intervals (a steady state);
- node 0 must have filled up (MemFree under 100 MiB) while node 1 kept free memory;
- the `numa-remote` workload: Cpus_allowed_list 0 in status, and numa_maps with its memory on N1
  under a bind:1 policy;
- the `numa-spill` workload must have been seen.
Exit status 1 when a check fails (the reasons go to stderr).
"""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bundle_facts import Bundle  # noqa: E402

COUNTERS = ("numa_hit", "numa_miss", "numa_foreign", "local_node", "other_node")


def numastat(b, node):
    """({counter: end - start}, {counter: intervals in which it rose}) for one node."""
    series = list(b.keyed(f"sys/devices/system/node/node{node}/numastat").values())
    if len(series) < 2:
        raise SystemExit(f"check: node{node} numastat captured {len(series)} times")
    delta = {k: series[-1].get(k, 0) - series[0].get(k, 0) for k in COUNTERS}
    rising = {
        k: sum(1 for a, c in zip(series, series[1:], strict=False) if c.get(k, 0) > a.get(k, 0))
        for k in COUNTERS
    }
    return delta, rising


def node_memfree_mib(b, node):
    """MemFree of one node (MiB) in every snapshot: "Node 0 MemFree:  44776 kB"."""
    out = []
    for content in b.stream(f"sys/devices/system/node/node{node}/meminfo").values():
        m = re.search(rb"MemFree:\s+(\d+) kB", content)
        if m:
            out.append(int(m.group(1)) // 1024)
    return out


def pids_named(b, comm):
    pids = set()
    for name in b.members:
        parts = name.split("/")
        if len(parts) == 3 and parts[0] == "proc" and parts[2] == "stat":
            for content in b.stream(name).values():
                if f"({comm})".encode() in content[:64]:
                    pids.add(int(parts[1]))
    return sorted(pids)


def last(b, name):
    st = b.stream(name)
    return list(st.values())[-1].decode("utf-8", "replace") if st else None


def numa_maps_pages(text):
    """{(policy, node): pages} over every mapping of one numa_maps capture."""
    out = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) < 2:
            continue
        for kv in f[2:]:
            m = re.match(r"N(\d+)=(\d+)$", kv)
            if m:
                key = (f[1], int(m.group(1)))
                out[key] = out.get(key, 0) + int(m.group(2))
    return out


def main(path):
    b = Bundle(path)
    fails = []
    secs = (b.samples[-1]["mono_ns"] - b.samples[0]["mono_ns"]) / 1e9 or 1.0
    (n0, _), (n1, r1) = numastat(b, 0), numastat(b, 1)
    steps = len(b.samples) - 1
    for key, hi, lo in (("other_node", n1, n0), ("numa_miss", n1, n0), ("numa_foreign", n0, n1)):
        if not hi[key] > max(lo[key], 0):
            node = 1 if hi is n1 else 0
            fails.append(f"{key}: node {node} +{hi[key]} is not above the other node's +{lo[key]}")

    # A steady state, not a blip: the counters must climb in a good part of the intervals.
    for key, least in (("other_node", steps // 2), ("numa_miss", 10)):
        if r1[key] < least:
            fails.append(f"node 1 {key} rose in only {r1[key]} of {steps} intervals (< {least})")

    free0, free1 = node_memfree_mib(b, 0), node_memfree_mib(b, 1)
    if not free0 or not free1:
        fails.append("no per-node meminfo")
        free0, free1 = free0 or [0], free1 or [0]
    elif not (min(free0) < 100 and max(free1) > 200):
        fails.append(f"node MemFree min {min(free0)} / {min(free1)} MiB: node 0 never filled up")

    remote = pids_named(b, "numa-remote")
    cpus = placement = "?"
    if not remote:
        fails.append("no numa-remote process in the bundle")
    else:
        pid = remote[0]
        status = last(b, f"proc/{pid}/status") or ""
        m = re.search(r"^Cpus_allowed_list:\s*(\S+)", status, re.M)
        cpus = m.group(1) if m else "?"
        if cpus != "0":
            fails.append(f"numa-remote Cpus_allowed_list is {cpus}, not 0")
        maps = last(b, f"proc/{pid}/numa_maps")
        if maps is None:
            fails.append(f"no numa_maps for numa-remote (pid {pid})")
        else:
            pages = numa_maps_pages(maps)
            bind1 = sum(
                v for (pol, node), v in pages.items() if pol.startswith("bind:1") and node == 1
            )
            other = sum(v for (pol, node), v in pages.items() if node != 1)
            placement = f"{bind1 // 256} MiB bind:1 on N1, {other // 256} MiB elsewhere"
            if bind1 < 200 * 256:
                fails.append(f"numa-remote numa_maps: only {bind1} pages bind:1 on N1")
    if not pids_named(b, "numa-spill"):
        fails.append("no numa-spill process in the bundle")

    print(
        f"over {secs:.0f}s, node1 other_node +{n1['other_node']}, numa_miss +{n1['numa_miss']}"
        f" pages (rose in {r1['other_node']} and {r1['numa_miss']} of {steps} intervals);"
        f" node0 numa_foreign +{n0['numa_foreign']}; node0 other_node +{n0['other_node']},"
        f" numa_miss +{n0['numa_miss']}; MemFree min node0 {min(free0)} MiB, node1"
        f" {min(free1)} MiB; numa-remote Cpus_allowed_list {cpus}, numa_maps {placement}"
    )
    for f in fails:
        sys.stderr.write(f"check_bundle: FAILED: {f}\n")
    return 1 if fails else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    sys.exit(main(sys.argv[1]))
