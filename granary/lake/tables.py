"""A bank's lake tables: one Iceberg table per layer and source, in the bank's own namespace.

One name per table in both engines: `lake.<bank>.<layer>_<table>` in Spark, `<bank>.<layer>_<table>`
in pyiceberg (`dwd_loan`, `ods_customer`, `quarantine_loan`, …; the DWS day history's tables are
named as their dbt models, `dws_measure__history`). Every table is partitioned by a day column: the
business date `dt` in ODS, DWD and quarantine, and in the day history `build_dt`, the business date
of the build that wrote the rows (its models have a `dt` of their own). A day is written only by
replacing it whole in one commit, so a reader sees the old day or the new one, never a mix. Where the
files lie is Iceberg's business: data files go under hashed folders (object-storage layout), so no
reader can depend on a `dt=` folder.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from granary.core.errors import DataError
from granary.lake.iceberg import CATALOG, catalog, ensure_namespace

# Each layer and the column its tables are partitioned by.
DAY_COLUMNS = {"ods": "dt", "dwd": "dt", "quarantine": "dt", "dws": "build_dt", "ads": "build_dt"}
LAYERS = tuple(DAY_COLUMNS)
# The layers whose columns a source contract defines (the others are dbt models' output).
CONTRACT_LAYERS = ("ods", "dwd", "quarantine")
# The snapshot property that records which business day a commit wrote (an empty day has no file).
DAY_PROPERTY = "granary.dt"
EPOCH = date(1970, 1, 1)

TABLE_PROPERTIES = {
    "format-version": "2",
    # A day is one Spark partition the caller has ordered: keep it one file, in that order.
    "write.distribution-mode": "none",
    # Files under hashed folders, no partition values in paths: the layout is no contract.
    "write.object-storage.enabled": "true",
    "write.object-storage.partitioned-paths": "false",
    # Old metadata files go with their versions (erasure must not find values in them).
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "50",
}
# The tables pyiceberg writes (the day history, the province's): a night adds a manifest to each,
# and a plan of a year's days would open one per day. pyiceberg merges them on commit once ten have
# gathered, as Spark's writer does by default (at a hundred) for the tables it writes.
ARROW_TABLE_PROPERTIES = {
    **TABLE_PROPERTIES,
    "commit.manifest-merge.enabled": "true",
    "commit.manifest.min-count-to-merge": "10",
}
ARROW_LAYERS = ("dws", "ads")
# Read at creation, then kept in the metadata itself, not among the table's properties (by Spark).
CREATION_ONLY = frozenset({"format-version"})


def wanted_properties(name: str) -> dict[str, str]:
    """The properties a table of this name is made with (`<layer>_<table>`, or a province table)."""
    layer, _, _ = name.partition("_")
    return ARROW_TABLE_PROPERTIES if layer in ARROW_LAYERS or layer not in LAYERS else TABLE_PROPERTIES


def table_properties(name: str, pii: Sequence[str] = ()) -> dict[str, str]:
    """A new table's properties; `pii` names columns kept out of the manifests' column statistics."""
    return {**wanted_properties(name), **{f"write.metadata.metrics.column.{c}": "none" for c in pii}}


def table_name(layer: str, table: str) -> str:
    if layer not in LAYERS:
        raise ValueError(f"unknown lake layer {layer!r}; one of {', '.join(LAYERS)}")
    return f"{layer}_{table}"


def split_name(name: str) -> tuple[str, str]:
    """(layer, table) of a table's name: `dwd_loan` -> ("dwd", "loan")."""
    layer, _, table = name.partition("_")
    if layer not in LAYERS or not table:
        raise ValueError(f"{name!r} is not a lake table name (<layer>_<table>, layer one of {LAYERS})")
    return layer, table


def day_column(layer: str) -> str:
    return DAY_COLUMNS[layer]


def identifier(tenant: str, layer: str, table: str) -> str:
    """pyiceberg's name of the table: `<bank>.<layer>_<table>`."""
    return f"{tenant}.{table_name(layer, table)}"


def spark_name(tenant: str, layer: str, table: str) -> str:
    """Spark's name of the same table: `lake.<bank>.<layer>_<table>`."""
    return f"{CATALOG}.{identifier(tenant, layer, table)}"


# --- Spark: writes and reads -----------------------------------------------------------------------


def write_day(df, tenant: str, layer: str, table: str, dt: date, pii: Sequence[str] = ()) -> None:
    """Replace day `dt` of the table with `df` (its columns, without the day column), in one commit.

    The table is created on first write, partitioned by its day column; `pii` names columns whose
    values must not reach the manifests' column statistics. An empty `df` still commits: the day
    becomes empty.
    """
    from pyspark.sql import functions as F

    column = day_column(layer)
    day = F.lit(dt.isoformat()).cast("date")
    frame = df.withColumn(column, day)
    target = spark_name(tenant, layer, table)
    for attempt in (1, 2):
        _ensure_table(frame, target, column, pii)
        try:
            _evolve_spark(frame, target, check_types=layer in CONTRACT_LAYERS)
            writer = frame.writeTo(target).option(f"snapshot-property.{DAY_PROPERTY}", dt.isoformat())
            writer.overwrite(F.col(column) == day)
            return
        except Exception as exc:  # a table this process saw was dropped since (the bank was removed)
            if attempt == 2 or "TABLE_OR_VIEW_NOT_FOUND" not in str(exc):
                raise
            _known_tables.discard(target)


def read_day(spark, tenant: str, layer: str, table: str, dt: date):
    """The table's rows of day `dt`, without the day column (a Spark DataFrame)."""
    from pyspark.sql import functions as F

    column = day_column(layer)
    frame = spark.table(spark_name(tenant, layer, table))
    return frame.where(F.col(column) == F.lit(dt.isoformat()).cast("date")).drop(column)


def _ensure_table(frame, target: str, column: str, pii: Sequence[str]) -> None:
    """Create the table with the frame's schema unless it exists (checked once per process)."""
    if target in _known_tables:
        return
    spark = frame.sparkSession
    if not spark.catalog.tableExists(target):
        from pyspark.errors import AnalysisException, PySparkException
        from pyspark.sql import functions as F

        namespace = target.rsplit(".", 1)[0]
        try:
            spark.sql(f"create namespace if not exists {namespace}")
        except PySparkException:
            # Two of a bank's tasks creating it at once: the JDBC catalog checks, then inserts, and
            # the slower one's insert collides in PostgreSQL. The namespace is there all the same.
            if not spark.catalog.databaseExists(namespace):
                raise
        writer = spark.createDataFrame([], frame.schema).writeTo(target).using("iceberg")
        for name, value in table_properties(target.rsplit(".", 1)[-1], pii).items():
            writer = writer.tableProperty(name, value)
        try:
            writer.partitionedBy(F.col(column)).create()
        except AnalysisException as exc:  # another writer created it first
            if "ALREADY_EXISTS" not in str(exc):
                raise
    _known_tables.add(target)


_known_tables: set[str] = set()


def _evolve_spark(frame, target: str, check_types: bool) -> None:
    """Add the frame's new columns to the table (metadata only: older files read them as null).

    Types are compared for a contract's tables only: a model's table may have been written by the
    other engine (DuckDB's sum of integers is a decimal, Spark's a bigint), and Spark casts what it
    safely can on write."""
    table_types = {f.name: f.dataType.simpleString() for f in frame.sparkSession.table(target).schema.fields}
    frame_types = {f.name: f.dataType.simpleString() for f in frame.schema.fields}
    if not check_types:
        table_types = dict.fromkeys(table_types, "")
        frame_types = {name: "" if name in table_types else kind for name, kind in frame_types.items()}
    for name in schema_change(target, table_types, frame_types):
        frame.sparkSession.sql(f"alter table {target} add column `{name}` {frame_types[name]}")


def schema_change(target: str, table_types: dict[str, str], frame_types: dict[str, str]) -> list[str]:
    """The columns a write adds to the table; a column dropped, renamed or retyped is refused, with how
    to do it (the lake keeps every day's columns readable)."""
    missing = [name for name in table_types if name not in frame_types]
    retyped = [
        f"{name} ({table_types[name]} -> {frame_types[name]})"
        for name in table_types
        if name in frame_types and frame_types[name] != table_types[name]
    ]
    if missing or retyped:
        what = "; ".join(
            part
            for part in (
                f"columns no longer written: {', '.join(missing)}" if missing else "",
                f"columns with another type: {', '.join(retyped)}" if retyped else "",
            )
            if part
        )
        raise DataError(
            f"{target}: the write would drop, rename or retype columns ({what}). The lake refuses it, so "
            "that every older day still reads: add a new column to the source contract "
            "(granary/catalog/sources/<table>.yaml) instead and keep the old one, which older days "
            "fill and newer days leave empty; a real removal is a new table"
        )
    return [name for name in frame_types if name not in table_types]


def forget_tables() -> None:
    """Forget which tables this process has seen (after tables are dropped)."""
    _known_tables.clear()


# --- everything outside Spark reads (and small writers write) through pyiceberg -------------------


def write_day_arrow(rows, tenant: str, layer: str, table: str, dt: date, pii: Sequence[str] = ()) -> None:
    """Replace day `dt` of the table with Arrow `rows` (without the day column), in one commit:
    the writer for what does not run in Spark (dbt on DuckDB's output, fixtures)."""
    import pyarrow as pa

    column = day_column(layer)
    # Not null, as Spark declares the day column it writes: pyiceberg refuses optional data for a
    # required field.
    day_field = pa.field(column, pa.date32(), nullable=False)
    frame = rows.append_column(day_field, pa.array([dt] * rows.num_rows, pa.date32()))
    iceberg_table = load(tenant, layer, table) or _create_arrow_table(tenant, layer, table, frame.schema, pii)
    # Names only: pyiceberg checks and casts the types on write.
    table_columns = {name: "" for name in iceberg_table.schema().column_names}
    if schema_change(spark_name(tenant, layer, table), table_columns, dict.fromkeys(frame.schema.names, "")):
        with iceberg_table.update_schema() as update:
            update.union_by_name(frame.schema)
    with warnings.catch_warnings():  # a new day has nothing to replace, which pyiceberg warns of
        warnings.filterwarnings("ignore", message="Delete operation did not match any records")
        iceberg_table.overwrite(
            frame,
            overwrite_filter=day_filter(layer, [dt]),
            snapshot_properties={DAY_PROPERTY: dt.isoformat()},
        )


def _create_arrow_table(tenant: str, layer: str, table: str, schema, pii: Sequence[str] = ()):
    create_day_table(
        tenant,
        table_name(layer, table),
        schema,
        day_column(layer),
        table_properties(table_name(layer, table), pii),
    )
    return load(tenant, layer, table)


def create_day_table(namespace: str, name: str, schema, day: str, properties: dict[str, str]) -> None:
    """Create `<namespace>.<name>` under its namespace's folder, partitioned by the day column `day`,
    unless another writer created it first (pyiceberg's writers: the day history, the province's)."""
    from pyiceberg.exceptions import TableAlreadyExistsError

    ensure_namespace(namespace)
    lake = catalog()
    try:
        created = lake.create_table(
            f"{namespace}.{name}",
            schema=schema,
            location=f"{lake.properties['warehouse']}/{namespace}/{name}",
            properties=properties,
        )
    except TableAlreadyExistsError:
        return
    with created.update_spec() as spec:
        spec.add_identity(day)


def load(tenant: str, layer: str, table: str):  # -> pyiceberg.table.Table | None
    from pyiceberg.exceptions import NoSuchTableError

    try:
        return catalog().load_table(identifier(tenant, layer, table))
    except NoSuchTableError:
        return None


def day_filter(layer: str, days: Iterable[date]):
    """pyiceberg's row filter for the given days: a range when they are consecutive. pyiceberg
    tests an In of hundreds of dates against every manifest entry: planning a year's history
    tables with one cost 13x the range's (3.3 against 0.25 CPU-s over 91 days)."""
    from pyiceberg.expressions import EqualTo, In

    wanted = sorted(set(days))
    if len(wanted) == 1:  # what an overwrite of the day matches whole files by
        return EqualTo(day_column(layer), wanted[0].isoformat())
    if wanted and (wanted[-1] - wanted[0]).days == len(wanted) - 1:
        return day_range(layer, wanted[0], wanted[-1])
    return In(day_column(layer), {d.isoformat() for d in wanted})


def day_range(layer: str, first: date, last: date):
    from pyiceberg.expressions import And, GreaterThanOrEqual, LessThanOrEqual

    column = day_column(layer)
    return And(GreaterThanOrEqual(column, first.isoformat()), LessThanOrEqual(column, last.isoformat()))


def day_files(tenant: str, layer: str, table: str, days: Iterable[date]) -> list[tuple[date, str]]:
    """(business day, local path) of every data file holding the given days, at the current snapshot.

    For readers that open files themselves (DuckDB): refused if a day needs delete files applied,
    which a plain Parquet read would miss (the lake is copy-on-write, so none should exist)."""
    iceberg_table = load(tenant, layer, table)
    return [] if iceberg_table is None else _files(iceberg_table, layer, list(days))


@dataclass(frozen=True)
class PlannedTable:
    files: list[tuple[date, str]]  # (day, local path) of the data files of the days asked for
    schema: Any  # the table's Arrow schema
    snapshot_id: int | None  # the snapshot planned from (None: the table has none yet)
    committed_days: frozenset[str]  # days a kept snapshot wrote (DAY_PROPERTY), empty ones too

    def holds(self, day: date) -> bool:
        """The day was written (it may be empty), as day_written answers, for a planned day."""
        return day.isoformat() in self.committed_days or any(d == day for d, _ in self.files)


# Tables planned side by side: a plan is mostly waiting on the catalog and reading small files.
PLAN_THREADS = 4


def plan(tenant: str, names: Iterable[str], days: Iterable[date]) -> dict[str, PlannedTable]:
    """For each named table of the bank (`<layer>_<table>`): its data files of the given days, its
    Arrow schema and the snapshot they are of, from one load of its metadata."""
    from concurrent.futures import ThreadPoolExecutor

    days = list(days)

    def plan_one(name: str) -> PlannedTable:
        layer, _ = split_name(name)
        iceberg_table = catalog().load_table(f"{tenant}.{name}")
        current = iceberg_table.current_snapshot()
        return PlannedTable(
            _files(iceberg_table, layer, days),
            iceberg_table.schema().as_arrow(),
            current.snapshot_id if current else None,
            frozenset((s.summary or {}).get(DAY_PROPERTY, "") for s in iceberg_table.metadata.snapshots),
        )

    names = list(names)
    with ThreadPoolExecutor(max_workers=PLAN_THREADS) as pool:
        return dict(zip(names, pool.map(plan_one, names), strict=True))


def layer_tables(tenant: str, layer: str, names: Sequence[str] | None = None) -> dict[str, str]:
    """The bank's tables of a layer: source table -> lake table name (`loan` -> `dwd_loan`), of
    `names` when the caller listed the bank's tables already."""
    names = tables_of(tenant) if names is None else names
    return {split_name(name)[1]: name for name in names if split_name(name)[0] == layer}


def _files(iceberg_table, layer: str, days: list[date]) -> list[tuple[date, str]]:
    """The data files of the days: planned over the range from the first day to the last (see
    day_filter), the days between that were not asked for left out here."""
    if not days:
        return []
    wanted, found = set(days), []
    for task in iceberg_table.scan(row_filter=day_range(layer, min(days), max(days))).plan_files():
        day = EPOCH + timedelta(days=task.file.partition[0])
        if day not in wanted:
            continue
        if task.delete_files:
            raise DataError(
                f"lake table {iceberg_table.name()} has delete files for {task.file.file_path}; rewrite "
                "its data files before reading it file by file"
            )
        found.append((day, local_path(task.file.file_path)))
    return sorted(found)


def read_days(tenant: str, layer: str, table: str, days: Iterable[date], columns: Sequence[str] = ()):
    """The table's rows of the given days as Arrow, the day column included (None if the table does
    not exist)."""
    iceberg_table = load(tenant, layer, table)
    if iceberg_table is None:
        return None
    fields = tuple(columns) or ("*",)
    return iceberg_table.scan(row_filter=day_filter(layer, days), selected_fields=fields).to_arrow()


def day_written(tenant: str, layer: str, table: str, dt: date) -> bool:
    """True if the day was ever written (it may be empty): files for it, or a commit that wrote it."""
    iceberg_table = load(tenant, layer, table)
    if iceberg_table is None:
        return False
    if any(True for _ in iceberg_table.scan(row_filter=day_filter(layer, [dt])).plan_files()):
        return True
    return any(
        (s.summary or {}).get(DAY_PROPERTY) == dt.isoformat() for s in iceberg_table.metadata.snapshots
    )


def day_bytes(tenant: str, dt: date) -> int:
    """The size of the data files that hold business day `dt` in the bank's tables (current snapshots)."""
    total = 0
    for name in tables_of(tenant):
        layer, _ = split_name(name)
        scan = catalog().load_table(f"{tenant}.{name}").scan(row_filter=day_filter(layer, [dt]))
        total += sum(task.file.file_size_in_bytes for task in scan.plan_files())
    return total


@dataclass
class LakeStats:
    tables: int = 0
    snapshots: int = 0  # kept for time travel, until housekeeping expires them
    files: int = 0  # live data files (the current snapshots')
    compacted_at: datetime | None = None  # the newest compaction (a `replace` commit) of any table


def stats(tenant: str) -> LakeStats:
    """The bank's lake tables at a glance, from their metadata alone (no data file is read)."""
    found = LakeStats()
    for name in tables_of(tenant):
        table = catalog().load_table(f"{tenant}.{name}")
        snapshots = table.snapshots()
        found.tables += 1
        found.snapshots += len(snapshots)
        current = table.current_snapshot()
        found.files += int((current.summary or {}).get("total-data-files", 0)) if current else 0
        for snapshot in snapshots:
            if snapshot.summary is not None and snapshot.summary.operation.value == "replace":
                at = datetime.fromtimestamp(snapshot.timestamp_ms / 1000, UTC)
                found.compacted_at = max(found.compacted_at or at, at)
    return found


def drop_namespace(tenant: str) -> list[str]:
    """Take the bank's tables and namespace out of the catalog; their files stay where they are (the
    caller archives the bank's folder). Returns the tables dropped."""
    from pyiceberg.exceptions import NoSuchNamespaceError

    dropped = tables_of(tenant)
    for name in dropped:
        catalog().drop_table(f"{tenant}.{name}")
    with contextlib.suppress(NoSuchNamespaceError):
        catalog().drop_namespace(tenant)
    forget_tables()
    return dropped


def tables_of(tenant: str) -> list[str]:
    """The bank's lake tables (`<layer>_<table>`), sorted; none if its namespace does not exist."""
    from pyiceberg.exceptions import NoSuchNamespaceError

    try:
        return sorted(name for _, name in catalog().list_tables(tenant))
    except NoSuchNamespaceError:
        return []


def local_path(uri: str) -> str:
    """A file URI of the lake (file:///… or file:/…, as pyiceberg and Spark spell them) as a path."""
    return uri.removeprefix("file://").removeprefix("file:")
