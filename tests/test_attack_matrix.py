"""The attack matrix: bank A tries to reach bank B through every door a bank user has; none may open.

Doors: PostgreSQL with A's role (tables, other databases, B's role, catalogs, functions, SET ROLE,
search_path, COPY, large objects, extensions), Superset as A's analyst (dashboards, charts, chart
data, datasets, databases, SQL Lab on A's own connection, saved queries, query history, exports,
forged tokens), the `granary` CLI holding only A's credentials, and B's lake, landing and secret
files read through SQL. Both directions run (qingshan -> hexi, hexi -> qingshan). Each attempt is
judged on what came back (tests/attacks.py); the table and tests/artifacts/attack_matrix.json
record every attempt, its door and outcome.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from attacks import (
    Attempt,
    Markers,
    cli_run,
    http_text,
    judge,
    markers_for,
    pg_session,
    run_attempt,
    statement_ran,
    summary,
    table,
)
from attacks import to_json as matrix_json
from support.lake import day_files

from granary.core import paths, postgres
from granary.core.config import settings
from granary.core.tenants import Tenant
from granary.lake import iceberg, tables
from granary.serving import connection as serving
from granary.stack.cluster import free_port
from granary.superset import bundle, service
from granary.superset import credentials as superset_credentials
from granary.superset.client import SupersetClient, rison

MIN_ATTEMPTS = 100


@dataclass(frozen=True)
class SupersetIds:
    database: int
    dashboard: int
    charts: dict[str, int]
    datasets: dict[str, int]
    user: int


@dataclass
class Target:
    """What an attacker aims at: bank B's real objects, read as admin (never given to the attacker)."""

    tenant: Tenant
    tables: list[str]
    files: dict[str, Path]  # lake / landing / warehouse / secrets file of B
    tag_customer: str  # a customer id both banks have, whose tags differ
    tags: set[str]  # B's tags of that customer
    own_tags: set[str]  # A's tags of the same id
    superset: SupersetIds | None = None
    saved_query: int | None = None
    query_client_id: str | None = None
    query_id: int | None = None
    dashboard_key: str | None = None
    explore_key: str | None = None


# --- what B has, read as admin ------------------------------------------------------------


def _b_tables(tenant: Tenant) -> list[str]:
    with postgres.admin_connect(postgres.serving_database(tenant)) as conn:
        rows = conn.execute(
            "select tablename from pg_tables where schemaname = %s order by 1", (tenant.serving_schema,)
        ).fetchall()
    return [r[0] for r in rows]


def _tags_by_customer(tenant: Tenant) -> dict[str, set[str]]:
    with postgres.admin_connect(postgres.serving_database(tenant)) as conn:
        rows = conn.execute(
            f"select customer_id, tag_code from {tenant.serving_schema}.ads_customer_tag"
        ).fetchall()
    out: dict[str, set[str]] = {}
    for customer, tag in rows:
        out.setdefault(customer, set()).add(tag)
    return out


def _first(pattern: Path, glob: str) -> Path:
    found = sorted(p for p in pattern.glob(glob) if p.is_file())
    if not found:
        raise AssertionError(f"{pattern}/{glob}: bank has no such file; was the day run?")
    return found[0]


def _lake_file(tenant: Tenant, layer: str, table: str, day: date) -> Path:
    """A data file of the bank's lake table holding the day (wherever Iceberg put it)."""
    found = sorted(Path(f) for f in day_files(tenant.code, layer, table, day))
    found = [f for f in found if f.is_file()]
    if not found:
        raise AssertionError(
            f"{tables.spark_name(tenant.code, layer, table)}: no data file of {day}; was the day run?"
        )
    return found[0]


def _files(tenant: Tenant, day: date) -> dict[str, Path]:
    ods = tables.load(tenant.code, "ods", "customer")
    files = {
        "dwd parquet": _lake_file(tenant, "dwd", "customer", day),
        "ods parquet": _lake_file(tenant, "ods", "customer", day),
        # the catalog's view of B's tables, on disk: where every file is, schemas, snapshots
        "iceberg metadata (ods)": Path(tables.local_path(ods.metadata_location)),
        "iceberg manifest list (ods)": Path(tables.local_path(ods.current_snapshot().manifest_list)),
        # the catalog's own login: with it, every bank's namespace
        "lake catalog password file": iceberg.password_file(),
        "landing csv (raw PII)": _first(settings().landing_root / tenant.code, "*/customer.csv"),
        "warehouse duckdb": paths.warehouse_db(tenant.code),
        "pg password file": paths.tenant_password_file(tenant.code),
        "pii key file": paths.tenant_key_file(tenant.code),
        # The installation's key: with it, a bank could recompute which opaque role is which bank.
        "catalog key file": paths.catalog_key_file(),
    }
    # An installation whose data was built elsewhere may lack B's key file: nothing to steal there.
    return {label: path for label, path in files.items() if path.exists()}


def target(me: Tenant, them: Tenant, day: date) -> Target:
    theirs, mine = _tags_by_customer(them), _tags_by_customer(me)
    differing = sorted(c for c in theirs.keys() & mine.keys() if theirs[c] != mine[c])
    if not differing:
        raise AssertionError(
            "no customer id both banks share with different tags: the CLI door is unjudgeable"
        )
    customer = differing[0]
    return Target(them, _b_tables(them), _files(them, day), customer, theirs[customer], mine[customer])


def file_markers(path: Path) -> tuple[str, ...]:
    """Pieces of the file only a read of it returns: a hex slice, and a slice of text."""
    data = path.read_bytes()
    middle = len(data) // 2
    piece = data[middle : middle + 24]
    out = [piece.hex()]
    text = data.decode("utf-8", errors="ignore")
    line = max(text.splitlines()[:50] or [""], key=len)
    chunk = re.sub(r"['\"\\]", "", line)[:24]
    if len(chunk) >= 12:
        out.append(chunk)
    return tuple(out)


# --- PostgreSQL with A's role -------------------------------------------------------------


def _connect_as(me: Tenant, **changes: Any) -> dict[str, Any]:
    info = {**serving.tenant_conninfo(me), **changes}
    return {k: v for k, v in info.items() if v is not None}


def postgres_attempts(me: Tenant, t: Target) -> list[Attempt]:
    them, s = t.tenant, t.tenant.serving_schema
    mine = serving.tenant_conninfo(me)
    bdb = postgres.serving_database(them)
    b_role = them.reader_role
    out: list[Attempt] = []

    def add(name: str, statements: list[str], conninfo: dict[str, Any] | None = None, **kw: Any) -> None:
        info = mine if conninfo is None else conninfo
        shown = {k: ("***" if k == "password" else v) for k, v in info.items()}
        tried = f"{shown}: " + "; ".join(statements)
        out.append(
            Attempt("postgres", me.code, them.code, name, tried, lambda: pg_session(info, statements), **kw)
        )

    # Once logged in where B lives: list schemas, read B's rows. B's schema name is spelled in two
    # halves so that, if it comes back, it is something the attacker did not type.
    spelled = f"'{s[:1]}' || '{s[1:]}'"
    probe = [
        "select nspname from pg_namespace",
        "select query_to_xml("
        f"format('select * from %I.ads_branch_daily limit 3', {spelled}), true, false, '')",
    ]
    # Direct reads of every table B publishes, from A's own session.
    for tbl in t.tables:
        add(f"select {tbl}", [f"select * from {s}.{tbl} limit 5"])
    # Other databases and other logins.
    add("A's role connects to B's database", probe, _connect_as(me, dbname=bdb))
    add("B's role with A's password, B's database", probe, _connect_as(me, dbname=bdb, user=b_role))
    add(
        "B's role with no password, B's database",
        probe,
        _connect_as(me, dbname=bdb, user=b_role, password=None),
    )
    add("B's role with empty password", probe, _connect_as(me, dbname=bdb, user=b_role, password=""))
    add("B's role with A's password, A's database", probe, _connect_as(me, user=b_role))
    add(
        "B's role, no password, unix socket",
        probe,
        _connect_as(me, host="/var/run/postgresql", dbname=bdb, user=b_role, password=None),
    )
    add(
        "A's role, no password, unix socket, B's db",
        probe,
        _connect_as(me, host="/var/run/postgresql", dbname=bdb, password=None),
    )
    add("startup option role=B", probe, _connect_as(me, options=f"-c role={b_role}"))
    add(
        "startup option session_authorization=B",
        probe,
        _connect_as(me, options=f"-c session_authorization={b_role}"),
    )
    add(
        "startup option search_path=B's schema",
        ["select * from ads_branch_daily limit 3"],
        _connect_as(me, options=f"-c search_path={s}"),
    )
    add("installation's shared serving db", probe, _connect_as(me, dbname=settings().serving_db))
    add(
        "province ops database",
        ["select * from ops.publish_log", "select nspname from pg_namespace"],
        _connect_as(me, dbname=postgres.province_database()),
        leaked_if=lambda text: (
            statement_ran(text, "select * from ops.publish_log") and f"'{them.code}'" in text
        ),
    )
    add(
        "maintenance db 'postgres'",
        ["select nspname from pg_namespace", "select datname from pg_database"],
        _connect_as(me, dbname="postgres"),
    )
    add(
        "template1",
        [
            "select nspname, relname from pg_class c join pg_namespace n on n.oid = relnamespace"
            " where nspname not in ('pg_catalog', 'information_schema', 'pg_toast')"
        ],
        _connect_as(me, dbname="template1"),
    )
    add(
        "Superset metadata database",
        [
            # Qualified: A's role's search_path names only A's schema.
            "select database_name, sqlalchemy_uri, password from public.dbs",
            "select schema, table_name from public.tables",
            "select label, sql from public.saved_query",
            "select sql, executed_sql from public.query",
        ],
        _connect_as(me, dbname=service.metadata_db()),
    )
    add("cross-database reference", [f"select * from {bdb}.{s}.ads_branch_daily"])
    # Catalogs in A's own database.
    for name, stmt in [
        ("pg_namespace", "select nspname from pg_namespace"),
        ("pg_class", "select relnamespace::regnamespace::text, relname from pg_class"),
        ("pg_tables", "select schemaname, tablename from pg_tables"),
        ("pg_views", "select schemaname, viewname, definition from pg_views"),
        ("information_schema.schemata", "select schema_name from information_schema.schemata"),
        ("information_schema.tables", "select table_schema, table_name from information_schema.tables"),
        ("information_schema.columns", "select distinct table_schema from information_schema.columns"),
        ("information_schema privileges", "select * from information_schema.table_privileges"),
        ("role_table_grants", "select * from information_schema.role_table_grants"),
        ("usage_privileges", "select * from information_schema.usage_privileges"),
        ("pg_database", "select datname from pg_database"),
        ("pg_stat_database", "select datname from pg_stat_database"),
        ("pg_stat_activity (B connected)", "select datname, usename, query from pg_stat_activity"),
        ("pg_roles.rolconfig", "select rolname, rolconfig from pg_roles"),
        ("pg_db_role_setting", "select setdatabase, setrole, setconfig from pg_db_role_setting"),
        ("pg_shdescription", "select shobj_description(oid, 'pg_database'), datname from pg_database"),
        ("pg_authid passwords", "select rolname, rolpassword from pg_authid"),
        ("pg_shadow", "select usename, passwd from pg_shadow"),
        ("pg_user_mappings", "select * from pg_user_mappings"),
        ("pg_stat_all_tables", "select schemaname, relname from pg_stat_all_tables"),
        ("pg_statio_all_indexes", "select schemaname, relname, indexrelname from pg_statio_all_indexes"),
        ("pg_stats", "select schemaname, tablename, most_common_vals::text from pg_stats"),
        ("pg_locks", "select locktype, database, relation::regclass::text from pg_locks"),
        ("pg_prepared_xacts", "select * from pg_prepared_xacts"),
        (
            "security definer functions",
            "select pronamespace::regnamespace::text, proname, prosrc from pg_proc where prosecdef",
        ),
        ("pg_stat_statements", "select query from pg_stat_statements"),
        ("server log via pg_current_logfile", "select pg_read_file(pg_current_logfile())"),
        ("pg_ls_logdir", "select * from pg_ls_logdir()"),
        ("all settings", "select name, setting from pg_settings"),
    ]:
        add(name, [stmt])
    # Enumerating the banks from the cluster-wide catalogs: role names, database names, settings,
    # statistics. B's code, names, database name and legacy names are markers (tests/attacks.py).
    # B's role name is not: any role can read every role's name (oid to name, below), which is why
    # it is an opaque token that says nothing of which bank it is, nor of its database's name.
    for name, stmt in [
        ("pg_roles names", "select rolname from pg_roles"),
        ("pg_user", "select usename from pg_user"),
        ("pg_group", "select groname, grolist from pg_group"),
        ("pg_auth_members", "select roleid::regrole::text, member::regrole::text from pg_auth_members"),
        (
            "pg_shdepend roles",
            "select distinct dbid, refobjid::regrole::text from pg_shdepend"
            " where refclassid = 'pg_authid'::regclass",
        ),
        (
            "role names by oid (pg_get_userbyid)",
            "select string_agg(pg_get_userbyid(o::oid), ',') from generate_series(1, 200000) o"
            " where pg_get_userbyid(o::oid) not like 'unknown (OID=%'",
        ),
        (
            "role names by oid (regrole)",
            "select string_agg(o::oid::regrole::text, ',') from generate_series(1, 200000) o"
            " where o::oid::regrole::text !~ '^[0-9]+$'",
        ),
        ("information_schema.enabled_roles", "select role_name from information_schema.enabled_roles"),
        ("information_schema.applicable_roles", "select * from information_schema.applicable_roles"),
        (
            "pg_stat_get_activity()",
            "select datid, usesysid::regrole::text, application_name, client_addr"
            " from pg_stat_get_activity(null)",
        ),
        ("pg_stat_ssl", "select * from pg_stat_ssl"),
        ("pg_stat_replication", "select usename, application_name from pg_stat_replication"),
        ("pg_stat_database_conflicts", "select datname from pg_stat_database_conflicts"),
        ("pg_stat_user_tables", "select schemaname, relname from pg_stat_user_tables"),
        ("pg_statio_all_tables", "select schemaname, relname from pg_statio_all_tables"),
        ("pg_stat_user_functions", "select schemaname, funcname from pg_stat_user_functions"),
        ("pg_stat_progress_vacuum", "select datname, relid::regclass::text from pg_stat_progress_vacuum"),
        ("pg_tablespace", "select spcname, spcacl::text from pg_tablespace"),
        ("pg_file_settings", "select sourcefile, name, setting from pg_file_settings"),
        ("pg_hba_file_rules", "select database, user_name from pg_hba_file_rules"),
        ("settings by source", "select name, setting, source from pg_settings where source <> 'default'"),
        ("database settings", "select setconfig from pg_db_role_setting"),
    ]:
        add(name, [stmt])
    # Asking whether a name exists: the names Granary once made from a bank's code.
    add(
        "to_regrole(B's code-named role)",
        [f"select to_regrole('{them.code}_reader')"],
        leaked_if=lambda x: "[(None,)]" not in x,
    )
    legacy_db = postgres.legacy_serving_database(them)
    add(
        "has_database_privilege(B's code-named database)",
        [f"select has_database_privilege('{legacy_db}', 'connect')"],
        leaked_if=lambda x: statement_ran(x, f"select has_database_privilege('{legacy_db}', 'connect')"),
    )
    add(
        "to_regnamespace(B's schema)",
        [f"select to_regnamespace('{s}')"],
        leaked_if=lambda x: "[(None,)]" not in x,
    )
    add(
        "to_regclass(B's table)",
        [f"select to_regclass('{s}.ads_customer_tag')"],
        leaked_if=lambda x: "[(None,)]" not in x,
    )
    # Changing who I am.
    grab = [f"select * from {s}.ads_branch_daily limit 3", "select current_user"]
    add("SET ROLE B", [f"set role {b_role}", *grab])
    add("SET SESSION AUTHORIZATION B", [f"set session authorization {b_role}", *grab])
    add("SET ROLE postgres", ["set role postgres", "select datname from pg_database", *grab])
    add("SET ROLE bank readers group", [f"set role {serving.BANK_READERS}", *grab])
    add("SET ROLE auditor", [f"set role {serving.AUDITOR}", *grab])
    add("GRANT B to A", [f"grant {b_role} to {me.reader_role}", f"set role {b_role}", *grab])
    add(
        "ALTER DATABASE B owner",
        [f"alter database {bdb} owner to {me.reader_role}"],
        leaked_if=lambda x: statement_ran(x, f"alter database {bdb} owner to {me.reader_role}"),
    )
    takeover = "Attack-" + secrets.token_hex(8)
    add(
        "ALTER ROLE B password, then log in as B",
        [f"alter role {b_role} password '{takeover}'"],
        leaked_if=lambda _: _logs_in(_connect_as(me, dbname=bdb, user=b_role, password=takeover)),
    )
    # search_path and object tricks.
    add(
        "search_path = B's schema",
        [
            f"set search_path = {s}, public",
            "select * from ads_branch_daily limit 3",
            "select current_schemas(true)",
        ],
    )
    add("search_path $user", ['set search_path = "$user", public', "select * from ads_branch_daily limit 3"])
    add(
        "create temp table from B",
        [f"create temp table grab as select * from {s}.ads_branch_daily", "select * from grab"],
    )
    add(
        "create view over B",
        [f"create view public.grab as select * from {s}.ads_branch_daily", "select * from public.grab"],
    )
    add("create schema", ["create schema grab", f"create view grab.v as select * from {s}.ads_branch_daily"])
    add("query_to_xml", [f"select query_to_xml('select * from {s}.ads_branch_daily', true, false, '')"])
    add(
        "DO block raising B's rows",
        [
            "do $$declare r text; begin select string_agg(branch_id, ',') into r"
            f" from {s}.ads_branch_daily; raise exception '%', r; end$$"
        ],
    )
    add("EXPLAIN B's table", [f"explain select * from {s}.ads_customer_tag"])
    # Extensions that reach other databases or files.
    b_dsn = f"dbname={bdb} user={b_role} host={mine['host']} port={mine['port']}"
    add(
        "dblink",
        [
            "create extension if not exists dblink",
            f"select * from dblink('{b_dsn}', 'select branch_id from {s}.ads_branch_daily') as t(b text)",
        ],
    )
    add("dblink_connect existing", [f"select dblink_connect('{b_dsn}')"])
    add(
        "postgres_fdw",
        [
            "create extension if not exists postgres_fdw",
            f"create server grab foreign data wrapper postgres_fdw options (dbname '{bdb}')",
        ],
    )
    add("file_fdw", ["create extension if not exists file_fdw"])
    # COPY.
    add("COPY B's table TO STDOUT", [f"copy {s}.ads_branch_daily to stdout"])
    add("COPY (query) TO STDOUT", [f"copy (select * from {s}.ads_branch_daily) to stdout"])
    add("COPY TO PROGRAM", [f'copy (select 1) to program \'psql "{b_dsn}" -c "select 1"\''])
    add(
        "COPY FROM PROGRAM psql as B",
        [
            "create temp table grab (line text)",
            f'copy grab from program \'psql "{b_dsn}" -Atc "select branch_id from {s}.ads_branch_daily"\'',
            "select * from grab",
        ],
    )
    add(
        "COPY FROM PROGRAM into A's own table", [f"copy {me.serving_schema}.ads_tag_dict from program 'true'"]
    )
    # Large objects.
    add(
        "large objects listed and read",
        ["select oid, lo_get(oid) from pg_largeobject_metadata", "select loid, data from pg_largeobject"],
    )
    return out


def _logs_in(info: dict[str, Any]) -> bool:
    try:
        with psycopg.connect(**info, connect_timeout=5):
            return True
    except psycopg.Error:
        return False


# --- lake paths, through SQL --------------------------------------------------------------


def server_log() -> str:
    """PostgreSQL's log file, where pgaudit writes every bank's reads (found as admin)."""
    from granary.serving.audit import log_file

    with postgres.admin_connect() as conn:
        return log_file(conn)


def lake_attempts(me: Tenant, t: Target, sqllab: Any | None) -> list[Attempt]:
    out: list[Attempt] = []
    mine = serving.tenant_conninfo(me)
    them = t.tenant

    def add(name: str, statements: list[str], path: Path | None, conninfo: dict[str, Any] = mine) -> None:
        tried = f"as {conninfo['user']} on {conninfo['dbname']}: " + "; ".join(statements)
        out.append(
            Attempt(
                "lake",
                me.code,
                them.code,
                name,
                tried,
                lambda: pg_session(conninfo, statements),
                extra=file_markers(path) if path else (),
            )
        )

    for label, path in t.files.items():
        add(f"pg_read_binary_file {label}", [f"select encode(pg_read_binary_file('{path}'), 'hex')"], path)
        add(f"pg_read_file {label}", [f"select pg_read_file('{path}')"], path)
    parquet, csv = t.files["dwd parquet"], t.files["landing csv (raw PII)"]
    add(
        "pg_ls_dir B's lake",
        [f"select pg_ls_dir('{paths.lake_dir(them.code)}')", f"select pg_ls_dir('{parquet.parent}')"],
        parquet,
    )
    add("pg_stat_file B's parquet", [f"select pg_stat_file('{parquet}')"], parquet)
    metadata = t.files["iceberg metadata (ods)"]
    add("pg_ls_dir B's table metadata", [f"select pg_ls_dir('{metadata.parent}')"], metadata)
    # The lake catalog's database: every bank's namespaces, tables and metadata files are rows there.
    catalog_probe = [
        "select table_namespace, table_name, metadata_location from iceberg_tables",
        "select * from iceberg_namespace_properties",
        "select table_name from information_schema.tables where table_schema = 'public'",
    ]
    for name, conninfo in [
        ("A's role connects to the lake catalog", _connect_as(me, dbname=iceberg.catalog_database())),
        (
            "the catalog's login with A's password",
            _connect_as(me, dbname=iceberg.catalog_database(), user=iceberg.catalog_role()),
        ),
        ("the catalog's login, A's database", _connect_as(me, user=iceberg.catalog_role())),
    ]:
        add(name, catalog_probe, None, conninfo)
    # Iceberg's JDBC catalog tables through A's own database: no foreign-data door opens there.
    add(
        "dblink to the lake catalog",
        [
            "create extension if not exists dblink",
            f"select * from dblink('dbname={iceberg.catalog_database()}', "
            "'select table_namespace, table_name from iceberg_tables') as t(ns text, name text)",
        ],
        metadata,
    )
    add(
        "COPY FROM B's landing csv",
        ["create temp table grab (line text)", f"copy grab from '{csv}'", "select * from grab"],
        csv,
    )
    add(
        "COPY FROM PROGRAM cat B's csv",
        ["create temp table grab (line text)", f"copy grab from program 'cat {csv}'", "select * from grab"],
        csv,
    )
    add("lo_import B's parquet", [f"select lo_get(lo_import('{parquet}'))"], parquet)
    add("lo_import B's csv", [f"select convert_from(lo_get(lo_import('{csv}')), 'UTF8')"], csv)
    # The server log holds pgaudit's lines of B's reads (granary audit reads it as admin).
    log = server_log()
    for label, stmt in [
        ("pg_read_file server log (B's audit)", f"select pg_read_file('{log}')"),
        ("pg_read_binary_file server log", f"select convert_from(pg_read_binary_file('{log}'), 'UTF8')"),
        ("COPY FROM server log", f"copy {me.serving_schema}.publish_info from '{log}'"),
    ]:
        out.append(
            Attempt(
                "lake",
                me.code,
                them.code,
                label,
                stmt,
                lambda st=stmt: pg_session(mine, [st]),
            )
        )
    if sqllab is not None:
        for label, stmt, path in [
            ("SQL Lab pg_read_file B's csv", f"select pg_read_file('{csv}') as x", csv),
            (
                "SQL Lab pg_read_binary_file B's parquet",
                f"select encode(pg_read_binary_file('{parquet}'), 'hex') as x",
                parquet,
            ),
            ("SQL Lab pg_ls_dir B's lake", f"select pg_ls_dir('{parquet.parent}') as x", parquet),
            ("SQL Lab server log", f"select pg_read_file('{server_log()}') as x", None),
            (
                "SQL Lab lo_import B's csv",
                f"select convert_from(lo_get(lo_import('{csv}')), 'UTF8') as x",
                csv,
            ),
        ]:
            out.append(
                Attempt(
                    "lake",
                    me.code,
                    them.code,
                    label,
                    stmt,
                    lambda s=stmt: sqllab(s),
                    extra=file_markers(path) if path else (),
                )
            )
    return out


# --- Superset as A's analyst --------------------------------------------------------------


def superset_ids(admin: SupersetClient, tenant: Tenant) -> SupersetIds:
    database = admin.find("database", uuid=bundle.asset_uuid(tenant, "database"))[0]["id"]
    dashboard = admin.find("dashboard", uuid=bundle.asset_uuid(tenant, "dashboard:overview"))[0]["id"]
    datasets = admin.list_all("dataset", filters=[{"col": "database", "opr": "rel_o_m", "value": database}])
    charts = admin.call("GET", f"/api/v1/dashboard/{dashboard}/charts")["result"]
    [user] = admin.find("security/users", username=tenant.analyst_user)
    return SupersetIds(
        database,
        dashboard,
        {c["slice_name"]: c["id"] for c in charts},
        {d["table_name"]: d["id"] for d in datasets},
        user["id"],
    )


def analyst(tenant: Tenant) -> SupersetClient:
    return SupersetClient(tenant.analyst_user, superset_credentials.analyst_password(tenant))


def b_leaves_traces(t: Target, admin: SupersetClient) -> None:
    """B's analyst works as usual: runs and saves a query, shares a dashboard and a chart link."""
    b, ids = analyst(t.tenant), t.superset
    assert ids is not None
    s = t.tenant.serving_schema
    t.query_client_id = secrets.token_hex(5)
    sql = f"select branch_id, loan_balance from {s}.ads_branch_daily"
    b.call(
        "POST",
        "/api/v1/sqllab/execute/",
        json={
            "database_id": ids.database,
            "sql": sql,
            "schema": s,
            "runAsync": False,
            "client_id": t.query_client_id,
        },
    )
    t.saved_query = b.call(
        "POST",
        "/api/v1/saved_query/",
        json={"db_id": ids.database, "label": f"{t.tenant.name_zh} 网点", "schema": s, "sql": sql},
    )["id"]
    recent = admin.call(
        "GET",
        "/api/v1/query/",
        params={"q": rison({"order_column": "changed_on", "order_direction": "desc", "page_size": 20})},
    )
    t.query_id = next(r["id"] for r in recent["result"] if r["sql"] == sql)
    t.dashboard_key = b.call("POST", f"/api/v1/dashboard/{ids.dashboard}/permalink", json={"urlParams": []})[
        "key"
    ]
    chart = next(iter(ids.charts.values()))
    t.explore_key = b.call(
        "POST",
        "/api/v1/explore/permalink",
        json={
            "formData": {
                "slice_id": chart,
                "datasource": f"{ids.datasets['ads_branch_daily']}__table",
                "viz_type": "table",
            }
        },
    )["key"]


def _forged_tokens(client: SupersetClient, victim_user: int) -> dict[str, str]:
    """A's own JWT with its subject changed to B's analyst: unsigned (alg none), and re-used signature."""
    token = client.session.headers["Authorization"].removeprefix("Bearer ")
    header, payload, signature = token.split(".")

    def b64(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = str(victim_user) if isinstance(claims.get("sub"), str) else victim_user
    return {
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}.",
        "old signature": f"{header}.{b64(claims)}.{signature}",
    }


def superset_attempts(me: Tenant, mine: SupersetIds, t: Target) -> tuple[list[Attempt], Any]:
    ids = t.superset
    assert ids is not None
    them, s = t.tenant, t.tenant.serving_schema
    client = analyst(me)
    out: list[Attempt] = []

    def add(name: str, method: str, path: str, **kwargs: Any) -> None:
        tried = f"{method} {path} {json.dumps(kwargs, ensure_ascii=False)}"
        out.append(
            Attempt(
                "superset",
                me.code,
                them.code,
                name,
                tried,
                lambda: http_text(client.request(method, path, **kwargs)),
            )
        )

    def sqllab(sql: str, database: int = mine.database, schema: str = me.serving_schema) -> str:
        payload = {
            "database_id": database,
            "sql": sql,
            "schema": schema,
            "runAsync": False,
            "client_id": secrets.token_hex(5),
        }
        return http_text(client.request("POST", "/api/v1/sqllab/execute/", json=payload))

    def add_sql(name: str, sql: str, **kw: Any) -> None:
        out.append(
            Attempt("superset", me.code, them.code, name, f"SQL Lab: {sql} {kw}", lambda: sqllab(sql, **kw))
        )

    q = lambda value: {"q": rison(value)}  # noqa: E731
    # Dashboards.
    add("dashboard list", "GET", "/api/v1/dashboard/", params=q({"page_size": 100}))
    add(
        "dashboard list filtered by B's title",
        "GET",
        "/api/v1/dashboard/",
        params=q({"filters": [{"col": "dashboard_title", "opr": "ct", "value": them.name_zh[:2]}]}),
    )
    add("B's dashboard by id", "GET", f"/api/v1/dashboard/{ids.dashboard}")
    add("B's dashboard by slug", "GET", f"/api/v1/dashboard/{bundle.dashboard_slug(them)}")
    add("B's dashboard charts", "GET", f"/api/v1/dashboard/{ids.dashboard}/charts")
    add("B's dashboard datasets", "GET", f"/api/v1/dashboard/{ids.dashboard}/datasets")
    add("B's dashboard page (HTML)", "GET", f"/superset/dashboard/{ids.dashboard}/")
    add("B's dashboard export", "GET", "/api/v1/dashboard/export/", params=q([ids.dashboard]))
    add("B's dashboard permalink", "GET", f"/api/v1/dashboard/permalink/{t.dashboard_key}")
    add(
        "new permalink on B's dashboard",
        "POST",
        f"/api/v1/dashboard/{ids.dashboard}/permalink",
        json={"urlParams": []},
    )
    add(
        "copy B's dashboard",
        "POST",
        f"/api/v1/dashboard/{ids.dashboard}/copy/",
        json={"dashboard_title": "grab", "json_metadata": "{}"},
    )
    add("B's dashboard embedded", "GET", f"/api/v1/dashboard/{ids.dashboard}/embedded")
    add("B's dashboard tabs", "GET", f"/api/v1/dashboard/{ids.dashboard}/tabs")
    add(
        "filter state on B's dashboard",
        "POST",
        f"/api/v1/dashboard/{ids.dashboard}/filter_state",
        json={"value": "{}"},
    )
    add(
        "guest token for B's dashboard",
        "POST",
        "/api/v1/security/guest_token/",
        json={
            "user": {"username": "grab"},
            "resources": [{"type": "dashboard", "id": str(ids.dashboard)}],
            "rls": [],
        },
    )
    # Charts.
    add("chart list", "GET", "/api/v1/chart/", params=q({"page_size": 100}))
    for name, chart in ids.charts.items():
        add(f"B's chart {name}", "GET", f"/api/v1/chart/{chart}")
        add(f"B's chart data {name}", "GET", f"/api/v1/chart/{chart}/data/")
    first_chart = next(iter(ids.charts.values()))
    add("B's chart data as CSV", "GET", f"/api/v1/chart/{first_chart}/data/", params={"format": "csv"})
    add("B's charts export", "GET", "/api/v1/chart/export/", params=q(list(ids.charts.values())))
    branch_ds = ids.datasets["ads_branch_daily"]

    def chart_on_their_dataset() -> str:
        """Save a chart of my own on B's dataset id, then read it back: Superset would copy the
        dataset's name (B's schema) into it."""
        body = {
            "slice_name": "grab",
            "viz_type": "table",
            "datasource_id": branch_ds,
            "datasource_type": "table",
        }
        saved = client.request("POST", "/api/v1/chart/", json=body)
        text = http_text(saved)
        if saved.status_code in (200, 201):
            chart_id = saved.json()["id"]
            text += "\n" + http_text(client.request("GET", f"/api/v1/chart/{chart_id}"))
            client.request("DELETE", f"/api/v1/chart/{chart_id}")
        return text

    tried = f"POST /api/v1/chart/ on dataset {branch_ds}, then GET the chart"
    out.append(
        Attempt("superset", me.code, them.code, "save a chart on B's dataset", tried, chart_on_their_dataset)
    )
    query = {
        "columns": ["branch_id"],
        "metrics": [{"expressionType": "SQL", "sqlExpression": "count(*)", "label": "n"}],
        "row_limit": 10,
    }
    add(
        "chart data on B's dataset",
        "POST",
        "/api/v1/chart/data",
        json={
            "datasource": {"id": branch_ds, "type": "table"},
            "queries": [query],
            "result_format": "json",
            "result_type": "full",
        },
    )
    own_ds = mine.datasets["ads_branch_daily"]
    sub = f"(select max(branch_id) from {s}.ads_branch_daily)"
    add(
        "chart data, metric subquery on B",
        "POST",
        "/api/v1/chart/data",
        json={
            "datasource": {"id": own_ds, "type": "table"},
            "queries": [
                {
                    "columns": [],
                    "metrics": [{"expressionType": "SQL", "sqlExpression": f"max({sub})", "label": "x"}],
                }
            ],
            "result_format": "json",
            "result_type": "full",
        },
    )
    add(
        "chart data, filter subquery on B",
        "POST",
        "/api/v1/chart/data",
        json={
            "datasource": {"id": own_ds, "type": "table"},
            "queries": [
                {
                    "columns": ["branch_id"],
                    "metrics": [],
                    "row_limit": 5,
                    "filters": [],
                    "extras": {"where": f"branch_id in (select branch_id from {s}.ads_branch_daily)"},
                }
            ],
            "result_format": "json",
            "result_type": "full",
        },
    )
    add(
        "chart data, samples of B's dataset",
        "POST",
        "/api/v1/chart/data",
        json={
            "datasource": {"id": branch_ds, "type": "table"},
            "queries": [{"columns": [], "row_limit": 5}],
            "result_format": "json",
            "result_type": "samples",
        },
    )
    add("explore B's chart", "GET", "/api/v1/explore/", params={"slice_id": first_chart})
    add(
        "explore B's dataset",
        "GET",
        "/api/v1/explore/",
        params={"datasource_id": branch_ds, "datasource_type": "table"},
    )
    add("B's explore permalink", "GET", f"/api/v1/explore/permalink/{t.explore_key}")
    add(
        "explore form_data on B's dataset",
        "POST",
        "/api/v1/explore/form_data",
        json={
            "datasource_id": branch_ds,
            "datasource_type": "table",
            "form_data": json.dumps({"viz_type": "table"}),
        },
    )
    add(
        "legacy explore_json on B's chart",
        "GET",
        "/superset/explore_json/",
        params={"form_data": json.dumps({"slice_id": first_chart})},
    )
    add("warm up cache of B's chart", "PUT", "/api/v1/chart/warm_up_cache", json={"chart_id": first_chart})
    add(
        "warm up cache of B's table",
        "PUT",
        "/api/v1/dataset/warm_up_cache",
        json={"db_name": bundle.database_name(them), "table_name": "ads_branch_daily"},
    )
    # Datasets.
    add("dataset list", "GET", "/api/v1/dataset/", params=q({"page_size": 100}))
    for name, ds in ids.datasets.items():
        add(f"B's dataset {name}", "GET", f"/api/v1/dataset/{ds}")
    add("B's datasets export", "GET", "/api/v1/dataset/export/", params=q(list(ids.datasets.values())))
    add(
        "column values of B's dataset",
        "GET",
        f"/api/v1/datasource/table/{branch_ds}/column/branch_id/values/",
    )
    add("B's dataset related objects", "GET", f"/api/v1/dataset/{branch_ds}/related_objects")
    add("dataset distinct schemas", "GET", "/api/v1/dataset/distinct/schema")
    add(
        "new dataset on B's schema via A's db",
        "POST",
        "/api/v1/dataset/",
        json={"database": mine.database, "schema": s, "table_name": "ads_branch_daily"},
    )
    add(
        "virtual dataset selecting B",
        "POST",
        "/api/v1/dataset/",
        json={
            "database": mine.database,
            "schema": me.serving_schema,
            "table_name": f"grab_{secrets.token_hex(3)}",
            "sql": f"select * from {s}.ads_branch_daily",
        },
    )
    # Databases.
    add("database list", "GET", "/api/v1/database/", params=q({"page_size": 100}))
    add("B's database", "GET", f"/api/v1/database/{ids.database}")
    add("B's database connection", "GET", f"/api/v1/database/{ids.database}/connection")
    add("B's database schemas", "GET", f"/api/v1/database/{ids.database}/schemas/")
    add(
        "A's database schemas", "GET", f"/api/v1/database/{mine.database}/schemas/", params=q({"force": True})
    )
    add("A's database catalogs", "GET", f"/api/v1/database/{mine.database}/catalogs/")
    add(
        "A's database tables in B's schema",
        "GET",
        f"/api/v1/database/{mine.database}/tables/",
        params=q({"schema_name": s, "force": True}),
    )
    add(
        "table metadata of B's table via A",
        "GET",
        f"/api/v1/database/{mine.database}/table_metadata/",
        params={"name": "ads_branch_daily", "schema": s},
    )
    add(
        "select star of B's table via A",
        "GET",
        f"/api/v1/database/{mine.database}/select_star/ads_branch_daily/{s}/",
    )
    add("B's database export", "GET", "/api/v1/database/export/", params=q([ids.database]))
    add("B's database function names", "GET", f"/api/v1/database/{ids.database}/function_names/")
    add(
        "table extra of B's table via A",
        "GET",
        f"/api/v1/database/{mine.database}/table_extra/ads_branch_daily/{s}/",
    )
    # A query plan computed on B's connection (B's role, B's table statistics) is B's answer,
    # whatever numbers it holds: any plan that comes back is a success.
    for label, database, sql in [
        ("cost estimate on B's database", ids.database, "select * from ads_branch_daily"),
        (
            "cost estimate on B's customer id",
            ids.database,
            f"select * from ads_customer_profile where customer_id = '{t.tag_customer}'",
        ),
        ("cost estimate naming B via A's db", mine.database, f"select * from {s}.ads_branch_daily"),
    ]:
        payload = {"database_id": database, "sql": sql, "schema": s}
        out.append(
            Attempt(
                "superset",
                me.code,
                them.code,
                label,
                f"POST /api/v1/sqllab/estimate/ {payload}",
                lambda p=payload: http_text(client.request("POST", "/api/v1/sqllab/estimate/", json=p)),
                leaked_if=lambda text: text.startswith("HTTP 200") and "cost" in text,
            )
        )
    b_uri = f"postgresql+psycopg2://{them.reader_role}@{settings().pg_host}:{settings().pg_port}/{postgres.serving_database(them)}"
    add(
        "test_connection to B's db as B",
        "POST",
        "/api/v1/database/test_connection/",
        json={"sqlalchemy_uri": b_uri, "database_name": "grab"},
    )
    add(
        "new database connection to B's db",
        "POST",
        "/api/v1/database/",
        json={"sqlalchemy_uri": b_uri, "database_name": f"grab_{secrets.token_hex(3)}"},
    )
    # SQL Lab on A's own connection, naming B.
    add_sql("SQL Lab select B's table", f"select * from {s}.ads_branch_daily")
    add_sql("SQL Lab with B's schema as default", "select * from ads_branch_daily", schema=s)
    add_sql("SQL Lab on B's database", "select * from ads_branch_daily", database=ids.database, schema=s)
    add_sql("SQL Lab pg_namespace", "select nspname from pg_namespace")
    add_sql("SQL Lab pg_database", "select datname from pg_database")
    add_sql(
        "SQL Lab pg_roles rolconfig", "select rolname, array_to_string(rolconfig, ',') as c from pg_roles"
    )
    add_sql(
        "SQL Lab information_schema.tables", "select table_schema, table_name from information_schema.tables"
    )
    add_sql("SQL Lab pg_stat_activity", "select datname, usename from pg_stat_activity")
    add_sql("SQL Lab set role B", f"set role {them.reader_role}; select * from {s}.ads_branch_daily")
    add_sql("SQL Lab search_path to B", f"set search_path = {s}; select * from ads_branch_daily")
    add_sql(
        "SQL Lab cross-database name", f"select * from {postgres.serving_database(them)}.{s}.ads_branch_daily"
    )
    add_sql(
        "SQL Lab dblink",
        f"select * from dblink('dbname={postgres.serving_database(them)} user={them.reader_role}',"
        f" 'select branch_id from {s}.ads_branch_daily') as t(b text)",
    )
    add_sql("SQL Lab COPY to stdout", f"copy (select * from {s}.ads_branch_daily) to stdout")
    add_sql("SQL Lab CTE hiding B's table", f"with x as (select * from {s}.ads_branch_daily) select * from x")
    # Saved queries, history, exports of B's SQL Lab work. A's own history holds what A typed
    # (B's schema and database names and so its code, above): those are not judged in A's lists; B's query and
    # saved-query ids, B's bank name (the saved query's label) and B's data still are.
    own_typing = (s, postgres.serving_database(them), them.code)
    for name, path, b_id in [
        ("saved query list", "/api/v1/saved_query/", t.saved_query),
        ("query history list", "/api/v1/query/", t.query_id),
    ]:
        out.append(
            Attempt(
                "superset",
                me.code,
                them.code,
                name,
                f"GET {path}",
                lambda p=path: http_text(client.request("GET", p, params=q({"page_size": 100}))),
                leaked_if=lambda text, i=b_id: _listed_ids(text) is not None and i in _listed_ids(text),
                ignore=own_typing,
            )
        )
    add("B's saved query", "GET", f"/api/v1/saved_query/{t.saved_query}")
    add("B's saved query export", "GET", "/api/v1/saved_query/export/", params=q([t.saved_query]))
    add("B's query by id", "GET", f"/api/v1/query/{t.query_id}")
    add("B's SQL Lab result export (CSV)", "GET", f"/api/v1/sqllab/export/{t.query_client_id}/")
    add("SQL Lab bootstrap", "GET", "/api/v1/sqllab/")
    # Users, roles, logs.
    add("users list", "GET", "/api/v1/security/users/")
    add("B's analyst user", "GET", f"/api/v1/security/users/{ids.user}")
    add("roles list", "GET", "/api/v1/security/roles/")
    add("action log", "GET", "/api/v1/log/")
    add("row level security rules", "GET", "/api/v1/rowlevelsecurity/")
    # Logging in as B's analyst, or forging B's token.
    for label, password in [
        ("A's password", superset_credentials.analyst_password(me)),
        ("empty password", ""),
    ]:
        out.append(
            Attempt(
                "superset",
                me.code,
                them.code,
                f"log in as B's analyst with {label}",
                f"POST /api/v1/security/login {them.analyst_user}",
                lambda p=password: _login_and_read(them.analyst_user, p, ids.dashboard),
            )
        )
    for label, token in _forged_tokens(client, ids.user).items():
        out.append(
            Attempt(
                "superset",
                me.code,
                them.code,
                f"forged JWT ({label})",
                f"GET /api/v1/dashboard/{ids.dashboard} with forged token",
                lambda tok=token: _with_token(tok, f"/api/v1/dashboard/{ids.dashboard}"),
            )
        )
    return out, sqllab


def _listed_ids(text: str) -> list[int] | None:
    """The `ids` of a Superset list answer, None if it is not one."""
    if not text.startswith("HTTP 200 "):
        return None
    return json.loads(text.removeprefix("HTTP 200 ")).get("ids")


def _login_and_read(user: str, password: str, dashboard: int) -> str:
    try:
        c = SupersetClient(user, password)
    except Exception as exc:  # the refusal is the answer
        return f"ERROR {exc}"
    return http_text(c.request("GET", f"/api/v1/dashboard/{dashboard}"))


def _with_token(token: str, path: str) -> str:
    import requests

    resp = requests.get(
        f"{settings().superset_url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    return http_text(resp)


# --- the CLI with only A's credentials -----------------------------------------------------


def cli_attempts(me: Tenant, t: Target, workdir: Path) -> list[Attempt]:
    them = t.tenant
    granary = str(Path(sys.executable).with_name("granary"))
    secrets_dir = workdir / f"{me.code}-secrets"
    secrets_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(secrets_dir, 0o700)
    shutil.copy2(paths.tenant_password_file(me.code), secrets_dir / paths.tenant_password_file(me.code).name)
    info = serving.tenant_conninfo(me)
    env = {
        **os.environ,
        "GRANARY_SECRETS_DIR": str(secrets_dir),
        # A bank user has no admin: whatever wants one gets A's own login.
        "GRANARY_PG_ADMIN_DSN": f"postgresql://{info['user']}:{info['password']}@{info['host']}:{info['port']}/{info['dbname']}",
    }
    tags_of = lambda text: set(re.findall(r'"tag_code":\s*"([^"]+)"', text))  # noqa: E731
    b_tags = lambda text: t.tags != t.own_tags and tags_of(text) == t.tags  # noqa: E731
    out: list[Attempt] = []

    def add(
        name: str,
        args: list[str],
        extra_env: dict[str, str] | None = None,
        leaked_if: Any = b_tags,
        before: Any = None,
    ) -> None:
        run_env = {**env, **(extra_env or {})}

        def go() -> str:
            if before is not None:
                before()
            return cli_run([granary, *args], run_env)

        # The CLI derives B's database name from the bank code it is given (installation config,
        # which its user holds): an error naming that database is the CLI speaking, not a leak.
        tried = " ".join(["granary", *args]) + (f" with {extra_env}" if extra_env else "")
        tried += f" (the CLI derives {postgres.serving_database(them)})"
        out.append(Attempt("cli", me.code, them.code, name, tried, go, leaked_if=leaked_if))

    c = t.tag_customer
    add("tags of B's customer id through A", ["tags", "--tenant", me.code, "--customer", c, "--json"])
    add("tags --tenant B (no B password)", ["tags", "--tenant", them.code, "--customer", c, "--json"])
    b_file = secrets_dir / paths.tenant_password_file(them.code).name
    add(
        "tags --tenant B with A's password",
        ["tags", "--tenant", them.code, "--customer", c, "--json"],
        before=lambda: shutil.copy2(secrets_dir / paths.tenant_password_file(me.code).name, b_file),
    )
    add(
        "tags --tenant B over unix socket",
        ["tags", "--tenant", them.code, "--customer", c, "--json"],
        {"GRANARY_PG_HOST": "/var/run/postgresql"},
    )
    add(
        "tags --tenant B with empty password",
        ["tags", "--tenant", them.code, "--customer", c, "--json"],
        before=lambda: b_file.write_text("\n"),
    )
    inject = (
        f"{c}' union select tag_code, tag_name_zh, tag_code, category_zh, dt"
        f" from {them.serving_schema}.ads_customer_tag --"
    )
    add("SQL injection in --customer", ["tags", "--tenant", me.code, "--customer", inject, "--json"])
    add("tenant code path trick", ["tags", "--tenant", f"../{them.code}", "--customer", c, "--json"])
    add(
        "audit log of B",
        ["audit", "--tenant", them.code],
        leaked_if=lambda text: text.startswith("exit 0") and them.reader_role in text,
    )
    add(
        "rotate B's password",
        ["credentials", "rotate", "--tenant", them.code],
        leaked_if=lambda text: text.startswith("exit 0"),
    )
    return out


# --- the test -----------------------------------------------------------------------------


@pytest.fixture
def bystander(published_day) -> Iterator[None]:
    """B's loan system stays connected, mid-transaction, while A attacks (pg_stat_activity door)."""
    conns = []
    for tenant in published_day.tenants:
        conn = serving.tenant_connect(tenant)
        conn.execute(f"select count(*) from {tenant.serving_schema}.ads_customer_tag").fetchall()
        conns.append(conn)
    yield
    for conn in conns:
        conn.close()


def run_matrix(banks: list[Tenant], day: date, workdir: Path, superset: bool = True) -> list[Attempt]:
    """Every attempt both ways; B's lake files are data files of `day` (a day the banks ran)."""
    from granary.superset import provision

    admin = provision.admin_client() if superset else None
    attempts: list[Attempt] = []
    pairs = [(banks[0], banks[1]), (banks[1], banks[0])]
    targets = {me.code: target(me, them, day) for me, them in pairs}
    if admin is not None:
        for t in targets.values():
            t.superset = superset_ids(admin, t.tenant)
        for t in targets.values():
            b_leaves_traces(t, admin)
    for me, them in pairs:
        t = targets[me.code]
        markers: Markers = markers_for(them, me)
        batch = postgres_attempts(me, t)
        sqllab = None
        if admin is not None:
            sup, sqllab = superset_attempts(me, superset_ids(admin, me), t)
            batch += sup
        batch += lake_attempts(me, t, sqllab)
        batch += cli_attempts(me, t, workdir)
        attempts += [run_attempt(a, markers) for a in batch]
    return attempts


@pytest.mark.slow
def test_no_cross_bank_access(published_day, superset_stack, bystander, artifacts_dir, tmp_path, capsys):
    started = time.perf_counter()
    attempts = run_matrix(published_day.tenants, published_day.dt, tmp_path)
    seconds = time.perf_counter() - started
    report = table(attempts)
    (artifacts_dir / "attack_matrix.txt").write_text(report + "\n", encoding="utf-8")
    (artifacts_dir / "attack_matrix.json").write_text(matrix_json(attempts, seconds), encoding="utf-8")
    # The per-door counts always reach the terminal (the full table is in the artifacts).
    with capsys.disabled():
        print("\n" + "\n".join(report.splitlines()[-(len(summary(attempts)["doors"]) + 1) :]))
        print(
            f"attack matrix: {len(attempts)} attempts, {summary(attempts)['successes']} successes, "
            f"{summary(attempts)['broken']} broken"
            f" in {seconds:.0f}s; every attempt in {artifacts_dir / 'attack_matrix.txt'}"
        )
    names = [(a.door, a.attacker, a.name) for a in attempts]
    assert len(set(names)) == len(names), "two attempts share a name: the count would overstate the matrix"
    assert {a.door for a in attempts} == {"postgres", "superset", "cli", "lake"}
    assert len(attempts) >= MIN_ATTEMPTS
    judge(attempts)


@pytest.mark.slow
def test_a_broken_attempt_fails_the_matrix(published_day, superset_stack) -> None:
    """An attempt at an endpoint Superset does not have, or one whose harness raises, reached no
    decision: it is judged BROKEN, never refused, and the matrix fails on it."""
    me, them = published_day.tenants
    client = analyst(me)

    def superset_call(name: str, method: str, path: str) -> Attempt:
        def call() -> str:
            return http_text(client.request(method, path))

        return Attempt("superset", me.code, them.code, name, f"{method} {path}", call)

    attempts = [
        superset_call("B's dashboard by id", "GET", "/api/v1/dashboard/999999"),  # a real door: refused
        superset_call("no such endpoint", "GET", "/api/v1/no_such_endpoint/"),
        superset_call("no such method", "DELETE", "/api/v1/security/csrf_token/"),
        Attempt("postgres", me.code, them.code, "harness typo", "-", lambda: {}["no such key"]),
        Attempt(
            "postgres",
            me.code,
            them.code,
            "nothing listening",
            "select 1",
            lambda: pg_session({"host": "127.0.0.1", "port": free_port(), "dbname": "x"}, ["select 1"]),
        ),
    ]
    markers = markers_for(them, me)
    judged = [run_attempt(a, markers) for a in attempts]
    outcomes = [a.outcome for a in judged]
    assert outcomes == ["refused", "BROKEN", "BROKEN", "BROKEN", "BROKEN"], [a.detail for a in judged]
    assert summary(judged)["broken"] == 4 and summary(judged)["successes"] == 0
    judge(judged[:1])
    with pytest.raises(AssertionError, match="4 of 5 attempts are broken"):
        judge(judged)
