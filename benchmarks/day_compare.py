"""Run one bank's day against two lakes and compare them: the scale-out benchmark's helpers.

benchmarks/scale_out.py runs the same day on the local Spark server and on a standalone cluster
(granary.stack.cluster) and asks whether both wrote the same DWD and ADS. Each run has a lake of
its own: a lake root and a lake catalog (granary.lake.iceberg), since the bank's tables have the
same names in both. A Spark Connect server names its catalog when it starts, so each run's server
is started inside `use_roots(roots)`, and `drop_lake(roots)` removes the run's catalog after.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest_clean import granary_env  # scoped settings, one way for every benchmark

from granary.lake import iceberg, tables
from granary.stack.cluster import use_remote


@dataclass(frozen=True)
class DayRoots:
    """Where one run of a day writes: its own lake (root and catalog) and warehouse (landing and keys
    are shared). The catalog's database and role are named after the lake root unless given."""

    remote: str
    lake_root: Path
    warehouse_root: Path
    lake_catalog: str = ""

    def __post_init__(self) -> None:
        if not self.lake_catalog:
            digest = hashlib.sha256(str(self.lake_root.resolve()).encode()).hexdigest()[:12]
            object.__setattr__(self, "lake_catalog", f"granary_lakehouse_day_{digest}")


DAY_STEPS = ("load", "route", "validate", "transform")


@contextmanager
def use_roots(roots: DayRoots, create: bool = True) -> Iterator[None]:
    """This process on the run's lake (root and catalog, the catalog created if missing unless
    `create` is false) and warehouse for the block: start the run's Spark server inside it, so the
    server writes the run's catalog."""
    env = {
        "GRANARY_LAKE_ROOT": str(roots.lake_root),
        "GRANARY_WAREHOUSE_ROOT": str(roots.warehouse_root),
        "GRANARY_LAKE_CATALOG": roots.lake_catalog,
    }
    with granary_env(**env):
        # The tables of both runs have the same names: what this process saw created was the other's.
        tables.forget_tables()
        if create:
            iceberg.ensure_catalog()
        try:
            yield
        finally:
            tables.forget_tables()


def drop_lake(roots: DayRoots) -> None:
    """Drop the run's lake catalog (its database and role; the files stay under its lake root)."""
    with granary_env(GRANARY_LAKE_CATALOG=roots.lake_catalog):
        iceberg.drop_catalog()


def run_day_on(roots: DayRoots, tenant, dt) -> dict[str, float]:  # tenant: Tenant, dt: date
    """Ingest, clean (on roots.remote), validate and transform one bank's day; seconds per step.

    The server at roots.remote must have been started inside use_roots(roots)."""
    from granary.pipeline import run as pipeline

    timings: dict[str, float] = {}
    with use_remote(roots.remote), use_roots(roots):
        for step, sources in pipeline.day_plan():
            if step not in DAY_STEPS:
                continue
            started = time.perf_counter()
            pipeline.run_step(step, tenant, dt, sources=sources)
            timings[step] = round(timings.get(step, 0.0) + time.perf_counter() - started, 2)
    return timings


@dataclass(frozen=True)
class LakeDay:
    """One run's day of a lake table: its rows (with dt, in their order) and its data files."""

    written: bool
    rows: Any  # pyarrow.Table, or None when the table does not exist
    files: list[Path]


def _lake_day(roots: DayRoots, tenant: str, layer: str, table: str, dt) -> LakeDay:
    with use_roots(roots, create=False):
        return LakeDay(
            tables.day_written(tenant, layer, table, dt),
            tables.read_days(tenant, layer, table, [dt]),
            [Path(f) for _, f in tables.day_files(tenant, layer, table, [dt])],
        )


def _digests(files: list[Path], content) -> list[str]:
    """The files' contents' digests, sorted: equal when both runs wrote the same bytes, whatever the
    files are called (Iceberg names each data file uniquely, under a hashed folder)."""
    return sorted(hashlib.sha256(content(f)).hexdigest() for f in files)


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


def day_differences(tenant: str, dt, sources: list[str], a: DayRoots, b: DayRoots) -> dict:
    """Compare two runs of a day: DWD and quarantine lake tables, reconciliation, ADS indicators and
    tags. Each run's lake tables are read through its own catalog (use_roots).

    Returns {"differences": [...], "identical_bytes", "identical_data_pages", "rows"}; no
    differences means the two runs agree row for row (ADS values within float rounding).
    Whole files are rarely byte-identical across two JVMs: parquet-mr lists each column
    chunk's encodings from a hash set whose order is per JVM, so the footer can differ
    while every data page is the same bytes.
    """
    differences: list[str] = []
    identical_bytes: dict[str, bool] = {}
    identical_pages: dict[str, bool] = {}
    rows: dict[str, int] = {}
    for layer in ("dwd", "quarantine"):
        for table in sources:
            name = f"{layer}.{table}"
            day_a = _lake_day(a, tenant, layer, table, dt)
            day_b = _lake_day(b, tenant, layer, table, dt)
            if not (day_a.written and day_b.written) or day_a.rows is None or day_b.rows is None:
                differences.append(
                    f"{name}: missing day (written: {day_a.written} vs {day_b.written}; "
                    f"{len(day_a.files)} vs {len(day_b.files)} files)"
                )
                continue
            for same, content in ((identical_bytes, Path.read_bytes), (identical_pages, _data_pages)):
                same[name] = _digests(day_a.files, content) == _digests(day_b.files, content)
            rows[name] = day_a.rows.num_rows
            if not day_a.rows.equals(day_b.rows):
                differences.append(
                    f"{name}: {day_a.rows.num_rows} vs {day_b.rows.num_rows} rows, contents differ"
                )
    for table in sources:
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
