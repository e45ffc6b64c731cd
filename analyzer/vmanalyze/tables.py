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
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from vmanalyze.clock import NS, local_to_ns
from vmanalyze.errors import ParseError, SkipSource
from vmanalyze.facts import DEFAULT_PAGE_SIZE, HOST_DTYPES, build_host_facts
from vmanalyze.inputs import CapturedInput, split_member
from vmanalyze.packs import Pack
from vmanalyze.parsers import SOURCES, match_sources
from vmanalyze.parsers import df as df_parser
from vmanalyze.parsers._common import Columns, Labels
from vmanalyze.parsers.kernel_log import syslog_time
from vmanalyze.parsers.mounts import parse_mounts
from vmanalyze.parsers.pid_stat import stat_from_pack, stat_from_records
from vmanalyze.parsers.pid_status import status_from_pack, status_from_records
from vmanalyze.parsers.sysctl_a import vm_settings
from vmanalyze.parsers.zoneinfo import parse_zoneinfo_blocks
from vmanalyze.paths import any_process, pid_of
from vmanalyze.process_summary import summarize_processes
from vmanalyze.tables_doc import TABLES, TIME_COLUMNS

#: Packs parsed at the same time (see _pid_table); on two cores, two take a third off.
PACK_THREADS = 2
_NODE = re.compile(r"/node([0-9]+)/")
_HUGEPAGE_SIZE = re.compile(r"hugepages-([0-9]+)kB")
_CGROUP_V2_ROOTS = ("sys/fs/cgroup/unified", "sys/fs/cgroup")
_CGROUP_V1_ROOT = "sys/fs/cgroup/memory"


def _sources_for(path: str) -> tuple[str, ...]:
    """Sources of a captured path; per-process paths share one lookup (a bundle has ~10^4)."""
    return _sources_for_pattern(any_process(path))


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


def _checked_mount_table(text: str) -> str:
    """A mount table's text, once it parses (a ParseError otherwise)."""
    parse_mounts(text)
    return text


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
                try:
                    text = (
                        _gunzip(data).decode("utf-8", "replace")
                        if path.endswith(".gz")
                        else (data.decode("utf-8", "replace"))
                    )
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
        parse: Callable[[str], Any] | None = None,
    ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for path, label, parsed in self._records(source, consume, parse):
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
        if t["sys_node_numastat"].empty:  # a sosreport without the node directory
            t["sys_node_numastat"] = frame(self._rows("numastat"))
        t["numa_topology"] = self.numa_topology()
        t["hugepages"] = self.hugepages()
        t["sysctl_vm"] = self.sysctl_vm()
        t["thp"] = self.thp()
        t["ksm"] = frame(self._rows("sys_kernel_mm_ksm", lambda p: {"name": p.rsplit("/", 1)[1]}))
        zram = self._rows("sys_block_zram", lambda p: {"device": p.split("/")[2]})
        t["zram"] = frame(zram, columns=None if zram else ["snapshot", "ts", "device"])
        t["cgroup_memory"] = self.cgroup_memory()
        t["pid_stat"] = self.pid_stat()
        t["pid_status"] = self.pid_status()
        t["pid_smaps_rollup"] = frame(self._rows("pid_smaps_rollup", self._pid_context))
        t["pid_numa_maps"] = self.pid_numa_maps()
        t["slabinfo"] = self.slabinfo()
        t["slabtop"] = frame(self._rows("slabtop"))
        t["tmpfs_mounts"] = self.tmpfs_mounts()
        t["free"] = frame(self._rows("free"))
        t["swapon"] = frame(self._rows("swapon"))
        t["ps"] = self.ps()
        t["process_samples"] = self.process_samples(t)
        t["processes"] = self.processes(t)
        if t["pid_stat"].empty and not t["ps"].empty:  # a sosreport: ps is the process list
            t["process_samples"], t["processes"] = ps_processes(t["ps"], self.page_size)
        t["oom_events"] = self.oom_events()
        t["host"] = self.host(t)
        t["collection_health"] = self.collection_health()
        # A table with no data still has its key columns: a Parquet file without columns
        # is unreadable to Spark, and a fleet's tables must line up.
        tables = {
            name: frame([], key_columns(name)) if not len(df.columns) else df
            for name, df in t.items()
            if df is not None
        }
        numbers = self.snapshot_numbers()
        for df in tables.values():
            if "snapshot" in df.columns:
                df["snapshot"] = snapshot_column(df["snapshot"], numbers)
        return tables

    def snapshot_numbers(self) -> dict[str, int]:
        """Snapshot label -> its number: ``start`` -1, samples their own, ``end`` last + 1.

        ``ORDER BY snapshot`` is then time order; ``samples.phase`` tells start, sample, end.
        """
        labels = [s.label for s in self.captured.snapshots]
        last = max((int(label) for label in labels if label.isdigit()), default=-1)
        numbers = {label: int(label) for label in labels if label.isdigit()}
        numbers.update(start=-1, end=last + 1)
        return numbers

    def samples(self) -> pd.DataFrame:
        rows = []
        for s in self.captured.snapshots:
            phase = s.label if s.label in ("start", "end") else "sample"
            rows.append(
                {
                    "snapshot": s.label,
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
        pid = pid_of(path)
        return {"pid": pid} if pid is not None else {}

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

    def slabinfo(self) -> pd.DataFrame:
        """The slab caches of each snapshot that has /proc/slabinfo, with their size in bytes."""
        rows = self._rows("slabinfo")
        size = self.page_size
        for row in rows:
            row["cache_size_bytes"] = row["pages"] * size
        return frame(rows)

    def tmpfs_mounts(self) -> pd.DataFrame:
        """The collector's statvfs of the tmpfs mounts; in a sosreport, `df`'s tmpfs rows,
        told by the mount table's types when the sosreport has one (parsers/df.py)."""
        rows = self._rows("tmpfs_mounts")
        if not rows:
            mounts = self._mount_table()
            rows = self._rows("df", parse=lambda text: df_parser.parse_df(text, mounts))
        df = frame(rows)
        for column in ("inodes", "inodes_free"):  # null throughout in a sosreport
            if column in df.columns:
                df[column] = df[column].astype("Int64")
        return df

    def _mount_table(self) -> str | None:
        """The text of the input's mount table that parses: ``mount -l``'s, else ``proc/mounts``
        (a table that does not parse is a warning, and ``df`` is read without it)."""
        texts = {
            path: text for path, _label, text in self._records("mounts", parse=_checked_mount_table)
        }
        preferred = sorted(texts, key=lambda path: not path.endswith("mount_-l"))
        return texts[preferred[0]] if preferred else None

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
        if not nodes:  # a sosreport without /sys/devices/system/node: numactl --hardware
            for _path, _label, parsed in self._records("numactl"):
                for item in parsed:
                    nodes.setdefault(
                        item["node"],
                        {
                            "node": item["node"],
                            "cpus": item["cpus"],
                            "distances": item["distances"],
                        },
                    )
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
        # sysctl -a (sosreports) gives the vm.* settings that no /proc/sys/vm file gave.
        files = {path.rsplit("/", 1)[1] for path in self.by_source.get("sysctl_vm", ())}
        from_command = [
            (f"proc/sys/vm/{name}", label, value)
            for _path, label, parsed in self._records("sysctl_a")
            for name, value in vm_settings(parsed).items()
            if name not in files
        ]
        for path, label, value in [*self._records("sysctl_vm"), *from_command]:
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

        :data:`~vmanalyze.parsers.pid_status.PID_STATUS_FIELDS` only (``kB`` in bytes, list
        fields as the kernel prints them); the full parser,
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
        """One row per process (pid + start time): identity, first and last seen (the
        per-process summary, vmanalyze.process_summary)."""
        data = summarize_processes(t["process_samples"]) if not t["pid_stat"].empty else None
        if data is None:
            return frame([], columns=["pid", "starttime", "comm", "cmdline", "cgroup"])
        summary = data.summary.sort_values(["pid", "starttime"], kind="stable")
        out = pd.DataFrame(
            {
                "pid": summary["pid"].astype("Int64").array,
                "starttime": summary["starttime"].astype("Int64").array,
                "comm": summary["comm"].to_numpy(),
                "first_seen": summary["first_seen"].to_numpy(),
                "last_seen": summary["last_seen"].to_numpy(),
                "snapshots": summary["samples"].to_numpy(),
                "max_rss_bytes": summary["rss_max"].astype("Int64").array,
            }
        )
        cmdlines: dict[int, str] = {}
        for path, records in self.captured.files.items():
            pid = pid_of(path)
            if pid is not None and path.endswith("/cmdline") and records:
                raw = records[-1][1]
                cmdlines[pid] = raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")
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
        for path, label, parsed in self._records("kmsg"):
            for event in parsed:
                key = event.get("seq") or json.dumps(event, sort_keys=True, default=str)
                if key in seen:
                    continue
                seen.add(key)
                rows.append({"snapshot": label, "ts": self.ts.get(label), **event, "source": path})
        rows.extend(self._text_log_events())
        return frame(rows)

    def _text_log_events(self) -> list[dict[str, Any]]:
        """Events of a report's text logs (dmesg, journal, syslog), each record once.

        ``dmesg`` comes first (exact kernel time stamps), then the journal and syslog files;
        a record also in an earlier source (same event and message within 2 s) is dropped.
        ``usec`` of a syslog line without kernel time stamp, or of an earlier boot, is derived
        from its wall time and this boot's time (negative before this boot), so that every
        record converts to wall time the same way.
        """
        clock = self.captured.manifest.get("clock") or {}
        offset, boot = clock.get("utc_offset_s"), clock.get("boot_ns")
        snapshot = self.captured.snapshots[0]
        year = self.ts.get(snapshot.label)
        kept: dict[tuple[str, str], list[int | None]] = defaultdict(list)
        rows = []
        for source in ("dmesg", "syslog"):
            for path, label, parsed in self._records(source):
                for event in parsed:
                    at = self._event_ns(event, offset, boot, year)
                    if at is not None and boot is not None and (event["usec"] is None or at < boot):
                        # since this boot; negative for a record of an earlier boot
                        event["usec"] = (at - boot) // 1000
                    key = (event["event"], event["message"])
                    if any(
                        (at is None) == (seen is None) and (at is None or abs(at - seen) <= 2 * NS)  # type: ignore[operator]
                        for seen in kept[key]
                    ):
                        continue
                    kept[key].append(at)
                    event.pop("log_time", None)
                    rows.append(
                        {"snapshot": label, "ts": self.ts.get(label), **event, "source": path}
                    )
        return rows

    @staticmethod
    def _event_ns(
        event: dict[str, Any], offset: int | None, boot: int | None, now: pd.Timestamp | None
    ) -> int | None:
        """Wall time (ns) of a text-log event: its syslog time, else boot + kernel time."""
        log_time = event.get("log_time")
        if log_time and now is not None:
            iso = syslog_time(log_time, now.year)
            at = local_to_ns(iso, offset) if iso else None
            if at is not None and at > now.value + 86400 * NS:  # December's lines in January
                iso = syslog_time(log_time, now.year - 1)
                at = local_to_ns(iso, offset) if iso else None
            if at is not None:
                return at
        if event.get("usec") is not None and boot is not None:
            return int(boot + event["usec"] * 1000)
        return None

    def ps(self) -> pd.DataFrame:
        """One row per process of the report's ps listings, the variants merged by pid."""
        merged: dict[int, dict[str, Any]] = {}
        label = "0"
        # ps auxwww first: its rss, vsz, user and command win over the other variants.
        paths = sorted(self.by_source.get("ps", ()), key=lambda p: ("auxwww" not in p, p))
        for path in paths:
            for label, data in self.captured.files.get(path, []):
                try:
                    parsed = SOURCES["ps"].parse(data.decode("utf-8", "replace"))
                except SkipSource:
                    continue
                except (ParseError, ValueError, IndexError, KeyError) as exc:
                    self._parse_error(path, label, exc)
                    continue
                for row in parsed:
                    into = merged.setdefault(row["pid"], {})
                    for key, value in row.items():
                        if into.get(key) is None:
                            into[key] = value
        if not merged:
            return frame([], columns=key_columns("ps"))
        ts = self.ts.get(label)
        clock = self.captured.manifest.get("clock") or {}
        offset, boot = clock.get("utc_offset_s"), clock.get("boot_ns")
        rows = []
        for pid in sorted(merged):
            row = merged[pid]
            start_ns = ps_start_ns(row.get("started"), row.get("start"), ts, offset)
            ticks = (
                max(0, (start_ns - boot) * USER_HZ // NS)
                if start_ns is not None and boot is not None
                else None
            )
            rows.append(
                {
                    "snapshot": label,
                    "ts": ts,
                    **row,
                    "comm": row.get("comm") or comm_of(row.get("command")),
                    "start_time": (
                        pd.Timestamp(start_ns, unit="ns", tz="UTC")
                        if start_ns is not None
                        else None
                    ),
                    "starttime": ticks,
                }
            )
        return frame(rows)

    @property
    def page_size(self) -> int:
        host = self.captured.manifest.get("host") or {}
        size = host.get("page_size")
        return int(size) if isinstance(size, int) and size > 0 else DEFAULT_PAGE_SIZE

    def host(self, t: dict[str, pd.DataFrame]) -> pd.DataFrame:
        facts = build_host_facts(
            self.captured.manifest,
            self.captured.kind,
            self.captured.sha256,
            self._text,
            self._first,
            t,
        )
        return frame([facts.row()], dtypes=HOST_DTYPES)

    def _text(self, path: str) -> str | None:
        records = self.captured.files.get(path)
        return records[0][1].decode("utf-8", "replace") if records else None

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


#: Largest decompressed rotated log read (``kern.log.2.gz``): more is refused, not read.
GUNZIP_LIMIT = 256 << 20


def _gunzip(data: bytes, limit: int = GUNZIP_LIMIT) -> bytes:
    """A gzip member's content, at most `limit` bytes (a bomb raises ValueError).

    >>> import gzip
    >>> _gunzip(gzip.compress(b"x" * 10))
    b'xxxxxxxxxx'
    >>> _gunzip(gzip.compress(b"x" * 10), limit=5)
    Traceback (most recent call last):
    ValueError: decompresses to more than 5 bytes
    """
    inflate = zlib.decompressobj(wbits=47)  # gzip or zlib header
    try:
        out = inflate.decompress(data, limit + 1)
    except zlib.error as exc:
        raise ValueError(f"not gzip: {exc}") from None
    if len(out) > limit:
        raise ValueError(f"decompresses to more than {limit} bytes")
    return out


#: Clock ticks per second of /proc/<pid>/stat's starttime (USER_HZ: 100 on Linux).
USER_HZ = 100
_PS_LSTART = "%a %b %d %H:%M:%S %Y"


def ps_start_ns(
    started: str | None, start: str | None, now: pd.Timestamp | None, offset: int | None
) -> int | None:
    """Start time (ns since the epoch) of a ps row: ``lstart``, else a same-day ``START``.

    ``START`` as ``HH:MM`` (or ``HH:MM:SS``) is today's local time; a later one is yesterday's
    (procps prints the time only for processes started in the last 24 hours). ``Dec05`` or a
    year says too little: ``None``.

    >>> now = pd.Timestamp("2026-12-06 06:18:13", tz="UTC")
    >>> pd.Timestamp(ps_start_ns("Sun Dec 6 06:18:00 2026", None, now, 3600), tz="UTC")
    Timestamp('2026-12-06 05:18:00+0000', tz='UTC')
    >>> pd.Timestamp(ps_start_ns(None, "23:50", now, 0), tz="UTC")
    Timestamp('2026-12-05 23:50:00+0000', tz='UTC')
    >>> ps_start_ns(None, "Dec05", now, 0) is None
    True
    """
    if offset is None:
        return None
    if started:
        try:
            moment = datetime.strptime(started, _PS_LSTART)
        except ValueError:
            return None
        return local_to_ns(moment.isoformat(), offset)
    if now is None or not start or not re.match(r"^\d\d:\d\d(:\d\d)?$", start):
        return None
    local_now = now.tz_localize(None) + pd.Timedelta(seconds=offset)
    hms = start if start.count(":") == 2 else start + ":00"
    moment = datetime.fromisoformat(f"{local_now.date().isoformat()}T{hms}")
    if moment > local_now.to_pydatetime() + pd.Timedelta(minutes=1):
        moment -= pd.Timedelta(days=1)
    return local_to_ns(moment.isoformat(), offset)


def comm_of(command: str | None) -> str | None:
    """The 15-character comm a command line stands for (``[kthreadd]`` -> ``kthreadd``).

    >>> comm_of("/usr/lib/postgresql/15/bin/postgres -D /data")
    'postgres'
    >>> comm_of("postgres: 15/main: walwriter"), comm_of("[kworker/0:1-events]")
    ('postgres', 'kworker/0:1-eve')
    """
    if not command:
        return None
    if command.startswith("[") and command.endswith("]"):
        return command[1:-1][:15]
    first = command.split()[0].rsplit("/", 1)[-1].rstrip(":")
    return first[:15] or None


def _memory_cgroup(cgroups: str | None) -> str | None:
    """The memory cgroup of ps's ``cgroup`` column (``4:memory:/a,0::/b``): v1, else v2."""
    if not isinstance(cgroups, str) or cgroups in ("", "-"):
        return None
    entries = [entry.split(":", 2) for entry in cgroups.split(",") if entry.count(":") >= 2]
    for wanted in ("memory", ""):
        for entry in entries:
            if wanted in entry[1].split(",") or (wanted == "" and entry[1] == ""):
                return entry[2]
    return None


def ps_processes(ps: pd.DataFrame, page_size: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """process_samples and processes of a one-snapshot input whose process list is ps."""
    samples = pd.DataFrame(
        {
            "snapshot": ps["snapshot"],
            "ts": ps["ts"],
            "pid": ps["pid"],
            "starttime": ps["starttime"],
            "comm": ps["comm"],
            "state": ps["state"].map(lambda s: s[:1] if isinstance(s, str) else None),  # Ss -> S
            "ppid": ps["ppid"],
            "num_threads": ps["nlwp"],
            "vsize": ps["vsz_bytes"],
            "rss": ps["rss_bytes"] // page_size,
            "rss_bytes": ps["rss_bytes"],
        }
    )
    for col in ("minflt", "majflt", "utime", "stime", "processor", "cpu_node"):
        samples[col] = pd.array([None] * len(samples), dtype="Int64")
    processes = pd.DataFrame(
        {
            "pid": ps["pid"],
            "starttime": ps["starttime"],
            "comm": ps["comm"],
            "first_seen": ps["ts"],
            "last_seen": ps["ts"],
            "snapshots": 1,
            "max_rss_bytes": ps["rss_bytes"],
            "cmdline": ps["command"],
            "cgroup": ps["cgroup"].map(_memory_cgroup),
        }
    )
    return frame_types(samples), frame_types(processes)


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


_INT_COLUMNS = ("snapshot", "pid", "ppid", "node", "seq", "starttime", "priority", "cpu_count")
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


def snapshot_column(labels: pd.Series, numbers: dict[str, int]) -> pd.Series:
    """Snapshot labels (``start``, ``0``, ..., ``end``) as int64 numbers; see docs/tables.md.

    >>> snapshot_column(pd.Series(["start", "0", "10", "end"]), {"start": -1, "end": 11}).tolist()
    [-1, 0, 10, 11]
    """
    if labels.empty or pd.api.types.is_integer_dtype(labels.dtype):
        return labels.astype("int64")
    text = labels.astype(str)
    mapped = text.map(numbers)
    missing = mapped.isna()
    if missing.any():  # a label that is no snapshot of the input: its own number if it has one
        mapped[missing] = pd.to_numeric(text[missing], errors="coerce")
    return mapped.astype("Int64") if mapped.isna().any() else mapped.astype("int64")


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
