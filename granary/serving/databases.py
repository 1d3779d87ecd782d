"""Create or converge the serving databases: one per bank, the province's ops one, roles and grants.

Idempotent: `granary serving init` run again puts back whatever drifted (a stray CONNECT grant,
PUBLIC rights, a role's password or search_path).

Postgres shows every login role some cluster-wide catalogs, whichever database it is in: the names
of all databases (pg_database and the statistics views built on it), other sessions (pg_stat_activity),
per-role and per-database settings (pg_db_role_setting). Each database's copy of those grants is
its own, so they are revoked from PUBLIC in every bank's database, the province's and template1
(databases created later inherit it), and PUBLIC may not CONNECT to `postgres` or `template1` at all:
bank A then never reads bank B's database name, and B's schema name appears in no setting A can read.

Some names cannot be hidden: any role can turn a role's oid into its name (pg_get_userbyid) and ask
whether a database or role of a given name exists. So a bank's database and role are named by
opaque keyed tokens (granary.core.secrets.catalog_token), never by its code. pg_roles stays
readable (psql's describe commands and JDBC's privilege calls read it) and shows tokens only;
which role belongs where (pg_auth_members, pg_shdepend) is hidden. An installation from before
opaque names has its databases and roles renamed here.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg
from psycopg import sql
from rich.console import Console

from granary.core.errors import EngineError
from granary.core.postgres import (
    admin_connect,
    ensure_database,
    legacy_serving_database,
    province_database,
    serving_database,
)
from granary.core.secrets import tenant_password
from granary.core.tenants import Tenant
from granary.province import ops
from granary.serving.connection import AUDITOR, BANK_READERS, province_reader_password, province_reader_role

console = Console(stderr=True)

# Cluster-wide catalogs (and the views over them) that name other banks' databases or settings.
# Views run with their owner's rights, so revoking the tables does not hide the views: both go.
HIDDEN_CATALOGS = (
    "pg_database",
    "pg_db_role_setting",
    "pg_shdescription",
    "pg_shseclabel",
    "pg_seclabels",
    "pg_stat_activity",
    "pg_stat_database",
    "pg_stat_database_conflicts",
    "pg_stat_progress_analyze",
    "pg_stat_progress_cluster",
    "pg_stat_progress_copy",
    "pg_stat_progress_create_index",
    "pg_stat_progress_vacuum",
    "pg_prepared_xacts",
    "pg_replication_slots",
    "pg_stat_replication",
    # Which role is a member of which, and which role has rights in which database.
    "pg_auth_members",
    "pg_shdepend",
)
# The function under pg_stat_activity: every session's role oid, client and application_name.
HIDDEN_FUNCTIONS = ("pg_stat_get_activity(integer)",)
# Databases every cluster has that PUBLIC may CONNECT to by default; a bank role needs neither.
MAINTENANCE_DATABASES = ("postgres", "template1")


def pgaudit_loaded(conn: psycopg.Connection) -> bool:
    (libs,) = conn.execute("select current_setting('shared_preload_libraries')").fetchone()
    return "pgaudit" in [lib.strip() for lib in libs.split(",")]


def init_serving(tenants: Iterable[Tenant]) -> None:
    """Every bank's database and role, the province database, PUBLIC stripped (idempotent)."""
    tenants = list(tenants)
    with admin_connect(autocommit=True) as conn:
        _ensure_group_roles(conn)
        audit = pgaudit_loaded(conn)
        for tenant in tenants:
            _rename_legacy(conn, tenant)
            _ensure_role(conn, tenant)
            _ensure_database(conn, serving_database(tenant), owner_only_for=tenant.reader_role)
        _ensure_login_role(conn, province_reader_role(), province_reader_password())
        _ensure_database(conn, province_database(), owner_only_for=province_reader_role())
        for name in MAINTENANCE_DATABASES:
            conn.execute(sql.SQL("revoke connect on database {} from public").format(sql.Identifier(name)))
    with admin_connect("template1", autocommit=True) as conn:
        _hide_cluster_catalogs(conn)
    for tenant in tenants:
        with admin_connect(serving_database(tenant), autocommit=True) as conn:
            _strip_public_schema(conn)
            _hide_cluster_catalogs(conn)
            # Per database, not per role: a role's settings are in pg_roles.rolconfig, readable by
            # every role, and the schema name there would tell other banks this bank's schema.
            conn.execute(
                sql.SQL("alter database {} set search_path = {}").format(
                    sql.Identifier(serving_database(tenant)), sql.Identifier(tenant.serving_schema)
                )
            )
            if audit:
                _enable_audit(conn, serving_database(tenant))
    with admin_connect(province_database(), autocommit=True) as conn:
        _strip_public_schema(conn)
        _hide_cluster_catalogs(conn)
        ops.ensure_schema(conn)
        ops.grant_reader(conn, province_reader_role())
    shown = ", ".join(f"{serving_database(t)} ({t.reader_role})" for t in tenants[:3])
    more = f" and {len(tenants) - 3} more" if len(tenants) > 3 else ""
    console.print(
        f"[green]✓[/] serving {len(tenants)} bank(s), a database each, CONNECT for its role only: "
        f"{shown}{more}"
    )
    console.print(
        f"[green]✓[/] province ops database {province_database()} (admin; read-only {province_reader_role()})"
    )
    if not audit:
        console.print(
            "[yellow]![/] pgaudit is not loaded in this PostgreSQL: reads are not audited. Run "
            "`scripts/setup-machine.sh` (installs and enables it), then `granary serving init` again."
        )


def _ensure_group_roles(conn: psycopg.Connection) -> None:
    for role in (BANK_READERS, AUDITOR):
        if not conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone():
            conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(role)))


def _exists(conn: psycopg.Connection, catalog: str, column: str, name: str) -> bool:
    query = sql.SQL("select 1 from {} where {} = %s").format(sql.Identifier(catalog), sql.Identifier(column))
    return conn.execute(query, (name,)).fetchone() is not None


def _rename_legacy(conn: psycopg.Connection, tenant: Tenant) -> None:
    """A database and role named by the bank's code (before opaque names) take their opaque names;
    data, grants and the password stay. Only the role of this installation's own database is taken:
    another installation on the cluster may have a role of the same legacy name."""
    old_db, new_db = legacy_serving_database(tenant), serving_database(tenant)
    if not _exists(conn, "pg_database", "datname", old_db) or _exists(conn, "pg_database", "datname", new_db):
        return
    try:
        conn.execute(sql.SQL("alter database {} rename to {}").format(*map(sql.Identifier, (old_db, new_db))))
    except psycopg.errors.ObjectInUse as exc:
        raise EngineError(
            f"{old_db}: cannot rename it to {new_db} while sessions use it ({exc}). Stop what reads it "
            "(loan systems, Superset), then run `granary serving init` again."
        ) from exc
    old_role, new_role = f"{tenant.code}_reader", tenant.reader_role
    if _exists(conn, "pg_roles", "rolname", old_role) and not _exists(conn, "pg_roles", "rolname", new_role):
        conn.execute(sql.SQL("alter role {} rename to {}").format(*map(sql.Identifier, (old_role, new_role))))
    console.print(
        f"[yellow]![/] {tenant.code}: database {old_db} is now {new_db}, role {old_role} is now "
        f"{tenant.reader_role}. Give the bank its new names (`granary tenant show {tenant.code}`) and run "
        "`granary superset provision` to repoint its Superset connection."
    )


def _ensure_role(conn: psycopg.Connection, tenant: Tenant) -> None:
    role = sql.Identifier(tenant.reader_role)
    _ensure_login_role(conn, tenant.reader_role, tenant_password(tenant.code))
    # The search_path is the bank database's (init_serving); one left on the role by an earlier
    # version would show the bank's schema to every role in pg_roles.rolconfig.
    conn.execute(sql.SQL("alter role {} reset search_path").format(role))


def _ensure_login_role(conn: psycopg.Connection, name: str, password: str) -> None:
    role = sql.Identifier(name)
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (name,)).fetchone()
    # Roles are cluster-wide: converge an existing one to this installation's password.
    verb = "alter" if exists else "create"
    conn.execute(
        sql.SQL(verb + " role {} login noinherit nocreatedb nocreaterole password {}").format(
            role, sql.Literal(password)
        )
    )
    # pg_hba.conf's scram-sha-256 rules name the group (+granary_bank_readers), not each role; the
    # group holds no privileges (noinherit anyway), it only makes PostgreSQL check the password.
    conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(BANK_READERS), role))


def _ensure_database(conn: psycopg.Connection, name: str, owner_only_for: str | None) -> None:
    """The database exists, PUBLIC has nothing on it, and only `owner_only_for` (and the admin) may
    CONNECT: any other grant found on it is revoked."""
    db = sql.Identifier(name)
    ensure_database(conn, name)
    (owner,) = conn.execute(
        "select pg_get_userbyid(datdba) from pg_database where datname = %s", (name,)
    ).fetchone()
    grantees = conn.execute(
        """
        select distinct pg_get_userbyid(a.grantee) from pg_database d, aclexplode(d.datacl) a
        where d.datname = %s and a.grantee <> 0
        """,
        (name,),
    ).fetchall()
    for (grantee,) in grantees:
        if grantee not in (owner, owner_only_for):
            conn.execute(sql.SQL("revoke all on database {} from {}").format(db, sql.Identifier(grantee)))
    if owner_only_for:
        conn.execute(sql.SQL("grant connect on database {} to {}").format(db, sql.Identifier(owner_only_for)))


def _strip_public_schema(conn: psycopg.Connection) -> None:
    conn.execute("revoke all on schema public from public")


def _hide_cluster_catalogs(conn: psycopg.Connection) -> None:
    """PUBLIC loses SELECT on this database's copy of the cluster-wide catalogs (HIDDEN_CATALOGS).

    A bank role's own work never reads them: its tables, columns and types are in pg_class,
    pg_attribute and pg_type, which stay readable (and show only its own database's objects)."""
    present = {
        name
        for (name,) in conn.execute(
            "select relname from pg_class where relnamespace = 'pg_catalog'::regnamespace"
            " and relname = any(%s)",
            (list(HIDDEN_CATALOGS),),
        ).fetchall()
    }
    for name in HIDDEN_CATALOGS:
        if name in present:
            conn.execute(sql.SQL("revoke select on pg_catalog.{} from public").format(sql.Identifier(name)))
    for signature in HIDDEN_FUNCTIONS:
        conn.execute(f"revoke execute on function pg_catalog.{signature} from public")


def _enable_audit(conn: psycopg.Connection, dbname: str) -> None:
    """pgaudit object logging in the bank's database: every read of a table the auditor role may
    SELECT (publish grants it on every published table) is logged with role, object and time.
    pgaudit.role is superuser-only, so a bank cannot switch its own audit off."""
    conn.execute("create extension if not exists pgaudit")
    conn.execute(
        sql.SQL("alter database {} set pgaudit.role = {}").format(
            sql.Identifier(dbname), sql.Literal(AUDITOR)
        )
    )
    # Object audit only (no session-wide statement log): the bank's reads, not the admin's DDL.
    conn.execute(sql.SQL("alter database {} set pgaudit.log = 'none'").format(sql.Identifier(dbname)))


def drop_serving(tenants: Iterable[Tenant]) -> None:
    """Drop the banks' serving databases and the province's (tests and scratch installations)."""
    tenants = list(tenants)
    names = [serving_database(t) for t in tenants] + [province_database()]
    with admin_connect(autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        # Prefixed by the installation's serving name, so they are this installation's alone.
        for role in [t.reader_role for t in tenants] + [province_reader_role()]:
            conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(role)))
