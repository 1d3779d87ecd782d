"""The province's ops records, in the province database's `ops` schema (admin only).

One place defines them: what every publish did (`ops.publish_log`, written by granary.serving.publish)
and how every bank DAG run ended (`ops.dag_run`, written by `granary ops record-run` from the
bank DAG's callbacks); every alert sent (`ops.alert`, its DDL in granary.alerts.notify, which writes
it). The province ops dashboard and marts read these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import psycopg
from psycopg import sql

from granary.alerts.notify import ALERT_DDL
from granary.core.errors import EngineError
from granary.core.postgres import admin_connect, province_database

BASE_DDL = """
create schema if not exists ops;
create table if not exists ops.publish_log (
    id bigserial primary key,
    tenant text not null,
    dt date not null,
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    status text not null,          -- running | ok | failed | abandoned (the publisher was killed)
    row_count bigint,
    message text
);
create table if not exists ops.erasure (
    id bigserial primary key,
    tenant text not null,
    customer_id text not null,     -- the bank's own id of the customer whose data was erased
    requested_by text not null,    -- the operating system user who ran `granary erase`
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    status text not null,          -- running | done | failed
    removed jsonb,                 -- rows removed per place: lake table, warehouse, serving table
    message text
);
create table if not exists ops.dag_run (
    tenant text not null,
    dt date not null,              -- the business date the run loaded
    dag_id text not null,
    run_id text not null,
    state text not null,           -- success | failed
    failed_task text,              -- the task that failed first (null on success)
    reason text,                   -- that task's error, as its log said it
    recorded_at timestamptz not null default now(),
    primary key (dag_id, run_id)
);
"""


@dataclass(frozen=True)
class MartTable:
    """One ops mart: its columns stated once, for the DDL and for the refresh that writes them."""

    name: str
    columns: tuple[str, ...]  # "name type [constraints]", as CREATE TABLE has them
    key: tuple[str, ...]

    @property
    def written(self) -> list[str]:
        """The columns a refresh writes (those with a default fill themselves)."""
        return [c.split()[0] for c in self.columns if " default " not in c]

    def ddl(self) -> str:
        body = ",\n    ".join([*self.columns, f"primary key ({', '.join(self.key)})"])
        # a column added to a mart later reaches the tables of existing installations too
        added = "".join(
            f"alter table ops.{self.name} add column if not exists {c};\n"
            for c in self.columns
            if " not null" not in c
        )
        return f"create table if not exists ops.{self.name} (\n    {body}\n);\n{added}"


# Rebuilt by `granary ops refresh --date D` (granary.province.marts): a rerun replaces the day's rows of
# the banks it refreshes. The province ops dashboard reads them.
MARTS = {
    table.name: table
    for table in (
        MartTable(
            "mart_bank_day",
            (
                "tenant text not null",
                "bank_zh text not null",
                "dt date not null",  # the business day this row is about
                "status text not null",  # ok | behind | failed | missing (see granary.province.marts)
                "status_zh text not null",
                "landing_files integer not null",  # the bank's extracts delivered for dt (0: files missing)
                "landing_expected integer not null",
                "dag_state text not null",  # success | failed | not_run (latest run for dt, ops.dag_run)
                "dag_state_zh text not null",
                "dag_runs integer not null",
                "failed_task text",
                "reason text",
                "publish_status text",  # the day's latest publish in ops.publish_log (null: none)
                "serving_dt date",  # the business day the bank serves (null: nothing published)
                "published_at timestamptz",
                "lag_days integer",  # dt - serving_dt
                "quality_expectations integer",  # null: no quality results for dt
                "quality_failed integer",
                "rows_in bigint",
                "rows_quarantined bigint",
                "external_records bigint",
                "external_amount numeric(18, 2)",
                "lake_bytes bigint",  # the bank's lake folder (its tables' files, kept snapshots included)
                "lake_day_bytes bigint",  # what dt's partitions added to it: the day's growth
                "serving_bytes bigint",  # the bank's serving database, history included
                "lake_tables integer",  # the bank's Iceberg tables (granary.lake.tables.stats)
                "lake_snapshots integer",  # their snapshots kept (time travel; housekeeping expires)
                "lake_files bigint",  # their live data files
                "lake_compacted_at timestamptz",  # the newest compaction of any of them (null: none)
                "deadline_at timestamptz",  # when dt had to be published (granary.alerts.settings)
                "first_published_at timestamptz",  # dt's first successful publish (ops.publish_log)
                "on_time boolean",  # published by the deadline; null while not published and not yet due
                "refreshed_at timestamptz not null default now()",
            ),
            key=("tenant", "dt"),
        ),
        MartTable(
            "mart_quality",
            (
                "tenant text not null",
                "bank_zh text not null",
                "dt date not null",
                "table_name text not null",
                "table_zh text not null",
                "expectations integer not null",
                "failed integer not null",
                "rows_checked bigint not null",
                "failed_expectations text",  # "expectation(column) n unexpected; ..." (null: all passed)
            ),
            key=("tenant", "dt", "table_name"),
        ),
        MartTable(
            "mart_quarantine",
            (
                "tenant text not null",
                "bank_zh text not null",
                "dt date not null",
                "table_name text not null",
                "table_zh text not null",
                "rule text not null",  # the rule the rows broke (the quarantine's _rule); — none
                "rows bigint not null",
            ),
            key=("tenant", "dt", "table_name", "rule"),
        ),
        MartTable(
            "mart_external_usage",
            (
                "tenant text not null",
                "bank_zh text not null",
                "dt date not null",
                "provider text not null",
                "provider_zh text not null",
                "product text not null",
                "product_zh text not null",
                "kind_zh text not null",
                "records bigint not null",
                "unit_price numeric(10, 2) not null",
                "amount numeric(18, 2) not null",
                "delivered boolean not null",
            ),
            key=("tenant", "dt", "provider", "product"),
        ),
        MartTable(
            "mart_external_bill",
            (
                "tenant text not null",
                "bank_zh text not null",
                "month text not null",  # YYYY-MM; the month of the refreshed day, to date
                "provider text not null",
                "provider_zh text not null",
                "product text not null",
                "product_zh text not null",
                "kind_zh text not null",
                "unit_price numeric(10, 2) not null",
                "days integer not null",
                "records bigint not null",
                "amount numeric(18, 2) not null",
            ),
            key=("tenant", "month", "provider", "product", "unit_price"),
        ),
    )
}

# The latest day (month, for the bill) of each mart: what the dashboard shows. Views, because
# Superset refuses sub-queries in a chart's own filters.
VIEWS_DDL = """
create or replace view ops.latest_bank_day as
    select * from ops.mart_bank_day where dt = (select max(dt) from ops.mart_bank_day);
create or replace view ops.latest_quality as
    select * from ops.mart_quality where dt = (select max(dt) from ops.mart_quality);
create or replace view ops.latest_quarantine as
    select * from ops.mart_quarantine where dt = (select max(dt) from ops.mart_quarantine);
create or replace view ops.latest_external_usage as
    select * from ops.mart_external_usage where dt = (select max(dt) from ops.mart_external_usage);
create or replace view ops.on_time_30d as
    select tenant, bank_zh,
           count(*) filter (where on_time is not null) as days_due,
           count(*) filter (where on_time) as days_on_time,
           count(*) filter (where not on_time) as days_late,
           avg(case when on_time then 1.0 when not on_time then 0.0 end) as on_time_rate
    from ops.mart_bank_day
    where dt > (select max(dt) from ops.mart_bank_day) - 30
    group by tenant, bank_zh;
create or replace view ops.latest_external_bill as
    select * from ops.mart_external_bill where month = (select max(month) from ops.mart_external_bill);
"""
OPS_DDL = BASE_DDL + ALERT_DDL + "".join(table.ddl() for table in MARTS.values()) + VIEWS_DDL

# What the province's read-only role (granary.serving.connection.province_reader_role) may SELECT.
READABLE = (
    "publish_log",
    "dag_run",
    "mart_bank_day",
    "mart_quality",
    "mart_quarantine",
    "mart_external_usage",
    "mart_external_bill",
    "latest_bank_day",
    "on_time_30d",
    "latest_quality",
    "latest_quarantine",
    "latest_external_usage",
    "latest_external_bill",
)

RUN_STATES = ("success", "failed")


def ensure_schema(conn: psycopg.Connection) -> None:
    """Create the ops tables (idempotent); `conn` is an admin connection to the province database."""
    conn.execute(OPS_DDL)


def grant_reader(conn: psycopg.Connection, role: str) -> None:
    """`role` may read the ops tables and nothing else (no writes, no other schema)."""
    r = sql.Identifier(role)
    conn.execute(sql.SQL("grant usage on schema ops to {}").format(r))
    conn.execute(sql.SQL("revoke all on all tables in schema ops from {}").format(r))
    for table in READABLE:
        conn.execute(sql.SQL("grant select on {} to {}").format(sql.Identifier("ops", table), r))


def record_run(
    tenant: str,
    dt: date,
    dag_id: str,
    run_id: str,
    state: str,
    failed_task: str | None = None,
    reason: str | None = None,
) -> None:
    """Record how a bank DAG run ended; a rerun of the same run replaces its row."""
    if state not in RUN_STATES:
        raise ValueError(f"state must be one of {', '.join(RUN_STATES)}, not {state!r}")
    try:
        with admin_connect(province_database(), autocommit=True) as conn:
            conn.execute(
                """
                insert into ops.dag_run (tenant, dt, dag_id, run_id, state, failed_task, reason)
                values (%s, %s, %s, %s, %s, %s, %s)
                on conflict (dag_id, run_id) do update set
                    tenant = excluded.tenant, dt = excluded.dt, state = excluded.state,
                    failed_task = excluded.failed_task, reason = excluded.reason, recorded_at = now()
                """,
                (tenant, dt, dag_id, run_id, state, failed_task, reason),
            )
    except psycopg.Error as exc:
        raise EngineError(
            f"could not record the run in {province_database()}.ops.dag_run ({exc}); "
            "run `granary serving init` first"
        ) from exc
