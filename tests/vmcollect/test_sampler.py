"""The sampling loop in process: what a snapshot leaves behind in the interpreter."""

import gc
import os
import sys

import pytest

from .conftest import COLLECTOR

if COLLECTOR not in sys.path:
    sys.path.insert(0, COLLECTOR)

from vmcollect.cli import Options, build_parser  # noqa: E402
from vmcollect.sampler import Collector  # noqa: E402
from vmcollect.sources import Roots  # noqa: E402


def _collector(fixture_root, tmp_path):
    ns = build_parser().parse_args(["--count", "1", "-o", str(tmp_path)])
    spool = str(tmp_path / "spool")
    os.mkdir(spool)
    c = Collector(
        Options(ns),
        Roots(os.path.join(fixture_root, "proc"), os.path.join(fixture_root, "sys")),
        spool,
    )
    c.start({})
    return c


@pytest.mark.parametrize("enabled", [True, False])
def test_a_snapshot_runs_without_the_cyclic_collector_and_restores_it(
    fixture_root, tmp_path, monkeypatch, enabled
):
    c = _collector(fixture_root, tmp_path)
    during = []
    read_processes = c._read_processes

    def spy(label, full):
        during.append(gc.isenabled())
        return read_processes(label, full)

    monkeypatch.setattr(c, "_read_processes", spy)
    (gc.enable if enabled else gc.disable)()
    try:
        meta = c.snapshot(0)
        assert during == [False]
        assert gc.isenabled() is enabled
        assert meta["label"] == 0

        def fail(label, full):
            raise OSError("boom")

        monkeypatch.setattr(c, "_read_processes", fail)
        with pytest.raises(OSError):
            c.snapshot(1)
        assert gc.isenabled() is enabled
    finally:
        gc.enable()
        c.spool.close()
