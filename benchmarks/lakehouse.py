"""Benchmark: the lake's table format against the plain Parquet it replaces, side by side in one run.

    .venv/bin/python benchmarks/lakehouse.py [--rows 200000] [--days 5]

Writes the same synthetic loan-balance days (rows per day, deterministic) twice on the Spark
Connect server: as Hive-partitioned Parquet with dynamic partition overwrite (the first
version's lake, write_partition below) and as appends to an Iceberg table in the
PostgreSQL JDBC catalog (granary.lake.iceberg). Then reads each back with Spark and with DuckDB:
read_parquet over the Parquet folders, and the Iceberg table's current snapshot through pyiceberg.
Records seconds and ratios to benchmarks/results/lakehouse.json and says whether the targets
were met: an Iceberg day written in at most 1.5x the Parquet day's time, DuckDB's Iceberg read at
most 2x its Parquet read. Uses a scratch data root and lake catalog of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results"
WRITE_TARGET = 1.5
READ_TARGET = 2.0


def day_frame(spark, rows: int, dt: date):
    from pyspark.sql import functions as F

    seed = dt.toordinal()
    return spark.range(rows).select(
        F.format_string("L%09d", F.col("id")).alias("loan_id"),
        F.format_string("C%08d", (F.col("id") * 7919 + seed) % (rows // 2 + 1)).alias("customer_id"),
        (((F.col("id") * 2654435761 + seed) % 10_000_000) / 100).cast("decimal(18,2)").alias("balance"),
        ((F.col("id") + seed) % 5).cast("int").alias("five_class"),
        ((F.col("id") * 31 + seed) % 120).cast("int").alias("overdue_days"),
    )


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", type=int, default=200_000, help="rows per day (SF1's loan table: ~60k/bank)"
    )
    parser.add_argument("--days", type=int, default=5)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="granary-lakehouse-bench-"))
    os.environ.update(
        GRANARY_DATA=str(scratch),
        GRANARY_RUN_DIR=str(scratch / "run"),
        GRANARY_LAKE_CATALOG=f"granary_lakehouse_bench_{os.getpid()}",
        GRANARY_SPARK_REMOTE=os.environ.get("GRANARY_SPARK_REMOTE_BENCH", "sc://127.0.0.1:15012"),
    )
    from granary.core import config
    from granary.lake import iceberg
    from granary.pipeline import spark
    from granary.stack import spark_server

    config.settings.cache_clear()
    console = Console()
    iceberg.ensure_catalog()
    spark_server.start_connect_server()
    session = spark.get_session()
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(args.days)]
    parquet_dir = scratch / "lake" / "parquet" / "loan_balance"
    table = "bench.loan_balance"
    try:
        session.sql("create namespace if not exists lake.bench")
        session.sql(
            f"create table lake.{table} (loan_id string, customer_id string, balance decimal(18,2), "
            "five_class int, overdue_days int, dt date) using iceberg partitioned by (dt)"
        )
        parquet_s, iceberg_s = [], []
        for dt in days:
            frame = day_frame(session, args.rows, dt).orderBy("loan_id")
            parquet_s.append(timed(lambda frame=frame, dt=dt: write_partition(frame, parquet_dir, dt)))
            from pyspark.sql import functions as F

            iceberg_frame = frame.withColumn("dt", F.lit(dt.isoformat()).cast("date"))
            iceberg_s.append(timed(lambda f=iceberg_frame: f.writeTo(f"lake.{table}").append()))

        total = args.rows * args.days
        spark_parquet_read = timed(
            lambda: session.read.parquet(str(parquet_dir)).agg({"balance": "sum"}).collect()
        )
        spark_iceberg_read = timed(lambda: session.table(f"lake.{table}").agg({"balance": "sum"}).collect())
        con = duckdb.connect()
        glob = str(parquet_dir / "*" / "*.parquet")
        duck_parquet = []
        duck_iceberg = []
        sums = set()
        for _ in range(3):
            t0 = time.perf_counter()
            sums.add(con.execute(f"select sum(balance) from read_parquet('{glob}')").fetchall()[0][0])
            duck_parquet.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            view, _ = iceberg.duckdb_relation(con, table, view="ice")
            sums.add(con.execute(f"select sum(balance) from {view}").fetchall()[0][0])
            duck_iceberg.append(time.perf_counter() - t0)
        # A third way, for the history issue to weigh: pyiceberg plans the snapshot's files, DuckDB
        # reads them itself (right only while no delete files or renamed columns are involved).
        duck_planned = []
        for _ in range(3):
            t0 = time.perf_counter()
            scan = iceberg.catalog().load_table(table).scan()
            files = [task.file.file_path.removeprefix("file://") for task in scan.plan_files()]
            sums.add(con.execute("select sum(balance) from read_parquet(?)", [files]).fetchall()[0][0])
            duck_planned.append(time.perf_counter() - t0)
        assert len(sums) == 1, f"the two lakes disagree: {sums}"
    finally:
        spark.close_client_session()
        spark_server.stop_connect_server()
        iceberg.drop_catalog()

    write_ratio = statistics.median(iceberg_s) / statistics.median(parquet_s)
    read_ratio = statistics.median(duck_iceberg) / statistics.median(duck_parquet)
    figures = Table(
        "",
        "Parquet (dynamic overwrite)",
        "Iceberg (JDBC catalog)",
        "ratio",
        title=f"{args.days} days × {args.rows:,} rows",
    )
    figures.add_row(
        "Spark write a day (median)", f"{statistics.median(parquet_s):.2f}s",
        f"{statistics.median(iceberg_s):.2f}s", f"{write_ratio:.2f}",
    )  # fmt: skip
    figures.add_row("Spark read all days", f"{spark_parquet_read:.2f}s", f"{spark_iceberg_read:.2f}s",
                    f"{spark_iceberg_read / spark_parquet_read:.2f}")  # fmt: skip
    figures.add_row(
        "DuckDB read all days (median of 3)", f"{statistics.median(duck_parquet):.3f}s",
        f"{statistics.median(duck_iceberg):.3f}s", f"{read_ratio:.2f}",
    )  # fmt: skip
    figures.add_row(
        "DuckDB read, files planned by pyiceberg", "", f"{statistics.median(duck_planned):.3f}s",
        f"{statistics.median(duck_planned) / statistics.median(duck_parquet):.2f}",
    )  # fmt: skip
    console.print(figures)
    write_met, read_met = write_ratio <= WRITE_TARGET, read_ratio <= READ_TARGET
    console.print(f"write target ≤ {WRITE_TARGET}×: {'met' if write_met else 'NOT met'} ({write_ratio:.2f}×)")
    console.print(
        f"DuckDB read target ≤ {READ_TARGET}×: {'met' if read_met else 'NOT met'} ({read_ratio:.2f}×)"
    )
    record = {
        "benchmark": "lakehouse",
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "rows_per_day": args.rows,
        "days": args.days,
        "rows_total": total,
        "spark_write_day_s": {
            "parquet": [round(x, 3) for x in parquet_s],
            "iceberg": [round(x, 3) for x in iceberg_s],
        },
        "spark_read_all_s": {
            "parquet": round(spark_parquet_read, 3),
            "iceberg": round(spark_iceberg_read, 3),
        },
        "duckdb_read_all_s": {
            "parquet": [round(x, 3) for x in duck_parquet],
            "iceberg_arrow": [round(x, 3) for x in duck_iceberg],
            "iceberg_planned_files": [round(x, 3) for x in duck_planned],
        },
        "write_ratio": round(write_ratio, 3),
        "duckdb_read_ratio": round(read_ratio, 3),
        "targets": {"write_ratio_max": WRITE_TARGET, "duckdb_read_ratio_max": READ_TARGET},
        "met": {"write": write_met, "duckdb_read": read_met},
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "lakehouse.json"
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    console.print(f"recorded {out}")


if __name__ == "__main__":
    main()


def write_partition(df, table_dir: Path, dt: date, empty: bool = False) -> Path:  # df: without `dt`
    """The Parquet lake's writer, the baseline: one day as a single Parquet file with a fixed name.

    Dynamic partition overwrite replaces exactly that day. The caller orders `df`; one
    partition gives one file, and Spark's run-specific file name (a job UUID) and .crc
    side files are replaced by `part-00000.parquet`, so a rerun gives byte-identical files.
    A day with no rows still gets a partition holding a schema-only file, so readers find it
    (partitionBy writes nothing for an empty frame and would leave the old day in place).
    """
    from pyspark.sql import functions as F

    target = table_dir / f"dt={dt.isoformat()}"
    if empty:
        df.coalesce(1).write.mode("overwrite").parquet(str(target))
    else:
        (
            df.withColumn("dt", F.lit(dt.isoformat()).cast("date"))
            .write.mode("overwrite")
            .option("partitionOverwriteMode", "dynamic")
            .partitionBy("dt")
            .parquet(str(table_dir))
        )
    _fix_file_names(target)
    return target


def _fix_file_names(partition_dir: Path) -> None:
    for side_file in [*partition_dir.glob(".*.crc"), *partition_dir.glob("_SUCCESS")]:
        side_file.unlink()
    parts = sorted(partition_dir.glob("part-*.parquet"))
    for index, part in enumerate(parts):
        part.rename(partition_dir / f"part-{index:05d}.parquet")
