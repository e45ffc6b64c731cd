"""The per-process summary is computed once (vmanalyze.process_summary): the ``processes``
table and the report's top-process tables read the same rows.

Checked on a bundle of this host and on the memory-leak sample bundle, against a plain
pandas group-by of ``pid_stat`` (the way the ``processes`` table used to be built).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from vmanalyze.dataset import parse
from vmanalyze.process_summary import summarize_processes

from .conftest import REPO


def _by_groupby(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    stat = tables["pid_stat"]
    page = int(tables["host"]["page_size"].iloc[0])
    out = (
        stat.groupby(["pid", "starttime"], sort=True)
        .agg(
            comm=("comm", "last"),
            first_seen=("ts", "min"),
            last_seen=("ts", "max"),
            snapshots=("snapshot", "count"),
            max_rss_pages=("rss", "max"),
        )
        .reset_index()
    )
    out["max_rss_bytes"] = out.pop("max_rss_pages") * page
    return out


@pytest.mark.parametrize("which", ["live", "memory-leak"])
def test_processes_table_is_the_summary(which: str, live_bundle: Path) -> None:
    path = live_bundle if which == "live" else REPO / "sample-bundles" / "memory-leak.tar.gz"
    tables = parse(str(path)).tables
    expected = _by_groupby(tables)
    processes = tables["processes"]
    assert len(processes) == len(expected) > 3
    for col in ("pid", "starttime", "comm", "snapshots", "max_rss_bytes"):
        assert processes[col].tolist() == expected[col].tolist(), col
    for col in ("first_seen", "last_seen"):
        assert (processes[col] == expected[col]).all(), col
    # the report's summary: the same processes, the same facts
    summary = summarize_processes(tables["process_samples"], processes)
    assert summary is not None
    rows = summary.summary.sort_values(["pid", "starttime"]).reset_index(drop=True)
    assert rows["pid"].tolist() == processes["pid"].tolist()
    assert rows["samples"].tolist() == processes["snapshots"].tolist()
    assert rows["rss_max"].tolist() == processes["max_rss_bytes"].astype(float).tolist()
    assert rows["cmdline"].tolist() == processes["cmdline"].tolist()


def test_samples_without_a_time_are_not_summarised(live_bundle: Path) -> None:
    ps = parse(str(live_bundle)).tables["process_samples"]
    assert summarize_processes(ps.assign(ts=pd.NaT)) is None
    assert summarize_processes(ps.iloc[:0]) is None
    one = summarize_processes(ps.head(1))
    assert one is not None and one.summary["samples"].tolist() == [1]
