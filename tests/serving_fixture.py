"""Session fixtures for the Superset tests: the real published day and one running Superset.

Loaded from conftest.py (pytest_plugins), so Superset starts once per session.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from day_fixtures import PublishedDay
from psycopg import sql

from granary.core import config
from granary.core.postgres import admin_connect, serving_database
from granary.core.tenants import Tenant


@dataclass(frozen=True)
class BankFacts:
    """What a bank's published data says, so tests can tell one bank's rows from another's."""

    tenant: Tenant
    branch_ids: tuple[str, ...]
    loan_balance_latest: float
    npl_balance_latest: float
    top_tag_zh: str  # the tag most customers hold


def _facts(tenant: Tenant) -> BankFacts:
    """Read back from the serving database what the real pipeline published for the bank."""
    with admin_connect(serving_database(tenant)) as conn:
        rows = conn.execute(
            f"""
            select branch_id, loan_balance, npl_balance from {tenant.serving_schema}.ads_branch_daily
            where dt = (select max(dt) from {tenant.serving_schema}.ads_branch_daily)
            """
        ).fetchall()
        (top_tag,) = conn.execute(
            f"""
            select tag_name_zh from {tenant.serving_schema}.ads_customer_tag
            group by tag_name_zh order by count(*) desc, tag_name_zh limit 1
            """
        ).fetchone()
    return BankFacts(
        tenant=tenant,
        branch_ids=tuple(sorted(r[0] for r in rows)),
        loan_balance_latest=float(sum(r[1] or 0 for r in rows)),
        npl_balance_latest=float(sum(r[2] or 0 for r in rows)),
        top_tag_zh=top_tag,
    )


@pytest.fixture(scope="session")
def published_serving(published_day: PublishedDay) -> dict[str, BankFacts]:
    """Both banks' real day published (see day_fixtures); facts per bank code."""
    return {t.code: _facts(t) for t in published_day.tenants}


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
