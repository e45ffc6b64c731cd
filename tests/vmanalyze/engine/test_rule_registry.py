"""Discovery through (fake) entry points: every error names the package and its version."""

from __future__ import annotations

import pytest
from vmanalyze.config import ConfigError
from vmanalyze.registry import Registry, discover

from .helpers import entry_point, make_rule

THP001 = make_rule("THP001", name="thp-always-enabled")
THP002 = make_rule("THP002", name="thp-defrag-always")
ACME001 = make_rule("ACME001", name="acme-problem")


def builtin(name: str, rules: tuple[object, ...]) -> object:
    return entry_point(name, rules, package="vmtriage", version="0.1.0")


def test_rules_are_recorded_with_package_version_and_prefix() -> None:
    registry = discover(
        [
            entry_point("ACME", (ACME001,)),
            builtin("THP", (THP002, THP001)),
            builtin("CGR", ()),
        ]
    )
    assert registry.errors == ()
    assert [(e.code, e.package, e.version, e.entry_point) for e in registry] == [
        ("ACME001", "vmanalyze-rules-acme", "1.2.0", "ACME"),
        ("THP001", "vmtriage", "0.1.0", "THP"),
        ("THP002", "vmtriage", "0.1.0", "THP"),
    ]
    assert registry.prefixes == ("ACME", "CGR", "THP")
    assert registry.get("thp001") is not None
    assert registry.get("THP001").package_version == "vmtriage 0.1.0"
    assert registry.get("THP999") is None
    assert registry.rules == (ACME001, THP001, THP002)


def test_import_error_names_the_package_and_loading_goes_on() -> None:
    broken = entry_point(
        "ACME",
        package="vmanalyze-rules-acme",
        version="1.2.0",
        error=ModuleNotFoundError("No module named 'acme_dep'"),
    )
    registry = discover([broken, builtin("THP", (THP001,))])
    assert [e.code for e in registry] == ["THP001"]
    (error,) = registry.errors
    assert error.message == (
        "vmanalyze-rules-acme 1.2.0: entry point ACME = 'vmanalyze_rules_acme:ACME_RULES' "
        "failed to load: ModuleNotFoundError: No module named 'acme_dep'"
    )
    assert (error.package, error.version, error.entry_point) == (
        "vmanalyze-rules-acme",
        "1.2.0",
        "ACME",
    )
    assert error.traceback is not None and "ModuleNotFoundError" in error.traceback
    assert registry.failed_prefixes() == {"ACME": "vmanalyze-rules-acme 1.2.0"}


def test_code_outside_the_prefix_names_the_package() -> None:
    registry = discover([entry_point("ACME", (ACME001, THP001), package="acme", version="2.0")])
    assert [e.code for e in registry] == ["ACME001"]
    assert [e.message for e in registry.errors] == [
        "acme 2.0: rule THP001 (thp-always-enabled) does not start with the prefix of its "
        "entry point ACME; it is not loaded"
    ]


def test_duplicate_code_across_packages_names_both_and_builtin_wins() -> None:
    copy = make_rule("THP001", name="thp-copy")
    registry = discover(
        [entry_point("THP", (copy,), package="aaa-rules", version="9.9"), builtin("THP", (THP001,))]
    )
    assert registry.get("THP001").rule is THP001
    assert [e.message for e in registry.errors] == [
        "aaa-rules 9.9: rule code THP001 (thp-copy) is already defined by vmtriage 0.1.0 "
        "(thp-always-enabled); codes are unique, so this definition is not loaded"
    ]


def test_duplicate_between_third_parties_first_by_name_wins() -> None:
    first = make_rule("ACME001", name="first")
    second = make_rule("ACME001", name="second")
    registry = discover(
        [
            entry_point("ACME", (second,), package="zeta-rules", version="1.0"),
            entry_point("ACME", (first,), package="alpha-rules", version="3.1"),
        ]
    )
    assert registry.get("ACME001").rule is first
    assert registry.errors[0].message.startswith(
        "zeta-rules 1.0: rule code ACME001 (second) is already defined by alpha-rules 3.1 (first)"
    )


def test_bad_entry_point_name_and_bad_values_name_the_package() -> None:
    registry = discover(
        [
            entry_point("acme", (ACME001,), package="lower", version="1"),
            entry_point("ACME", ACME001, package="single", version="2"),
            entry_point("ACME", (ACME001, print), package="mixed", version="3"),
        ]
    )
    assert [e.message for e in registry.errors] == [
        "lower 1: entry point name 'acme' in group vmanalyze.rules is not a rule code prefix "
        "(2 to 5 capital letters, e.g. ACME)",
        "mixed 3: entry point ACME = 'mixed:ACME_RULES': item 1 (print) is not a rule; "
        "decorate it with @vmanalyze.rule(...)",
        "single 2: entry point ACME = 'single:ACME_RULES' must be a list or tuple of rules made "
        "with @vmanalyze.rule, got Rule",
    ]
    assert [(e.code, e.package) for e in registry] == [("ACME001", "mixed")]


def test_same_distribution_seen_twice_is_loaded_once() -> None:
    ep = builtin("THP", (THP001,))
    registry = discover([ep, ep])
    assert registry.errors == () and len(registry) == 1


def test_only_and_env_var_limit_third_party_packs(monkeypatch: pytest.MonkeyPatch) -> None:
    eps = [
        builtin("THP", (THP001,)),
        entry_point("ACME", (ACME001,), package="Vmanalyze_Rules.Acme"),
        entry_point("ZZ", (make_rule("ZZ001"),), package="other"),
    ]
    assert [e.code for e in discover(eps, only=["vmanalyze-rules-acme"])] == ["ACME001", "THP001"]
    assert [e.code for e in discover(eps, only=[])] == ["THP001"]
    monkeypatch.setenv("VMANALYZE_PLUGINS", "other")
    assert [e.code for e in discover(eps)] == ["THP001", "ZZ001"]
    monkeypatch.setenv("VMANALYZE_PLUGINS", "")
    assert [e.code for e in discover(eps)] == ["THP001"]
    monkeypatch.setenv("VMANALYZE_PLUGINS", "othr")
    with pytest.raises(ConfigError) as info:
        discover(eps)
    assert str(info.value) == (
        "VMANALYZE_PLUGINS: no installed rule pack named 'othr' "
        "(installed: Vmanalyze_Rules.Acme, other, vmtriage)"
    )


def test_from_rules_refuses_duplicates() -> None:
    assert [e.package for e in Registry.from_rules([THP001])] == ["<local>"]
    with pytest.raises(ValueError, match="duplicate rule code THP001"):
        Registry.from_rules([THP001, make_rule("THP001")])
