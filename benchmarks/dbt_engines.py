"""Benchmark: one bank's dbt build on DuckDB and on dbt-spark over Spark Connect, in one run.

    .venv/bin/python benchmarks/dbt_engines.py --scale 0.1 [--tenant qingshan] [--data DIR]

Without --data it generates the bank's three days (2025-01-01, 2025-12-31, 2026-01-01) at the
scale into a throwaway GRANARY_DATA and runs every step up to cleaning (external data included;
no quality gate, no publish); with --data it reuses a data root that already holds that lake.
Then it times `granary transform` for the last day on each engine (the CLI as provincial IT runs
it), checks that every ADS table has the same rows on both (keys and strings equal, numbers
within relative tolerance 1e-9) and records benchmarks/results/dbt_engines-sf<scale>.json.

The comparison functions are also what tests/test_dbt_spark.py asserts with.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
MODELS_DIR = REPO / "dbt_project" / "models"
DAYS = (date(2025, 1, 1), date(2025, 12, 31), date(2026, 1, 1))
REL_TOL = 1e-9
# No absolute floor: measures are summed as exact decimals up to the indicator values (see
# rollup_measures), so a change of a measure that did not move is exactly 0 on both engines.
ABS_TOL = 0.0


# --- comparing the two engines' ADS tables -----------------------------------------------


def ads_models() -> list[str]:
    """Every ADS model of the project (the published tables), from the model files themselves."""
    return sorted(p.stem for p in MODELS_DIR.rglob("ads_*.sql"))


def read_duckdb(db: Path, table: str) -> pl.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.sql(f"select * from {table}").pl()


def read_spark(session, database: str, table: str) -> pl.DataFrame:  # session: a Connect SparkSession
    return pl.from_arrow(session.table(f"{database}.{table}").toArrow())


def _is_numeric(dtype: pl.DataType) -> bool:
    return dtype.is_numeric() or isinstance(dtype, pl.Decimal)


def _normalised(df: pl.DataFrame) -> pl.DataFrame:
    """Lower-case names; every number as Float64 (DuckDB's hugeint/decimal vs Spark's bigint/double)."""
    df = df.rename({c: c.lower() for c in df.columns})
    return df.with_columns(pl.col(c).cast(pl.Float64) for c, t in df.schema.items() if _is_numeric(t))


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def compare_table(duck: pl.DataFrame, spark: pl.DataFrame, limit: int = 5) -> list[str]:
    """What differs between one table's rows on the two engines ([] when equal).

    Keys are the non-numeric columns (codes, ids, dates, strings, flags), compared exactly as a
    multiset; numeric columns are matched row by row after sorting and compared within REL_TOL.
    """
    duck, spark = _normalised(duck), _normalised(spark)
    if set(duck.columns) != set(spark.columns):
        return [
            f"columns differ: only on duckdb {sorted(set(duck.columns) - set(spark.columns))}, "
            f"only on spark {sorted(set(spark.columns) - set(duck.columns))}"
        ]
    spark = spark.select(duck.columns)
    problems = [
        f"column {c}: duckdb {duck.schema[c]} vs spark {spark.schema[c]}"
        for c in duck.columns
        if duck.schema[c] != spark.schema[c] and pl.Null not in (duck.schema[c], spark.schema[c])
    ]
    if problems:
        return problems
    keys = [c for c, t in duck.schema.items() if t != pl.Float64]
    numbers = [c for c, t in duck.schema.items() if t == pl.Float64]
    if duck.height != spark.height:
        problems.append(f"rows: duckdb {duck.height}, spark {spark.height}")
    if keys:
        duck_keys = duck.group_by(keys).len()
        spark_keys = spark.group_by(keys).len()
        only_duck = duck_keys.join(spark_keys, on=[*keys, "len"], how="anti", nulls_equal=True)
        only_spark = spark_keys.join(duck_keys, on=[*keys, "len"], how="anti", nulls_equal=True)
        if only_duck.height or only_spark.height:
            problems.append(
                f"keys differ: {only_duck.height} only on duckdb, e.g. {only_duck.head(limit).rows()}; "
                f"{only_spark.height} only on spark, e.g. {only_spark.head(limit).rows()}"
            )
    if problems:
        return problems
    order = keys + numbers
    duck = duck.sort(order, nulls_last=True)
    spark = spark.sort(order, nulls_last=True)
    for column in numbers:
        pairs = zip(duck[column].to_list(), spark[column].to_list(), strict=True)
        bad = [(i, a, b) for i, (a, b) in enumerate(pairs) if not _close(a, b)]
        if bad:
            examples = [({k: duck[k][i] for k in keys}, a, b) for i, a, b in bad[:limit]]
            problems.append(
                f"{column}: {len(bad)} of {duck.height} values differ beyond {REL_TOL:g} "
                f"(floor {ABS_TOL:g}), e.g. (keys, duckdb, spark) {examples}"
            )
    return problems


@dataclass
class Comparison:
    rows: dict[str, int] = field(default_factory=dict)
    differences: dict[str, list[str]] = field(default_factory=dict)

    @property
    def equal(self) -> bool:
        return not self.differences


def compare_ads(warehouse: Path, session, database: str) -> Comparison:
    """Every ADS model as built on DuckDB (the warehouse file) and on Spark (the database)."""
    result = Comparison()
    on_spark = {t.name.lower() for t in session.catalog.listTables(database)}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        on_duckdb = {
            r[0].lower() for r in con.sql("select table_name from information_schema.tables").fetchall()
        }
    for table in ads_models():
        missing = [
            engine for engine, names in (("duckdb", on_duckdb), ("spark", on_spark)) if table not in names
        ]
        if missing:
            result.differences[table] = [f"not built on {', '.join(missing)}"]
            continue
        duck = read_duckdb(warehouse, table)
        result.rows[table] = duck.height
        problems = compare_table(duck, read_spark(session, database, table))
        if problems:
            result.differences[table] = problems
    return result


# --- the benchmark -------------------------------------------------------------------------


def _granary(*args: str, env: dict[str, str]) -> float:
    """Run the CLI as a user would; return its wall time."""
    started = time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("granary")), *args], env=env, check=True)
    return time.perf_counter() - started


def _run_results(run_dir: Path, tenant: str) -> dict:
    data = json.loads((run_dir / "dbt" / tenant / "target" / "run_results.json").read_text(encoding="utf-8"))
    kinds = Counter(r["unique_id"].split(".", 1)[0] for r in data["results"])
    statuses = Counter(str(r["status"]) for r in data["results"])
    return {
        "dbt_elapsed_s": round(float(data["elapsed_time"]), 2),
        "nodes": sum(kinds.values()),
        "nodes_by_kind": dict(sorted(kinds.items())),
        "nodes_by_status": dict(sorted(statuses.items())),
    }


def _prepare_lake(tenant_code: str, scale: float) -> float:
    """Generate the bank's days and run every step before the quality gate; return seconds."""
    from granary.core.tenants import get_tenant
    from granary.generate import generate
    from granary.pipeline import run as pipeline

    tenant = get_tenant(tenant_code)
    started = time.perf_counter()
    generate([tenant], list(DAYS), scale=scale, seed=42)
    for day in DAYS:
        for step, tables in pipeline.day_plan():
            if step == "validate":
                break
            if tables != []:
                pipeline.run_step(step, tenant, day, tables)
    return time.perf_counter() - started


def _code_version() -> dict:
    """Which project was measured: the commit, and whether the work tree had changes on top."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()

    return {
        "git_commit": git("rev-parse", "HEAD") or None,
        "worktree_changed": bool(git("status", "--porcelain")),
    }


def _machine() -> dict:
    mem_kb = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": round(mem_kb / 1024**2, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--tenant", default="qingshan")
    parser.add_argument(
        "--data", type=Path, default=None, help="reuse this GRANARY_DATA (lake already built)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated data root")
    args = parser.parse_args()

    machine = _machine()
    own_root = None if args.data else Path(tempfile.mkdtemp(prefix="granary-dbt-engines-"))
    root = (args.data or own_root).resolve()
    os.environ["GRANARY_DATA"] = str(root)
    os.environ.setdefault("GRANARY_SECRETS_DIR", str(root / "secrets"))
    os.environ["GRANARY_RUN_DIR"] = str(root / "run")
    from rich.console import Console
    from rich.table import Table

    from granary.core import config, paths
    from granary.pipeline import spark
    from granary.stack import spark_server

    config.settings.cache_clear()
    console = Console()
    try:
        spark_server.start_connect_server()
        prepare_s = None if args.data else round(_prepare_lake(args.tenant, args.scale), 2)
        dt = DAYS[-1]
        engines: dict[str, dict] = {}
        for target in ("duckdb", "spark"):
            env = dict(os.environ, GRANARY_DBT_TARGET=target, GRANARY_RUN_DIR=str(root / f"run-{target}"))
            # the machine may be shared: the load each build started under is part of its figure
            load = round(os.getloadavg()[0], 2)
            wall = _granary("transform", "--tenant", args.tenant, "--date", dt.isoformat(), env=env)
            engines[target] = {
                "load_average_1m_at_start": load,
                "transform_wall_s": round(wall, 2),
                **_run_results(root / f"run-{target}", args.tenant),
            }
        comparison = compare_ads(
            paths.warehouse_db(args.tenant), spark.get_session(), f"granary_{args.tenant}"
        )
    finally:
        spark.close_client_session()
        if own_root and not args.keep:
            shutil.rmtree(own_root, ignore_errors=True)
        elif own_root:
            console.print(f"kept the data root: {own_root} (reuse it with --data)")

    ratio = engines["spark"]["transform_wall_s"] / engines["duckdb"]["transform_wall_s"]
    dbt_ratio = engines["spark"]["dbt_elapsed_s"] / engines["duckdb"]["dbt_elapsed_s"]
    table = Table(
        "engine", "transform (CLI) s", "dbt build s", "nodes", title=f"{args.tenant} {dt} SF{args.scale:g}"
    )
    for target, e in engines.items():
        table.add_row(target, f"{e['transform_wall_s']:.1f}", f"{e['dbt_elapsed_s']:.1f}", str(e["nodes"]))
    console.print(table)
    console.print(f"spark / duckdb: {ratio:.2f}x (CLI wall), {dbt_ratio:.2f}x (dbt build)")
    verdict = "[green]equal[/]" if comparison.equal else f"[red]differ[/]: {comparison.differences}"
    console.print(f"ADS tables ({len(comparison.rows)}, {sum(comparison.rows.values()):,} rows): {verdict}")

    record = {
        "benchmark": "dbt_engines",
        "scale": args.scale,
        "tenant": args.tenant,
        "date": dt.isoformat(),
        "lake_days": [d.isoformat() for d in DAYS],
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine,
        "code": _code_version(),
        "prepare_lake_s": prepare_s,
        "engines": engines,
        "spark_over_duckdb": {"transform_wall": round(ratio, 2), "dbt_build": round(dbt_ratio, 2)},
        "ads_equal": comparison.equal,
        "ads_rows": comparison.rows,
        "ads_differences": comparison.differences,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"dbt_engines-sf{args.scale:g}.json"
    out.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    console.print(f"recorded {out}")
    if not comparison.equal:
        sys.exit(1)


if __name__ == "__main__":
    main()
