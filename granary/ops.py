"""The province's ops records, in the province database's `ops` schema (admin only).

One place defines them: what every publish did (`ops.publish_log`, written by granary.publish)
and how every bank DAG run ended (`ops.dag_run`, written by `granary ops record-run` from the
bank DAG's callbacks). The province ops dashboard and marts read these.
"""

from __future__ import annotations

from datetime import date

import psycopg

from granary.errors import EngineError
from granary.serving import admin_connect, province_database

OPS_DDL = """
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

RUN_STATES = ("success", "failed")


def ensure_schema(conn: psycopg.Connection) -> None:
    """Create the ops tables (idempotent); `conn` is an admin connection to the province database."""
    conn.execute(OPS_DDL)


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
