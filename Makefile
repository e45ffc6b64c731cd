# vmtriage: `make demo` runs the main job end to end, `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The collector must run on customers' Python 3.6: test it there when this machine has one.
PY36 ?= $(shell ls -d "$$(pyenv root 2>/dev/null)"/versions/3.6*/bin/python 2>/dev/null | head -1)
VENV36 := .venv36
CORPUS ?= ../shared/corpus

.PHONY: all demo test lint typecheck pytest test-py36 pyz corpus samples kernels bench clean

all: test

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "vmtriage needs Python >= 3.11 for the analyzer (the collector runs on 3.6+)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

dist/vmcollect.pyz: $(shell find collector/vmcollect -name '*.py')
	rm -rf build/pyz && mkdir -p build/pyz dist
	cp -r collector/vmcollect build/pyz/
	find build/pyz -name '__pycache__' -prune -exec rm -rf {} +
	$(PYTHON) -m zipapp build/pyz -p '/usr/bin/env python3' -m 'vmcollect.cli:entry' -c -o dist/vmcollect.pyz
	@echo "built dist/vmcollect.pyz"

pyz: dist/vmcollect.pyz

demo: venv pyz
	mkdir -p demo
	$(PYTHON) dist/vmcollect.pyz --interval 1s --count 15 --output demo/ | tee demo/.collect.log
	@bundle=$$(tail -n 1 demo/.collect.log); \
	echo; echo "== what the bundle holds"; \
	$(PYTHON) dist/vmcollect.pyz --show "$$bundle" | head -n 8; \
	echo; echo "== analysis"; \
	$(VENV)/bin/vmanalyze "$$bundle" --no-cache; \
	echo; echo "== the report above opens in any browser, offline"

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

typecheck: venv
	$(VENV)/bin/mypy analyzer/vmanalyze rules/vmrules reports/vmreports

pytest: venv pyz
	sh tests/install-system-packages.sh
	$(VENV)/bin/pytest -q

$(VENV36)/.installed:
	$(PY36) -m venv $(VENV36)
	$(VENV36)/bin/python -m pip install -q 'pip==21.3.1'
	$(VENV36)/bin/python -m pip install -q 'pytest==7.0.1'
	touch $@

test-py36: pyz
	@if [ -n "$(PY36)" ]; then \
	    $(MAKE) --no-print-directory $(VENV36)/.installed && \
	    echo "== collector tests under $$($(PY36) --version 2>&1)" && \
	    VMTRIAGE_PYZ=dist/vmcollect.pyz $(VENV36)/bin/python -m pytest -q -p no:cacheprovider tests/vmcollect; \
	else echo "== no Python 3.6 under pyenv: collector tests ran under $$($(PYTHON) --version) only"; fi

test: lint typecheck pytest test-py36

corpus: venv
	$(PY) -m tests.support.corpus $(CORPUS) --bundles sample-bundles
	$(VENV)/bin/pytest -q -m corpus tests/vmrules

samples: pyz
	@[ "$$(id -u)" = 0 ] || { echo "make samples: the scenarios change THP, swap and cgroups: run as root" >&2; exit 2; }
	bash sample-bundles/scenarios/run-all.sh

# Real bundles and sosreports from Debian guests (5.10, 6.1, 6.12) under QEMU: tests/data/kernels/.
kernels: pyz
	@[ "$$(id -u)" = 0 ] || { echo "make kernels: builds guest images and boots them: run as root" >&2; exit 2; }
	bash sample-bundles/scenarios/kernels.sh

bench: venv pyz
	$(PY) benchmarks/collector.py
	$(PY) benchmarks/analyzer.py

clean:
	rm -rf build dist demo .venv .venv36 .pytest_cache .mypy_cache .ruff_cache
