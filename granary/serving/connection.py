"""The serving databases as the banks' loan systems see them: one database per bank, its role, lookups.

Isolation is Postgres's own. Bank T is served from its own database (`serving_database`),
which only T's login role may CONNECT to, so another bank cannot even list T's schema or
table names: they live in a database it cannot open. Inside, the role can use only its
own schema. Nothing here relies on a session setting.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from granary.core import paths
from granary.core.config import settings
from granary.core.errors import EngineError
from granary.core.postgres import serving_database
from granary.core.secrets import tenant_password
from granary.core.tenants import Tenant

# Every bank role is a member: pg_hba.conf checks its password (scripts/setup-machine.sh).
BANK_READERS = "granary_bank_readers"
# pgaudit's object-audit role: a read of a table this role may SELECT is logged (granary.serving.audit).
AUDITOR = "granary_auditor"


def province_reader_role() -> str:
    """The province's read-only login role: SELECT on the ops tables only (the province ops
    dashboard's Superset connection). Prefixed like the banks' roles: roles are cluster-wide."""
    return f"{settings().serving_db}_province_reader"


def province_reader_password() -> str:
    # Kept beside the banks' passwords; "_province" can never be a bank code (paths.PROVINCE).
    return tenant_password(paths.PROVINCE)


def tenant_address(tenant: Tenant) -> dict[str, Any]:
    """Where and as whom a bank's loan system logs in: everything but the password."""
    s = settings()
    return {
        "host": s.pg_host,
        "port": s.pg_port,
        "dbname": serving_database(tenant),
        "user": tenant.reader_role,
    }


def tenant_conninfo(tenant: Tenant) -> dict[str, Any]:
    """What a bank's loan system (and its Superset connection) uses to log in."""
    return {**tenant_address(tenant), "password": tenant_password(tenant.code)}


def tenant_connect(tenant: Tenant, **kwargs: Any) -> psycopg.Connection:
    try:
        return psycopg.connect(**{**tenant_conninfo(tenant), **kwargs})
    except psycopg.OperationalError as exc:
        raise EngineError(
            f"bank {tenant.code} cannot log in to its serving database {serving_database(tenant)} as "
            f"{tenant.reader_role}: {exc}. Run `granary serving init` and `granary publish` for the bank "
            "first (after `granary credentials rotate`, use the new password)."
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
        except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName) as exc:
            raise EngineError(
                f"bank {tenant.code} has nothing published yet: run `granary publish --tenant {tenant.code}`"
            ) from exc
