"""/proc/<pid>/status parser: a real user process, a kernel thread, old and edited layouts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from vmanalyze.errors import ParseError, SkipSource
from vmanalyze.parsers.pid_status import STATUS_KEYS, parse_pid_status

KIB = 1024

# Copied from `cat proc/5399/status` (python3 renamed "x) S 1 (y z").
COMMON_5399 = {
    "name": "x) S 1 (y z",
    "umask": "0022",
    "state": "S",
    "state_description": "sleeping",
    "tgid": 5399,
    "ngid": 0,
    "pid": 5399,
    "ppid": 5394,
    "tracer_pid": 0,
    "uid": 0,
    "euid": 0,
    "suid": 0,
    "fsuid": 0,
    "gid": 0,
    "egid": 0,
    "sgid": 0,
    "fsgid": 0,
    "fd_size": 256,
    "groups": [],
    "ns_tgid": [5399],
    "ns_pid": [5399],
    "ns_pgid": [5394],
    "ns_sid": [3007],
    "kthread": 0,
    "threads": 1,
    "sig_q": "0/96365",
    "sig_pnd": "0000000000000000",
    "shd_pnd": "0000000000000000",
    "sig_blk": "0000000000000000",
    "sig_ign": "0000000001001006",
    "sig_cgt": "0000000000000000",
    "cap_inh": "0000000000000000",
    "cap_prm": "000001fffeffffff",
    "cap_eff": "000001fffeffffff",
    "cap_bnd": "000001fffeffffff",
    "cap_amb": "0000000000000000",
    "no_new_privs": 0,
    "seccomp": 0,
    "seccomp_filters": 0,
    "speculation_store_bypass": "thread vulnerable",
    "speculation_indirect_branch": "conditional enabled",
    "cpus_allowed": "3",
    "cpus_allowed_list": [0, 1],
    "mems_allowed": ",".join(["00000000"] * 31 + ["00000001"]),
    "mems_allowed_list": [0],
    "voluntary_ctxt_switches": 16,
    "nonvoluntary_ctxt_switches": 9,
}
MEMORY_5399 = {
    "vm_peak_bytes": 16780 * KIB,
    "vm_size_bytes": 16744 * KIB,
    "vm_lck_bytes": 0,
    "vm_pin_bytes": 0,
    "vm_hwm_bytes": 13820 * KIB,
    "vm_rss_bytes": 13820 * KIB,
    "rss_anon_bytes": 7012 * KIB,
    "rss_file_bytes": 6808 * KIB,
    "rss_shmem_bytes": 0,
    "vm_data_bytes": 7964 * KIB,
    "vm_stk_bytes": 132 * KIB,
    "vm_exe_bytes": 4 * KIB,
    "vm_lib_bytes": 4760 * KIB,
    "vm_pte_bytes": 76 * KIB,
    "vm_swap_bytes": 0,
    "hugetlb_pages_bytes": 0,
    "core_dumping": 0,
    "thp_enabled": 1,
    "untag_mask": "0xffffffffffffffff",
}


def test_whole_record_of_a_user_process(fixture_text):
    assert parse_pid_status(fixture_text("proc/5399/status")) == {**COMMON_5399, **MEMORY_5399}


def test_kernel_thread_has_no_memory_lines(fixture_text):
    status = parse_pid_status(fixture_text("proc/45/status"))
    assert (status["name"], status["pid"], status["ppid"], status["kthread"]) == (
        "kswapd0",
        45,
        2,
        1,
    )
    assert all(status[key] is None for key in MEMORY_5399 if key in STATUS_KEYS)
    assert "core_dumping" not in status and "untag_mask" not in status


def test_every_known_key_is_present(fixture_text):
    assert set(STATUS_KEYS) <= set(parse_pid_status(fixture_text("proc/45/status")))


def test_newline_in_comm_is_escaped_by_the_kernel(fixture_text):
    assert parse_pid_status(fixture_text("proc/5400/status"))["name"] == "two\\nlines"


def test_space_separated_values_and_leading_blank_line():
    status = parse_pid_status("\nName:   kube-proxy\nState:  S (sleeping)\nNStgid: 26235 1\n")
    assert (status["name"], status["state"], status["ns_tgid"]) == ("kube-proxy", "S", [26235, 1])


def test_2_6_32_layout_without_newer_lines():
    status = parse_pid_status("Name:\tinit\nState:\tS (sleeping)\nVmRSS:\t    1540 kB\n")
    assert status["vm_rss_bytes"] == 1540 * KIB
    assert status["vm_swap_bytes"] is None and status["thp_enabled"] is None


def test_errors():
    with pytest.raises(ParseError):
        parse_pid_status("Name:\tx\nthis is not a status line\n")
    with pytest.raises(ParseError):
        parse_pid_status("VmRSS:\t12 MB\n")
    with pytest.raises(SkipSource):
        parse_pid_status("")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs a Linux /proc")
def test_live_self():
    status = parse_pid_status(Path("/proc/self/status").read_text())
    assert status["pid"] == os.getpid() and status["vm_rss_bytes"] > 0
