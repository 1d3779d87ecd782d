"""Session fixtures for the Superset tests: a published serving database and one running Superset.

`published_serving` stands in for the lead's publish step until it exists: a fresh serving
database for the session holding, for two banks, schema t_<code>, login role <code>_reader
(USAGE/SELECT on its own schema only, PUBLIC stripped) and a few rows in each published
table of the data contract. Swap its body for the real publish when that lands.

Test modules load this with `pytest_plugins = ["serving_fixture"]`, so each session-scoped
fixture runs once per session whichever modules use it.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from granary import config
from granary.secrets import tenant_password
from granary.tenants import Tenant, get_tenant

BANKS = ("qingshan", "hexi")
DAYS = (date(2026, 6, 29), date(2026, 6, 30))

TABLES: dict[str, str] = {
    "ads_indicator_value": """dt date, grain text, grain_id text, indicator_code text,
        indicator_name_zh text, theme text, unit text, value double precision""",
    "ads_indicator_dict": """indicator_code text, name_zh text, name_en text, theme text, theme_zh text,
        definition_zh text, definition_en text, unit text, grain text, atomic_code text, period text,
        modifier text, kind text, owner text""",
    "ads_customer_tag": "dt date, customer_id text, tag_code text, tag_name_zh text, category_zh text",
    "ads_tag_dict": """tag_code text, name_zh text, name_en text, category text, category_zh text,
        rule_text text""",
    "ads_customer_profile": """dt date, customer_id text, customer_type text, branch_id text,
        manager_id text, village_code text, name_masked text, id_masked text, phone_masked text,
        age integer, deposit_balance numeric(18,2), loan_balance numeric(18,2),
        overdue_days_max integer, worst_five_class text, tag_count integer""",
    "ads_branch_daily": """dt date, branch_id text, customers bigint, loan_balance numeric(18,2),
        npl_balance numeric(18,2), deposit_balance numeric(18,2), npl_ratio double precision""",
    "publish_info": "tenant text, dt date, published_at timestamptz, row_counts jsonb",
}

TAGS = [
    ("T_LOAN_ACTIVE", "有效贷款客户", "Active borrower", "credit", "信贷行为"),
    ("T_DEPOSIT_HIGH", "高存款客户", "High deposit", "deposit", "存款贡献"),
    ("T_OVERDUE", "当前逾期客户", "Currently overdue", "risk", "风险预警"),
]


@dataclass(frozen=True)
class BankFacts:
    """What a bank's published data says, so tests can tell one bank's rows from another's."""

    tenant: Tenant
    branch_ids: tuple[str, ...]
    loan_balance_latest: float
    npl_balance_latest: float


def _bank_rows(tenant: Tenant, seed: int) -> tuple[dict[str, list[tuple]], BankFacts]:
    prefix = tenant.code[:2].upper()
    branches = [f"{prefix}{i:03d}" for i in range(1, 5)]
    rows: dict[str, list[tuple]] = {name: [] for name in TABLES}
    loan_total = npl_total = 0.0
    for d_idx, dt in enumerate(DAYS):
        for b_idx, branch in enumerate(branches):
            loan = 1_000_000.0 * seed * (b_idx + 1) + 10_000 * d_idx
            npl = round(loan * 0.01 * (b_idx + 1), 2)
            deposit = loan * 1.5
            rows["ads_branch_daily"].append((dt, branch, 100 + b_idx, loan, npl, deposit, npl / loan))
            if dt == DAYS[-1]:
                loan_total += loan
                npl_total += npl
        for c_idx in range(6):
            cid = f"{prefix}C{c_idx:08d}"
            branch = branches[c_idx % len(branches)]
            rows["ads_customer_profile"].append(
                (
                    dt,
                    cid,
                    "farmer_household",
                    branch,
                    f"{prefix}M01",
                    f"{tenant.county_code}001001",
                    "张*",
                    "340***********1234",
                    "138****0000",
                    30 + c_idx,
                    5000.0 * c_idx,
                    20000.0 * c_idx,
                    0 if c_idx % 3 else 35,
                    "normal" if c_idx % 3 else "special_mention",
                    2,
                )
            )
            for tag in TAGS[: 1 + c_idx % len(TAGS)]:
                rows["ads_customer_tag"].append((dt, cid, tag[0], tag[1], tag[4]))
        for code, name, unit, value in (
            ("LOAN_BAL_D", "贷款余额", "元", loan_total or 1.0),
            ("NPL_RATIO_D", "不良贷款率", "%", 1.5),
        ):
            rows["ads_indicator_value"].append((dt, "bank", tenant.code, code, name, "risk", unit, value))
    rows["ads_indicator_dict"] = [
        (
            "LOAN_BAL_D",
            "贷款余额",
            "Loan balance",
            "operations",
            "经营",
            "各项贷款余额",
            "loan balance",
            "元",
            "bank",
            "LOAN_BAL",
            "day",
            "",
            "derived",
            "信贷管理部",
        ),
        (
            "NPL_RATIO_D",
            "不良贷款率",
            "NPL ratio",
            "risk",
            "风险",
            "不良贷款/各项贷款",
            "NPL / loans",
            "%",
            "bank",
            "",
            "day",
            "",
            "composite",
            "风险管理部",
        ),
    ]
    rows["ads_tag_dict"] = [(t[0], t[1], t[2], t[3], t[4], "规则") for t in TAGS]
    rows["publish_info"] = [(tenant.code, DAYS[-1], "2026-07-01 02:00:00+08", '{"ads_branch_daily": 8}')]
    return rows, BankFacts(tenant, tuple(branches), loan_total, npl_total)


def _saved_password(conn: psycopg.Connection, role: str) -> tuple[bool, str | None]:
    row = conn.execute("select rolpassword from pg_authid where rolname = %s", (role,)).fetchone()
    return (row is not None, row[0] if row else None)


def create_serving(db_name: str, tenants: list[Tenant]) -> tuple[dict[str, BankFacts], dict]:
    """Build the serving database `db_name` (dropped first if left over); returns facts + saved roles."""
    admin = config.settings().pg_admin_dsn
    saved_roles: dict[str, tuple[bool, str | None]] = {}
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(db_name)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(db_name)))
        conn.execute(sql.SQL("revoke all on database {} from public").format(sql.Identifier(db_name)))
        for t in tenants:
            # Roles are cluster-wide: remember an existing role's password hash to put it back.
            saved_roles[t.reader_role] = _saved_password(conn, t.reader_role)
            role = sql.Identifier(t.reader_role)
            if not saved_roles[t.reader_role][0]:
                conn.execute(sql.SQL("create role {} login").format(role))
            conn.execute(
                sql.SQL("alter role {} with login password {}").format(
                    role, sql.Literal(tenant_password(t.code))
                )
            )
            conn.execute(sql.SQL("grant connect on database {} to {}").format(sql.Identifier(db_name), role))
    facts: dict[str, BankFacts] = {}
    dsn = admin.rpartition("/")[0] + f"/{db_name}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("revoke all on schema public from public")
        for seed, t in enumerate(tenants, start=1):
            schema, role = sql.Identifier(t.serving_schema), sql.Identifier(t.reader_role)
            conn.execute(sql.SQL("create schema {}").format(schema))
            conn.execute(sql.SQL("revoke all on schema {} from public").format(schema))
            rows, facts[t.code] = _bank_rows(t, seed)
            for table, columns in TABLES.items():
                ident = sql.Identifier(t.serving_schema, table)
                conn.execute(sql.SQL("create table {} (" + columns + ")").format(ident))
                placeholders = sql.SQL(", ").join(sql.Placeholder() * len(rows[table][0]))
                with conn.cursor() as cur:
                    cur.executemany(
                        sql.SQL("insert into {} values ({})").format(ident, placeholders), rows[table]
                    )
            conn.execute(sql.SQL("grant usage on schema {} to {}").format(schema, role))
            conn.execute(sql.SQL("grant select on all tables in schema {} to {}").format(schema, role))
    return facts, saved_roles


def drop_serving(db_name: str, saved_roles: dict) -> None:
    with psycopg.connect(config.settings().pg_admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(db_name)))
        for role_name, (existed, password_hash) in saved_roles.items():
            role = sql.Identifier(role_name)
            if existed:
                conn.execute(sql.SQL("alter role {} password {}").format(role, sql.Literal(password_hash)))
            else:
                conn.execute(sql.SQL("drop role if exists {}").format(role))


@pytest.fixture(scope="session")
def published_serving(granary_env: Path) -> Iterator[dict[str, BankFacts]]:
    """A serving database for this session with both banks published; yields facts per bank code."""
    db_name = f"granary_serving_test_{os.getpid()}"
    os.environ["GRANARY_SERVING_DB"] = db_name
    config.settings.cache_clear()
    facts, saved_roles = create_serving(db_name, [get_tenant(code) for code in BANKS])
    yield facts
    drop_serving(db_name, saved_roles)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class SupersetStack:
    url: str
    banks: dict[str, BankFacts]
    start_seconds: float
    provision_seconds: float


@pytest.fixture(scope="session")
def superset_stack(published_serving: dict[str, BankFacts], granary_env: Path) -> Iterator[SupersetStack]:
    """One Superset for the session (own metadata DB, own port), both banks provisioned."""
    from granary.superset import provision, service

    os.environ["GRANARY_SUPERSET_URL"] = f"http://127.0.0.1:{_free_port()}"
    os.environ["GRANARY_RUN_DIR"] = str(granary_env / "run")
    config.settings.cache_clear()
    metadata_db = service.metadata_db()
    started = time.perf_counter()
    try:
        service.start()
        start_seconds = time.perf_counter() - started
        began = time.perf_counter()
        provision.provision([f.tenant for f in published_serving.values()])
        provision_seconds = time.perf_counter() - began
        yield SupersetStack(
            config.settings().superset_url, published_serving, start_seconds, provision_seconds
        )
    finally:
        service.stop()
        with psycopg.connect(config.settings().pg_admin_dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(metadata_db))
            )
