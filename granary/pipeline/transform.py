"""One `dbt build` for one bank and day: DWD lake tables -> DWS summaries -> ADS indicators, tags, profile.

The build writes a fresh DuckDB file next to the bank's warehouse and swaps it in only when
every model and test passed, so publish never sees a half-built or failed warehouse: on
failure the previous day's warehouse stays as it was. Targets: `duckdb` (default) or
`spark` (GRANARY_DBT_TARGET=spark; dbt-spark over Spark Connect, builds in place).
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from granary.catalog import indicators, tags
from granary.catalog.indicators import DBT_PROJECT_DIR
from granary.core import paths
from granary.core.config import settings
from granary.core.errors import DataError, EngineError
from granary.core.tenants import Tenant
from granary.lake import tables
from granary.pipeline import dws_history
from granary.serving.history import LAKE_SNAPSHOT_TABLE

DWD_TABLES = ("customer", "deposit_account", "loan")
# How far back a build may read DWD (the last 30 days' activity): dwd_source()'s largest days_before.
DWD_LOOKBACK_DAYS = 29
FAILED = {"error", "fail", "runtime error"}
console = Console(stderr=True)


@dataclass(frozen=True)
class NodeResult:
    unique_id: str
    status: str
    seconds: float
    message: str

    @property
    def kind(self) -> str:
        return self.unique_id.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.unique_id.split(".", 2)[-1]


def dbt_target() -> str:
    return os.environ.get("GRANARY_DBT_TARGET", "duckdb")


def run_dir(tenant: Tenant) -> Path:
    """dbt's target and log paths for this bank: banks build concurrently without sharing files."""
    return settings().run_dir / "dbt" / tenant.code


def check_dwd(tenant: Tenant, dt: date, planned: dict[str, tables.PlannedTable]) -> None:
    """The DWD tables a build needs hold the day (planned with dt among their days)."""
    missing = [
        tables.spark_name(tenant.code, "dwd", t)
        for t in DWD_TABLES
        if (name := tables.table_name("dwd", t)) not in planned or not planned[name].holds(dt)
    ]
    if missing:
        raise DataError(
            f"{tenant.code} {dt}: no DWD day in {', '.join(missing)}; run `granary clean --tenant "
            f"{tenant.code} --date {dt}` first"
        )


LAKE_PLAN = "GRANARY_DBT_LAKE"  # the plan's index; a table's plan is LAKE_PLAN__<SECTION>__<name>


def plan_lake(tenant: Tenant, dt: date, target: str, lake_days: list[date]) -> dict[str, str]:
    """What the build reads of the lake, planned from its catalog, as environment variables for dbt
    (macros/dwd_source.sql, macros/lake_history.sql): per DWD table and per day history table,
    Spark's table name, and for DuckDB the data files of the days the build may read (DWD:
    DWD_LOOKBACK_DAYS before the business date; history: the lake days) with an empty file of the
    table's columns for a day that has none. One variable per table: a variable over 128 KiB
    (a year of history's files) would stop dbt from starting its helper processes.
    Refused (check_dwd) unless the DWD tables a build needs hold the day."""
    import pyarrow.parquet as pq

    first = dt - timedelta(days=DWD_LOOKBACK_DAYS)
    dwd_days = [first + timedelta(days=n) for n in range(DWD_LOOKBACK_DAYS + 1)]
    empty_dir = run_dir(tenant) / "lake"
    empty_dir.mkdir(parents=True, exist_ok=True)
    duckdb = target == "duckdb"

    def entries(names: dict[str, str], planned: dict[str, tables.PlannedTable]) -> dict[str, dict]:
        found = {}
        for key, name in names.items():
            table_plan = planned[name]
            empty = empty_dir / f"{name}.empty.parquet"
            if duckdb:
                pq.write_table(table_plan.schema.empty_table(), empty)
            layer, table = tables.split_name(name)
            found[key] = {
                "spark": tables.spark_name(tenant.code, layer, table),
                "day_column": tables.day_column(layer),
                "files": [(day.isoformat(), path) for day, path in table_plan.files] if duckdb else [],
                "empty": str(empty),
                "snapshot_id": table_plan.snapshot_id,
            }
        return found

    lake_tables = tables.tables_of(tenant.code)
    dwd = tables.layer_tables(tenant.code, "dwd", lake_tables)
    # Spark reads by name: its plan needs only the day's files, for the check.
    planned_dwd = tables.plan(tenant.code, dwd.values(), dwd_days if duckdb else [dt])
    check_dwd(tenant, dt, planned_dwd)
    history = {name: name for name in dws_history.history_tables(tenant.code, lake_tables)}
    planned_history = tables.plan(tenant.code, history.values(), lake_days if duckdb else [])
    results = paths.quality_dir(tenant.code, dt) / "results.json"
    reconciliation = paths.reconciliation_file(tenant.code, "_", dt).parent
    sections = {
        "dwd": entries(dwd, planned_dwd),
        "history": entries(history, planned_history),
    }
    index = {
        "first_day": first.isoformat(),
        **{section: sorted(planned) for section, planned in sections.items()},
        "quality": {
            "results": str(results) if results.is_file() else "",
            "results_dir": str(results.parent),
            "reconciliation": [str(p) for p in sorted(reconciliation.glob("*.json"))],
            "reconciliation_dir": str(reconciliation),
        },
    }
    environment = {LAKE_PLAN: json.dumps(index)}
    for section, planned in sections.items():
        for name, entry in planned.items():
            environment[f"{LAKE_PLAN}__{section.upper()}__{name}"] = json.dumps(entry)
    return environment


def write_catalog_seeds() -> None:
    """The catalogs are the source of truth; their seeds are regenerated before every build (cheap)."""
    indicators.write_seeds()
    tags.write_seeds()


def read_run_results(path: Path) -> list[NodeResult]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [
        NodeResult(
            unique_id=r["unique_id"],
            status=str(r["status"]),
            seconds=float(r.get("execution_time") or 0.0),
            message=(r.get("message") or "").strip(),
        )
        for r in data["results"]
    ]


def build_environment(tenant: Tenant, dt: date, target: str) -> dict[str, str]:
    """What a dbt invocation of the bank's day reads from the environment: the business date
    (business_date()), the lake days (lake_days()) and the lake plan (dwd_source(), lake_history(),
    the quality sources). Environment, not --vars, so dbt's partial parsing survives a new day."""
    lake_days = dws_history.lake_days(tenant.code, dt)
    return {
        "GRANARY_DBT_DT": dt.isoformat(),
        "GRANARY_DBT_LAKE_DAYS": ",".join(d.isoformat() for d in lake_days),
        **plan_lake(tenant, dt, target, lake_days),
    }


def _invoke_dbt(
    args: list[str], label: str, environment: dict[str, str]
) -> tuple[bool, BaseException | None]:
    for stale in [name for name in os.environ if name.startswith(f"{LAKE_PLAN}__")]:
        del os.environ[stale]  # an earlier build's (this process builds day after day)
    os.environ.update(environment)
    try:
        return _invoke_dbt_runner(args, label)
    finally:
        _close_duckdb()


def _close_duckdb() -> None:
    """Close the database dbt-duckdb keeps open for the rest of the process.

    It is keyed by the profile, and the build file's name is fixed per bank: the next build of the
    bank in this process (`granary run --from D1 --to D2`) would otherwise write into the file that
    was just swapped in as the warehouse.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    if DuckDBConnectionManager._ENV is not None:  # dbt-duckdb has no public close
        DuckDBConnectionManager._ENV.close()
    DuckDBConnectionManager.close_all_connections()


def _invoke_dbt_runner(args: list[str], label: str) -> tuple[bool, BaseException | None]:
    from dbt.cli.main import dbtRunner

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[node]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=None, node="parsing")

        def on_event(event) -> None:  # dbt calls this from its worker threads
            name = event.info.name
            if name == "LogStartLine":
                progress.update(task, total=event.data.total, node=event.data.description)
            elif name == "NodeFinished":
                progress.advance(task)

        with warnings.catch_warnings():
            # dbt-spark asks a Connect session for Hive support; the server decides, the client only warns
            warnings.filterwarnings("ignore", message=".*spark.sql.catalogImplementation.*")
            result = dbtRunner(callbacks=[on_event]).invoke(args)
    return result.success, result.exception


def _gist(message: str, max_lines: int = 4) -> str:
    """The lines of a dbt error that say what went wrong (not the JVM stack trace)."""
    keep = [ln.strip() for ln in message.splitlines() if ln.strip() and not ln.strip().startswith("at ")]
    keep = [ln for ln in keep if "JVM stacktrace" not in ln and not ln.startswith("org.apache")]
    return " | ".join(keep[:max_lines])


def _summary(tenant: Tenant, dt: date, results: list[NodeResult], seconds: float) -> None:
    counts = Counter((r.kind, r.status) for r in results)
    table = Table(title=f"dbt build {tenant.code} {dt} ({seconds:.1f}s)")
    table.add_column("kind")
    table.add_column("status")
    table.add_column("count", justify="right")
    for (kind, status), n in sorted(counts.items()):
        style = "red" if status in FAILED else ("yellow" if status in ("skipped", "warn") else "green")
        table.add_row(kind, f"[{style}]{status}[/]", str(n))
    console.print(table)


def transform(tenant: Tenant, dt: date) -> None:
    """Build the bank's warehouse for the day; raise DataError naming each failed model or test."""
    write_catalog_seeds()
    target = dbt_target()
    runs = run_dir(tenant)
    warehouse = paths.warehouse_db(tenant.code)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    # a fresh file per build: swapped in on success, deleted on failure. Its name is fixed per bank,
    # like every --vars value, so dbt's partial parsing survives from one day to the next (changed
    # --vars make dbt parse the whole project again: ~10 s of a build); the day is GRANARY_DBT_DT.
    building = warehouse.with_name(f".{warehouse.stem}.building.duckdb")
    for leftover in (building, building.with_name(building.name + ".wal")):
        leftover.unlink(missing_ok=True)
    dbt_vars = {
        "tenant": tenant.code,
        "tenant_name_zh": tenant.name_zh,
        "warehouse_path": str(building),
    }
    run_results = runs / "target" / "run_results.json"
    run_results.unlink(missing_ok=True)
    args = [
        "build",
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target", target,
        "--vars", json.dumps(dbt_vars),
        "--target-path", str(runs / "target"),
        "--log-path", str(runs / "logs"),
        "--quiet",
    ]  # fmt: skip
    environment = build_environment(tenant, dt, target)
    started = time.perf_counter()
    try:
        label = f"dbt build {tenant.code} {dt} [{target}]"
        ok, exc = _invoke_dbt(args, label, environment)
        seconds = time.perf_counter() - started
        if not run_results.exists():
            kind = EngineError if target == "spark" else DataError
            raise kind(
                f"{tenant.code} {dt}: dbt build stopped before running any model: {exc}; "
                f"see {runs / 'logs' / 'dbt.log'}"
            )
        results = read_run_results(run_results)
        _summary(tenant, dt, results, seconds)
        failed = [r for r in results if r.status in FAILED]
        if failed or not ok:
            skipped = sum(r.status == "skipped" for r in results)
            lines = "\n".join(f"  - {r.kind} {r.name}: {r.status}: {_gist(r.message)}" for r in failed)
            raise DataError(
                f"{tenant.code} {dt}: dbt build failed ({len(failed)} failed, {skipped} skipped); "
                f"the warehouse {warehouse} was left as it was.\n{lines or exc}\n"
                f"Details: {runs / 'logs' / 'dbt.log'}, compiled SQL under {runs / 'target' / 'run'}"
            )
        models = dws_history.history_models(runs / "target" / "manifest.json")
        dws_history.commit(tenant.code, dt, models, _history_writer(tenant, dt, target, building))
        if target == "duckdb":
            _record_lake_snapshots(building, environment)
            # a WAL left by a crashed writer of the old file must not be replayed onto the new one
            warehouse.with_name(warehouse.name + ".wal").unlink(missing_ok=True)
            os.replace(building, warehouse)
            console.print(f"[green]✓[/] warehouse {warehouse} ({len(results)} nodes, {seconds:.1f}s)")
        else:
            console.print(
                f"[green]✓[/] {target}: database granary_{tenant.code} ({len(results)} nodes, {seconds:.1f}s)"
            )
    finally:
        for leftover in (building, building.with_name(building.name + ".wal")):
            leftover.unlink(missing_ok=True)


def _record_lake_snapshots(building: Path, environment: dict[str, str]) -> None:
    """Which snapshot of each DWD table the build read, kept in the warehouse for publish to log
    with the day's version (granary history, granary lake diff)."""
    import duckdb

    prefix = f"{LAKE_PLAN}__DWD__"
    rows = [
        (tables.table_name("dwd", name.removeprefix(prefix)), json.loads(entry)["snapshot_id"])
        for name, entry in sorted(environment.items())
        if name.startswith(prefix)
    ]
    with duckdb.connect(str(building)) as con:
        con.execute(
            f"create or replace table main.{LAKE_SNAPSHOT_TABLE} (table_name varchar, snapshot_id bigint)"
        )
        con.executemany(f"insert into main.{LAKE_SNAPSHOT_TABLE} values (?, ?)", rows)


def _history_writer(tenant: Tenant, dt: date, target: str, building: Path):
    """How a built history model's rows reach its lake table: from the warehouse file dbt-duckdb
    built (Arrow, committed by pyiceberg), or from the table dbt-spark built (by Spark)."""
    if target == "duckdb":
        import duckdb

        def from_duckdb(model: str, layer: str, table: str) -> None:
            with duckdb.connect(str(building), read_only=True) as con:
                rows = con.sql(f'select * from main."{model}"').to_arrow_table()
            tables.write_day_arrow(rows, tenant.code, layer, table, dt)

        return from_duckdb

    from granary.pipeline.spark import get_session

    def from_spark(model: str, layer: str, table: str) -> None:
        frame = get_session().table(f"granary_{tenant.code}.{model}")
        tables.write_day(frame, tenant.code, layer, table, dt)

    return from_spark
