"""Run one bank's day against two lake roots and compare them: the scale-out benchmark's helpers.

benchmarks/scale_out.py runs the same day on the local Spark server and on a standalone cluster
(granary.stack.cluster) and asks whether both wrote the same DWD and ADS.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from granary.core import config
from granary.stack.cluster import use_remote


@dataclass(frozen=True)
class DayRoots:
    """Where one run of a day writes: its own lake and warehouse (landing and keys are shared)."""

    remote: str
    lake_root: Path
    warehouse_root: Path


SPARK_STEPS = ("ingest", "clean")
DAY_STEPS = ("ingest", "clean", "route", "validate", "transform")


@contextmanager
def _env(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    config.settings.cache_clear()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        config.settings.cache_clear()


def run_day_on(roots: DayRoots, tenant, dt) -> dict[str, float]:  # tenant: Tenant, dt: date
    """Ingest, clean (on roots.remote), validate and transform one bank's day; seconds per step."""
    from granary.pipeline import run as pipeline

    timings: dict[str, float] = {}
    lake, warehouse = str(roots.lake_root), str(roots.warehouse_root)
    with use_remote(roots.remote), _env(GRANARY_LAKE_ROOT=lake, GRANARY_WAREHOUSE_ROOT=warehouse):
        for step, tables in pipeline.day_plan():
            if step not in DAY_STEPS:
                continue
            started = time.perf_counter()
            pipeline.run_step(step, tenant, dt, sources=tables)
            timings[step] = round(timings.get(step, 0.0) + time.perf_counter() - started, 2)
    return timings


def _partition_files(lake_root: Path, tenant: str, layer: str, table: str, dt) -> list[Path]:
    return sorted((lake_root / tenant / layer / table / f"dt={dt.isoformat()}").glob("*.parquet"))


def _ads_rows(warehouse_root: Path, tenant: str, table: str, order: str) -> list[tuple]:
    import duckdb

    with duckdb.connect(str(warehouse_root / f"{tenant}.duckdb"), read_only=True) as db:
        schema = db.execute(
            "select table_schema from information_schema.tables where table_name = ?", [table]
        ).fetchone()
        if schema is None:
            return []
        return db.execute(f'select * from "{schema[0]}"."{table}" order by {order}').fetchall()


def _data_pages(path: Path) -> bytes:
    """A Parquet file without its footer (the last 8 bytes hold the footer length and PAR1)."""
    data = path.read_bytes()
    footer = int.from_bytes(data[-8:-4], "little")
    return data[: len(data) - 8 - footer]


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _same_value(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        # DuckDB sums doubles in parallel: the last bits may differ between two builds.
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def day_differences(tenant: str, dt, tables: list[str], a: DayRoots, b: DayRoots) -> dict:
    """Compare two runs of a day: DWD and quarantine Parquet, reconciliation, ADS indicators and tags.

    Returns {"differences": [...], "identical_bytes", "identical_data_pages", "rows"}; no
    differences means the two runs agree row for row (ADS values within float rounding).
    Whole files are rarely byte-identical across two JVMs: parquet-mr lists each column
    chunk's encodings from a hash set whose order is per JVM, so the footer can differ
    while every data page is the same bytes.
    """
    import pyarrow.parquet as pq

    differences: list[str] = []
    identical_bytes: dict[str, bool] = {}
    identical_pages: dict[str, bool] = {}
    rows: dict[str, int] = {}
    for layer in ("dwd", "quarantine"):
        for table in tables:
            name = f"{layer}.{table}"
            files_a = _partition_files(a.lake_root, tenant, layer, table, dt)
            files_b = _partition_files(b.lake_root, tenant, layer, table, dt)
            if not files_a or not files_b:
                differences.append(f"{name}: missing partition ({len(files_a)} vs {len(files_b)} files)")
                continue
            same_names = [f.name for f in files_a] == [f.name for f in files_b]
            pairs = list(zip(files_a, files_b, strict=False))
            identical_bytes[name] = same_names and all(fa.read_bytes() == fb.read_bytes() for fa, fb in pairs)
            identical_pages[name] = same_names and all(_data_pages(fa) == _data_pages(fb) for fa, fb in pairs)
            table_a = pq.ParquetDataset([str(f) for f in files_a]).read()
            table_b = pq.ParquetDataset([str(f) for f in files_b]).read()
            rows[name] = table_a.num_rows
            if not table_a.equals(table_b):
                differences.append(f"{name}: {table_a.num_rows} vs {table_b.num_rows} rows, contents differ")
    for table in tables:
        recon = Path("audit") / "reconciliation" / f"dt={dt.isoformat()}" / f"{table}.json"
        found_a, found_b = (_read_json(r.lake_root / tenant / recon) for r in (a, b))
        if found_a is None or found_a != found_b:
            differences.append(f"reconciliation.{table}: {found_a} vs {found_b}")
    ads = {
        "ads_indicator_value": "dt, grain, grain_id, indicator_code",
        "ads_customer_tag": "dt, customer_id, tag_code",
    }
    for table, order in ads.items():
        rows_a = _ads_rows(a.warehouse_root, tenant, table, order)
        rows_b = _ads_rows(b.warehouse_root, tenant, table, order)
        rows[table] = len(rows_a)
        if not rows_a or len(rows_a) != len(rows_b):
            differences.append(f"{table}: {len(rows_a)} vs {len(rows_b)} rows")
            continue
        unequal = [
            (ra, rb)
            for ra, rb in zip(rows_a, rows_b, strict=True)
            if not all(_same_value(x, y) for x, y in zip(ra, rb, strict=True))
        ]
        if unequal:
            differences.append(f"{table}: {len(unequal)} rows differ, first {unequal[0]}")
    return {
        "differences": differences,
        "identical_bytes": identical_bytes,
        "identical_data_pages": identical_pages,
        "rows": rows,
    }
