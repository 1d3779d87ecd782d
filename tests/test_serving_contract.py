"""docs/sql-contract.md is what loan systems rely on: every example runs, with each bank's own role,
and returns rows of that bank only; every documented object and key column exists."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from day_fixtures import PublishedDay
from psycopg import sql

from granary.core.postgres import admin_connect, serving_database
from granary.core.tenants import Tenant
from granary.serving.connection import tenant_connect, tenant_conninfo

pytestmark = pytest.mark.slow

CONTRACT = Path(__file__).resolve().parents[1] / "docs" / "sql-contract.md"
THEMES = ("public", "risk", "marketing", "operations", "credit")


def contract_queries() -> list[tuple[str, str]]:
    """(the heading above it, the query) for every ```sql block of the contract."""
    text = CONTRACT.read_text(encoding="utf-8")
    found, heading = [], ""
    for part in re.split(r"(^### [^\n]*$|```sql\n.*?```)", text, flags=re.M | re.S):
        if part.startswith("### "):
            heading = part[4:].strip()
        elif part.startswith("```sql"):
            found.append((heading, part.removeprefix("```sql\n").removesuffix("```").strip()))
    return found


def documented_columns() -> dict[str, list[str]]:
    """object -> key columns, from the contract's Objects table (ads_theme_<theme> expanded)."""
    objects: dict[str, list[str]] = {}
    for line in CONTRACT.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            columns = re.findall(r"`([a-z_]+)`", cells[3])
            names = [f"ads_theme_{t}" for t in THEMES] if "<theme>" in cells[0] else [cells[0].strip("`")]
            for name in names:
                objects[name] = columns
    return objects


QUERIES = contract_queries()


def _identifiers(tenant: Tenant) -> set[str]:
    """Values that name the bank's own organisation: its code, branches, managers, villages."""
    with admin_connect(serving_database(tenant)) as conn:
        ids = {tenant.code}
        for column in ("branch_id", "manager_id", "village_code"):
            ids |= {
                v
                for (v,) in conn.execute(
                    sql.SQL("select distinct {} from {}").format(
                        sql.Identifier(column), sql.Identifier(tenant.serving_schema, "ads_customer_profile")
                    )
                )
                if v
            }
    return ids


def test_the_contract_has_an_example_for_each_need() -> None:
    headings = " ".join(h.lower() for h, _ in QUERIES)
    for need in (
        "current tags",
        "tag history",
        "profile",
        "indicator by code",
        "indicator dictionary",
        "tag dictionary",
        "90-day series",
        "month-end series",
        "before a rerun",
    ):
        assert need in headings, f"docs/sql-contract.md has no example for {need!r}: {headings}"
    assert len(QUERIES) >= 8


@pytest.mark.parametrize(("heading", "query"), QUERIES, ids=[h for h, _ in QUERIES])
def test_contract_query_returns_the_banks_rows_only(
    published_day: PublishedDay, heading: str, query: str
) -> None:
    banks = published_day.tenants
    own_ids = {t.code: _identifiers(t) for t in banks}
    for tenant in banks:
        others = (
            set().union(*(own_ids[t.code] for t in banks if t.code != tenant.code)) - own_ids[tenant.code]
        )
        with tenant_connect(tenant, autocommit=True) as conn:
            rows = conn.execute(query).fetchall()
        assert rows, f"{heading}: no rows for {tenant.code}"
        # The same query as the admin in the bank's own database: the role saw exactly that.
        with admin_connect(serving_database(tenant)) as conn:
            conn.execute(sql.SQL("set search_path = {}").format(sql.Identifier(tenant.serving_schema)))
            assert rows == conn.execute(query).fetchall(), f"{heading}: {tenant.code}'s role saw other rows"
        leaked = {str(v) for row in rows for v in row} & others
        assert not leaked, f"{heading}: {tenant.code}'s answer names another bank's {sorted(leaked)[:5]}"


def test_every_documented_object_and_column_is_served(published_day: PublishedDay) -> None:
    documented = documented_columns()
    assert {"publish_info", "ads_customer_tag", "ads_indicator_value", "ads_theme_risk"} <= documented.keys()
    for tenant in published_day.tenants:
        with tenant_connect(tenant, autocommit=True) as conn:
            served: dict[str, set[str]] = {}
            for table, column in conn.execute(
                "select table_name, column_name from information_schema.columns where table_schema = %s",
                (tenant.serving_schema,),
            ):
                served.setdefault(table, set()).add(column)
        for name, columns in documented.items():
            assert name in served, f"{tenant.code}: documented object {name} is not served"
            missing = set(columns) - served[name]
            assert not missing, f"{tenant.code}: {name} lacks documented columns {sorted(missing)}"


def test_publish_info_names_the_bank_and_the_day(published_day: PublishedDay) -> None:
    for tenant in published_day.tenants:
        with tenant_connect(tenant, autocommit=True) as conn:
            assert conn.execute("select distinct tenant, dt from publish_info").fetchall() == [
                (tenant.code, published_day.dt)
            ]


def test_history_serves_every_published_day(published_day: PublishedDay) -> None:
    """The fixture published its days in order: history holds each, the series queries find them."""
    series = dict(QUERIES)
    for tenant in published_day.tenants:
        with tenant_connect(tenant, autocommit=True) as conn:
            days = [dt for (dt,) in conn.execute("select dt from ads_served_day order by dt")]
            daily = [dt for dt, _ in conn.execute(series["A 90-day series of an indicator"])]
            month_ends = [dt for dt, _ in conn.execute(series["A 13-month month-end series"])]
        assert days == list(published_day.days)
        assert daily == [d for d in published_day.days if (published_day.dt - d).days < 90]
        assert month_ends == list(published_day.days)  # each the last served day of its month


def _tool_env(tenant: Tenant) -> dict[str, str]:
    info = tenant_conninfo(tenant)
    return {
        **os.environ,
        "PGHOST": str(info["host"]),
        "PGPORT": str(info["port"]),
        "PGDATABASE": info["dbname"],
        "PGUSER": info["user"],
        "PGPASSWORD": info["password"],
    }


def _own_rows(tenant: Tenant) -> int:
    with tenant_connect(tenant) as conn:
        return conn.execute("select count(*) from ads_branch_daily").fetchone()[0]


def test_psql_works_on_the_banks_database_but_lists_no_other(published_day: PublishedDay) -> None:
    """psql's describe commands work for the bank's own objects; the two that would list the
    cluster's roles and databases (\\du, \\l) are refused (granary.serving.databases)."""
    tenant = published_day.tenants[0]
    env = _tool_env(tenant)
    run = ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-At"]
    commands = [r"\dt", r"\dn", r"\d ads_branch_daily", "select count(*) from ads_branch_daily"]
    own = subprocess.run(
        [*run, *(arg for c in commands for arg in ("-c", c))],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert own.returncode == 0, own.stderr
    assert f"{tenant.serving_schema}|ads_branch_daily|table" in own.stdout
    assert own.stdout.split()[-1] == str(_own_rows(tenant))
    for listing in (r"\du", r"\l"):
        refused = subprocess.run([*run, "-c", listing], env=env, capture_output=True, text=True, timeout=60)
        assert refused.returncode != 0 and "permission denied" in refused.stderr, (listing, refused)


def test_jdbc_client_reads_the_banks_metadata_and_rows(published_day: PublishedDay) -> None:
    """A JDBC client's metadata calls and a query work with the catalogs hidden, and show only the
    bank's own schema and grants."""
    from granary.core import paths
    from granary.stack.jars import jars

    tenant = published_day.tenants[0]
    info = tenant_conninfo(tenant)
    [driver] = [j for j in jars("spark") if j.name.startswith("postgresql-")]
    probe = Path(__file__).parent / "support" / "JdbcProbe.java"
    url = f"jdbc:postgresql://{info['host']}:{info['port']}/{info['dbname']}"
    password_file = str(paths.tenant_password_file(tenant.code))
    args = [url, info["user"], password_file, tenant.serving_schema]
    done = subprocess.run(
        ["java", "-cp", str(driver), str(probe), *args], capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen = done.stdout.splitlines()
    assert f"user {info['user']}" in seen
    assert f"schema {tenant.serving_schema}" in seen and "table ads_branch_daily" in seen
    assert "column branch_id" in seen
    assert f"rows {_own_rows(tenant)}" in seen
    schemas = {line.split()[1] for line in seen if line.startswith("schema ")}
    assert not [s for s in schemas if s.startswith("t_") and not s.startswith(tenant.serving_schema)]
    grantees = {line.split()[1] for line in seen if line.startswith("privilege ")}
    assert info["user"] in grantees
