"""Fixtures shared by packages of the test suite.

The collector's tests load this file too, under Python 3.6: keep it 3.6-compatible and import
nothing heavy at module level.
"""

import shutil

import pytest


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
