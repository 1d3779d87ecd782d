"""The serving database as the banks' loan systems see it: connections per bank role, lookups.

Isolation is Postgres's own: each bank logs in with its own role, which can use only its
own schema. Nothing here relies on a session setting.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from granary.config import settings
from granary.errors import EngineError
from granary.secrets import tenant_password
from granary.tenants import Tenant


def admin_connect(dbname: str | None = None, **kwargs: Any) -> psycopg.Connection:
    """A superuser connection (provisioning and publish only)."""
    s = settings()
    dsn = s.serving_admin_dsn if dbname is None else s.pg_admin_dsn.rsplit("/", 1)[0] + f"/{dbname}"
    try:
        return psycopg.connect(dsn, **kwargs)
    except psycopg.OperationalError as exc:
        raise EngineError(
            f"cannot reach PostgreSQL at {dsn}: {exc}. Is it running? "
            "Start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`."
        ) from exc


def tenant_conninfo(tenant: Tenant) -> dict[str, Any]:
    """What a bank's loan system (and its Superset connection) uses to log in."""
    s = settings()
    return {
        "host": s.pg_host,
        "port": s.pg_port,
        "dbname": s.serving_db,
        "user": tenant.reader_role,
        "password": tenant_password(tenant.code),
    }


def tenant_connect(tenant: Tenant, **kwargs: Any) -> psycopg.Connection:
    try:
        return psycopg.connect(**tenant_conninfo(tenant), **kwargs)
    except psycopg.OperationalError as exc:
        raise EngineError(
            f"bank {tenant.code} cannot log in to the serving database as {tenant.reader_role}: {exc}. "
            "Run `granary serving init` and `granary publish` for the bank first."
        ) from exc


def customer_tags(tenant: Tenant, customer_id: str) -> list[dict[str, Any]]:
    """The customer's tags on the latest published day, read with the bank's own role."""
    with tenant_connect(tenant, row_factory=dict_row) as conn:
        try:
            return conn.execute(
                f"""
                select t.tag_code, t.tag_name_zh, d.name_en as tag_name_en, t.category_zh, t.dt
                from {tenant.serving_schema}.ads_customer_tag t
                join {tenant.serving_schema}.ads_tag_dict d using (tag_code)
                where t.customer_id = %s
                order by t.tag_code
                """,
                (customer_id,),
            ).fetchall()
        except psycopg.errors.UndefinedTable as exc:
            raise EngineError(
                f"bank {tenant.code} has nothing published yet: run `granary publish --tenant {tenant.code}`"
            ) from exc
