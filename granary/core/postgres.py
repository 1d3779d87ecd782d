"""The installation's PostgreSQL, as its admin: the one admin DSN parsed once, the databases' names,
and "make sure this database exists".

The admin DSN comes from config (the secrets dir's `postgres.admin.dsn`, or GRANARY_PG_ADMIN_DSN).
It carries a password: anything shown to a person goes through `shown()`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from granary.core.config import settings
from granary.core.errors import EngineError
from granary.core.secrets import catalog_token
from granary.core.tenants import Tenant

START_HINT = "Start it with `make setup` (or `pg_ctlcluster --skip-systemctl-redirect 15 main start`)."


def admin_dsn(dbname: str | None = None, driver: str | None = None) -> str:
    """The admin DSN pointed at `dbname` (default: the maintenance database it names), for SQLAlchemy
    with `driver` ("psycopg2" gives postgresql+psycopg2://)."""
    parts = urlsplit(settings().pg_admin_dsn)
    scheme = f"postgresql+{driver}" if driver else parts.scheme
    path = f"/{dbname}" if dbname else parts.path
    return urlunsplit((scheme, parts.netloc, path, parts.query, parts.fragment))


def shown(dsn: str) -> str:
    """The DSN without its password, for messages and logs."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def admin_connect(dbname: str | None = None, **kwargs: Any) -> psycopg.Connection:
    """A superuser connection (provisioning, publish, audit, metadata) to `dbname`, default the
    maintenance database; a bank's data is in `admin_connect(serving_database(tenant))`."""
    dsn = admin_dsn(dbname)
    kwargs.setdefault("connect_timeout", 10)
    try:
        return psycopg.connect(dsn, **kwargs)
    except psycopg.OperationalError as exc:
        raise EngineError(
            f"cannot reach PostgreSQL at {shown(dsn)}: {str(exc).strip()}. Is it running, and does the "
            f"database exist (`granary serving init` creates the serving ones)? {START_HINT}"
        ) from exc


def ensure_database(conn: psycopg.Connection, name: str, owner: str | None = None) -> bool:
    """Create database `name` (owned by `owner`, default the admin) if it is missing; PUBLIC gets
    nothing on it either way. True if it was created. `conn` is an autocommit admin connection."""
    db = sql.Identifier(name)
    created = not conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
    if created:
        owned = sql.SQL(" owner {}").format(sql.Identifier(owner)) if owner else sql.SQL("")
        conn.execute(sql.SQL("create database {}{}").format(db, owned))
    elif owner:
        conn.execute(sql.SQL("alter database {} owner to {}").format(db, sql.Identifier(owner)))
    conn.execute(sql.SQL("revoke all on database {} from public").format(db))
    return created


# --- the installation's databases -----------------------------------------------------------


def serving_database(tenant: Tenant) -> str:
    """The PostgreSQL database that serves the bank: `<serving_db>_<token>`, opaque like its role
    (Tenant.reader_role): a bank can test whether a database of a given name exists."""
    return f"{settings().serving_db}_{catalog_token(tenant.code, 'database')}"


def legacy_serving_database(tenant: Tenant) -> str:
    """What the bank's database was called before names were opaque (renamed by `serving init`)."""
    return f"{settings().serving_db}_{tenant.code}"


def province_database() -> str:
    """The province's ops database (publish log, …): CONNECT for the admin only."""
    return f"{settings().serving_db}_province"
