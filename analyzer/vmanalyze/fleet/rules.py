"""The rules of a batch, made explicit so that every worker loads the same ones."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from vmanalyze.config import Config
from vmanalyze.registry import ENV_VAR, Registry, discover

__all__ = ["RuleSpec", "rule_catalog"]


@dataclass(frozen=True)
class RuleSpec:
    """What a worker needs to load the same rules as the client (rules don't pickle).

    ``config`` is the resolved configuration (the file was read on the client, so workers
    don't need it); ``plugins`` the third-party packs to load (``None``: all).
    """

    config: Config = field(default_factory=Config)
    plugins: tuple[str, ...] | None = None
    plugins_source: str = "--plugins"

    @classmethod
    def resolve(cls, config: Config, plugins: str | None) -> RuleSpec:
        """The packs :func:`vmanalyze.cli.options.prepare_rules` would load, made explicit."""
        from vmanalyze.config import split_list

        if plugins is not None:
            return cls(config, split_list(plugins) or (), "--plugins")
        if ENV_VAR in os.environ:
            return cls(config, split_list(os.environ[ENV_VAR]) or (), ENV_VAR)
        if config.plugins is not None:
            origin = f"{config.file.origin} plugins"
            return cls(config, tuple(config.plugins), origin)
        return cls(config, None)

    def registry(self) -> Registry:
        key = repr(self)
        cached = _REGISTRIES.get(key)
        if cached is None:
            cached = discover(only=self.plugins, only_source=self.plugins_source)
            _REGISTRIES[key] = cached
        return cached

    def key(self, registry: Registry | None = None) -> str:
        """A digest of the selected rules, their packages and settings: results made with
        another key are redone."""
        registry = registry or self.registry()
        selected = [
            f"{e.code}={e.package_version}" for e in registry if self.config.is_selected(e.code)
        ]
        errors = [e.message for e in registry.errors]
        doc = {
            "rules": selected,
            "errors": errors,
            "settings": {k: dict(v) for k, v in sorted(self.config.rule_settings.items())},
            "role": self.config.host_role,
        }
        text = json.dumps(doc, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


_REGISTRIES: dict[str, Registry] = {}


def rule_catalog(spec: RuleSpec) -> list[dict[str, Any]]:
    """Code, name, default severity and summary of each selected rule (for fleet.html)."""
    registry = spec.registry()
    return [
        {
            "code": e.code,
            "name": e.rule.name,
            "severity": e.rule.severity.value,
            "summary": e.rule.summary,
            "package": e.package_version,
        }
        for e in registry
        if spec.config.is_selected(e.code)
    ]
