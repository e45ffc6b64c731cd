"""kmsg parser: a real memory-cgroup OOM kill on 6.18 and the formats of older kernels."""

from __future__ import annotations

import pytest
from vmanalyze.errors import ParseError
from vmanalyze.parsers.kmsg import EVENT_KEYS, parse_kmsg

KIB = 1024


def _event(**fields: object) -> dict[str, object]:
    event: dict[str, object] = dict.fromkeys(EVENT_KEYS)
    event.update(fields)
    return event


# The three memory records of dev/kmsg (grep -n 'oom-killer\|oom-kill:\|Killed process'),
# values copied from the lines; the 75 other records (trace, Mem-Info, task list) give nothing.
INVOKED = "mem hog (x) invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0"
CONSTRAINT = (
    "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,"
    "oom_memcg=/vmtriage-oomtest,task_memcg=/vmtriage-oomtest,task=mem hog (x),pid=5274,uid=0"
)
KILLED = (
    "Memory cgroup out of memory: Killed process 5274 (mem hog (x)) total-vm:82536kB,"
    " anon-rss:72448kB, file-rss:6784kB, shmem-rss:0kB, UID:0 pgtables:204kB oom_score_adj:0"
)
EXPECTED_DEBIAN12 = [
    _event(
        event="oom_invoked",
        seq=348,
        usec=382651636,
        level=4,
        invoking_process="mem hog (x)",
        gfp_mask="0xcc0(GFP_KERNEL)",
        order=0,
        oom_score_adj=0,
        message=INVOKED,
    ),
    _event(
        event="oom_kill_constraint",
        seq=424,
        usec=382651993,
        level=6,
        constraint="CONSTRAINT_MEMCG",
        nodemask="(null)",
        cpuset="/",
        mems_allowed="0",
        oom_memcg="/vmtriage-oomtest",
        task_memcg="/vmtriage-oomtest",
        victim_name="mem hog (x)",
        victim_pid=5274,
        uid=0,
        memcg_oom=True,
        message=CONSTRAINT,
        scope="cgroup",
    ),
    _event(
        event="oom_kill",
        seq=425,
        usec=382652012,
        level=3,
        victim_pid=5274,
        victim_name="mem hog (x)",
        total_vm_bytes=82536 * KIB,
        anon_rss_bytes=72448 * KIB,
        file_rss_bytes=6784 * KIB,
        shmem_rss_bytes=0,
        pgtables_bytes=204 * KIB,
        uid=0,
        oom_score_adj=0,
        memcg_oom=True,
        message=KILLED,
        scope="cgroup",
    ),
]


def test_events_of_real_capture(fixture_text):
    text = fixture_text("dev/kmsg")
    assert len(text.splitlines()) == 78
    assert parse_kmsg(text) == EXPECTED_DEBIAN12


def _one(message: str) -> dict[str, object]:
    events = parse_kmsg(f"3,7,1000,-;{message}\n")
    assert len(events) == 1
    return {k: v for k, v in events[0].items() if v is not None and k not in ("message", "seq")}


def test_global_oom_5x():
    assert _one(
        "Out of memory: Killed process 1234 (postgres) total-vm:1000kB, anon-rss:500kB,"
        " file-rss:4kB, shmem-rss:8kB, UID:26 pgtables:100kB oom_score_adj:-100"
    ) == {
        "event": "oom_kill",
        "usec": 1000,
        "level": 3,
        "victim_pid": 1234,
        "victim_name": "postgres",
        "total_vm_bytes": 1000 * KIB,
        "anon_rss_bytes": 500 * KIB,
        "file_rss_bytes": 4 * KIB,
        "shmem_rss_bytes": 8 * KIB,
        "pgtables_bytes": 100 * KIB,
        "uid": 26,
        "oom_score_adj": -100,
        "memcg_oom": False,
        "scope": "global",
    }


def test_older_kernel_formats():
    # 3.x-4.x: victim chosen, then killed (no Out of memory prefix on the kill line)
    assert _one("Out of memory: Kill process 2887 (qemu-kvm) score 922 or sacrifice child") == {
        "event": "oom_victim_selected",
        "usec": 1000,
        "level": 3,
        "victim_pid": 2887,
        "victim_name": "qemu-kvm",
        "score": 922,
        "memcg_oom": False,
        "scope": "global",
    }
    killed = _one(
        "Killed process 2887 (qemu-kvm) total-vm:3489016kB, anon-rss:1791012kB, file-rss:4224kB"
    )
    assert (killed["victim_pid"], killed["anon_rss_bytes"], "shmem_rss_bytes" in killed) == (
        2887,
        1791012 * KIB,
        False,
    )
    # RHEL 6 (2.6.32): the uid sits before the name
    rhel6 = _one(
        "Killed process 2887, UID 107, (qemu-kvm) total-vm:3489016kB, anon-rss:1kB, file-rss:2kB"
    )
    assert (rhel6["uid"], rhel6["victim_name"]) == (107, "qemu-kvm")
    # 2.6.x invoked line with oom_adj
    invoked = _one("java invoked oom-killer: gfp_mask=0x201da, order=0, oom_adj=0, oom_score_adj=0")
    assert (invoked["invoking_process"], invoked["gfp_mask"], invoked["order"]) == (
        "java",
        "0x201da",
        0,
    )


def test_scope_before_4_19_comes_from_the_records_before_the_kill():
    # 3.10 (RHEL 7): a memcg OOM names its cgroup only in "Task in"; the kill line has no prefix
    text = "".join(
        f"3,{seq},{1000 + seq},-;{message}\n"
        for seq, message in enumerate(
            [
                "java invoked oom-killer: gfp_mask=0xd0, order=0, oom_score_adj=0",
                "Task in /system.slice/app.service killed as a result of limit of /system.slice",
                "Memory cgroup out of memory: Kill process 4711 (java) score 1000 or "
                "sacrifice child",
                "Killed process 4711 (java) total-vm:4216736kB, anon-rss:1046260kB, "
                "file-rss:1320kB",
                "sh invoked oom-killer: gfp_mask=0x201da, order=0, oom_score_adj=0",
                "Out of memory: Kill process 99 (sh) score 5 or sacrifice child",
                "Killed process 99 (sh) total-vm:1kB, anon-rss:1kB, file-rss:1kB",
            ]
        )
    )
    events = parse_kmsg(text)
    kills = [e for e in events if e["event"] == "oom_kill"]
    assert [(e["victim_pid"], e["scope"], e["memcg_oom"]) for e in kills] == [
        (4711, "cgroup", True),
        (99, "global", False),
    ]
    info = next(e for e in events if e["event"] == "oom_memcg_limit")
    assert (info["task_memcg"], info["oom_memcg"]) == ("/system.slice/app.service", "/system.slice")
    # a kill line alone does not tell
    assert (
        parse_kmsg("3,1,1,-;Killed process 5 (x) total-vm:1kB, anon-rss:1kB, file-rss:1kB\n")[0][
            "scope"
        ]
        is None
    )


def test_global_constraint_line_and_comma_in_task_name():
    event = _one(
        "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0-1,"
        "global_oom,task_memcg=/system.slice/x.service,task=a,b,pid=5,uid=0"
    )
    assert (event["mems_allowed"], event["victim_name"], "oom_memcg" in event) == (
        "0-1",
        "a,b",
        False,
    )
    assert event["memcg_oom"] is False


def test_reaper_allocation_failure_and_hung_task():
    assert (
        _one(
            "oom_reaper: reaped process 1234 (postgres), now anon-rss:0kB, file-rss:0kB,"
            " shmem-rss:0kB"
        )["event"]
        == "oom_reaper"
    )
    failure = _one(
        "kworker/u8:1: page allocation failure: order:4, mode:0x40cc0(GFP_KERNEL|__GFP_COMP),"
        " nodemask=(null),cpuset=/,mems_allowed=0"
    )
    assert (failure["invoking_process"], failure["order"], failure["gfp_mask"]) == (
        "kworker/u8:1",
        4,
        "0x40cc0(GFP_KERNEL|__GFP_COMP)",
    )
    assert _one("swapper: page allocation failure. order:1, mode:0x20")["order"] == 1
    hung = _one("INFO: task jbd2/sda1-8:312 blocked for more than 120 seconds.")
    assert (hung["victim_name"], hung["victim_pid"], hung["blocked_seconds"]) == (
        "jbd2/sda1-8",
        312,
        120,
    )


def test_continuation_lines_and_unrelated_records_are_skipped():
    text = "6,1,5,-;usb 1-1: new device\n SUBSYSTEM=usb\n DEVICE=c189:1\n"
    assert parse_kmsg(text) == []
    assert parse_kmsg("") == []


def test_malformed_record():
    with pytest.raises(ParseError):
        parse_kmsg("[  382.651859] RIP: 0033:0x7f6fe658c0ba\n")
