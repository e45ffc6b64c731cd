"""Tests of the rule framework: rule API, engine, registry, config, JSON results, docs, CLI."""
