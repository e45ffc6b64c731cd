"""Chart series against values computed independently from the tables; downsampling."""

from __future__ import annotations

import doctest
from typing import Any

import numpy as np
import pandas as pd
import pytest
from vmanalyze.registry import discover
from vmanalyze.rule import CHARTS
from vmreports import charts, render, sections, units
from vmreports.charts import ONE_SNAPSHOT, build_charts, minmax_downsample

from .helpers import dataset_of


@pytest.mark.parametrize("module", [charts, units, sections, render])
def test_doctests(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert result.failed == 0


# -- downsampling ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_downsample_keeps_every_peak_and_caps_points(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 50_000
    x = np.cumsum(rng.uniform(0.4, 0.6, n))
    noise = rng.normal(100, 5, n)
    spikes = noise.copy()
    where = rng.choice(n, 7, replace=False)
    spikes[where] = rng.uniform(1e4, 1e5, 7)  # single-sample spikes
    spikes[rng.choice(n, 3, replace=False)] = -500  # and dips
    gappy = noise.copy()
    gappy[1000:3000] = np.nan
    xs, (a, b, c) = minmax_downsample(x, [noise, spikes, gappy], 2000)
    assert len(xs) <= 2000
    assert np.all(np.diff(xs) >= 0)
    assert xs[0] == x[0] and xs[-1] == x[-1]
    for before, after in ((noise, a), (spikes, b), (gappy, c)):
        assert np.nanmax(after) == np.nanmax(before)
        assert np.nanmin(after) == np.nanmin(before)
    # every spike survives, within one bucket (n / 1000 samples) of where it was
    bucket = (x[-1] - x[0]) / 1000 * 1.01
    for i in where:
        hits = xs[b == spikes[i]]
        assert len(hits) and np.min(np.abs(hits - x[i])) <= bucket
    # a long gap stays a gap (null in the JSON), it is not bridged with made-up values
    assert np.isnan(c).any()


def test_downsample_leaves_short_series_alone() -> None:
    x = np.arange(10.0)
    y = np.arange(10.0) ** 2
    xs, (ys,) = minmax_downsample(x, [y], 2000)
    assert xs.tolist() == x.tolist() and ys.tolist() == y.tolist()


def test_long_series_are_downsampled_in_the_charts() -> None:
    n = 5000
    ts = pd.date_range("2026-01-01", periods=n, freq="500ms", tz="UTC")
    meminfo = pd.DataFrame(
        {
            "ts": ts,
            "mem_total_bytes": 8 << 30,
            "mem_free_bytes": np.linspace(4 << 30, 1 << 30, n),
            "mem_available_bytes": np.linspace(6 << 30, 2 << 30, n),
            "cached_bytes": 1 << 30,
            "committed_as_bytes": 3 << 30,
            "commit_limit_bytes": 4 << 30,
        }
    )
    meminfo.loc[1234, "mem_free_bytes"] = 7 << 30  # one spike
    memory = build_charts({"meminfo": meminfo})[0]
    assert memory.points_before == n and len(memory.x) <= charts.MAX_POINTS
    free = next(s for s in memory.series if s.label == "Free")
    assert np.nanmax(free.values) == 7 << 30


# -- values against the tables -----------------------------------------------------------


def _ns(ts: pd.Series) -> np.ndarray:
    naive = pd.to_datetime(ts, utc=True).dt.tz_localize(None)
    return naive.to_numpy().astype("datetime64[ns]").astype("int64")


def _seconds(ts: pd.Series) -> np.ndarray:
    """UTC seconds (numpy, not the report's own conversion)."""
    return _ns(ts) / 1e9


def _intervals(ts: pd.Series) -> np.ndarray:
    """Seconds between consecutive samples, exact (integer nanoseconds first)."""
    return np.diff(_ns(ts)) / 1e9


def _periodic(ds: Any, table: str) -> pd.DataFrame:
    """The table's rows of the periodic samples (not the start and end snapshots), by time."""
    samples = ds.tables["samples"]
    sampled = set(samples.loc[samples["phase"] == "sample", "snapshot"])
    df = ds.tables[table]
    return df[df["snapshot"].isin(sampled)].sort_values("ts")


def _chart(name: str, chart_id: str) -> charts.Chart:
    ds = dataset_of(name)
    found = {c.id: c for c in build_charts(ds.tables, page_size=ds.host["page_size"] or 4096)}
    return found[chart_id]


def _series(chart: charts.Chart, label: str) -> np.ndarray:
    return next(s.values for s in chart.series if s.label == label)


def test_swap_rates_match_the_vmstat_counters() -> None:
    ds = dataset_of("swap-thrash")
    vm = _periodic(ds, "vmstat")
    seconds = _intervals(vm["ts"])
    page = ds.host["page_size"] or 4096
    expected_in = np.diff(vm["pswpin"].to_numpy(dtype=float)) / seconds * page
    expected_out = np.diff(vm["pswpout"].to_numpy(dtype=float)) / seconds * page
    chart = _chart("swap-thrash", "swap")
    assert chart.drawn and chart.unit == "bytes_per_s"
    np.testing.assert_allclose(_series(chart, "Swap-in"), expected_in, rtol=1e-6)
    np.testing.assert_allclose(_series(chart, "Swap-out"), expected_out, rtol=1e-6)
    np.testing.assert_allclose(chart.x, _seconds(vm["ts"])[1:])
    assert expected_in.max() > 50 * 2**20  # the scenario: tens of MiB/s both ways


def test_fault_split_adds_up_to_the_major_faults() -> None:
    ds = dataset_of("pagecache-thrash")
    vm = _periodic(ds, "vmstat")
    seconds = _intervals(vm["ts"])
    majflt = np.diff(vm["pgmajfault"].to_numpy(dtype=float)) / seconds
    refault = np.diff(vm["workingset_refault_file"].to_numpy(dtype=float)) / seconds
    chart = _chart("pagecache-thrash", "faults")
    total = _series(chart, "All major faults")
    np.testing.assert_allclose(total, majflt, rtol=1e-6)
    parts = sum(_series(chart, label) for label in ("Swap-in", "File refaults", "Other"))
    np.testing.assert_allclose(parts, majflt, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(_series(chart, "File refaults"), np.minimum(refault, majflt))
    assert _series(chart, "File refaults").max() > 1000  # the scenario's refault storm


def test_psi_share_is_stall_time_over_wall_time() -> None:
    ds = dataset_of("swap-thrash")
    psi = _periodic(ds, "pressure_memory")
    wall_us = _intervals(psi["ts"]) * 1e6
    some = np.diff(psi["some_total_us"].to_numpy(dtype=float)) / wall_us * 100
    chart = _chart("swap-thrash", "psi")
    assert chart.unit == "pct"
    np.testing.assert_allclose(_series(chart, "some"), np.clip(some, 0, 100), rtol=1e-6)
    assert 0 < _series(chart, "some").max() <= 100


def test_memory_and_commit_levels_are_meminfo() -> None:
    ds = dataset_of("overcommit")
    mem = _periodic(ds, "meminfo")
    used = (
        mem["mem_total_bytes"]
        - mem["mem_free_bytes"]
        - mem["buffers_bytes"]
        - mem["cached_bytes"]
        - mem["s_reclaimable_bytes"]
    ).to_numpy(dtype=float)
    memory = _chart("overcommit", "memory")
    np.testing.assert_array_equal(_series(memory, "Used"), used)
    np.testing.assert_array_equal(
        _series(memory, "Available"), mem["mem_available_bytes"].to_numpy(dtype=float)
    )
    commit = _chart("overcommit", "commit")
    committed = _series(commit, "Committed_AS")
    np.testing.assert_array_equal(committed, mem["committed_as_bytes"].to_numpy(dtype=float))
    ram_swap = _series(commit, "RAM + swap")
    assert committed.max() > 2 * ram_swap.max()  # the scenario: far above RAM + swap


def test_thp_rates_match_vmstat() -> None:
    ds = dataset_of("thp-always-postgres")
    vm = _periodic(ds, "vmstat")
    alloc = np.diff(vm["thp_fault_alloc"].to_numpy(dtype=float)) / _intervals(vm["ts"])
    chart = _chart("thp-always-postgres", "thp")
    np.testing.assert_allclose(_series(chart, "Huge page faults"), alloc, rtol=1e-6)
    assert chart.unit2 == "bytes"


def test_the_end_snapshot_is_no_chart_point() -> None:
    ds = dataset_of("swap-thrash")
    samples = ds.tables["samples"].sort_values("snapshot")
    last_sample = samples[samples["phase"] == "sample"]["ts"].max()
    end = samples[samples["phase"] == "end"]["ts"].max()
    assert 0 < (end - last_sample).total_seconds() < 1  # taken right after the last sample
    for chart_id in ("memory", "swap", "psi", "faults"):
        chart = _chart("swap-thrash", chart_id)
        assert chart.x[-1] == pytest.approx(_seconds(pd.Series([last_sample]))[0], abs=1e-5)


def test_every_axis_has_a_unit() -> None:
    ds = dataset_of("swap-thrash")
    for chart in build_charts(ds.tables, page_size=ds.host["page_size"] or 4096):
        spec = chart.to_json()
        assert spec["label"], chart.id
        assert (spec["label2"] is None) == (chart.unit2 is None), chart.id
    labels = {c.id: c.to_json()["label"] for c in build_charts(ds.tables)}
    assert labels["faults"] == "faults/s" and labels["thp"] == "faults/s"
    assert labels["numa"] == "pages/s" and labels["memory"] == "bytes"


# -- no data -----------------------------------------------------------------------------


def test_single_numa_node_says_so() -> None:
    numa = _chart("healthy-idle", "numa")
    assert not numa.drawn and "single NUMA node" in (numa.empty or "")
    assert not _chart("healthy-idle", "numa_free").drawn


def test_no_swap_says_so() -> None:
    swap = _chart("healthy-idle", "swap")
    assert not swap.drawn and "No swap is configured" in (swap.empty or "")


def test_one_snapshot_input_has_no_time_series() -> None:
    ds = dataset_of("debian12")  # a captured directory: one snapshot, like a sosreport
    found = build_charts(ds.tables)
    assert found and all(not c.drawn for c in found)
    assert all(c.empty for c in found)
    assert ONE_SNAPSHOT in (found[0].empty or "")


def test_two_numa_nodes_draw_local_and_remote_per_node() -> None:
    ts = pd.date_range("2026-01-01", periods=4, freq="1s", tz="UTC")
    rows = []
    for node in (0, 1):
        for i, t in enumerate(ts):
            rows.append(
                {"ts": t, "node": node, "local_node": 1000 * i, "other_node": (node + 1) * 10 * i}
            )
    numastat = pd.DataFrame(rows)
    numa = {c.id: c for c in build_charts({"sys_node_numastat": numastat})}["numa"]
    assert numa.drawn
    labels = [s.label for s in numa.series]
    assert labels == ["node 0 local", "node 0 remote", "node 1 local", "node 1 remote"]
    np.testing.assert_allclose(_series(numa, "node 1 remote"), [20.0, 20.0, 20.0])


def test_numa_rates_match_numastat_per_node() -> None:
    ds = dataset_of("numa-remote")
    numa = _chart("numa-remote", "numa")
    free = _chart("numa-remote", "numa_free")
    assert numa.drawn and free.drawn
    stat = _periodic(ds, "sys_node_numastat")
    for node in (0, 1):
        part = stat[stat["node"] == node].sort_values("ts")
        seconds = _intervals(part["ts"])
        remote = np.diff(part["other_node"].to_numpy(dtype=float)) / seconds
        local = np.diff(part["local_node"].to_numpy(dtype=float)) / seconds
        got_remote = _series(numa, f"node {node} remote")
        got_local = _series(numa, f"node {node} local")
        keep = ~np.isnan(got_remote)  # the shared x has every node's times
        np.testing.assert_allclose(got_remote[keep], remote, rtol=1e-6)
        np.testing.assert_allclose(got_local[keep], local, rtol=1e-6)
        meminfo = _periodic(ds, "sys_node_meminfo")
        node_free = meminfo[meminfo["node"] == node].sort_values("ts")["mem_free_bytes"]
        got_free = _series(free, f"node {node} free")
        np.testing.assert_array_equal(got_free[~np.isnan(got_free)], node_free.to_numpy(float))
    assert _series(numa, "node 1 remote").max() > 1000  # the scenario: node 1 serves node 0


def test_the_charts_rules_may_name_are_the_reports_charts() -> None:
    """``@rule(chart=...)`` is validated against vmanalyze.rule.CHARTS: the report draws
    exactly those charts, in that order, on any input (empty tables included)."""
    assert [c.id for c in build_charts({})] == list(CHARTS)
    assert [c.id for c in build_charts(dataset_of("swap-thrash").tables)] == list(CHARTS)


def test_built_in_rules_name_the_chart_of_their_evidence() -> None:
    charts = {entry.code: entry.rule.chart for entry in discover(only=())}
    assert [charts[c] for c in ("SWP001", "FLT001", "PSI001", "MEM001")] == [
        "swap",
        "faults",
        "psi",
        "memory",
    ]
    assert [charts[c] for c in ("NUMA001", "OVC001", "THP001", "OOM001")] == [
        "numa",
        "commit",
        "thp",
        "memory",
    ]
    assert set(charts.values()) <= set(CHARTS)


def test_chart_json_has_no_nan() -> None:
    import json

    for chart in build_charts(dataset_of("oom-kill").tables):
        json.dumps(chart.to_json(), allow_nan=False)
