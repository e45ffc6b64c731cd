"""Corpus conformance: parse every file of a corpus of real /proc and /sys captures.

Usage: ``python -m tests.support.corpus CORPUS_DIR`` from the repository root (``make corpus``
runs it on ../shared/corpus). It is a test harness, not part of the installed package.

The corpus has one directory per source (``<source>/``) and sometimes one more per capture
(``<source>/<capture>/``); below that, files sit at their kernel path (``proc/meminfo``,
``sys/devices/system/node/node0/numastat``). Each capture is read as one captured root: every
file is matched against :data:`vmanalyze.parsers.SOURCES` and parsed by every source it matches.

The corpus README's "Every file" table gives, per file, its kind, its status (``capture``,
``partial``, ``transcribed``, ``edge-case``, ``edited``, ``empty``) and notable properties. The
properties that can be read reliably (``MemTotal 15666184 kB``, ``pid 26231 comm 'vim' state R;
52 fields``, ``nodes 0,1; zones DMA/DMA32/Normal``, ``active = madvise; 3 options``...) are
checked against the parsed values. ``edited`` files are not checked (a parse error there is
reported as known-odd, not as a failure) and ``empty`` files must be skipped or parse to an
empty result.

Every ``/proc/<pid>/stat`` and ``status`` is also parsed by the bulk parsers of the tables (one
record at a time and as a pack, see :mod:`tests.support.pid_bulk`), which must agree with the
per-file parser.

Then every captured root, and every bundle of each ``--bundles`` directory, is analyzed as
``vmanalyze`` would (every rule): a rule error is a failure (issue 12: a rule error is a bug).

Exit status: 0 when every supported file parsed and agreed with the README and no rule failed
on any input, 1 otherwise (each failure is listed), 2 when the corpus cannot be read.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmanalyze.errors import SkipSource, VmanalyzeError
from vmanalyze.parsers import SOURCES, match_sources
from vmanalyze.parsers._common import KIB, parse_counters, parse_ranges
from vmanalyze.parsers.sysctl_vm import parse_sysctl_vm
from vmanalyze.parsers.vmstat import DERIVED_KEYS

from tests.support import pid_bulk

ROOT_DIRS = ("proc", "sys", "dev", "etc")
_ROW_RE = re.compile(r"^\| `([^`]+)` \| ([^|]+?) \| ([^|]*?) \| ([^|]+?) \| (.*) \|$")


@dataclass
class Entry:
    """One row of the corpus README's file table."""

    path: str
    kind: str
    status: str
    notes: str


@dataclass
class Report:
    """Outcome counts per kind, failures and notes."""

    counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    failures: list[str] = field(default_factory=list)
    known_odd: list[str] = field(default_factory=list)
    checked: int = 0


def read_table(readme: Path) -> dict[str, Entry]:
    """Parse the README's "Every file" table into entries keyed by corpus path."""
    entries: dict[str, Entry] = {}
    for line in readme.read_text(encoding="utf-8").splitlines():
        match = _ROW_RE.match(line)
        if match:
            path, kind, _, status, notes = match.groups()
            entries[path] = Entry(path, kind.strip(), status.strip(), notes.strip())
    return entries


def split_root(relpath: str) -> tuple[str, str] | None:
    """Split ``src/capture/proc/x`` into the captured root and the kernel path."""
    parts = relpath.split("/")
    for index, part in enumerate(parts[1:], start=1):
        if part in ROOT_DIRS:
            return "/".join(parts[:index]), "/".join(parts[index:])
    return None


# --- truth checks: one function per README kind, returning mismatch messages ---------------

Check = Callable[[str, dict[str, Any], Entry], list[str]]


def _expect(problems: list[str], what: str, expected: object, got: object) -> None:
    if expected != got:
        problems.append(f"{what}: README says {expected!r}, parser gives {got!r}")


def _kib(match: re.Match[str], group: int = 1) -> int:
    return int(match.group(group)) * KIB


def check_meminfo(text: str, out: dict[str, Any], entry: Entry) -> list[str]:
    mi = out["meminfo"]
    problems: list[str] = []
    notes = entry.notes
    if m := re.search(r"MemTotal (\d+) kB", notes):
        _expect(problems, "MemTotal", _kib(m), mi["mem_total_bytes"])
    if m := re.search(r"swap IN USE \((\d+) kB used of (\d+)\)", notes):
        _expect(problems, "SwapTotal", _kib(m, 2), mi["swap_total_bytes"])
        _expect(problems, "swap used", _kib(m), mi["swap_total_bytes"] - mi["swap_free_bytes"])
    if m := re.search(r"swap configured, unused \((\d+) kB\)", notes):
        _expect(problems, "SwapTotal", _kib(m), mi["swap_total_bytes"])
        _expect(problems, "SwapFree", _kib(m), mi["swap_free_bytes"])
    if re.search(r"(^|; )no swap", notes):
        _expect(problems, "SwapTotal", 0, mi["swap_total_bytes"])
    if m := re.search(r"AnonHugePages (\d+) kB", notes):
        _expect(problems, "AnonHugePages", _kib(m), mi["anon_hugepages_bytes"])
    if m := re.search(r"HugePages_Total (\d+)", notes):
        _expect(problems, "HugePages_Total", int(m.group(1)), mi["hugepages_total"])
    if "no MemAvailable line" in notes:
        _expect(problems, "MemAvailable", None, mi["mem_available_bytes"])
    if m := re.search(r"(\d+) lines", notes):
        old_header = ("total:", "Mem:", "Swap:")
        header = sum(1 for line in text.splitlines() if line.lstrip().startswith(old_header))
        present = sum(1 for value in mi.values() if value is not None)
        _expect(problems, "lines parsed", int(m.group(1)) - header, present)
    return problems


def check_node_meminfo(text: str, out: dict[str, Any], entry: Entry) -> list[str]:
    problems: list[str] = []
    if m := re.search(r"MemTotal (\d+) kB", entry.notes):
        _expect(problems, "MemTotal", _kib(m), out["sys_node_meminfo"]["mem_total_bytes"])
    return problems


def check_numastat(text: str, out: dict[str, Any], entry: Entry) -> list[str]:
    problems: list[str] = []
    ns = out["sys_node_numastat"]
    for key in ("numa_hit", "numa_miss", "other_node"):
        if m := re.search(rf"{key} (\d+)", entry.notes):
            _expect(problems, key, int(m.group(1)), ns[key])
    return problems


def check_pid_stat(text: str, out: dict[str, Any], entry: Entry) -> list[str]:
    problems: list[str] = []
    st = out["pid_stat"]
    if m := re.search(r"pid (\d+) comm '(.*)' state (\S+); (\d+) fields", entry.notes):
        _expect(problems, "pid", int(m.group(1)), st["pid"])
        _expect(problems, "comm", m.group(2).replace("\\n", "\n"), st["comm"])
        _expect(problems, "state", m.group(3), st["state"])
        present = sum(1 for value in st.values() if value is not None)
        _expect(problems, "fields", int(m.group(4)), present)
    if m := re.search(r"num_threads=(\d+)", entry.notes):
        _expect(problems, "num_threads", int(m.group(1)), st["num_threads"])
    return problems


def check_pid_status(text: str, out: dict[str, Any], entry: Entry) -> list[str]:
    problems: list[str] = []
    s = out["pid_status"]
    notes = entry.notes
    if m := re.search(r"(?:^|; )Name (.+?)(?:;|$)", notes):
        _expect(problems, "Name", m.group(1), s["name"])
    for key, column in (("VmRSS", "vm_rss_bytes"), ("VmSwap", "vm_swap_bytes")):
        if m := re.search(rf"{key} (\d+) kB", notes):
            _expect(problems, key, _kib(m), s[column])
    if m := re.search(r"Mems_allowed_list ([\d,-]+)", notes):
        _expect(problems, "Mems_allowed_list", parse_ranges(m.group(1)), s["mems_allowed_list"])
    if "no Vm* lines" in notes:
        _expect(problems, "VmRSS", None, s["vm_rss_bytes"])
    if "THP_enabled field" in notes and s["thp_enabled"] is None:
        problems.append("THP_enabled: README says present, parser gives None")
    if m := re.search(r"holds pid (\d+)", notes):
        _expect(problems, "Pid", int(m.group(1)), s["pid"])
    return problems


def _nodes_zones(rows: list[dict[str, Any]], entry: Entry, problems: list[str]) -> None:
    if m := re.search(r"nodes ([\d,]+)", entry.notes):
        expected = [int(n) for n in m.group(1).split(",")]
        _expect(problems, "nodes", expected, sorted({row["node"] for row in rows}))
    if m := re.search(r"zones ([\w/]+)", entry.notes):
        zones = list(dict.fromkeys(row["zone"] for row in rows))
        _expect(problems, "zones", m.group(1).split("/"), zones)


def check_zoneinfo(text: str, out: dict[str, Any], entry: Entry) -> list[str]:
    problems: list[str] = []
    _nodes_zones(out["zoneinfo"], entry, problems)
    if "per-node stats section" in entry.notes and not out["zoneinfo_node_stats"]:
        problems.append("per-node stats: README says present, parser found none")
    return problems


def check_buddyinfo(text: str, out: dict[str, Any], entry: Entry) -> list[str]:
    problems: list[str] = []
    _nodes_zones(out["buddyinfo"], entry, problems)
    return problems


def check_pagetypeinfo(text: str, out: dict[str, Any], entry: Entry) -> list[str]:
    problems: list[str] = []
    if m := re.search(r"Page block order: (\d+)", entry.notes):
        _expect(
            problems, "page block order", int(m.group(1)), out["pagetypeinfo"]["page_block_order"]
        )
    return problems


def check_pressure(text: str, out: dict[str, Any], entry: Entry) -> list[str]:
    problems: list[str] = []
    p = out["pressure_memory"]
    if m := re.search(r"some avg10=([\d.]+) total=(\d+)", entry.notes):
        _expect(problems, "some avg10", float(m.group(1)), p["some_avg10"])
        _expect(problems, "some total", int(m.group(2)), p["some_total_us"])
    if "has full line" in entry.notes and p["full_avg10"] is None:
        problems.append("full: README says present, parser gives None")
    return problems


def check_swaps(text: str, out: dict[str, Any], entry: Entry) -> list[str]:
    problems: list[str] = []
    rows = out["swaps"]
    if m := re.match(r"^(.+?) (partition|file) size (\d+) used (\d+)", entry.notes):
        first = rows[0] if rows else {}
        expected = (m.group(1), m.group(2), _kib(m, 3), _kib(m, 4))
        got = tuple(first.get(k) for k in ("filename", "type", "size_bytes", "used_bytes"))
        _expect(problems, "first swap", expected, got)
    if "header only" in entry.notes:
        _expect(problems, "swaps", [], rows)
    return problems


def _first_note(entry: Entry) -> str:
    return entry.notes.split(";")[0].strip()


def check_sysctl(text: str, out: dict[str, Any], entry: Entry) -> list[str]:
    problems: list[str] = []
    expected = parse_sysctl_vm(_first_note(entry).replace("\\t", "\t"))
    _expect(problems, "value", expected, out["sysctl_vm"])
    return problems


def check_thp(text: str, out: dict[str, Any], entry: Entry) -> list[str]:
    problems: list[str] = []
    thp = out["sys_kernel_mm_transparent_hugepage"]
    if m := re.search(r"active = (\S+?);? (\d+) options", entry.notes):
        _expect(problems, "selected", m.group(1), thp["selected"])
        _expect(problems, "options", int(m.group(2)), len(thp["options"]))
    return problems


def _number_check(source: str) -> Check:
    def check(text: str, out: dict[str, Any], entry: Entry) -> list[str]:
        problems: list[str] = []
        if m := re.match(r"^(-?\d+)(?:;|$)", entry.notes):
            _expect(problems, "value", int(m.group(1)), out[source])
        return problems

    return check


def _ranges_check(source: str) -> Check:
    def check(text: str, out: dict[str, Any], entry: Entry) -> list[str]:
        problems: list[str] = []
        note = _first_note(entry)
        if re.fullmatch(r"[\d,-]+", note):
            _expect(problems, "list", parse_ranges(note), out[source])
        elif re.fullmatch(r"[\d ]+", note):
            _expect(problems, "list", [int(n) for n in note.split()], out[source])
        return problems

    return check


def _vmstat_check(source: str) -> Check:
    def check(text: str, out: dict[str, Any], entry: Entry) -> list[str]:
        problems: list[str] = []
        vs = out[source]
        raw = parse_counters(text, source, tolerate_unnamed=True)
        if m := re.search(r"(\d+) counters", entry.notes):
            _expect(problems, "counters", int(m.group(1)), len(raw))
        if m := re.search(r"pswpout (\d+)", entry.notes):
            _expect(problems, "pswpout", int(m.group(1)), vs.get("pswpout"))
        if "has nr_alloc_batch" in entry.notes and "nr_alloc_batch" not in vs:
            problems.append("nr_alloc_batch: README says present, parser lacks it")
        if "no nr_free_pages" in entry.notes and "nr_free_pages" in vs:
            problems.append("nr_free_pages: README says absent, parser has it")
        if "workingset_*_anon" in entry.notes and "workingset_refault_anon" not in vs:
            problems.append("workingset_refault_anon: README says present, parser lacks it")
        for key in DERIVED_KEYS:
            if key not in vs:
                problems.append(f"derived {key} missing")
        return problems

    return check


def check_numa_maps(text: str, out: dict[str, Any], entry: Entry) -> list[str]:
    problems: list[str] = []
    rows = out["pid_numa_maps"]
    if m := re.search(r"(\d+) lines", entry.notes):
        _expect(problems, "lines", int(m.group(1)), len(rows))
    if m := re.search(r"nodes referenced ([\d,]+)", entry.notes):
        nodes = sorted({node for row in rows for node in row["pages_per_node"]})
        _expect(problems, "nodes", [int(n) for n in m.group(1).split(",")], nodes)
    return problems


def check_smaps(text: str, out: dict[str, Any], entry: Entry) -> list[str]:
    problems: list[str] = []
    rows = out["pid_smaps"]
    if m := re.search(r"(\d+) mappings", entry.notes):
        _expect(problems, "mappings", int(m.group(1)), len(rows))
    if m := re.search(r"Swap total (\d+) kB", entry.notes):
        _expect(problems, "swap", _kib(m), sum(row.get("swap_bytes") or 0 for row in rows))
    return problems


def check_rollup(text: str, out: dict[str, Any], entry: Entry) -> list[str]:
    problems: list[str] = []
    r = out["pid_smaps_rollup"]
    for key in ("Rss", "Pss", "Swap"):
        if m := re.search(rf"(?:^|, ){key} (\d+) kB", entry.notes):
            _expect(problems, key, _kib(m), r[f"{key.lower()}_bytes"])
    return problems


def check_version(text: str, out: dict[str, Any], entry: Entry) -> list[str]:
    problems: list[str] = []
    parsed = out.get("version") or out.get("osrelease") or {}
    if not parsed.get("kernel_release"):
        problems.append("no kernel release")
    note = _first_note(entry)
    if note and "osrelease" in out:
        _expect(problems, "release", note, parsed["kernel_release"])
    return problems


CHECKS: dict[str, Check] = {
    "meminfo": check_meminfo,
    "meminfo-partial": check_meminfo,
    "node-meminfo": check_node_meminfo,
    "node-numastat": check_numastat,
    "pid-stat": check_pid_stat,
    "pid-status": check_pid_status,
    "zoneinfo": check_zoneinfo,
    "buddyinfo": check_buddyinfo,
    "pagetypeinfo": check_pagetypeinfo,
    "pressure-memory": check_pressure,
    "swaps": check_swaps,
    "sysctl-vm": check_sysctl,
    "thp-enabled": check_thp,
    "thp-defrag": check_thp,
    "thp-shmem_enabled": check_thp,
    "hugepages-sysfs": _number_check("sys_kernel_mm_hugepages"),
    "ksm": _number_check("sys_kernel_mm_ksm"),
    "node-cpulist": _ranges_check("sys_node_cpulist"),
    "node-distance": _ranges_check("sys_node_distance"),
    "node-mask": _ranges_check("sys_node_mask"),
    "vmstat": _vmstat_check("vmstat"),
    "node-vmstat": _vmstat_check("sys_node_vmstat"),
    "numa_maps": check_numa_maps,
    "smaps": check_smaps,
    "smaps_rollup": check_rollup,
    "version": check_version,
}


def _is_empty_result(value: Any) -> bool:
    return value in ([], {}, None)


def check_file(corpus: Path, relpath: str, entry: Entry | None, report: Report) -> None:
    """Parse one corpus file with every matching source and check it against the README."""
    kind = entry.kind if entry else "unlisted"
    status = entry.status if entry else "unlisted"
    split = split_root(relpath)
    names = match_sources(split[1]) if split else []
    if not names:
        report.counts[kind]["skipped"] += 1
        if entry and entry.kind in CHECKS:
            report.known_odd.append(f"{relpath}: not at a kernel path, no source matches")
        return
    data = (corpus / relpath).read_bytes()
    text = data.decode("utf-8", errors="replace")
    out: dict[str, Any] = {}
    skipped = False
    for name in names:
        try:
            out[name] = SOURCES[name].parse(text)
        except SkipSource as exc:
            skipped = True
            if status not in ("empty", "edited") and text.strip():
                report.failures.append(f"{relpath}: {name}: unexpected skip: {exc}")
        except Exception as exc:  # a crash is a failure of that file, not of the whole run
            kind_of = "" if isinstance(exc, VmanalyzeError) else " (parser crashed)"
            message = f"{relpath}: {name}: {type(exc).__name__}{kind_of}: {exc}"
            if status == "edited":
                report.known_odd.append(message)
                skipped = True
            else:
                report.failures.append(message)
                report.counts[kind]["failed"] += 1
                return
    if skipped:
        report.counts[kind]["skipped"] += 1
        return
    if status == "empty" and not all(_is_empty_result(value) for value in out.values()):
        report.failures.append(f"{relpath}: README says empty, parser returned data")
        report.counts[kind]["failed"] += 1
        return
    problems: list[str] = []
    check = CHECKS.get(kind)
    if entry and check and status not in ("edited", "empty"):
        try:
            problems = check(text, out, entry)
        except Exception as exc:
            problems = [f"check crashed: {type(exc).__name__}: {exc}"]
        report.checked += 1
    for name in sorted(set(names) & set(pid_bulk.BULK)):  # one layout: bulk = per file
        problems += pid_bulk.check_file(name, split[1], data) if split else []
    if problems:
        report.failures.extend(f"{relpath}: {kind}: {problem}" for problem in problems)
        report.counts[kind]["failed"] += 1
    else:
        report.counts[kind]["parsed"] += 1


def run(corpus: Path) -> Report:
    """Walk the corpus and return the report."""
    readme = corpus / "README.md"
    if not readme.is_file():
        raise FileNotFoundError(f"{readme} not found")
    entries = read_table(readme)
    report = Report()
    files = sorted(
        p.relative_to(corpus).as_posix()
        for p in corpus.rglob("*")
        if p.is_file() and p.name not in ("README.md", "SOURCE.md")
    )
    for relpath in files:
        check_file(corpus, relpath, entries.get(relpath), report)
    listed_missing = sorted(set(entries) - set(files))
    report.failures.extend(f"{path}: listed in README.md but missing" for path in listed_missing)
    return report


def captured_roots(corpus: Path) -> list[Path]:
    """Every directory of the corpus that holds a captured ``proc/`` or ``sys/`` tree."""
    roots = set()
    for marker in ("proc", "sys"):
        for path in corpus.rglob(marker):
            if path.is_dir() and not any(p.name in ("proc", "sys") for p in path.parents):
                roots.add(path.parent)
    return sorted(roots)


def analyze_inputs(
    inputs: list[tuple[str, Path]], known_odd: set[str] | frozenset[str] = frozenset()
) -> list[str]:
    """Load each input with the real loader and run the whole analysis, every rule, on it.

    Failures: an input that cannot be loaded or crashes, a file the loader found unparsable
    (unless known-odd), and any rule error (issue 12: a rule error is a bug). Prints one line
    per input: its kernel release, what could not run, and the codes of its findings.
    """
    from vmanalyze.analysis import analyze

    failures = []
    rows = 0
    print(f"\nanalysis: every rule on {len(inputs)} inputs (captured roots as one-sample inputs)")
    for name, path in inputs:
        try:
            analysis = analyze(path, cache=False)
        except VmanalyzeError as exc:
            failures.append(f"{name}: cannot load: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - a crash is the failure we look for
            failures.append(f"{name}: crashed: {type(exc).__name__}: {exc}")
            continue
        tables = analysis.dataset.tables
        rows += sum(len(df) for df in tables.values())
        unparsable = tables["collection_health"]
        for _, bad in unparsable[unparsable["outcome"] == "unparsable"].iterrows():
            if f"{name}/{bad['path']}" not in known_odd:
                failures.append(f"{name}/{bad['path']}: {bad['error']}")
        result = analysis.result
        for status in result.by_status("error"):
            failures.append(f"{name}: rule {status.code} error: {status.reason}")
        facts = analysis.dataset.facts
        codes = ",".join(sorted({f.code or "?" for f in result.findings})) or "-"
        print(
            f"  {name}: kernel {facts.kernel_release or '?'}; {result.coverage.sentence}; "
            f"findings {codes}"
        )
    print(f"{len(inputs)} inputs loaded into {rows:,} table rows")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.corpus", description=__doc__)
    parser.add_argument("corpus", type=Path, help="corpus directory (with README.md)")
    parser.add_argument(
        "--bundles",
        type=Path,
        action="append",
        default=[],
        help="also analyze every *.tar.gz of this directory (e.g. sample-bundles)",
    )
    args = parser.parse_args(argv)
    try:
        report = run(args.corpus)
    except OSError as exc:
        print(f"corpus: cannot read {args.corpus}: {exc}", file=sys.stderr)
        return 2
    width = max((len(kind) for kind in report.counts), default=4)
    print(f"{'kind':<{width}}  parsed  failed  skipped")
    total: Counter[str] = Counter()
    for kind in sorted(report.counts):
        counts = report.counts[kind]
        total.update(counts)
        print(
            f"{kind:<{width}}  {counts['parsed']:6d}  {counts['failed']:6d}  {counts['skipped']:7d}"
        )
    print(
        f"{'total':<{width}}  {total['parsed']:6d}  {total['failed']:6d}  {total['skipped']:7d}"
        f"  ({report.checked} files checked against README values)"
    )
    if report.known_odd:
        print("\nknown-odd (edited or not at a kernel path; not failures):")
        for line in report.known_odd:
            print(f"  {line}")
    known_odd = {line.split(": ", 1)[0] for line in report.known_odd}
    inputs = [(str(root.relative_to(args.corpus)), root) for root in captured_roots(args.corpus)]
    for directory in args.bundles:
        inputs += [(str(path), path) for path in sorted(directory.glob("*.tar.gz"))]
    report.failures.extend(analyze_inputs(inputs, known_odd))
    if report.failures:
        print(f"\n{len(report.failures)} FAILURES:")
        for line in report.failures:
            print(f"  {line}")
        return 1
    print("\nOK: every supported file parsed and agreed with the README; no rule failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
