"""docs/rules.md is generated from the registry and must be up to date."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
from vmanalyze import Setting
from vmanalyze.config import load_config
from vmanalyze.docs_gen import render_rule, render_rules_page
from vmanalyze.registry import RegisteredRule, Registry, discover

from .helpers import make_rule

ROOT = Path(__file__).resolve().parents[3]
RULES_MD = ROOT / "docs" / "rules.md"
REGENERATE = "regenerate it: python -m vmanalyze.docs_gen rules > docs/rules.md"


def test_docs_rules_md_is_up_to_date() -> None:
    expected = render_rules_page(discover(only=()))
    assert RULES_MD.read_text() == expected, f"docs/rules.md is stale; {REGENERATE}"


def test_docs_gen_command_prints_the_same_page() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "vmanalyze.docs_gen", "rules"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "VMANALYZE_PLUGINS": "ignored-by-docs-gen"},
    )
    assert done.stdout == RULES_MD.read_text(), f"docs/rules.md is stale; {REGENERATE}"


FLT = make_rule(
    "FLT001",
    name="major-fault-storm",
    requires=("vmstat",),
    optional=("pressure_memory",),
    settings=[
        Setting("min_majflt_per_s", 500.0, "Sustained major faults per second | system-wide."),
        Setting("strict", True, "Also flag short bursts."),
    ],
)


def test_render_rule_has_metadata_sections_and_settings() -> None:
    text = render_rule(RegisteredRule(FLT, "vmtriage", "0.1.0", "FLT"))
    assert text.startswith(
        "# major-fault-storm (FLT001)\n\nSomething is wrong with the host.\n\n"
        "- Severity: warning\n- Package: vmtriage 0.1.0\n- Requires tables: `vmstat`\n"
        "- Uses if present: `pressure_memory`\n\n## What it does\n\nChecks something.\n"
    )
    settings = (
        "## Settings\n\n| Setting | Default | Type | Description |\n| --- | --- | --- | --- |\n"
        "| `min_majflt_per_s` | `500.0` | float | Sustained major faults per second \\| "
        "system-wide. |\n| `strict` | `true` | bool | Also flag short bursts. |\n\n"
        "Override in `vmanalyze.toml`:\n\n```toml\n[rules.FLT001]\nmin_majflt_per_s = 500.0\n"
        "strict = true\n```\n\n## References\n"
    )
    assert settings in text
    assert text.index("## Remediation") < text.index("## Settings")
    assert text.endswith("- https://docs.kernel.org/admin-guide/sysctl/vm.html\n")


def test_rules_page_lists_and_documents_every_rule() -> None:
    page = render_rules_page(Registry.from_rules([FLT, make_rule("MEM001")], "vmtriage"))
    assert "| [FLT001](#major-fault-storm-flt001) | major-fault-storm | warning |" in page
    assert "## major-fault-storm (FLT001)\n" in page and "### Settings\n" in page
    assert "## test-problem (MEM001)\n" in page
    assert "- Package: vmtriage\n" in page  # no version: the page must not change per release
    assert page.endswith("\n") and not page.endswith("\n\n")


def code_blocks(path: Path, language: str) -> list[str]:
    text = path.read_text()
    return re.findall(rf"^```{language}\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)


def test_writing_rules_guide_examples_run(monkeypatch: pytest.MonkeyPatch) -> None:
    rule_code, test_code, _story = code_blocks(ROOT / "docs" / "writing-rules.md", "python")
    pack = types.ModuleType("vmanalyze_rules_acme")
    exec(compile(rule_code, "writing-rules.md", "exec"), pack.__dict__)
    pack.ACME_RULES = (pack.high_swappiness,)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vmanalyze_rules_acme", pack)
    tests: dict[str, object] = {}
    exec(compile(test_code, "writing-rules.md", "exec"), tests)
    tests["test_high_swappiness_fires"]()  # type: ignore[operator]
    tests["test_high_swappiness_is_skipped_without_its_table"]()  # type: ignore[operator]
    rendered = render_rule(pack.high_swappiness)
    assert "| `max_swappiness` | `60` | int |" in rendered


def test_writing_rules_guide_config_example_is_valid(tmp_path: Path) -> None:
    (toml,) = [b for b in code_blocks(ROOT / "docs" / "writing-rules.md", "toml") if "[host]" in b]
    (tmp_path / "vmanalyze.toml").write_text(toml)
    acme1 = make_rule("ACME001", settings=[Setting("max_swappiness", 60, "doc")])
    config = load_config(cwd=tmp_path)
    config.validate([acme1, make_rule("ACME002")])
    assert config.settings_for(acme1) == {"max_swappiness": 10}
    assert not config.is_selected("ACME002") and config.host_role == "database"


def test_json_format_example_matches_the_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "docs" / "json-format.schema.json").read_text())
    (example,) = code_blocks(ROOT / "docs" / "json-format.md", "json")
    jsonschema.validate(json.loads(example), schema)


def test_docs_story_md_is_up_to_date() -> None:
    from vmanalyze.docs_gen import render_story_page

    page = render_story_page(discover(only=()))
    story_md = ROOT / "docs" / "story.md"
    assert story_md.read_text() == page, (
        "docs/story.md is stale; regenerate it: python -m vmanalyze.docs_gen story > docs/story.md"
    )
    # every built-in link type is listed with its documented condition
    for link_type in discover(only=()).link_types:
        assert f"| `{link_type.name}` |" in page
        assert link_type.condition


def test_writing_rules_guide_story_example_runs() -> None:
    import pandas as pd
    from vmanalyze.rule import Finding
    from vmanalyze.story import EventSource, LinkType, build

    *_, story_code = code_blocks(ROOT / "docs" / "writing-rules.md", "python")
    namespace: dict[str, object] = {}
    exec(compile(story_code, "writing-rules.md", "exec"), namespace)
    source, link_type = namespace["STORY"]  # type: ignore[misc]
    assert isinstance(source, EventSource) and isinstance(link_type, LinkType)
    ts = pd.to_datetime(["2026-11-26T14:00:00Z", "2026-11-26T14:00:30Z"], utc=True)
    tables = {"sysctl_vm": pd.DataFrame({"ts": ts, "name": "swappiness", "value": ["100", "100"]})}
    high = Finding("vm.swappiness is 100", start=ts[0], code="ACME001")
    story = build(tables, [high], link_types=[link_type], event_sources=[source])
    assert [e.text for e in story.events if e.kind == "swappiness"] == ["vm.swappiness was 100"]
    assert story.incidents == ()  # no swap-out event to explain in these tables


#: Settings that are not thresholds: how much to list, which names or versions to match.
NOT_THRESHOLDS = {
    "top_processes",
    "max_listed_victims",
    "zones",
    "extra_database_comms",
    "mongodb_major_version",
    "top_cgroups",
}
#: What a threshold's doc cites: a kernel document or source, a peer tool's default, a vendor,
#: or this project's own choice with its reason.
SOURCES = (
    *("Our choice", "our choice", "pmie", "atop", "kernel", "balance_dirty_pages", "psi.rst"),
    *("https://", "domain-and-peers.md"),  # a vendor's page, or the reference that quotes it
)


def test_every_built_in_threshold_cites_its_source() -> None:
    from vmrules import ALL_RULES

    assert len(ALL_RULES) >= 27
    missing = [
        f"{rule.code}.{setting.name}"
        for rule in ALL_RULES
        for setting in rule.settings
        if setting.name not in NOT_THRESHOLDS and not any(s in setting.doc for s in SOURCES)
    ]
    assert missing == []


def test_the_readme_lists_every_built_in_rule() -> None:
    from vmrules import ALL_RULES

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    rows = {r.code: f"| `{r.code}` | {r.name} | {r.summary} |" for r in ALL_RULES}
    assert [code for code, row in rows.items() if row not in readme] == []
