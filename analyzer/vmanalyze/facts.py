"""Host facts, typed once per input: what the host is and how it is set up.

:class:`HostFacts` is built once, when an input's tables are built, from every source that
holds a fact, first one that has it wins:

=====================  ===========================================================================
fact                   sources, in order
=====================  ===========================================================================
``hostname``           manifest; ``proc/sys/kernel/hostname``; sos ``hostname`` output
                       (``sos_commands/host/hostname``, ``sos_commands/general/hostname``, root
                       ``hostname``); ``uname -a``; ``etc/hostname``
``kernel_release``     manifest; ``proc/version``; ``proc/sys/kernel/osrelease``; ``uname -a``
``kernel_version``     ``proc/version`` build string; ``uname -a``
``machine``            manifest; ``uname -a``
``boot_time``          manifest (``boot_time_ns``); with ``clock_ticks`` dates process starts
``cpu_count``          manifest; ``processor`` blocks of ``proc/cpuinfo``
``page_size``          manifest; meminfo Mapped / vmstat nr_mapped (or Shmem / nr_shmem)
``mem_total_bytes``... first meminfo snapshot that has the line
``thp_*``              ``sys/kernel/mm/transparent_hugepage`` (first snapshot)
``overcommit_*``...    ``proc/sys/vm/*`` files (first snapshot)
=====================  ===========================================================================

A fact no source holds is ``None``, never NaN or 0. The ``host`` table is these facts as one
row (:meth:`HostFacts.row`); the engine (``ctx.host``), the report, the JSON and the fleet
tables read them back with :meth:`HostFacts.from_tables`, which turns the table's nulls back
into ``None``.

>>> facts = HostFacts(hostname="db01", mem_total_bytes=8 << 30)
>>> facts.as_dict()["hostname"], facts.as_dict()["page_size"] is None
('db01', True)
>>> HostFacts.from_mapping({"hostname": "db01", "cpu_count": float("nan"), "bogus": 1}).cpu_count
>>> page_size_from(16 << 20, 4096)
4096
>>> page_size_from(0, 0) is None
True
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from vmanalyze.parsers.cpuinfo import count_processors
from vmanalyze.parsers.hostname import parse_hostname
from vmanalyze.parsers.uname import parse_uname

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "HOST_DTYPES",
    "HostFacts",
    "build_host_facts",
    "count_samples",
    "page_size_from",
]

#: sos paths of ``uname -a`` (kernel plugin) and ``hostname`` (host plugin since sos 3.6, the
#: general plugin before it), then the links sos puts at the report root.
UNAME_PATHS = ("sos_commands/kernel/uname_-a", "uname")
HOSTNAME_PATHS = (
    "proc/sys/kernel/hostname",
    "sos_commands/host/hostname",
    "sos_commands/general/hostname",
    "hostname",
)
#: Page sizes Linux uses (4 KiB; 16 and 64 KiB on arm64 and ppc64).
_PAGE_SIZES = (4096, 8192, 16384, 65536)
#: The page size assumed when an input does not say: x86-64's, the common case.
DEFAULT_PAGE_SIZE = 4096
_INT_FACTS = (
    "page_size",
    "cpu_count",
    "format_version",
    "samples",
    "mem_total_bytes",
    "swap_total_bytes",
    "hugepages_total",
    "hugepagesize_bytes",
    "hugetlb_bytes",
    "numa_nodes",
    "overcommit_memory",
    "overcommit_ratio",
    "overcommit_kbytes",
    "swappiness",
    "zone_reclaim_mode",
    "clock_ticks",
)


#: Column types of the ``host`` table: the same for every input, so that a fleet's host rows
#: line up whichever facts each input held (an all-null column would otherwise be a string).
HOST_DTYPES: dict[str, str] = {
    **dict.fromkeys(_INT_FACTS, "Int64"),
    "interval_s": "float64",  # NaN is written as null (pyarrow from_pandas)
    **dict.fromkeys(("boot_time", "start", "end"), "datetime64[ns, UTC]"),
}


@dataclass(frozen=True)
class HostFacts:
    """What one input says about its host. Every fact is ``None`` when no source holds it."""

    hostname: str | None = None
    input_kind: str | None = None
    input_sha256: str | None = None
    kernel_release: str | None = None
    machine: str | None = None
    page_size: int | None = None
    cpu_count: int | None = None
    collector_version: str | None = None
    format_version: int | None = None
    interval_s: float | None = None
    samples: int | None = None
    kernel_version: str | None = None
    os: str | None = None
    cpu_model: str | None = None
    mem_total_bytes: int | None = None
    swap_total_bytes: int | None = None
    hugepages_total: int | None = None
    hugepagesize_bytes: int | None = None
    #: The hugetlb pool of every page size (meminfo ``Hugetlb``, 4.16+), else
    #: HugePages_Total x Hugepagesize.
    hugetlb_bytes: int | None = None
    numa_nodes: int | None = None
    thp_enabled: str | None = None
    thp_defrag: str | None = None
    overcommit_memory: int | None = None
    overcommit_ratio: int | None = None
    overcommit_kbytes: int | None = None
    swappiness: int | None = None
    zone_reclaim_mode: int | None = None
    #: When the host booted (manifest ``boot_time_ns``) and the clock tick of /proc/PID/stat
    #: times (``clock_ticks``, USER_HZ): together they date a process's ``starttime``.
    boot_time: pd.Timestamp | None = None
    clock_ticks: int | None = None
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None

    @property
    def page_size_or_default(self) -> int:
        """``page_size``, or :data:`DEFAULT_PAGE_SIZE` when the input does not say.

        >>> HostFacts(page_size=65536).page_size_or_default, HostFacts().page_size_or_default
        (65536, 4096)
        """
        return self.page_size if self.page_size and self.page_size > 0 else DEFAULT_PAGE_SIZE

    def process_start(self, starttime: float) -> pd.Timestamp | None:
        """When a process with /proc/PID/stat ``starttime`` (ticks after boot) started."""
        if self.boot_time is None or not self.clock_ticks or _missing(starttime):
            return None
        return self.boot_time + pd.Timedelta(seconds=float(starttime) / self.clock_ticks)

    def as_dict(self) -> dict[str, Any]:
        """The facts by name (what rules see as ``ctx.host``)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def row(self) -> dict[str, Any]:
        """The facts as the one row of the ``host`` table."""
        return self.as_dict()

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> HostFacts:
        """Facts from a mapping (a ``host`` table row, an old cache): NaN/NaT become ``None``,
        whole floats of integer facts become ``int``, unknown keys are ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        clean: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known or _missing(value):
                continue
            if key in _INT_FACTS:
                try:
                    value = int(value)
                except (TypeError, ValueError):
                    continue
            elif key == "interval_s":
                value = float(value)
            elif key in ("start", "end", "boot_time"):
                value = pd.Timestamp(value)
            elif not isinstance(value, str):
                value = str(value)
            clean[key] = value
        return cls(**clean)

    @classmethod
    def from_tables(cls, tables: Mapping[str, pd.DataFrame]) -> HostFacts:
        """The facts of the ``host`` table (empty facts without one)."""
        host = tables.get("host")
        if not isinstance(host, pd.DataFrame) or host.empty:
            return cls()
        return cls.from_mapping({str(k): v for k, v in host.iloc[0].items()})


def _missing(value: Any) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def page_size_from(size_bytes: Any, pages: Any) -> int | None:
    """The page size that a meminfo size (bytes) over its vmstat page count implies, if it is
    one Linux uses."""
    if _missing(size_bytes) or _missing(pages) or not size_bytes or not pages:
        return None
    ratio = float(size_bytes) / float(pages)
    for size in _PAGE_SIZES:
        if abs(ratio - size) <= size * 0.01:
            return size
    return None


def _first_value(df: pd.DataFrame | None, column: str) -> Any:
    if df is None or df.empty or column not in df.columns:
        return None
    values = df[column].dropna()
    return values.iloc[0] if len(values) else None


#: meminfo lines that are a vmstat page count times the page size, read from the same counter
#: (fs/proc/meminfo.c). MemFree is not one: on recent kernels it is not nr_free_pages x page.
_PAGE_PAIRS = (("mapped_bytes", "nr_mapped"), ("shmem_bytes", "nr_shmem"))


def _page_size(tables: Mapping[str, pd.DataFrame]) -> int | None:
    meminfo, vmstat = tables.get("meminfo"), tables.get("vmstat")
    if meminfo is None or vmstat is None or meminfo.empty or vmstat.empty:
        return None
    for mem_col, vm_col in _PAGE_PAIRS:
        if mem_col not in meminfo.columns or vm_col not in vmstat.columns:
            continue
        both = meminfo[["snapshot", mem_col]].merge(vmstat[["snapshot", vm_col]], on="snapshot")
        for mem_value, pages in zip(both[mem_col], both[vm_col], strict=True):
            size = page_size_from(mem_value, pages)
            if size:
                return size
    return None


def _setting(df: pd.DataFrame | None, key: str, name: str, column: str) -> Any:
    if df is None or df.empty or key not in df.columns:
        return None
    return _first_value(df[df[key] == name], column)


def count_samples(tables: Mapping[str, pd.DataFrame]) -> int:
    """How many samples an input holds: the one definition of the count, from the
    ``samples`` table (the host facts' ``samples``, the dataset's, the JSON's and the one
    the rules see all come from here).

    Its rows whose ``phase`` is ``sample`` (the ``start``/``end`` snapshots of a bundle are
    not counted), or all its rows when there are none such (a single snapshot, such as a
    sosreport). Without a ``samples`` table: 1 when any table has rows, else 0. A slice of
    an input's tables counts the samples the slice holds.

    >>> count_samples({"samples": pd.DataFrame({"phase": ["start", "sample", "sample", "end"]})})
    2
    >>> count_samples({"samples": pd.DataFrame({"phase": ["start", "end"]})})
    2
    >>> count_samples({"meminfo": pd.DataFrame({"mem_total_bytes": [1]})}), count_samples({})
    (1, 0)
    """
    samples = tables.get("samples")
    if isinstance(samples, pd.DataFrame):
        if "phase" in samples.columns:
            count = int((samples["phase"] == "sample").sum())
            if count:
                return count
        return len(samples)
    return int(any(isinstance(df, pd.DataFrame) and not df.empty for df in tables.values()))


def build_host_facts(
    manifest: Mapping[str, Any],
    kind: str,
    sha256: str,
    text: Callable[[str], str | None],
    first: Callable[[str], dict[str, Any] | None],
    tables: Mapping[str, pd.DataFrame],
) -> HostFacts:
    """Gather the facts of one input.

    ``text(path)`` is the first record of a captured file (``None`` when absent), ``first``
    the first parsed record of a source, ``tables`` the input's other tables (``samples``
    among them: :func:`count_samples`).
    """
    host = dict(manifest.get("host") or {})
    opts = manifest.get("options") or {}
    found: dict[str, Any] = {
        "hostname": host.get("hostname"),
        "input_kind": kind,
        "input_sha256": sha256,
        "kernel_release": host.get("kernel_release"),
        "machine": host.get("machine"),
        "page_size": host.get("page_size"),
        "cpu_count": host.get("cpu_count"),
        "collector_version": (manifest.get("collector") or {}).get("version"),
        "format_version": manifest.get("format_version"),
        "interval_s": opts.get("interval_s"),
        "samples": count_samples(tables),
        "clock_ticks": host.get("clock_ticks"),
    }
    boot_ns = host.get("boot_time_ns")
    if isinstance(boot_ns, int) and boot_ns > 0:
        found["boot_time"] = pd.Timestamp(boot_ns, unit="ns", tz="UTC")

    def fill(key: str, value: Any) -> None:
        if found.get(key) in (None, "") and value not in (None, ""):
            found[key] = value

    for source in ("version", "osrelease"):
        parsed = first(source) or {}
        fill("kernel_release", parsed.get("kernel_release"))
        fill("kernel_version", parsed.get("build_version"))
    for path in HOSTNAME_PATHS:
        raw = text(path)
        fill("hostname", parse_hostname(raw) if raw else None)
    for path in UNAME_PATHS:
        raw = text(path)
        if raw and raw.strip():
            try:
                uname = parse_uname(raw)
            except ValueError:
                continue
            for key in ("kernel_release", "kernel_version", "machine"):
                fill(key, uname[key])
            fill("hostname", parse_hostname(uname["hostname"] or ""))
    raw = text("etc/hostname")
    fill("hostname", parse_hostname(raw) if raw else None)
    osr = first("os_release") or {}
    fill("os", osr.get("PRETTY_NAME") or osr.get("pretty_name") or osr.get("NAME"))
    cpu = first("cpuinfo") or {}
    fill("cpu_model", cpu.get("model_name") or cpu.get("model name"))
    raw = text("proc/cpuinfo")
    fill("cpu_count", count_processors(raw) if raw else None)
    fill("page_size", _page_size(tables))

    mem = tables.get("meminfo")
    for col in ("mem_total_bytes", "swap_total_bytes", "hugepages_total", "hugepagesize_bytes"):
        fill(col, _first_value(mem, col))
    hugetlb = _first_value(mem, "hugetlb_bytes")
    if hugetlb is None and found.get("hugepages_total") is not None:
        hugetlb = int(found["hugepages_total"]) * int(found.get("hugepagesize_bytes") or 0)
    fill("hugetlb_bytes", hugetlb)
    topo = tables.get("numa_topology")
    fill("numa_nodes", len(topo) if topo is not None and not topo.empty else host.get("numa_nodes"))
    thp = tables.get("thp")
    for setting in ("enabled", "defrag"):
        fill(f"thp_{setting}", _setting(thp, "setting", setting, "value"))
    sysctl = tables.get("sysctl_vm")
    for name in (
        "overcommit_memory",
        "overcommit_ratio",
        "overcommit_kbytes",
        "swappiness",
        "zone_reclaim_mode",
    ):
        fill(name, _setting(sysctl, "name", name, "value_int"))
    samples = tables.get("samples")
    if samples is not None and not samples.empty and samples["ts"].notna().any():
        found["start"], found["end"] = samples["ts"].min(), samples["ts"].max()
    return HostFacts.from_mapping(found)
