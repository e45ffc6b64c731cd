"""docs/tables.md against the Parquet that `vmanalyze export` writes: columns, types, units."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from vmanalyze.dataset import parse, read_parquet, write_parquet
from vmanalyze.tables_doc import REFERENCE_BUNDLE, SOS_REFERENCE

REPO = Path(__file__).resolve().parents[3]
ROW = re.compile(r"^\| `([^`]+)` \| ([^|]+) \| ([^|]+) \| ([^|]*) \|$")


def documented() -> dict[str, list[tuple[str, str, str, str]]]:
    """table -> [(column, pandas type, Parquet type, unit)] as docs/tables.md gives them."""
    tables: dict[str, list[tuple[str, str, str, str]]] = {}
    current = None
    for line in (REPO / "docs" / "tables.md").read_text().splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            tables[current] = []
        elif current and (match := ROW.match(line)):
            name, pandas_type, parquet_type, unit = (g.strip() for g in match.groups())
            tables[current].append((name, pandas_type, parquet_type, unit))
    return tables


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reference = REPO / REFERENCE_BUNDLE
    out = tmp_path_factory.mktemp("export")
    write_parquet(parse(str(reference)), out)
    return out


@pytest.fixture(scope="module")
def exported_sos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export-sos")
    write_parquet(parse(str(REPO / SOS_REFERENCE)), out)
    return out


def test_every_exported_table_has_the_documented_columns_types_and_units(
    exported: Path, exported_sos: Path
) -> None:
    """Tables the reference bundle has no rows for (a sosreport's ps, slabtop) are documented
    from the reference sosreport, and compared with its export."""
    text = (REPO / "docs" / "tables.md").read_text()
    from_sos = set(
        re.findall(r"^## (\w+)\n(?:(?!^## ).*\n)*?Columns of the reference sosreport", text, re.M)
    )
    docs = documented()
    files = sorted(exported.glob("*.parquet"))
    assert {f.stem for f in files} == set(docs)
    back = read_parquet(exported)
    back_sos = read_parquet(exported_sos)
    for path in files:
        if path.stem in from_sos:
            path = exported_sos / path.name
        schema = pq.read_schema(path)
        rows = docs[path.stem]
        assert [r[0] for r in rows] == schema.names, path.stem
        for (name, pandas_type, parquet_type, unit), field in zip(rows, schema, strict=True):
            stored = re.sub(r"list<\w+: ", "list<", str(field.type).replace("large_", ""))
            assert parquet_type == stored, f"{path.stem}.{name}"
            frames = back_sos if path.parent == exported_sos else back
            assert pandas_type == str(frames[path.stem][name].dtype), f"{path.stem}.{name}"
            numeric = field.type.num_fields == 0 and (
                str(field.type).startswith(("int", "double", "float", "timestamp"))
            )
            assert unit or not numeric, f"{path.stem}.{name} ({field.type}) has no unit"


def test_units_the_kernel_gives(exported: Path) -> None:
    docs = {t: {r[0]: r for r in rows} for t, rows in documented().items()}
    assert docs["meminfo"]["ts"][2:] == ("timestamp[us, tz=UTC]", "UTC")
    assert docs["proc_stat"]["nice"][3] == "clock ticks"  # CPU time spent at positive nice
    assert docs["pid_stat"]["nice"][3] == "nice value"  # field 19: -20..19, not time
    assert docs["pid_stat"]["vsize"][3] == "bytes"  # field 23 is in bytes, rss (24) in pages
    assert docs["pid_stat"]["rss"][3] == "pages"
    assert docs["pid_stat"]["majflt"][3] == "faults (cumulative)"
    assert docs["vmstat"]["pgmajfault"][3] == "events (cumulative)"
    assert docs["vmstat"]["nr_free_pages"][3] == "pages"
    assert docs["vmstat"]["pgpgin"][3] == "KiB (cumulative)"
    assert docs["sys_node_numastat"]["numa_hit"][3] == "pages (cumulative)"
    for table, rows in docs.items():
        if "snapshot" in rows:
            assert rows["snapshot"][1:] == ("int64", "int64", "id"), table


def test_order_by_snapshot_is_time_order(exported: Path) -> None:
    meminfo = str(exported / "meminfo.parquet")
    samples = str(exported / "samples.parquet")
    rows = duckdb.sql(
        f"SELECT m.snapshot, s.phase, m.ts FROM '{meminfo}' m JOIN '{samples}' s "
        "USING (snapshot) ORDER BY m.snapshot"
    ).fetchall()
    assert len(rows) > 11  # 10 and 11 used to sort before 2
    assert [r[0] for r in rows] == list(range(-1, len(rows) - 1))
    assert [r[2] for r in rows] == sorted(r[2] for r in rows)
    assert (rows[0][1], rows[-1][1]) == ("start", "end")
    assert {r[1] for r in rows[1:-1]} == {"sample"}
