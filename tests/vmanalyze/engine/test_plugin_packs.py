"""Real packs from tests/plugins/, built and installed with pip, found through entry points."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner
from vmanalyze import Severity
from vmanalyze.cli import rules_cmd
from vmanalyze.config import load_config
from vmanalyze.engine import run
from vmanalyze.registry import discover
from vmanalyze.results import to_json_dict

from .helpers import vmstat_table

pytestmark = pytest.mark.usefixtures("installed_packs")

EXAMPLE = "vmanalyze-rules-example"


def ours(registry_entries: object) -> list[tuple[str, str, str]]:
    """(code, package, version) of the rules from tests/plugins (ignores other installed packs)."""
    return [
        (e.code, e.package, e.version)
        for e in registry_entries  # type: ignore[attr-defined]
        if e.package.startswith("vmanalyze-rules-")
    ]


def test_example_pack_is_discovered_with_its_version() -> None:
    registry = discover(only=[EXAMPLE])
    assert ours(registry) == [
        ("EXA001", EXAMPLE, "0.1.0"),
        ("EXA002", EXAMPLE, "0.1.0"),
    ]
    assert registry.errors == ()
    assert registry.get("EXA001").rule.name == "high-swappiness"


def test_broken_packs_are_reported_by_package_and_the_rest_loads() -> None:
    registry = discover()
    assert ours(registry) == [("EXA001", EXAMPLE, "0.1.0"), ("EXA002", EXAMPLE, "0.1.0")]
    messages = sorted(e.message for e in registry.errors if e.package.startswith("vmanalyze-"))
    assert messages == [
        "vmanalyze-rules-badchart 0.5.0: entry point BCH = 'vmanalyze_rules_badchart:RULES' "
        "failed to load: RuleDefinitionError: rule BCH001: chart 'pie' is not a report chart "
        "(choose from memory, faults, swap, psi, numa, numa_free, thp, commit, or None)",
        "vmanalyze-rules-badprefix 0.2.0: rule OOPS001 (always-fires) does not start with the "
        "prefix of its entry point BAD; it is not loaded",
        "vmanalyze-rules-example-duplicate 0.4.0: rule code EXA001 (swappiness-copy) is already "
        "defined by vmanalyze-rules-example 0.1.0 (high-swappiness); codes are unique, so this "
        "definition is not loaded",
        "vmanalyze-rules-importerror 0.3.0: entry point IMP = "
        "'vmanalyze_rules_importerror:RULES' failed to load: ModuleNotFoundError: No module "
        "named 'vmanalyze_no_such_dependency'",
    ]


def test_example_rules_run_through_the_engine(tmp_path: Path) -> None:
    registry = discover(only=[EXAMPLE])
    tables = {
        "sysctl_vm": pd.DataFrame(
            {"name": ["swappiness", "dirty_ratio", "swappiness"], "value": ["60", "20", "100"]}
        ),
        "vmstat": vmstat_table([0, 2_000, 100_000]),  # 200/s then 9800/s: mean 5000/s
    }
    # The built-in pack always loads; select the example pack's prefix to look at it alone.
    (tmp_path / "vmanalyze.toml").write_text('select = ["EXA"]\n[host]\nrole = "database"\n')
    result = run(tables, registry, load_config(cwd=tmp_path), sample_count=3)
    assert [(s.code, s.status, s.reason) for s in result.rules] == [
        ("EXA001", "ran", None),
        ("EXA002", "ran", None),
    ]
    storm, swappiness = result.findings
    assert (storm.code, storm.severity, storm.severity_reason) == (
        "EXA002",
        Severity.CRITICAL,
        "peak is 20x the threshold",
    )
    assert storm.message == "5000 major faults/s on average (peak 9800/s), threshold 500/s"
    assert (swappiness.code, swappiness.severity, swappiness.message) == (
        "EXA001",
        Severity.WARNING,
        "vm.swappiness is 100, above 60",
    )
    doc = to_json_dict(result, {"path": "host.tar.gz"}, {"hostname": "db01"})
    assert doc["findings"][0]["evidence"] == {
        "mean_majflt_per_s": 5000.0,
        "peak_majflt_per_s": 9800.0,
        "top_intervals": [
            {"end": "2026-11-26T14:00:20Z", "majflt_per_s": 9800.0},
            {"end": "2026-11-26T14:00:10Z", "majflt_per_s": 200.0},
        ],
    }
    assert doc["findings"][0]["start"] == "2026-11-26T14:00:00Z"
    assert doc["findings"][1]["remediation"].startswith("Set `vm.swappiness` to 60 or lower")

    single = run({"vmstat": tables["vmstat"].head(1)}, registry, load_config(cwd=tmp_path))
    assert [(s.code, s.status, s.reason) for s in single.rules] == [
        ("EXA001", "skipped", "missing tables: sysctl_vm"),
        ("EXA002", "skipped", "needs at least 2 samples, the input has 1 sample"),
    ]

    (tmp_path / "vmanalyze.toml").write_text("[rules.EXA001]\nmax_swappiness = 100\n")
    quiet = run(tables, registry, load_config(cwd=tmp_path, select=["EXA001"]))
    assert quiet.findings == ()


def test_a_packs_finding_is_marked_on_the_chart_its_rule_names(tmp_path: Path) -> None:
    """EXA002 declares chart="faults": the report marks its finding there, and takes the
    rule's name and docs from the analysis's own registry (the --plugins choice), never from
    a discovery of its own."""
    from vmanalyze.analysis import analyze
    from vmreports import build_view

    bundle = Path(__file__).resolve().parents[3] / "sample-bundles" / "swap-thrash.tar.gz"
    (tmp_path / "vmanalyze.toml").write_text(
        'select = ["EXA002"]\n[rules.EXA002]\nmin_majflt_per_s = 1.0\n'
    )
    registry = discover(only=[EXAMPLE])
    assert registry.get("EXA002").rule.chart == "faults"
    analysis = analyze(bundle, registry=registry, config=load_config(cwd=tmp_path), cache=False)
    view = build_view(analysis)
    (finding,) = view.findings
    assert (finding.code, finding.chart_id, finding.marked) == ("EXA002", "faults", True)
    faults = next(c for c in view.charts if c.id == "faults")
    assert [m.code for m in faults.marks] == ["EXA002"]
    assert not any(m.code == "EXA002" for c in view.charts if c.id != "faults" for m in c.marks)
    (doc,) = view.rule_docs
    assert (doc.code, doc.package) == ("EXA002", f"{EXAMPLE} 0.1.0")

    # Without the pack (--plugins ""), the same input has no EXA002: nothing is rediscovered.
    builtin = analyze(bundle, registry=discover(only=()), cache=False)
    assert "EXA002" not in {d.code for d in build_view(builtin).rule_docs}


def test_vmanalyze_rules_lists_the_installed_pack() -> None:
    cli = typer.Typer()

    @cli.callback()
    def main() -> None:
        """vmanalyze (test app)."""

    rules_cmd.register(cli)
    listing = CliRunner().invoke(cli, ["rules"])
    assert listing.exit_code == 0, listing.output
    rows = [" ".join(line.strip("│ ").split()) for line in listing.stdout.splitlines()]
    assert [row for row in rows if "EXA0" in row] == [
        f"EXA001 │ high-swappiness │ info │ {EXAMPLE} │ 0.1.0",
        f"EXA002 │ major-fault-storm │ warning │ {EXAMPLE} │ 0.1.0",
    ]
    assert "warning: vmanalyze-rules-importerror 0.3.0: entry point IMP" in listing.stderr

    doc = CliRunner().invoke(cli, ["rules", "EXA002", "--plugins", EXAMPLE])
    assert doc.exit_code == 0 and doc.stderr == ""
    assert doc.stdout.startswith("# major-fault-storm (EXA002)\n")
    assert "- Package: vmanalyze-rules-example 0.1.0\n" in doc.stdout
    assert "| `min_majflt_per_s` | `500.0` | float |" in doc.stdout
    assert "[rules.EXA002]\nmin_majflt_per_s = 500.0\ncritical_factor = 10.0\n" in doc.stdout


def test_a_pack_contributes_event_sources_and_link_types(tmp_path: Path) -> None:
    """The example pack's story entry point: its event source runs, and its link type ties
    its own rule (EXA001) to the built-in pack's swap-out events on a real bundle."""
    from vmanalyze.dataset import load

    registry = discover(only=[EXAMPLE])
    assert "example-swappiness" in [s.name for s in registry.event_sources]
    assert "example-swappiness-then-swap-out" in [k.name for k in registry.link_types]
    assert "swap-out" in [s.name for s in registry.event_sources]  # the built-in ones too
    assert discover(only=()).link_types == tuple(
        k for k in registry.link_types if not k.name.startswith("example-")
    )

    dataset = load(Path(__file__).parents[3] / "sample-bundles" / "swap-thrash.tar.gz", cache=False)
    (tmp_path / "vmanalyze.toml").write_text("[rules.EXA001]\nmax_swappiness = 10\n")
    result = run(dataset.tables, registry, load_config(cwd=tmp_path), host=dataset.host)
    assert [e.text for e in result.story.events if e.kind == "swappiness"] == [
        "vm.swappiness was 60"
    ]
    roots = {i.root.code: i for i in result.story.incidents}
    incident = roots["EXA001"]
    assert [k.type for k in incident.links] == ["example-swappiness-then-swap-out"]
    assert incident.explains[0].code == "event:swap_out"
    assert roots["CGR001"].root.code == "CGR001"  # the built-in story still stands
