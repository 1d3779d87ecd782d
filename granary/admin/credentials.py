"""Rotate a bank's serving password: new secret, ALTER ROLE, the bank's Superset connection updated.

Only the one bank's role and connection change, so other banks see nothing. Sessions already open
stay open (PostgreSQL checks a password at login only), so the bank's own readers are not cut off
either; new logins need the new password, which Superset's connection gets at once when it is up.
"""

from __future__ import annotations

import secrets as _random
from dataclasses import dataclass

import psycopg
from psycopg import sql
from rich.console import Console

from granary.core.errors import EngineError
from granary.core.postgres import admin_connect
from granary.core.secrets import stage_tenant_password, tenant_password
from granary.core.tenants import Tenant

console = Console(stderr=True)


@dataclass(frozen=True)
class Rotation:
    tenant: str
    role: str
    superset_database_id: int | None  # None: Superset was not running, or has no connection for the bank


def rotate(tenant: Tenant) -> Rotation:
    """A new password for the bank's role, stored owner-only, set in PostgreSQL and in Superset."""
    tenant_password(tenant.code)  # the bank must have one already (created by `granary serving init`)
    new = _random.token_urlsafe(24)
    # Written beside the current secret first: if ALTER ROLE fails, the old one stays the truth.
    commit = stage_tenant_password(tenant.code, new)
    try:
        with admin_connect(autocommit=True) as conn:
            if not conn.execute(
                "select 1 from pg_roles where rolname = %s", (tenant.reader_role,)
            ).fetchone():
                raise EngineError(
                    f"no role {tenant.reader_role} in PostgreSQL: run `granary serving init` first"
                )
            conn.execute(
                sql.SQL("alter role {} password {}").format(
                    sql.Identifier(tenant.reader_role), sql.Literal(new)
                )
            )
    except (psycopg.Error, EngineError):
        commit(False)
        raise
    commit(True)
    console.print(f"[green]✓[/] {tenant.reader_role}: new password set, stored owner-only")
    database_id = _update_superset(tenant)
    return Rotation(tenant.code, tenant.reader_role, database_id)


def _update_superset(tenant: Tenant) -> int | None:
    """Point the bank's Superset database connection at the new password (if Superset answers)."""
    from granary.superset import bundle, service
    from granary.superset.provision import admin_client

    if not service.healthy():
        console.print(
            "[yellow]![/] Superset is not running: `granary superset provision` sets the password later"
        )
        return None
    client = admin_client()
    found = client.find("database", uuid=bundle.asset_uuid(tenant, "database"))
    if not found:
        console.print(f"[yellow]![/] Superset has no connection for {tenant.code}: provision it first")
        return None
    database_id = found[0]["id"]
    uri = bundle.sqlalchemy_uri(tenant).replace(bundle.PASSWORD_MASK, tenant_password(tenant.code), 1)
    client.call("PUT", f"/api/v1/database/{database_id}", json={"sqlalchemy_uri": uri})
    console.print(f"[green]✓[/] Superset connection {database_id} of {tenant.code} updated")
    return database_id
