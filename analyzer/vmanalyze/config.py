"""Which rules run, with which thresholds: command-line options and ``vmanalyze.toml``.

The file (``--config PATH``, else ``vmanalyze.toml`` in the current directory if present)::

    select = ["MEM", "SWP", "THP001"]   # codes or prefixes; default: every rule ("ALL")
    ignore = ["SWP002"]
    extend-select = ["EXA"]             # added to `select` (from the file or the command line)
    fail-on = "critical"                # exit 1 when a finding at or above this severity exists
    plugins = ["vmanalyze-rules-acme"]  # third-party packs to load (default: all installed)

    [host]
    role = "database"                   # overrides the role found in the host facts

    [rules.FLT001]
    min_majflt_per_s = 200              # a setting of rule FLT001

Selection follows ruff: a selector is ``ALL``, a prefix (``SWP``, ``SWP0``) or a full code.
For each rule, the most specific matching selector decides; at equal specificity a
command-line selector beats a file selector, and within one source ``ignore`` beats
``select``. ``--select`` replaces the file's ``select``; ignores and ``extend-select`` from
both sources add up. Unknown keys, codes, prefixes and setting names are errors
(:class:`ConfigError`, one line; the command line exits with status 2).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmanalyze.errors import VmanalyzeError
from vmanalyze.rule import CODE_RE, Rule, SettingValue, Severity

__all__ = ["CONFIG_FILENAME", "Config", "ConfigError", "Selection", "load_config", "split_list"]

#: Looked up in the current directory when ``--config`` is not given.
CONFIG_FILENAME = "vmanalyze.toml"

_TOP_KEYS = ("select", "ignore", "extend-select", "fail-on", "plugins", "host", "rules")
_HOST_KEYS = ("role",)


class ConfigError(VmanalyzeError):
    """A bad option or config file: the message is one line, naming where the problem is."""


def split_list(values: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """``["MEM,SWP", "THP001"]`` -> ``("MEM", "SWP", "THP001")``; ``None`` stays ``None``."""
    if values is None:
        return None
    items = [values] if isinstance(values, str) else list(values)
    return tuple(part.strip() for item in items for part in item.split(",") if part.strip())


@dataclass(frozen=True)
class Selection:
    """``select``/``ignore``/``extend-select`` from one source (the file or the command line)."""

    origin: str
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()

    def selectors(self) -> Iterable[tuple[str, str]]:
        """(option name, selector) pairs, for validation messages."""
        for key, values in (
            ("select", self.select or ()),
            ("ignore", self.ignore),
            ("extend-select", self.extend_select),
        ):
            for value in values:
                yield key, value


def _specificity(selector: str) -> int:
    return 0 if selector == "ALL" else len(selector)


def _matches(selector: str, code: str) -> bool:
    return selector == "ALL" or code.startswith(selector)


@dataclass(frozen=True)
class Config:
    """Resolved options for one analysis. ``Config()`` runs every rule with its defaults."""

    file: Selection = field(default_factory=lambda: Selection(CONFIG_FILENAME))
    cli: Selection = field(default_factory=lambda: Selection("command line"))
    rule_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    host_role: str | None = None
    fail_on: Severity | None = None
    plugins: tuple[str, ...] | None = None
    path: Path | None = None

    def is_selected(self, code: str) -> bool:
        """Whether the rule ``code`` runs under this configuration (see the module doc)."""
        select = self.cli.select if self.cli.select is not None else self.file.select
        select_origin = 1 if self.cli.select is not None else 0
        candidates: list[tuple[int, int, int]] = []  # (specificity, source, ignore?)
        for selector in select if select is not None else ("ALL",):
            if _matches(selector, code):
                candidates.append((_specificity(selector), select_origin, 0))
        for source, layer in enumerate((self.file, self.cli)):
            for selector in layer.extend_select:
                if _matches(selector, code):
                    candidates.append((_specificity(selector), source, 0))
            for selector in layer.ignore:
                if _matches(selector, code):
                    candidates.append((_specificity(selector), source, 1))
        if not candidates:
            return False
        return max(candidates)[2] == 0

    def settings_for(self, rule: Rule) -> dict[str, SettingValue]:
        """The rule's setting values: defaults, overridden by ``[rules.CODE]``."""
        values = rule.defaults()
        for name, value in self.rule_settings.get(rule.code, {}).items():
            values[name] = rule.setting(name).coerce(value)
        return values

    def validate(
        self,
        rules: Iterable[Rule],
        *,
        prefixes: Iterable[str] = (),
        failed: Mapping[str, str] | None = None,
    ) -> None:
        """Raise :class:`ConfigError` for a selector, code or setting no known rule has.

        ``prefixes`` are the entry-point names of the loaded packs (a pack with no rules yet
        is still a valid selector); ``failed`` maps the prefix of a pack that failed to load
        to its package, to explain why its codes are unknown.
        """
        by_code = {r.code: r for r in rules}
        known_prefixes = set(prefixes) | {r.prefix for r in by_code.values()}
        failed = failed or {}

        def unknown(what: str, where: str, value: str) -> ConfigError:
            hint = ""
            letters = value.rstrip("0123456789")
            if letters in failed:
                hint = f" (the pack {failed[letters]} that provides {letters} failed to load)"
            return ConfigError(f"{where}: unknown {what} {value!r}{hint}")

        for layer in (self.file, self.cli):
            for key, selector in layer.selectors():
                where = f"{layer.origin} {key}" if layer is self.file else f"--{key}"
                if selector == "ALL":
                    continue
                if CODE_RE.match(selector):
                    if selector not in by_code:
                        raise unknown("rule code", where, selector)
                elif not any(c.startswith(selector) for c in by_code) and not any(
                    p.startswith(selector) for p in known_prefixes
                ):
                    raise unknown("rule code or prefix", where, selector)
        for code, values in self.rule_settings.items():
            where = f"{self.file.origin} [rules.{code}]"
            if code not in by_code:
                raise unknown("rule code", f"{self.file.origin} [rules]", code)
            known = by_code[code]
            for name, value in values.items():
                try:
                    setting = known.setting(name)
                except KeyError:
                    names = ", ".join(s.name for s in known.settings) or "none"
                    raise ConfigError(
                        f"{where}: rule {code} has no setting {name!r} (its settings: {names})"
                    ) from None
                try:
                    setting.coerce(value)
                except ValueError as exc:
                    raise ConfigError(f"{where}: {name}: {exc}") from None


def _string_list(value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
    return split_list(value) or ()


def _selectors(values: Iterable[str], where: str) -> tuple[str, ...]:
    out = []
    for value in values:
        selector = value.strip().upper()
        if selector != "ALL" and not (
            selector[:1].isalpha() and selector.rstrip("0123456789").isalpha()
        ):
            raise ConfigError(f"{where}: {value!r} is not a rule code, prefix or ALL")
        out.append(selector)
    return tuple(out)


def _severity(value: object, where: str) -> Severity:
    try:
        return Severity.parse(value)  # type: ignore[arg-type]  # checked by parse
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _read_file(path: Path, label: str) -> dict[str, Any]:
    try:
        with path.open("rb") as fp:
            return tomllib.load(fp)
    except FileNotFoundError:
        raise ConfigError(f"{label}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{label}: cannot read config file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label}: invalid TOML: {exc}") from None


def load_config(
    path: str | Path | None = None,
    *,
    cwd: str | Path | None = None,
    select: str | Sequence[str] | None = None,
    ignore: str | Sequence[str] | None = None,
    fail_on: Severity | str | None = None,
    plugins: str | Sequence[str] | None = None,
    host_role: str | None = None,
) -> Config:
    """Read the config file and merge the command-line options over it.

    ``path`` is ``--config`` (must exist); without it ``vmanalyze.toml`` in ``cwd`` (default:
    the current directory) is read if present. ``select``/``ignore``/``plugins`` take lists
    or comma-separated strings. Shape errors raise :class:`ConfigError`; codes and setting
    names are checked later, against the loaded rules, by :meth:`Config.validate`.
    """
    data: dict[str, Any] = {}
    file_path: Path | None = None
    label = CONFIG_FILENAME
    if path is not None:
        file_path = Path(path)
        label = str(path)
        data = _read_file(file_path, label)
    else:
        candidate = Path(cwd if cwd is not None else Path.cwd()) / CONFIG_FILENAME
        if candidate.is_file():
            file_path = candidate
            data = _read_file(candidate, label)

    for key in data:
        if key not in _TOP_KEYS:
            known = ", ".join(_TOP_KEYS)
            raise ConfigError(f"{label}: unknown key {key!r} (known keys: {known})")

    file_select = (
        _selectors(_string_list(data["select"], f"{label} select"), f"{label} select")
        if "select" in data
        else None
    )
    file_layer = Selection(
        origin=label,
        select=file_select,
        ignore=_selectors(_string_list(data.get("ignore", []), f"{label} ignore"), label),
        extend_select=_selectors(
            _string_list(data.get("extend-select", []), f"{label} extend-select"), label
        ),
    )
    cli_select = split_list(select)
    cli_layer = Selection(
        origin="command line",
        select=_selectors(cli_select, "--select") if cli_select is not None else None,
        ignore=_selectors(split_list(ignore) or (), "--ignore"),
    )

    host = data.get("host", {})
    if not isinstance(host, dict):
        raise ConfigError(f"{label} [host]: must be a table")
    for key in host:
        if key not in _HOST_KEYS:
            raise ConfigError(f"{label} [host]: unknown key {key!r} (known keys: role)")
    role = host_role if host_role is not None else host.get("role")
    if role is not None and (not isinstance(role, str) or not role.strip()):
        raise ConfigError(f"{label} [host]: role must be a non-empty string, got {role!r}")

    rules = data.get("rules", {})
    if not isinstance(rules, dict):
        raise ConfigError(f"{label} [rules]: must be a table of [rules.CODE] tables")
    rule_settings: dict[str, dict[str, Any]] = {}
    for code, values in rules.items():
        if not isinstance(values, dict):
            raise ConfigError(f"{label} [rules]: {code} must be a table, e.g. [rules.{code}]")
        for name, value in values.items():
            if not isinstance(value, bool | int | float | str):
                raise ConfigError(
                    f"{label} [rules.{code}]: {name}: expected a number, boolean or string, "
                    f"got {value!r}"
                )
        rule_settings[code] = dict(values)

    if fail_on is not None:
        fail = _severity(fail_on, "--fail-on")
    elif "fail-on" in data:
        fail = _severity(data["fail-on"], f"{label} fail-on")
    else:
        fail = None

    plugin_list = split_list(plugins)
    if plugin_list is None and "plugins" in data:
        plugin_list = _string_list(data["plugins"], f"{label} plugins")

    return Config(
        file=file_layer,
        cli=cli_layer,
        rule_settings=rule_settings,
        host_role=role.strip() if isinstance(role, str) else None,
        fail_on=fail,
        plugins=plugin_list,
        path=file_path,
    )
