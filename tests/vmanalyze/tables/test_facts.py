"""Host facts are typed once (vmanalyze.facts): every source that holds a fact, None if none.

The inputs are this host's own files, read live: /proc/version, /proc/meminfo, /proc/cpuinfo,
/proc/vmstat, /proc/sys/kernel/{osrelease,hostname}, and the output of `uname -a` and
`hostname` laid out as a sosreport lays them out (sos 3.6+ host plugin and older sos 3).
"""

from __future__ import annotations

import math
import os
import platform
import socket
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from vmanalyze import engine
from vmanalyze.dataset import parse
from vmanalyze.facts import HostFacts, count_samples
from vmanalyze.parsers.uname import parse_uname


def _copy(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _live(rel: str) -> str:
    return Path("/", rel).read_text()


def _no_nan(facts: dict) -> list[str]:
    return [k for k, v in facts.items() if isinstance(v, float) and math.isnan(v)]


@pytest.fixture
def sos_root(tmp_path: Path) -> Path:
    """A sosreport-shaped tree: meminfo and vmstat, and uname/hostname as sos writes them
    (no proc/version, no proc/sys/kernel: the kernel release is only in uname_-a)."""
    root = tmp_path / "sosreport-live"
    for rel in ("proc/meminfo", "proc/vmstat", "proc/cpuinfo"):
        _copy(root, rel, _live(rel))
    _copy(root, "sos_commands/kernel/uname_-a", subprocess.check_output(["uname", "-a"], text=True))
    _copy(root, "sos_commands/host/hostname", subprocess.check_output(["hostname"], text=True))
    (root / "sos_reports").mkdir()
    return root


def test_sosreport_facts_come_from_uname_and_hostname(sos_root: Path) -> None:
    ds = parse(str(sos_root))
    facts = ds.facts
    assert ds.source["kind"] == "sosreport"
    assert facts.kernel_release == platform.release()
    assert facts.machine == platform.machine()
    assert facts.hostname == socket.gethostname()
    assert facts.cpu_count == os.cpu_count()
    assert facts.page_size == os.sysconf("SC_PAGE_SIZE")  # Mapped / nr_mapped
    assert facts.mem_total_bytes == ds.meminfo["mem_total_bytes"].iloc[0]
    # What no file holds is None, never NaN or 0: this tree has no sysctls and no THP.
    assert facts.overcommit_memory is None and facts.thp_enabled is None
    assert _no_nan(ds.host) == []
    assert _no_nan(engine.host_facts(ds.tables)) == []


def test_older_sos_hostname_path_and_etc_hostname(sos_root: Path) -> None:
    (sos_root / "sos_commands/host/hostname").unlink()
    _copy(sos_root, "sos_commands/general/hostname", "db01.example.com\n")
    assert parse(str(sos_root)).facts.hostname == "db01.example.com"
    (sos_root / "sos_commands/general/hostname").unlink()
    (sos_root / "sos_commands/kernel/uname_-a").unlink()
    _copy(sos_root, "etc/hostname", "# static\nweb-3\n")
    facts = parse(str(sos_root)).facts
    assert facts.hostname == "web-3"
    assert facts.kernel_release is None and facts.machine is None


def test_captured_root_reads_proc_version_and_kernel_sysctls(tmp_path: Path) -> None:
    root = tmp_path / "root"
    for rel in (
        "proc/version",
        "proc/meminfo",
        "proc/sys/kernel/hostname",
        "proc/sys/vm/overcommit_memory",
        "proc/sys/vm/overcommit_ratio",
    ):
        _copy(root, rel, _live(rel))
    facts = parse(str(root)).facts
    assert facts.kernel_release == platform.release()
    assert facts.kernel_version == _live("proc/version").split(") ")[-1].strip().split(") ")[-1]
    assert facts.hostname == _live("proc/sys/kernel/hostname").strip()
    assert facts.overcommit_memory == int(_live("proc/sys/vm/overcommit_memory"))
    assert facts.overcommit_ratio == int(_live("proc/sys/vm/overcommit_ratio"))
    (root / "proc/version").unlink()
    _copy(root, "proc/sys/kernel/osrelease", _live("proc/sys/kernel/osrelease"))
    assert parse(str(root)).facts.kernel_release == platform.release()


def test_bundle_facts_and_host_table_agree(live_bundle: Path) -> None:
    ds = parse(str(live_bundle))
    facts = ds.facts
    assert facts.kernel_release == platform.release()
    assert facts.cpu_count == os.cpu_count()
    assert facts.samples == 4
    # one count everywhere: the host facts, the dataset's source and the engine's
    assert ds.source["samples"] == ds.sample_count == count_samples(ds.tables) == 4
    assert engine.run(ds.tables, []).sample_count == 4
    assert isinstance(facts.start, pd.Timestamp) and facts.end >= facts.start
    row = ds.tables["host"].iloc[0]
    assert row["hostname"] == facts.hostname
    assert HostFacts.from_tables(ds.tables) == facts


def test_live_uname_parses() -> None:
    uname = parse_uname(subprocess.check_output(["uname", "-a"], text=True))
    assert (uname["hostname"], uname["kernel_release"], uname["machine"]) == (
        platform.node(),
        platform.release(),
        platform.machine(),
    )
    assert uname["kernel_version"] == platform.version()


def test_host_table_types_do_not_depend_on_which_facts_an_input_held(
    sos_root: Path, live_bundle: Path
) -> None:
    """A fleet's host rows line up: a sosreport without sysctls or boot time gives the same
    column types as a bundle that has them (all-null columns are not strings)."""
    sparse = parse(str(sos_root)).tables["host"]
    full = parse(str(live_bundle)).tables["host"]
    assert list(sparse.columns) == list(full.columns)
    assert sparse.dtypes.to_dict() == full.dtypes.to_dict()
    assert sparse["overcommit_memory"].isna().all() and full["overcommit_memory"].notna().all()
    assert str(full["boot_time"].dtype) == "datetime64[ns, UTC]"
