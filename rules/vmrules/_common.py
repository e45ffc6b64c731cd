"""Helpers shared by the built-in rules: units and formatting, time windows and shares,
settings (sysctl, THP), counter windows, database detection.

Rules compute their numbers from the tables themselves; these helpers keep the formatting and
the repeated calculations identical across rules. Everything here is pure: it reads
DataFrames and returns numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from vmanalyze import HostFacts, counter_rates, stall_pct
from vmanalyze import fmt_bytes as fmt_bytes  # the rules' byte text is the analyzer's

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

#: Limits at or above this are "no limit" (cgroup v1 prints PAGE_COUNTER_MAX * page size).
UNLIMITED_BYTES = 1 << 62


def page_size(host: Mapping[str, Any]) -> int:
    """The page size from the host facts (``ctx.host``): HostFacts.page_size_or_default."""
    return HostFacts.from_mapping({"page_size": host.get("page_size")}).page_size_or_default


def hugetlb_bytes(meminfo: pd.DataFrame) -> pd.Series:
    """The hugetlb pool per snapshot: HugePages_Total x Hugepagesize (``Hugetlb`` if larger,
    which also counts pools of the other page sizes)."""
    pool = pd.Series(0.0, index=meminfo.index)
    if "hugepages_total" in meminfo.columns and "hugepagesize_bytes" in meminfo.columns:
        pool = (meminfo["hugepages_total"].astype(float) * meminfo["hugepagesize_bytes"]).fillna(0)
    if "hugetlb_bytes" in meminfo.columns:
        pool = pool.combine(meminfo["hugetlb_bytes"].astype(float).fillna(0), max)
    return pool


def mib(value: float) -> float:
    """Bytes to MiB, rounded to 0.1."""
    return round(float(value) / MIB, 1)


def rnd(value: float, digits: int = 2) -> float:
    """A float rounded for messages and evidence (NaN stays NaN)."""
    return round(float(value), digits)


def when(ts: Any) -> str:
    """A timestamp as ``HH:MM:SSZ`` for messages (``?`` when unknown)."""
    if ts is None:
        return "?"
    try:
        stamp = pd.Timestamp(ts)
    except (TypeError, ValueError):
        return "?"
    if pd.isna(stamp):
        return "?"
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC")
    return stamp.strftime("%H:%M:%SZ")


def listed(parts: list[str], more: int, what: str = "") -> str:
    """Items of a message joined with "; ", and how many more were left out.

    >>> listed(["a", "b"], 0), listed(["a"], 2), listed(["a"], 1, "kinds")
    ('a; b', 'a; and 2 more', 'a; and 1 more kinds')
    """
    tail = f"; and {more} more" + (f" {what}" if what else "") if more > 0 else ""
    return "; ".join(parts) + tail


def duration(seconds: float) -> str:
    """``42 s``, ``12 min``, ``3.5 h``, ``2.1 d``: a human duration for messages."""
    s = float(seconds)
    if s < 120:
        return f"{s:.0f} s"
    if s < 2 * 3600:
        return f"{s / 60:.0f} min"
    if s < 2 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"


def time_share(mask: pd.Series, interval_s: pd.Series) -> float:
    """The share (0..1) of the total interval time during which ``mask`` holds.

    Intervals are weighted by their length, so the short intervals next to a bundle's
    ``start``/``end`` snapshots and late samples count for what they cover.
    """
    total = float(interval_s.sum())
    if total <= 0:
        return 0.0
    return float(interval_s[mask.fillna(False).astype(bool)].sum()) / total


def psi_share(pressure: pd.DataFrame | None, ends: pd.Series) -> dict[str, float]:
    """PSI memory some/full stall share (percent) over the intervals ending at ``ends``."""
    if pressure is None or not timed(pressure):
        return {}
    rates = counter_rates(pressure, ["some_total_us", "full_total_us"])
    rates = rates[rates["ts"].isin(set(ends)) & (rates["interval_s"] > 0)]
    seconds = float(rates["interval_s"].sum())
    out: dict[str, float] = {}
    if seconds <= 0:
        return out
    for kind in ("some", "full"):
        col = f"{kind}_total_us_delta"
        if col in rates.columns and rates[col].notna().any():
            out[f"psi_{kind}_pct"] = rnd(stall_pct(rates[col].sum(), seconds), 1)
    return out


def sample_snapshots(samples: pd.DataFrame | None) -> list[str]:
    """The snapshot labels of the ``samples`` table, in time order (``[]`` without one)."""
    if samples is None or samples.empty or "snapshot" not in samples.columns:
        return []
    ordered = samples.sort_values("ts") if "ts" in samples.columns else samples
    return [str(s) for s in ordered["snapshot"]]


def timed(df: pd.DataFrame | None) -> bool:
    """True when ``df`` has at least two timestamped rows, so counter rates can be computed.

    One-snapshot inputs (a sosreport, a copied /proc) have a single row or no ``ts`` at all.
    """
    if df is None or "ts" not in df.columns:
        return False
    ts = df["ts"]
    return bool(pd.api.types.is_datetime64_any_dtype(ts) and ts.notna().sum() >= 2)


def stamp(value: Any) -> pd.Timestamp | None:
    """``value`` as a Timestamp for ``Finding.start``/``end``, or None when it is unknown."""
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    return None if pd.isna(ts) else ts


def fmt_rate(value: float) -> str:
    """A per-second rate for messages: ``18522/s``, ``3.4/s``."""
    v = float(value)
    return f"{v:.0f}/s" if abs(v) >= 100 else f"{v:.1f}/s"


def ordered(df: pd.DataFrame) -> pd.DataFrame:
    """All rows (``start``, samples, ``end``: every one is a real observation) in time order."""
    return df.sort_values("ts", kind="stable") if "ts" in df.columns else df


def last_value(df: pd.DataFrame, column: str) -> Any:
    """The value of ``column`` in the latest row that has one (``None`` if none has)."""
    if column not in df.columns:
        return None
    values = ordered(df)[column].dropna()
    return None if values.empty else values.iloc[-1]


def sysctl_series(sysctl_vm: pd.DataFrame | None, name: str) -> pd.DataFrame:
    """The rows of one ``vm.<name>`` sysctl (snapshot, ts, value, value_int), time-ordered."""
    if sysctl_vm is None or sysctl_vm.empty:
        return pd.DataFrame(columns=["snapshot", "ts", "value", "value_int"])
    return ordered(sysctl_vm[sysctl_vm["name"] == name])


def sysctl_int(sysctl_vm: pd.DataFrame | None, name: str) -> int | None:
    """The latest integer value of ``vm.<name>``, ``None`` when it was not captured."""
    rows = sysctl_series(sysctl_vm, name)
    if rows.empty:
        return None
    column = "value_int" if "value_int" in rows.columns else "value"
    values = pd.to_numeric(rows[column], errors="coerce").dropna()
    return None if values.empty else int(values.iloc[-1])


def thp_setting(thp: pd.DataFrame | None, setting: str) -> pd.DataFrame:
    """The rows of one THP sysfs setting (``enabled``, ``defrag``...), time-ordered."""
    if thp is None or thp.empty:
        return pd.DataFrame(columns=["snapshot", "ts", "setting", "value"])
    return ordered(thp[thp["setting"] == setting])


def node_count(host: Mapping[str, Any], topology: pd.DataFrame | None = None) -> int:
    """How many NUMA nodes the host has: the topology table, else the host facts, else 1."""
    if topology is not None and not topology.empty and "node" in topology.columns:
        return int(topology["node"].nunique())
    value = host.get("numa_nodes")
    try:
        if value is not None and not pd.isna(value):
            return int(value)
    except (TypeError, ValueError):
        pass
    return 1


@dataclass(frozen=True)
class Window:
    """Rates of some counters over a bundle: per interval, and summed over the window."""

    intervals: pd.DataFrame
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    seconds: float

    def total(self, counter: str, mask: pd.Series | None = None) -> float:
        """The counter's increase over the window (or over the intervals of ``mask``)."""
        col = f"{counter}_delta"
        if col not in self.intervals.columns:
            return 0.0
        values = self.intervals[col]
        if mask is not None:
            values = values[mask]
        return float(values.sum(skipna=True))

    def mean_rate(self, counter: str, mask: pd.Series | None = None) -> float:
        """Increase per second over the window (or over the intervals of ``mask``)."""
        seconds = self.seconds if mask is None else float(self.intervals["interval_s"][mask].sum())
        return self.total(counter, mask) / seconds if seconds > 0 else 0.0

    def peak(self, counter: str) -> tuple[float, pd.Timestamp | None]:
        """The highest per-second rate of one interval, and the end of that interval."""
        col = f"{counter}_per_s"
        if col not in self.intervals.columns or self.intervals[col].dropna().empty:
            return 0.0, None
        idx = self.intervals[col].idxmax()
        return float(self.intervals.at[idx, col]), self.intervals.at[idx, "ts"]

    def time_share(self, mask: pd.Series) -> float:
        """The share (0..1) of the window's time covered by the intervals of ``mask``."""
        if self.seconds <= 0:
            return 0.0
        return float(self.intervals["interval_s"][mask.fillna(False)].sum()) / self.seconds


def window_rates(df: pd.DataFrame, counters: Iterable[str], by: Iterable[str] = ()) -> Window:
    """:func:`counter_rates` over every row of ``df``, with the window's bounds and length."""
    rates = counter_rates(df, list(counters), by=list(by))
    if rates.empty:
        return Window(rates, None, None, 0.0)
    seconds = float(rates["interval_s"].sum())
    return Window(rates, rates["ts_start"].min(), rates["ts"].max(), seconds)


@dataclass(frozen=True)
class Database:
    """A database (or datastore) whose vendor has THP guidance, recognised by its process."""

    key: str
    label: str
    comm: re.Pattern[str]
    cmdline: re.Pattern[str] | None
    guidance: str
    source: str
    #: False when the vendor does not advise against THP ``always`` on current kernels.
    advises_against: bool = True


#: Database processes by ``comm`` (15 characters at most) and, for JVMs, by command line.
DATABASES: tuple[Database, ...] = (
    Database(
        "postgresql",
        "PostgreSQL",
        re.compile(r"^(postgres|postmaster)$"),
        None,
        "THP `always` makes backends fault and compact 2 MiB pages in their private memory "
        "(latency spikes, memory bloat); PostgreSQL's own documentation covers explicit huge "
        "pages (`huge_pages`), not THP",
        "https://www.postgresql.org/docs/current/kernel-resources.html#LINUX-HUGE-PAGES",
    ),
    Database(
        "mysql",
        "MySQL/MariaDB",
        re.compile(r"^(mysqld|mariadbd)$"),
        None,
        "MariaDB disables THP for itself after allocating its buffer pools (MDEV-33279: "
        "with THP it 'will use much more (10x) more memory')",
        "https://github.com/MariaDB/server/commit/c777429cf9",
    ),
    Database(
        "mongodb",
        "MongoDB",
        re.compile(r"^mongod$"),
        None,
        "MongoDB 7.0 and older: disable THP; MongoDB 8.0 and newer (x86_64, ARM64) recommend "
        "THP enabled=always with defrag=defer+madvise and khugepaged/max_ptes_none=0",
        "https://www.mongodb.com/docs/manual/tutorial/transparent-huge-pages/",
    ),
    Database(
        "redis",
        "Redis/Valkey",
        re.compile(r"^(redis-server|valkey-server|keydb-server)$"),
        None,
        "THP `always` causes fork()/copy-on-write latency and memory spikes; Redis 6.2+ turns "
        "THP off for itself with `disable-thp yes` (the default)",
        "https://redis.io/docs/latest/operate/oss_and_stack/management/optimization/latency/",
    ),
    Database(
        "oracle",
        "Oracle Database",
        re.compile(r"^(ora_|oracle)"),
        None,
        "Oracle recommends THP `madvise` on UEK7 and later kernels and disabling THP on older "
        "ones, with standard HugePages for the SGA",
        "https://docs.oracle.com/en/database/oracle/oracle-database/21/cwlin/"
        "disabling-transparent-hugepages.html",
    ),
    Database(
        "cassandra",
        "Cassandra",
        re.compile(r"^java$"),
        re.compile(r"cassandra", re.IGNORECASE),
        "DataStax: khugepaged at 100 % CPU with THP; disable THP defrag",
        "https://docs.datastax.com/en/dse-trblshoot/doc/troubleshooting/highCPU.html",
    ),
    Database(
        "elasticsearch",
        "Elasticsearch/OpenSearch",
        re.compile(r"^java$"),
        re.compile(r"elasticsearch|opensearch", re.IGNORECASE),
        "Elastic's memory page covers swapping, not THP; a large JVM heap under THP `always` "
        "is exposed to compaction stalls and khugepaged scans (the JVM uses madvise when "
        "started with -XX:+UseTransparentHugePages)",
        "https://www.elastic.co/docs/deploy-manage/deploy/self-managed/setup-configuration-memory",
    ),
    Database(
        "clickhouse",
        "ClickHouse",
        re.compile(r"^clickhouse"),
        None,
        "ClickHouse's usage recommendations advise disabling THP on old kernels only",
        "https://clickhouse.com/docs/operations/tips",
        advises_against=False,
    ),
)


def _start_key(start: Any) -> int | None:
    return None if start is None or pd.isna(start) else int(start)


def database_processes(
    process_samples: pd.DataFrame | None,
    processes: pd.DataFrame | None,
    extra_comms: Iterable[str] = (),
) -> pd.DataFrame:
    """The database processes seen in the window, one row per process (pid + start time).

    Columns: ``db`` (the :data:`DATABASES` key, or ``other`` for ``extra_comms``), ``pid``,
    ``starttime``, ``comm``, ``first_seen``, ``last_seen``, ``rss_max_bytes`` and
    ``thp_enabled`` (the last ``THP_enabled`` of its ``/proc/<pid>/status``; null when its
    status was not read). JVMs count only when their command line names the product.
    """
    columns = [
        "db",
        "pid",
        "starttime",
        "comm",
        "first_seen",
        "last_seen",
        "rss_max_bytes",
        "thp_enabled",
    ]
    if process_samples is None or process_samples.empty:
        return pd.DataFrame(columns=columns)
    extra = {c.strip() for c in extra_comms if c.strip()}
    cmdlines: dict[tuple[int, int | None], str] = {}
    if processes is not None and not processes.empty and "cmdline" in processes.columns:
        for pid, start, cmd in zip(
            processes["pid"], processes["starttime"], processes["cmdline"], strict=False
        ):
            if isinstance(cmd, str):
                cmdlines[(int(pid), _start_key(start))] = cmd
    # Only the pids that ever had a database's name can be one: test each distinct name once,
    # then order and group those pids alone (a one-hour bundle has millions of other samples).
    comms = process_samples["comm"]
    names = {str(c): c for c in comms.unique()}
    wanted = [c for n, c in names.items() if n in extra or any(d.comm.search(n) for d in DATABASES)]
    pids = process_samples.loc[comms.isin(wanted), "pid"].unique()
    ps = ordered(process_samples[process_samples["pid"].isin(pids)])
    rows: list[dict[str, Any]] = []
    # A sosreport's ps may not place a start (starttime null): such a process still counts.
    for (pid, start), group in ps.groupby(["pid", "starttime"], sort=True, dropna=False):
        comm = str(group["comm"].iloc[-1])
        kind = None
        for db in DATABASES:
            if not db.comm.search(comm):
                continue
            if db.cmdline is not None:
                cmd = cmdlines.get((int(pid), _start_key(start)))
                if cmd is None or not db.cmdline.search(cmd):
                    continue
            kind = db.key
            break
        if kind is None and comm in extra:
            kind = "other"
        if kind is None:
            continue
        thp = group["thp_enabled"].dropna() if "thp_enabled" in group.columns else pd.Series()
        rss = group["rss_bytes"].max() if "rss_bytes" in group.columns else None
        rows.append(
            {
                "db": kind,
                "pid": int(pid),
                "starttime": _start_key(start),
                "comm": comm,
                "first_seen": group["ts"].min(),
                "last_seen": group["ts"].max(),
                "rss_max_bytes": None if rss is None or pd.isna(rss) else int(rss),
                "thp_enabled": None if thp.empty else int(thp.iloc[-1]),
            }
        )
    return pd.DataFrame(rows, columns=columns)
