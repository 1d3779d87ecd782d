"""Served history: every day's indicator values in the bank's serving database, kept for a window.

The current day's tables live in the bank's schema and are swapped whole by publish. History lives
beside them in `<schema>_history`: `ads_indicator_value`, partitioned by business date, one
partition per day, for every grain but the customer (the current day still serves customers).
Publishing a day stages its partition, then, inside publish's swap transaction, detaches the day's
old partition (if the day was published before) and attaches the new one: readers see the old day
or the new one, whole. The replaced rows are kept in `ads_indicator_value_restated` with the
publish that wrote them, so what a day said before a rerun can always be read back; the bank-side
`publish_log` says when each version was published and when it was replaced.

Readers see history through views in the bank's schema (created with each forward publish, see
`create_views`): ads_indicator_series, ads_indicator_version, ads_publish_log, ads_served_day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from granary.core.errors import DataError, EngineError
from granary.core.postgres import admin_connect, serving_database
from granary.core.tenants import Tenant

SERIES_TABLE = "ads_indicator_value"
# In the warehouse: which snapshot of each DWD lake table the build read (granary.pipeline.transform
# writes it, publish logs it with the day's version).
LAKE_SNAPSHOT_TABLE = "lake_snapshot"
RESTATED_TABLE = "ads_indicator_value_restated"
# Customer-grain values are the bulk of a day; loan systems read them from the current day only.
HISTORY_GRAINS_SQL = "grain <> 'customer'"
_PARTITION = re.compile(rf"^{SERIES_TABLE}_p(\d{{8}})$")
_REPLACED = re.compile(rf"^{SERIES_TABLE}_p(\d{{8}})_v(\d+)$")


def partition_name(dt: date) -> str:
    return f"{SERIES_TABLE}_p{dt:%Y%m%d}"


def attach_partition(conn: psycopg.Connection, tenant: Tenant, name: str, dt: date) -> None:
    """Attach table `name` of the history schema as the day's partition."""
    conn.execute(
        sql.SQL("alter table {} attach partition {} for values from ({}) to ({})").format(
            sql.Identifier(tenant.history_schema, SERIES_TABLE),
            sql.Identifier(tenant.history_schema, name),
            sql.Literal(dt),
            sql.Literal(dt + timedelta(days=1)),
        )
    )


def ensure_history(conn: psycopg.Connection, tenant: Tenant) -> None:
    """The history schema and its tables (idempotent). Only the admin reads them directly; the bank's
    role reads the views publish puts in its own schema."""
    schema = sql.Identifier(tenant.history_schema)
    conn.execute(sql.SQL("create schema if not exists {}").format(schema))
    conn.execute(
        sql.SQL(
            "create table if not exists {} (dt date not null, grain text not null, grain_id text not null,"
            " indicator_code text not null, value double precision) partition by range (dt)"
        ).format(sql.Identifier(tenant.history_schema, SERIES_TABLE))
    )
    conn.execute(
        sql.SQL(
            "create table if not exists {} (publish_id bigint not null, dt date not null,"
            " grain text not null, grain_id text not null, indicator_code text not null,"
            " value double precision)"
        ).format(sql.Identifier(tenant.history_schema, RESTATED_TABLE))
    )
    conn.execute(
        sql.SQL("create index if not exists {} on {} (dt, indicator_code)").format(
            sql.Identifier(f"{RESTATED_TABLE}_dt_code"), sql.Identifier(tenant.history_schema, RESTATED_TABLE)
        )
    )
    conn.execute(
        sql.SQL(
            "create table if not exists {} (publish_id bigint primary key, dt date not null,"
            " published_at timestamptz not null, row_count bigint not null,"
            " replaced_at timestamptz, replaced_by bigint)"
        ).format(sql.Identifier(tenant.history_schema, "publish_log"))
    )
    # which snapshot of each DWD lake table the published build read (granary lake diff between two)
    conn.execute(
        sql.SQL("alter table {} add column if not exists lake_snapshots jsonb").format(
            sql.Identifier(tenant.history_schema, "publish_log")
        )
    )


def stage_day(
    conn: psycopg.Connection, warehouse: duckdb.DuckDBPyConnection, source: str, tenant: Tenant, dt: date
) -> int:
    """Copy the day's non-customer indicator values from the warehouse into a new table beside the
    history, shaped to be attached as the day's partition (index built, CHECK so attaching skips the
    scan). Runs in publish's staging transaction."""
    staged = sql.Identifier(tenant.history_schema, partition_name(dt) + "_new")
    conn.execute(
        sql.SQL("create table {} (like {} including all, check (dt = {}))").format(
            staged, sql.Identifier(tenant.history_schema, SERIES_TABLE), sql.Literal(dt)
        )
    )
    result = warehouse.execute(
        f"select dt, grain, grain_id, indicator_code, value from {source}"
        f" where {HISTORY_GRAINS_SQL} and dt = ?",
        [dt],
    )
    rows = 0
    with conn.cursor().copy(sql.SQL("copy {} from stdin").format(staged)) as copy:
        while batch := result.fetchmany(10_000):
            for row in batch:
                copy.write_row(row)
            rows += len(batch)
    conn.execute(sql.SQL("create index on {} (indicator_code, grain, grain_id)").format(staged))
    conn.execute(sql.SQL("analyze {}").format(staged))
    return rows


def swap_day(
    conn: psycopg.Connection,
    tenant: Tenant,
    dt: date,
    publish_id: int,
    rows: int,
    lake_snapshots: dict[str, int] | None = None,
) -> None:
    """Inside publish's swap transaction: the staged partition replaces the day's old one, which is
    set aside as `..._v<its publish id>` for `keep_replaced`; the bank's publish log records both."""
    schema = tenant.history_schema
    name = partition_name(dt)

    def run(statement: str, *identifiers: str, params: tuple = ()) -> psycopg.Cursor:
        return conn.execute(
            sql.SQL(statement).format(*(sql.Identifier(schema, i) for i in identifiers)), params
        )

    old = run(
        "select publish_id from {} where dt = %s and replaced_at is null", "publish_log", params=(dt,)
    ).fetchone()
    (attached,) = conn.execute("select to_regclass(%s) is not null", (f"{schema}.{name}",)).fetchone()
    if attached:
        run("alter table {} detach partition {}", SERIES_TABLE, name)
        conn.execute(
            sql.SQL("alter table {} rename to {}").format(
                sql.Identifier(schema, name), sql.Identifier(f"{name}_v{old[0] if old else 0}")
            )
        )
    conn.execute(
        sql.SQL("alter table {} rename to {}").format(
            sql.Identifier(schema, f"{name}_new"), sql.Identifier(name)
        )
    )
    attach_partition(conn, tenant, name, dt)
    run(
        "update {} set replaced_at = now(), replaced_by = %s where dt = %s and replaced_at is null",
        "publish_log",
        params=(publish_id, dt),
    )
    run(
        "insert into {} (publish_id, dt, published_at, row_count, lake_snapshots)"
        " values (%s, %s, now(), %s, %s)",
        "publish_log",
        params=(publish_id, dt, rows, Jsonb(lake_snapshots) if lake_snapshots is not None else None),
    )


def drop_staged(conn: psycopg.Connection, tenant: Tenant) -> None:
    """Staged partitions of a killed publish: never attached, never read."""
    for (name,) in _tables(conn, tenant, "%\\_new"):
        conn.execute(sql.SQL("drop table {}").format(sql.Identifier(tenant.history_schema, name)))


def keep_replaced(conn: psycopg.Connection, tenant: Tenant) -> int:
    """Move every set-aside partition into the restated table, tagged with the publish that wrote it
    (also those a killed publish left behind). Returns the rows kept."""
    schema = tenant.history_schema
    kept = 0
    for (name,) in _tables(conn, tenant, f"{SERIES_TABLE}\\_p%\\_v%"):
        match = _REPLACED.match(name)
        if not match:
            continue
        with conn.transaction():
            cur = conn.execute(
                sql.SQL(
                    "insert into {} select %s, dt, grain, grain_id, indicator_code, value from {}"
                ).format(sql.Identifier(schema, RESTATED_TABLE), sql.Identifier(schema, name)),
                (int(match.group(2)),),
            )
            kept += cur.rowcount
            conn.execute(sql.SQL("drop table {}").format(sql.Identifier(schema, name)))
    return kept


def expire(conn: psycopg.Connection, tenant: Tenant, retention_days: int) -> list[date]:
    """Drop the days older than the window (counted back from the latest served day), with their
    restated versions and log rows. Returns the days dropped."""
    schema = tenant.history_schema
    (latest,) = conn.execute(
        sql.SQL("select max(dt) from {}").format(sql.Identifier(schema, "publish_log"))
    ).fetchone()
    if latest is None:
        return []
    cutoff = latest - timedelta(days=retention_days)
    dropped = []
    for (name,) in _tables(conn, tenant, f"{SERIES_TABLE}\\_p%"):
        match = _PARTITION.match(name)
        day = datetime.strptime(match.group(1), "%Y%m%d").date() if match else None
        if day and day <= cutoff:
            conn.execute(sql.SQL("drop table {}").format(sql.Identifier(schema, name)))
            dropped.append(day)
    for table in (RESTATED_TABLE, "publish_log"):
        conn.execute(
            sql.SQL("delete from {} where dt <= %s").format(sql.Identifier(schema, table)), (cutoff,)
        )
    return sorted(dropped)


# Trend charts: up to this many days back (daily) and month-ends of the current and 12 earlier months.
TREND_DAYS = 90
TREND_MONTHS = 13


def create_views(conn: psycopg.Connection, tenant: Tenant, schema: str) -> None:
    """The history as the bank's role reads it, in `schema` (publish's staging schema, swapped in)."""
    served = (
        "select dt, published_at, dt = max(dt) over (partition by date_trunc('month', dt)) as is_month_end"
        " from {h}.publish_log where replaced_at is null"
    )
    views = {
        # every served day's value of every indicator at bank, branch, manager and village grain,
        # with the member's name as the latest day knows it
        "ads_indicator_series": "select v.dt, v.grain, v.grain_id, v.indicator_code, v.value, m.name_zh"
        " as grain_name_zh from {h}.ads_indicator_value v left join {s}.ads_grain_member m"
        " on m.grain = v.grain and m.grain_id = v.grain_id",
        # each publish of each day: when it was published, and when (and by which publish) replaced
        "ads_publish_log": "select publish_id, dt, published_at, row_count, replaced_at, replaced_by"
        " from {h}.publish_log",
        # the days served now; is_month_end marks each month's last served day
        "ads_served_day": served,
        # every version of every value: the serving one and those a rerun replaced
        "ads_indicator_version": "select v.dt, v.grain, v.grain_id, v.indicator_code, v.value, l.publish_id,"
        " l.published_at, l.replaced_at"
        " from {h}.ads_indicator_value v join {h}.publish_log l on l.dt = v.dt and l.replaced_at is null"
        " union all"
        " select r.dt, r.grain, r.grain_id, r.indicator_code, r.value, l.publish_id, l.published_at,"
        " l.replaced_at from {h}.ads_indicator_value_restated r join {h}.publish_log l using (publish_id)",
        # the bank-grain trends the dashboards draw, as of the latest served day `dt`: each served day
        # of the last TREND_DAYS ('daily'), and each month's last served day of the last TREND_MONTHS
        # months ('month_end'; the current month's is the latest day)
        "ads_indicator_trend": "with served as (" + served + "), latest as (select max(dt) as dt from served)"
        " select a.dt, 'daily' as series, v.dt as point_dt, v.indicator_code, d.name_zh as indicator_name_zh,"
        " v.value from latest a join {h}.ads_indicator_value v"
        f" on v.dt > a.dt - {TREND_DAYS} and v.dt <= a.dt and v.grain = 'bank'"
        " join {s}.ads_indicator_dict d on d.indicator_code = v.indicator_code"
        " union all"
        " select a.dt, 'month_end', v.dt, v.indicator_code, d.name_zh, v.value"
        " from latest a join served m on m.is_month_end and m.dt <= a.dt"
        f" and m.dt >= date_trunc('month', a.dt) - interval '{TREND_MONTHS - 1} months'"
        " join {h}.ads_indicator_value v on v.dt = m.dt and v.grain = 'bank'"
        " join {s}.ads_indicator_dict d on d.indicator_code = v.indicator_code",
    }
    for name, body in views.items():
        conn.execute(
            sql.SQL("create view {v} as " + body).format(
                v=sql.Identifier(schema, name),
                h=sql.Identifier(tenant.history_schema),
                s=sql.Identifier(schema),
            )
        )


@dataclass(frozen=True)
class Version:
    publish_id: int
    published_at: datetime
    replaced_at: datetime | None
    replaced_by: int | None
    rows: int
    changed: int | None  # values the next version changed (None for the version serving now)
    lake_snapshots: dict[str, int] | None  # the DWD snapshot each lake table was read at, by table


@dataclass(frozen=True)
class VersionValue:
    publish_id: int
    grain: str
    grain_id: str
    value: float | None


def versions(conn: psycopg.Connection, tenant: Tenant, dt: date) -> list[Version]:
    """Every publish of the day, oldest first, with how many values its replacement changed."""
    logged = conn.execute(
        sql.SQL(
            "select publish_id, published_at, replaced_at, replaced_by, row_count, lake_snapshots from {}"
            " where dt = %s order by publish_id"
        ).format(_log(tenant)),
        (dt,),
    ).fetchall()
    version = sql.SQL(
        "(select grain, grain_id, indicator_code, value from {} where dt = %s and publish_id = %s)"
    ).format(sql.Identifier(tenant.serving_schema, "ads_indicator_version"))
    changed = sql.SQL(
        "select count(*) from {} a full join {} b using (grain, grain_id, indicator_code)"
        " where a.value is distinct from b.value"
    ).format(version, version)
    found = []
    for publish_id, published_at, replaced_at, replaced_by, rows, snapshots in logged:
        n = None
        if replaced_by is not None:
            (n,) = conn.execute(changed, (dt, publish_id, dt, replaced_by)).fetchone()
        found.append(Version(publish_id, published_at, replaced_at, replaced_by, rows, n, snapshots))
    return found


def values(conn: psycopg.Connection, tenant: Tenant, dt: date, indicator: str) -> list[VersionValue]:
    """One indicator's value in every version of the day, per grain member."""
    return [
        VersionValue(*row)
        for row in conn.execute(
            sql.SQL(
                "select publish_id, grain, grain_id, value from {} where dt = %s and indicator_code = %s"
                " order by grain, grain_id, publish_id"
            ).format(sql.Identifier(tenant.serving_schema, "ads_indicator_version")),
            (dt, indicator),
        ).fetchall()
    ]


def audit_day(tenant: Tenant, dt: date, indicator: str | None) -> tuple[list[Version], list[VersionValue]]:
    """What was published for the day and when, and (for one indicator) each version's values."""
    try:
        with admin_connect(serving_database(tenant)) as conn:
            days = _served_days(conn, tenant)
            if not days:
                raise DataError(f"{tenant.code}: nothing published yet; run `granary publish` first")
            found = versions(conn, tenant, dt)
            if not found:
                raise DataError(f"{tenant.code} {dt}: never published (days served: {days[0]} to {days[-1]})")
            return found, values(conn, tenant, dt, indicator) if indicator else []
    except psycopg.OperationalError as exc:
        raise EngineError(
            f"{serving_database(tenant)}: cannot connect ({exc}); run `granary serving init`"
        ) from exc


def _log(tenant: Tenant) -> sql.Identifier:
    return sql.Identifier(tenant.history_schema, "publish_log")


def served_days(tenant: Tenant) -> list[date]:
    """The business dates the bank's history serves, oldest first (none before the first publish)."""
    with admin_connect(serving_database(tenant)) as conn:
        return _served_days(conn, tenant)


def _served_days(conn: psycopg.Connection, tenant: Tenant) -> list[date]:
    if (
        conn.execute("select to_regclass(%s)", (f"{tenant.history_schema}.publish_log",)).fetchone()[0]
        is None
    ):
        return []
    query = sql.SQL("select dt from {} where replaced_at is null order by dt").format(_log(tenant))
    return [dt for (dt,) in conn.execute(query).fetchall()]


def _tables(conn: psycopg.Connection, tenant: Tenant, like: str) -> list[tuple[str]]:
    return conn.execute(
        "select tablename from pg_tables where schemaname = %s and tablename like %s order by tablename",
        (tenant.history_schema, like),
    ).fetchall()
