"""Fixtures shared by packages of the test suite.

The collector's tests load this file too, under Python 3.6: keep it 3.6-compatible and import
nothing heavy at module level.
"""

import contextlib
import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parent / "plugins"


@pytest.fixture(scope="session")
def spark():
    """A local Apache Spark session (one JVM for the whole test run), or a skip saying why."""
    pytest.importorskip("pyspark", reason="pyspark is in the test extra: pip install -e '.[test]'")
    if shutil.which("java") is None:
        pytest.skip("no Java runtime: tests/install-system-packages.sh installs one")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("vmtriage-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "512m")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def plugin_packs():
    """``install(names, work)``: a context in which rule packs of tests/plugins are installed.

    pip builds them (``--no-deps --no-build-isolation``) into ``work/site``, put on sys.path
    for the context: discovery sees real distributions with real entry points, and the
    shared virtualenv is never changed. ``names`` None: every pack.
    """

    @contextlib.contextmanager
    def install(names, work):
        sources = []
        for pack in sorted(PLUGINS.iterdir()):
            if (pack / "pyproject.toml").is_file() and (names is None or pack.name in names):
                copy = work / "src" / pack.name  # pip writes build/ and *.egg-info: a copy
                shutil.copytree(
                    pack, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
                )
                sources.append(str(copy))
        target = work / "site"
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
        command += ["--no-build-isolation", "--no-index", "--disable-pip-version-check"]
        command += ["--target", str(target), *sources]
        done = subprocess.run(  # noqa: UP022 - this file is also loaded by Python 3.6
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            universal_newlines=True,  # noqa: UP021
        )
        if done.returncode != 0:
            pytest.fail(
                f"pip install of {', '.join(sources)} failed:\n{done.stdout}\n{done.stderr}"
            )
        sys.path.insert(0, str(target))
        importlib.invalidate_caches()
        try:
            yield target
        finally:
            sys.path.remove(str(target))
            for module in [m for m in sys.modules if m.startswith("vmanalyze_rules_")]:
                del sys.modules[module]
            importlib.invalidate_caches()

    return install
