"""The banks' PostgreSQL names: opaque keyed tokens, never the bank code (granary.core.secrets.
catalog_token), and an installation from before them renamed in place by `serving init`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from psycopg import sql

from granary.core import config
from granary.core.postgres import admin_connect, legacy_serving_database, serving_database
from granary.core.tenants import Tenant, load_tenants
from granary.serving.connection import tenant_connect
from granary.serving.databases import drop_serving, init_serving


@pytest.fixture
def own_prefix(granary_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A serving prefix of this test's own (databases and roles under it), the session's restored after."""
    prefix = f"granary_serving_names_{os.getpid()}"
    monkeypatch.setenv("GRANARY_SERVING_DB", prefix)
    config.settings.cache_clear()
    yield prefix
    monkeypatch.undo()
    config.settings.cache_clear()


def test_bank_names_are_opaque_unique_and_per_installation(
    own_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    banks = load_tenants()
    roles, databases = [t.reader_role for t in banks], [serving_database(t) for t in banks]
    for tenant, role, database in zip(banks, roles, databases, strict=True):
        assert tenant.code not in role and tenant.code not in database
        assert role.startswith(own_prefix) and database.startswith(own_prefix)
        assert role.removesuffix("_reader").removeprefix(own_prefix) != database.removeprefix(own_prefix)
        assert len(role) <= 63 and len(database) <= 63  # PostgreSQL's identifier limit
    assert len(set(roles)) == len(set(databases)) == len(banks)
    assert [t.reader_role for t in load_tenants()] == roles  # stable
    monkeypatch.setenv("GRANARY_SERVING_DB", own_prefix + "_other")
    config.settings.cache_clear()
    assert not {t.reader_role for t in banks} & set(roles)  # another installation: other roles


def _bank(code: str) -> Tenant:
    raw = yaml.safe_load((config.REPO_ROOT / "tenants" / "qingshan.yaml").read_text(encoding="utf-8"))
    raw["code"] = code
    return Tenant.model_validate(raw)


def test_serving_init_renames_a_code_named_database_and_role(own_prefix: str) -> None:
    """An installation from before opaque names: the bank's database and role keep their data and
    grants under the new names, and the bank logs in with them."""
    tenant = _bank(f"renamed{os.getpid()}")
    legacy_db, legacy_role = legacy_serving_database(tenant), f"{tenant.code}_reader"
    ident = sql.Identifier
    try:
        with admin_connect(autocommit=True) as conn:
            conn.execute(sql.SQL("create database {}").format(ident(legacy_db)))
            conn.execute(sql.SQL("create role {} login password 'old'").format(ident(legacy_role)))
            conn.execute(
                sql.SQL("grant connect on database {} to {}").format(ident(legacy_db), ident(legacy_role))
            )
        with admin_connect(legacy_db, autocommit=True) as conn:
            schema = ident(tenant.serving_schema)
            conn.execute(sql.SQL("create schema {}").format(schema))
            conn.execute(sql.SQL("create table {}.publish_info as select 42 as row_count").format(schema))
            conn.execute(sql.SQL("grant usage on schema {} to {}").format(schema, ident(legacy_role)))
            conn.execute(sql.SQL("grant select on {}.publish_info to {}").format(schema, ident(legacy_role)))

        init_serving([tenant])

        with admin_connect(autocommit=True) as conn:
            names = {n for (n,) in conn.execute("select datname from pg_database").fetchall()}
            roles = {n for (n,) in conn.execute("select rolname from pg_roles").fetchall()}
        assert serving_database(tenant) in names and legacy_db not in names
        assert tenant.reader_role in roles and legacy_role not in roles
        with tenant_connect(tenant) as conn:
            assert conn.execute("select row_count from publish_info").fetchone() == (42,)
    finally:
        drop_serving([tenant])
        with admin_connect(autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(ident(legacy_db)))
            conn.execute(sql.SQL("drop role if exists {}").format(ident(legacy_role)))
