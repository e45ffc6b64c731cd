"""Build the documented tables from a captured input.

Every table is a pandas DataFrame with stable column names. Time series carry ``snapshot``
(the bundle's label: ``start``, ``0``, ``1``, ..., ``end``; ``0`` for one-shot inputs) and
``ts`` (UTC). Parsers turn kernel text into records; this module adds the context (which
snapshot, which pid, node, cgroup or hugepage size the file belongs to) and assembles frames.
The reference of every table and column is docs/tables.md, generated from :data:`TABLES`.
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from vmanalyze.errors import ParseError, SkipSource
from vmanalyze.inputs import CapturedInput, split_member
from vmanalyze.packs import Pack
from vmanalyze.parsers import SOURCES, match_sources
from vmanalyze.parsers.zoneinfo import parse_zoneinfo_blocks
from vmanalyze.pid_tables import (
    Columns,
    Labels,
    stat_from_pack,
    stat_from_records,
    status_from_pack,
    status_from_records,
)
from vmanalyze.tables_doc import TABLES, TIME_COLUMNS

_PID = re.compile(r"^proc/([0-9]+)/")
#: Packs parsed at the same time (see _pid_table); on two cores, two take a third off.
PACK_THREADS = 2
_NODE = re.compile(r"/node([0-9]+)/")
_HUGEPAGE_SIZE = re.compile(r"hugepages-([0-9]+)kB")
_CGROUP_V2_ROOTS = ("sys/fs/cgroup/unified", "sys/fs/cgroup")
_CGROUP_V1_ROOT = "sys/fs/cgroup/memory"


@dataclass(frozen=True)
class TableDoc:
    """Reference documentation of one table (rendered into docs/tables.md)."""

    name: str
    summary: str
    source: str
    key: tuple[str, ...]
    since: str = "2.6.32"
    columns: tuple[tuple[str, str], ...] = ()


def _ctx_columns(snapshot: str, ts: pd.Timestamp | None) -> dict[str, Any]:
    return {"snapshot": snapshot, "ts": ts}


_PID_DIR = re.compile(r"^proc/[0-9]+/")


def _sources_for(path: str) -> tuple[str, ...]:
    """Sources of a captured path; per-process paths share one lookup (a bundle has ~10^4)."""
    return _sources_for_pattern(_PID_DIR.sub("proc/1/", path, count=1))


@lru_cache(maxsize=65536)
def _sources_for_pattern(path: str) -> tuple[str, ...]:
    return tuple(match_sources(path))


def _cgroup_of(path: str) -> tuple[str, str] | None:
    """(cgroup path, version) of a captured cgroup file, e.g. ('/system.slice', 'v2')."""
    directory = path.rsplit("/", 1)[0]
    if directory == _CGROUP_V1_ROOT or directory.startswith(_CGROUP_V1_ROOT + "/"):
        return "/" + directory[len(_CGROUP_V1_ROOT) :].lstrip("/"), "v1"
    for root in _CGROUP_V2_ROOTS:
        if directory == root or directory.startswith(root + "/"):
            return "/" + directory[len(root) :].lstrip("/"), "v2"
    return None


def _beyond_int64(value: Any) -> bool:
    """Whether a parsed record holds an integer no Int64 column can (a u64 over 2**63 - 1).

    >>> _beyond_int64({"a": 1, "b": [2, {"c": 1 << 63}]}), _beyond_int64([{"a": -(1 << 63)}])
    (True, False)
    """
    if type(value) is dict:
        value = value.values()
    elif type(value) is not list:
        return type(value) is int and not _INT64_MIN <= value <= _INT64_MAX
    for v in value:
        kind = type(v)
        if kind is int:
            if v > _INT64_MAX or v < _INT64_MIN:
                return True
        elif (kind is dict or kind is list) and _beyond_int64(v):
            return True
    return False


#: Text that may hold a number beyond Int64: 16 digits or more (a kB count times 1024 can
#: reach 2**63). Only records whose text has one are checked: the check costs a few us.
_LONG_NUMBER = re.compile(r"[0-9]{16}")


def _fit_int64(value: Any) -> Any:
    """`value` with every integer beyond Int64 made None (absent): no column can hold it.

    The kernel writes u64s such as rsslim 18446744073709551615 (unlimited); none of them is a
    column the rules read, and a crafted file may hold them anywhere.

    >>> _fit_int64({"rsslim": 2**64 - 1, "rss": 5, "nodes": [1, 2**63]})
    {'rsslim': None, 'rss': 5, 'nodes': [1, None]}
    """
    if isinstance(value, dict):
        return {k: _fit_int64(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fit_int64(v) for v in value]
    if type(value) is int and not _INT64_MIN <= value <= _INT64_MAX:
        return None
    return value


_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


class TableBuilder:
    """Parse a captured input into tables; collect warnings instead of failing."""

    def __init__(self, captured: CapturedInput) -> None:
        self.captured = captured
        self.warnings: list[str] = list(captured.warnings)
        self.parse_errors: list[dict[str, Any]] = []
        self.ts = {
            s.label: (
                pd.Timestamp(s.wall_ns // 1000 * 1000, unit="ns", tz="UTC") if s.wall_ns else None
            )
            for s in captured.snapshots
        }
        self.by_source: dict[str, list[str]] = defaultdict(list)
        for path in captured.files:
            for name in _sources_for(path):
                self.by_source[name].append(path)

    # -- parsing ------------------------------------------------------------------------
    def _records(
        self, source: str, consume: bool = False, parse: Callable[[str], Any] | None = None
    ) -> Iterable[tuple[str, str, Any]]:
        """(path, snapshot, parsed) for every record of a source; bad records are warnings.

        With `consume`, each file's records are dropped from the captured input once read:
        per-process files are most of a bundle, and nothing needs their text afterwards.
        """
        parse = parse or SOURCES[source].parse
        files = self.captured.files
        for path in sorted(self.by_source.get(source, ())):
            records = files.pop(path, []) if consume else files.get(path, [])
            for label, data in records:
                text = data.decode("utf-8", "replace")
                try:
                    parsed = parse(text)
                    if _LONG_NUMBER.search(text) and _beyond_int64(parsed):
                        parsed = _fit_int64(parsed)
                    yield path, label, parsed
                except SkipSource:
                    continue
                except (ParseError, ValueError, IndexError, KeyError) as exc:
                    self._parse_error(path, label, exc)

    def _parse_error(self, path: str, label: str, exc: Exception) -> None:
        message = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        self.parse_errors.append({"path": path, "snapshot": label, "error": message})
        if len(self.parse_errors) <= 20:
            self.warnings.append(f"sample {label}: {path}: unreadable, skipped ({message})")

    def _rows(
        self,
        source: str,
        context: Callable[[str], dict[str, Any]] | None = None,
        consume: bool = False,
    ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for path, label, parsed in self._records(source, consume):
            base = {"snapshot": label, "ts": self.ts.get(label)}
            if context is not None:
                base.update(context(path))
            if isinstance(parsed, dict):
                base.update(parsed)
                rows.append(base)
            elif isinstance(parsed, list) and (not parsed or isinstance(parsed[0], dict)):
                rows.extend({**base, **item} for item in parsed)
            else:
                rows.append({**base, "value": parsed})
        return rows

    # -- tables -------------------------------------------------------------------------
    def build(self) -> dict[str, pd.DataFrame]:
        t: dict[str, pd.DataFrame] = {}
        t["samples"] = self.samples()
        for name in (
            "meminfo",
            "vmstat",
            "buddyinfo",
            "pressure_memory",
            "loadavg",
            "proc_stat",
        ):
            t[name] = frame(self._rows(name))
        t["zoneinfo"], t["zoneinfo_node_stats"] = self.zoneinfo()
        t["swaps"] = frame(
            self._rows("swaps"),
            columns=["snapshot", "ts", "filename", "type", "size_bytes", "used_bytes", "priority"],
        )
        t["pagetypeinfo"] = self.pagetypeinfo()
        node = self._node_context
        for name in ("sys_node_meminfo", "sys_node_numastat", "sys_node_vmstat"):
            t[name] = frame(self._rows(name, node))
        t["numa_topology"] = self.numa_topology()
        t["hugepages"] = self.hugepages()
        t["sysctl_vm"] = self.sysctl_vm()
        t["thp"] = self.thp()
        t["ksm"] = frame(self._rows("sys_kernel_mm_ksm", lambda p: {"name": p.rsplit("/", 1)[1]}))
        t["cgroup_memory"] = self.cgroup_memory()
        t["pid_stat"] = self.pid_stat()
        t["pid_status"] = self.pid_status()
        t["pid_smaps_rollup"] = frame(self._rows("pid_smaps_rollup", self._pid_context))
        t["pid_numa_maps"] = self.pid_numa_maps()
        t["process_samples"] = self.process_samples(t)
        t["processes"] = self.processes(t)
        t["oom_events"] = self.oom_events()
        t["host"] = self.host(t)
        t["collection_health"] = self.collection_health()
        # A table with no data still has its key columns: a Parquet file without columns
        # is unreadable to Spark, and a fleet's tables must line up.
        return {
            name: frame([], key_columns(name)) if not len(df.columns) else df
            for name, df in t.items()
            if df is not None
        }

    def samples(self) -> pd.DataFrame:
        rows = []
        numeric = [s for s in self.captured.snapshots if s.label.isdigit()]
        last = max((int(s.label) for s in numeric), default=-1)
        for s in self.captured.snapshots:
            if s.label == "start":
                phase, index = "start", -1
            elif s.label == "end":
                phase, index = "end", last + 1
            else:
                phase, index = "sample", int(s.label)
            rows.append(
                {
                    "snapshot": s.label,
                    "sample": index,
                    "phase": phase,
                    "ts": self.ts.get(s.label),
                    "mono_s": s.mono_ns / 1e9 if s.mono_ns is not None else None,
                    "duration_s": s.duration_ns / 1e9 if s.duration_ns is not None else None,
                    "late": s.late,
                    "skipped_slots": s.skipped_slots,
                }
            )
        return frame(rows)

    @staticmethod
    def _node_context(path: str) -> dict[str, Any]:
        match = _NODE.search("/" + path)
        return {"node": int(match.group(1)) if match else None}

    @staticmethod
    def _pid_context(path: str) -> dict[str, Any]:
        match = _PID.match(path)
        return {"pid": int(match.group(1))} if match else {}

    def zoneinfo(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The zoneinfo and zoneinfo_node_stats tables, from one parse of each file."""
        zones: list[dict[str, Any]] = []
        nodes: list[dict[str, Any]] = []
        for _path, label, (zone_blocks, node_blocks) in self._records(
            "zoneinfo", parse=parse_zoneinfo_blocks
        ):
            base = {"snapshot": label, "ts": self.ts.get(label)}
            zones.extend({**base, **zone} for zone in zone_blocks)
            nodes.extend({**base, **node} for node in node_blocks)
        return frame(zones), frame(nodes)

    def pagetypeinfo(self) -> pd.DataFrame | None:
        rows = []
        for _path, label, parsed in self._records("pagetypeinfo"):
            for item in parsed.get("free", []):
                rows.append({"snapshot": label, "ts": self.ts.get(label), **item})
        return frame(rows)

    def numa_topology(self) -> pd.DataFrame:
        """One row per node: CPUs, distances, memory; from the first snapshot that has them."""
        nodes: dict[int, dict[str, Any]] = {}
        for source, column in (("sys_node_cpulist", "cpus"), ("sys_node_distance", "distances")):
            for path, _label, parsed in self._records(source):
                node = self._node_context(path)["node"]
                if node is not None and column not in nodes.setdefault(node, {"node": node}):
                    nodes[node][column] = list(parsed)
        masks: dict[str, list[int]] = {}
        for path, _label, parsed in self._records("sys_node_mask"):
            masks.setdefault(path.rsplit("/", 1)[1], list(parsed))
        for name, members in masks.items():
            for node in members:
                nodes.setdefault(node, {"node": node})[name] = True
        rows = sorted(nodes.values(), key=lambda r: r["node"])
        for row in rows:
            row["cpu_count"] = len(row.get("cpus") or [])
        return frame(rows, columns=["node", "cpus", "distances", "cpu_count"])

    def hugepages(self) -> pd.DataFrame:
        wide: dict[tuple[str, int | None, int], dict[str, Any]] = {}
        for path, label, value in self._records("sys_kernel_mm_hugepages"):
            size = _HUGEPAGE_SIZE.search(path)
            if not size:
                continue
            node = self._node_context(path)["node"]
            key = (label, node, int(size.group(1)))
            row = wide.setdefault(
                key,
                {"snapshot": label, "ts": self.ts.get(label), "node": node, "page_size_kb": key[2]},
            )
            row[path.rsplit("/", 1)[1]] = value
        return frame(list(wide.values()))

    def sysctl_vm(self) -> pd.DataFrame:
        rows = []
        for path, label, value in self._records("sysctl_vm"):
            text: str | None
            if isinstance(value, list):
                text = " ".join(str(v) for v in value)
                number = None
            else:
                text = None if value is None else str(value)
                number = value if isinstance(value, int) else None
            rows.append(
                {
                    "snapshot": label,
                    "ts": self.ts.get(label),
                    "name": path.rsplit("/", 1)[1],
                    "value": text,
                    "value_int": number,
                }
            )
        return frame(rows, dtypes={"value_int": "Int64"})

    def thp(self) -> pd.DataFrame:
        rows = []
        for source in (
            "sys_kernel_mm_transparent_hugepage",
            "sys_kernel_mm_transparent_hugepage_counters",
        ):
            for path, label, parsed in self._records(source):
                setting = path.split("transparent_hugepage/", 1)[1]
                row: dict[str, Any] = {
                    "snapshot": label,
                    "ts": self.ts.get(label),
                    "setting": setting,
                    "redhat": "redhat_transparent_hugepage" in path,
                }
                if isinstance(parsed, dict):
                    row["value"] = parsed.get("selected")
                    row["options"] = " ".join(parsed.get("options") or [])
                else:
                    row["value"] = str(parsed)
                    row["options"] = None
                rows.append(row)
        return frame(rows)

    def cgroup_memory(self) -> pd.DataFrame:
        """One wide row per (snapshot, cgroup): every memory file of the cgroup merged."""
        wide: dict[tuple[str, str, str], dict[str, Any]] = {}
        for source in SOURCES:
            if not source.startswith(("cgroup_v1_memory", "cgroup_v2_memory")):
                continue
            for path, label, parsed in self._records(source):
                where = _cgroup_of(path)
                if where is None:
                    continue
                cgroup, version = where
                key = (label, version, cgroup)
                row = wide.setdefault(
                    key,
                    {
                        "snapshot": label,
                        "ts": self.ts.get(label),
                        "cgroup": cgroup,
                        "version": version,
                    },
                )
                leaf = path.rsplit("/", 1)[1].removeprefix("memory.").replace(".", "_")
                if isinstance(parsed, dict):
                    for k, v in parsed.items():
                        row[f"{leaf}_{k}"] = v
                else:
                    row[leaf] = parsed
        return frame(list(wide.values()))

    def pid_stat(self) -> pd.DataFrame:
        """Per process per snapshot: the /proc/<pid>/stat fields that analysis uses."""
        return self._pid_table("pid_stat", stat_from_pack, stat_from_records)

    def pid_status(self) -> pd.DataFrame:
        """Per process per snapshot: the memory-relevant fields of /proc/<pid>/status.

        :data:`~vmanalyze.pid_tables.PID_STATUS_FIELDS` only (``kB`` in bytes, list fields as
        the kernel prints them); the full parser,
        :func:`~vmanalyze.parsers.pid_status.parse_pid_status`, keeps every key but costs
        far more, and a one-hour bundle holds ~75,000 status files.
        """
        return self._pid_table("pid_status", status_from_pack, status_from_records)

    def _pid_table(
        self,
        source: str,
        from_pack: Callable[[Pack, Labels], Columns | None],
        from_records: Callable[[Iterable[tuple[str, str, bytes]], Labels], Columns],
    ) -> pd.DataFrame:
        """A per-process table from a bundle's packs (in bulk) and from single files.

        Packs and files are consumed: nothing needs their text afterwards.
        """
        labels = Labels([s.label for s in self.captured.snapshots])
        parts: list[Columns] = []
        packs = self.captured.take_packs(source)
        # numpy and Arrow release the GIL for the heavy work: packs parse side by side, two
        # at a time at most (each holds ~200 MiB of temporaries while it parses).
        threads = max(1, min(len(packs), len(os.sched_getaffinity(0)), PACK_THREADS))
        with ThreadPoolExecutor(max_workers=threads) as pool:
            parsed = pool.map(lambda p: from_pack(p, labels), packs)
            for pack, part in zip(packs, parsed, strict=True):
                parts.append(part if part is not None else from_records(self._unpack(pack), labels))
        files = self.captured.files
        parts.append(
            from_records(
                (
                    (path, label, data)
                    for path in self.by_source.get(source, ())
                    for label, data in files.pop(path, [])
                ),
                labels,
            )
        )
        for part in parts:
            for path, label, message in part.errors:
                self._parse_error(path, label, ParseError(source, 1, "", message))
        names = list(parts[-1].columns)
        table = pa.table(
            {
                name: pa.concat_arrays(
                    [_large(p.columns[name]) for p in parts if len(p.snapshot)]
                    or [_large(parts[-1].columns[name])]
                )
                for name in names
            }
        )
        positions = np.concatenate([p.snapshot for p in parts])
        df = table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
        snapshot_labels = pa.array(labels.labels, pa.large_string())
        stamps = pd.DatetimeIndex(
            [self.ts.get(label) for label in labels.labels], dtype="datetime64[ns, UTC]"
        )
        df.insert(0, "snapshot", snapshot_labels.take(pa.array(positions)).to_pandas())
        df.insert(1, "ts", stamps.take(positions))
        return df

    def _unpack(self, pack: Pack) -> Iterator[tuple[str, str, bytes]]:
        """The records of a pack one at a time (a pack the bulk path could not take)."""
        known = {s.label for s in self.captured.snapshots}
        for path, stream in pack.members():
            for label, data in split_member(path, stream, known, self.warnings):
                yield path, label, data

    def pid_numa_maps(self) -> pd.DataFrame:
        """Per process per snapshot per node: pages and bytes mapped there."""
        rows = []
        for path, label, parsed in self._records("pid_numa_maps"):
            pid = self._pid_context(path).get("pid")
            per_node: dict[int, list[int]] = {}
            for vma in parsed:
                page_bytes = vma.get("kernelpagesize_bytes") or self.page_size
                for node, pages in (vma.get("pages_per_node") or {}).items():
                    acc = per_node.setdefault(int(node), [0, 0])
                    acc[0] += pages
                    acc[1] += pages * page_bytes
            for node, (pages, size) in sorted(per_node.items()):
                rows.append(
                    {
                        "snapshot": label,
                        "ts": self.ts.get(label),
                        "pid": pid,
                        "node": node,
                        "pages": pages,
                        "bytes": size,
                    }
                )
        return frame(rows)

    def process_samples(self, t: dict[str, pd.DataFrame]) -> pd.DataFrame:
        """pid_stat joined with the memory split of pid_status and the NUMA node of the CPU."""
        stat = t["pid_stat"]
        if stat.empty:
            return stat
        page = self.page_size
        out = stat[
            [
                "snapshot",
                "ts",
                "pid",
                "starttime",
                "comm",
                "state",
                "ppid",
                "minflt",
                "majflt",
                "utime",
                "stime",
                "num_threads",
                "vsize",
                "rss",
                "processor",
            ]
        ].copy()
        out["rss_bytes"] = out["rss"] * page
        status = t["pid_status"]
        wanted = [
            "rss_anon_bytes",
            "rss_file_bytes",
            "rss_shmem_bytes",
            "vm_swap_bytes",
            "vm_pte_bytes",
            "hugetlb_pages_bytes",
            "thp_enabled",
        ]
        if not status.empty:
            cols = ["snapshot", "pid"] + [c for c in wanted if c in status.columns]
            out = out.merge(status[cols], on=["snapshot", "pid"], how="left")
        for col in wanted:
            if col not in out.columns:
                out[col] = pd.array([None] * len(out), dtype="Int64")
        cpu_node: dict[int, int] = {}
        topo = t.get("numa_topology")
        if topo is not None and not topo.empty:
            for node, cpus in zip(topo["node"], topo["cpus"], strict=False):
                for cpu in cpus if isinstance(cpus, list) else []:
                    cpu_node[int(cpu)] = int(node)
        out["cpu_node"] = _lookup(out["processor"], cpu_node)
        return frame_types(out)

    def processes(self, t: dict[str, pd.DataFrame]) -> pd.DataFrame:
        """One row per process (pid + start time): identity, first and last seen."""
        stat = t["pid_stat"]
        if stat.empty:
            return frame([], columns=["pid", "starttime", "comm", "cmdline", "cgroup"])
        g = stat.groupby(["pid", "starttime"], sort=True)
        out = g.agg(
            comm=("comm", "last"),
            first_seen=("ts", "min"),
            last_seen=("ts", "max"),
            snapshots=("snapshot", "count"),
            max_rss_bytes=("rss", "max"),
        ).reset_index()
        out["max_rss_bytes"] = out["max_rss_bytes"] * self.page_size
        cmdlines: dict[int, str] = {}
        for path, records in self.captured.files.items():
            match = _PID.match(path)
            if match and path.endswith("/cmdline") and records:
                raw = records[-1][1]
                cmdlines[int(match.group(1))] = (
                    raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")
                )
        cgroups: dict[int, str] = {}
        for path, _label, parsed in self._records("pid_cgroup"):
            pid = self._pid_context(path).get("pid")
            if pid is None or not parsed:
                continue
            memory = [r for r in parsed if "memory" in (r.get("controllers") or [])]
            unified = [r for r in parsed if r.get("hierarchy_id") == 0]
            chosen = (memory or unified or parsed)[0]
            cgroups[pid] = str(chosen.get("path"))
        out["cmdline"] = out["pid"].map(cmdlines)
        out["cgroup"] = out["pid"].map(cgroups)
        return frame_types(out)

    def oom_events(self) -> pd.DataFrame:
        seen: set[Any] = set()
        rows = []
        for _path, label, parsed in self._records("kmsg"):
            for event in parsed:
                key = event.get("seq") or json.dumps(event, sort_keys=True, default=str)
                if key in seen:
                    continue
                seen.add(key)
                rows.append({"snapshot": label, "ts": self.ts.get(label), **event})
        return frame(rows)

    @property
    def page_size(self) -> int:
        host = self.captured.manifest.get("host") or {}
        size = host.get("page_size")
        return int(size) if isinstance(size, int) and size > 0 else 4096

    def host(self, t: dict[str, pd.DataFrame]) -> pd.DataFrame:
        m = self.captured.manifest
        host = dict(m.get("host") or {})
        opts = m.get("options") or {}
        row: dict[str, Any] = {
            "hostname": host.get("hostname"),
            "input_kind": self.captured.kind,
            "input_sha256": self.captured.sha256,
            "kernel_release": host.get("kernel_release"),
            "machine": host.get("machine"),
            "page_size": host.get("page_size"),
            "cpu_count": host.get("cpu_count"),
            "collector_version": (m.get("collector") or {}).get("version"),
            "format_version": m.get("format_version"),
            "interval_s": opts.get("interval_s"),
            "samples": self.captured.sample_count,
        }
        version = self._first("version")
        if version:
            row["kernel_release"] = row["kernel_release"] or version.get("release")
            row["kernel_version"] = version.get("version") or version.get("full")
        osr = self._first("os_release")
        if osr:
            row["os"] = osr.get("PRETTY_NAME") or osr.get("pretty_name") or osr.get("NAME")
        cpu = self._first("cpuinfo")
        if cpu:
            row["cpu_model"] = cpu.get("model name") or cpu.get("model_name")
        mem = t["meminfo"]
        for col in ("mem_total_bytes", "swap_total_bytes", "hugepages_total", "hugepagesize_bytes"):
            row[col] = mem[col].dropna().iloc[0] if col in mem and mem[col].notna().any() else None
        topo = t["numa_topology"]
        row["numa_nodes"] = int(len(topo)) if not topo.empty else host.get("numa_nodes")
        thp = t["thp"]
        for setting in ("enabled", "defrag"):
            sel = thp[thp["setting"] == setting]["value"] if not thp.empty else pd.Series([])
            row[f"thp_{setting}"] = sel.iloc[0] if len(sel) else None
        sysctl = t["sysctl_vm"]
        for name in ("overcommit_memory", "overcommit_ratio", "swappiness", "zone_reclaim_mode"):
            values = sysctl[sysctl["name"] == name]["value_int"] if not sysctl.empty else None
            first = values.iloc[0] if values is not None and len(values) else None
            row[name] = int(first) if first is not None and pd.notna(first) else None
        samples = t["samples"]
        row["start"] = samples["ts"].min() if not samples.empty else None
        row["end"] = samples["ts"].max() if not samples.empty else None
        return frame([row])

    def _first(self, source: str) -> dict[str, Any] | None:
        for _path, _label, parsed in self._records(source):
            if isinstance(parsed, dict):
                return parsed
        return None

    def collection_health(self) -> pd.DataFrame:
        rows = []
        for path, entry in sorted((self.captured.manifest.get("files") or {}).items()):
            if not isinstance(entry, dict):
                continue
            for outcome in ("captured", "absent", "gone", "denied", "timed_out", "failed"):
                count = entry.get(outcome)
                if isinstance(count, int) and count:
                    rows.append(
                        {
                            "path": path,
                            "outcome": outcome,
                            "count": count,
                            "error": None if outcome == "captured" else entry.get("error"),
                        }
                    )
        for err in self.parse_errors:
            rows.append(
                {
                    "path": err["path"],
                    "outcome": "unparsable",
                    "count": 1,
                    "error": f"snapshot {err['snapshot']}: {err['error']}",
                }
            )
        return frame(rows, columns=["path", "outcome", "count", "error"])


def _lookup(keys: pd.Series, table: dict[int, int]) -> pd.arrays.IntegerArray:
    """``table[key]`` for each small non-negative integer key; null when absent.

    >>> _lookup(pd.Series([0, 3, None, 9], dtype="Int64"), {0: 0, 3: 1}).tolist()
    [0, 1, <NA>, <NA>]
    """
    size = max(table, default=-1) + 1
    values = np.zeros(size + 1, np.int64)
    known = np.zeros(size + 1, bool)
    for key, value in table.items():
        if key >= 0:
            values[key], known[key] = value, True
    index = keys.to_numpy(dtype=np.int64, na_value=-1)
    index = np.where((index >= 0) & (index < size), index, size)
    return pd.arrays.IntegerArray(values[index], ~known[index])


def _large(values: pa.Array) -> pa.Array:
    """Strings as large_string, so parts parsed different ways concatenate."""
    return values.cast(pa.large_string()) if pa.types.is_string(values.type) else values


def frame(
    rows: list[dict[str, Any]],
    columns: list[str] | None = None,
    dtypes: dict[str, str] | None = None,
) -> pd.DataFrame:
    """A DataFrame from records with stable, Parquet-safe column types."""
    if not rows:  # no values to type the columns: type them by name
        return pd.DataFrame(
            {
                col: pd.Series(
                    [], dtype=(dtypes or {}).get(col) or _PANDAS_NULL[null_column_type(col)]
                )
                for col in columns or []
            }
        )
    df = pd.DataFrame.from_records(rows, columns=columns)
    if dtypes:
        for col, dtype in dtypes.items():
            if col in df:
                # From the rows, not the column: ints near 2**63 beside a None became floats.
                df[col] = pd.array([row.get(col) for row in rows], dtype=dtype)
    return frame_types(df)


_INT_COLUMNS = ("pid", "ppid", "node", "seq", "sample", "starttime", "priority", "cpu_count")
_PANDAS_NULL = {
    pa.timestamp("us", tz="UTC"): "datetime64[ns, UTC]",
    pa.int64(): "Int64",
    pa.string(): "str",
}


def null_column_type(name: str) -> pa.DataType:
    """The type of a column that has no value to type it by (an empty table, all null).

    Every reader of the Parquet (pandas, pyarrow, DuckDB, Spark) needs a real type, and
    tables of two inputs must agree: times are timestamps, counts and sizes integers.

    >>> [str(null_column_type(n)) for n in ("ts", "pid", "used_bytes", "filename")]
    ['timestamp[us, tz=UTC]', 'int64', 'int64', 'string']
    """
    if name in TIME_COLUMNS:
        return pa.timestamp("us", tz="UTC")
    if name in _INT_COLUMNS or name.endswith(
        ("_bytes", "_kb", "_pages", "_count", "_total", "_free")
    ):
        return pa.int64()
    return pa.string()


def key_columns(name: str) -> list[str]:
    """The documented key columns of a table (docs/tables.md), e.g. snapshot, ts, pid."""
    doc = next((d for d in TABLES if d.name == name), None)
    return [] if doc is None or doc.key == "-" else [c.strip() for c in doc.key.split(",")]


def frame_types(df: pd.DataFrame) -> pd.DataFrame:
    """Integers with gaps become nullable Int64 (never 0 for absent); mixed objects become str."""
    for col in df.columns:
        series = df[col]
        if col == "ts" or str(series.dtype).startswith("datetime"):
            continue
        if series.dtype == float and series.notna().any():
            values = series.dropna()
            if (values == values.round()).all() and values.abs().max() < 2**53 and _was_int(col):
                df[col] = series.astype("Int64")
            continue
        if series.dtype != object:
            continue
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        if inferred == "string":
            continue  # the common case, decided in C
        if inferred == "empty":  # all null: the type a value would have had
            df[col] = series.astype(_PANDAS_NULL[null_column_type(str(col))])
            continue
        if inferred == "integer":
            kinds: set[type] = {int}
        else:
            kinds = {type(v) for v in series if v is not None and not _isnan(v)}
        if not kinds:
            continue
        if kinds <= {int, bool} and bool not in kinds:
            try:
                df[col] = pd.array(series.tolist(), dtype="Int64")
            except (OverflowError, TypeError, ValueError):
                df[col] = series.map(lambda v: None if v is None else str(v))
        elif kinds <= {int, float}:
            df[col] = pd.to_numeric(series, errors="coerce")
        elif kinds == {bool}:
            df[col] = series.astype("boolean")
        elif kinds == {list}:
            continue
        elif kinds != {str}:
            df[col] = series.map(
                lambda v: (
                    None
                    if v is None or _isnan(v)
                    else (json.dumps(v) if isinstance(v, list | dict) else str(v))
                )
            )
    return df


def _was_int(col: str) -> bool:
    return not col.endswith(("_s", "_pct", "avg10", "avg60", "avg300")) and col not in (
        "load1",
        "load5",
        "load15",
    )


def _isnan(v: Any) -> bool:
    return isinstance(v, float) and v != v


def build_tables(captured: CapturedInput) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """All tables of an input, and the warnings met while building them."""
    builder = TableBuilder(captured)
    tables = builder.build()
    return tables, builder.warnings
