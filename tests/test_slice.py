"""The whole slice for two banks on the real components, and what it must guarantee."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import psycopg
import pyarrow as pa
import pytest
from day_fixtures import PublishedDay
from support.lake import day_rows

from granary.core import paths
from granary.core.errors import QualityGateError
from granary.core.postgres import admin_connect, serving_database
from granary.core.tenants import Tenant, get_tenant
from granary.lake import tables
from granary.pipeline import run as pipeline
from granary.serving.connection import tenant_connect, tenant_conninfo

pytestmark = pytest.mark.slow
GRANARY = str(Path(sys.executable).with_name("granary"))


def _published_counts(tenant: Tenant) -> dict[str, int]:
    schema = tenant.serving_schema
    with admin_connect(serving_database(tenant)) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                # the tables of the day; the views over history include the audit's, which grow
                # with every publish by design
                "select table_name from information_schema.tables where table_schema = %s"
                " and table_type = 'BASE TABLE' order by 1",
                (schema,),
            )
        ]
        return {t: conn.execute(f'select count(*) from "{schema}"."{t}"').fetchone()[0] for t in tables}


def _series(tenant: Tenant) -> tuple[dict, dict]:
    """The served history, day by day: rows and sum of values per business date."""
    with tenant_connect(tenant) as conn:
        found = conn.execute("select dt, count(*), sum(value) from ads_indicator_series group by dt")
        rows = found.fetchall()
    return {dt: n for dt, n, _ in rows}, {dt: total for dt, _, total in rows}


def test_every_bank_is_published_with_its_business_date(published_day: PublishedDay) -> None:
    for tenant in published_day.tenants:
        counts = _published_counts(tenant)
        for table in ("ads_indicator_value", "ads_customer_tag", "ads_customer_profile", "ads_tag_dict"):
            assert counts.get(table, 0) > 0, f"{tenant.code}: {table} empty or missing: {counts}"
        with admin_connect(serving_database(tenant)) as conn:
            info = conn.execute(
                f"select distinct tenant, dt from {tenant.serving_schema}.publish_info"
            ).fetchall()
        assert info == [(tenant.code, published_day.dt)]
        # What Postgres serves is what the warehouse built.
        with duckdb.connect(str(paths.warehouse_db(tenant.code)), read_only=True) as wh:
            built = wh.execute("select count(*) from ads_indicator_value").fetchone()[0]
        assert counts["ads_indicator_value"] == built


def test_composites_are_published_within_their_declared_range(published_day: PublishedDay) -> None:
    tenant = published_day.tenants[0]
    with tenant_connect(tenant) as conn:
        rows = conn.execute(
            """
            select d.indicator_code, v.value, d.value_min, d.value_max from ads_indicator_value v
            join ads_indicator_dict d using (indicator_code)
            where d.kind = 'composite' and v.grain = 'bank' and v.value is not null
            """
        ).fetchall()
    codes = {code for code, *_ in rows}
    assert {"NPL_RATIO__D__BANK", "LDR__D__BANK", "LOAN_GROWTH__D__BANK"} <= codes, sorted(codes)
    for code, value, low, high in rows:
        assert (low is None or value >= low) and (high is None or value <= high), (code, value, low, high)


def test_rerun_of_a_day_gives_the_same_published_rows(published_day: PublishedDay) -> None:
    """Two reruns back to back (other tests of the session add days to the same lake, and
    period indicators rightly change with history, so the first run is not the baseline)."""
    tenant = published_day.tenants[0]
    pipeline.run_all(tenant, published_day.dt)
    before, (history_rows, history_sums) = _published_counts(tenant), _series(tenant)
    pipeline.run_all(tenant, published_day.dt)
    after, (rows_after, sums_after) = _published_counts(tenant), _series(tenant)
    assert after == before
    # the served history too: the day replaced by the same values, the other days untouched
    assert rows_after == history_rows and sums_after == pytest.approx(history_sums, rel=1e-9)
    with admin_connect(serving_database(tenant)) as conn:
        dupes = conn.execute(
            f"""
            select count(*) from (
              select dt, grain, grain_id, indicator_code from {tenant.serving_schema}.ads_indicator_value
              group by 1, 2, 3, 4 having count(*) > 1) d
            """
        ).fetchone()[0]
        tag_dupes = conn.execute(
            f"""
            select count(*) from (
              select customer_id, tag_code from {tenant.serving_schema}.ads_customer_tag
              group by 1, 2 having count(*) > 1) d
            """
        ).fetchone()[0]
    assert (dupes, tag_dupes) == (0, 0)


def test_a_bank_role_is_refused_the_other_banks_data(published_day: PublishedDay) -> None:
    bank_a, bank_b = published_day.tenants[0], published_day.tenants[1]
    with tenant_connect(bank_a, autocommit=True) as conn:
        # Its own data: readable.
        assert conn.execute("select count(*) from ads_customer_tag").fetchone()[0] > 0
        # B's schema is not in A's database at all (a database per bank): nothing to name.
        for attempt in (
            f"select * from {bank_b.serving_schema}.ads_customer_tag limit 1",
            f"select * from {bank_b.serving_schema}.ads_customer_profile limit 1",
        ):
            with pytest.raises(psycopg.errors.UndefinedTable):
                conn.execute(attempt)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"set role {bank_b.reader_role}")
    # And A's role may not even open B's database.
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(**{**tenant_conninfo(bank_a), "dbname": serving_database(bank_b)})


def test_tags_cli_reads_a_customer_with_the_bank_role(published_day: PublishedDay) -> None:
    tenant = published_day.tenants[0]
    with tenant_connect(tenant) as conn:
        customer, expected = conn.execute(
            "select customer_id, array_agg(tag_code order by tag_code) from ads_customer_tag "
            "group by customer_id order by count(*) desc, customer_id limit 1"
        ).fetchone()
    done = subprocess.run(
        [GRANARY, "tags", "--tenant", tenant.code, "--customer", customer, "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert [row["tag_code"] for row in json.loads(done.stdout)] == expected


def test_a_failing_quality_suite_stops_the_bank_with_its_expectations(published_day: PublishedDay) -> None:
    """A DWD day with a duplicated key and a null key: the gate names both expectations."""
    from granary.pipeline.validate import validate

    tenant = get_tenant(published_day.tenants[1].code)
    dt = published_day.dt
    table = day_rows(tenant.code, "dwd", "loan", dt)
    assert table.num_rows > 0
    original = table.to_pylist()
    broken_row = table.slice(0, 1).to_pylist()[0] | {"loan_id": None}
    broken = pa.concat_tables([table, table.slice(0, 1), pa.Table.from_pylist([broken_row], table.schema)])
    tables.write_day_arrow(broken, tenant.code, "dwd", "loan", dt)
    try:
        with pytest.raises(QualityGateError) as failure:
            validate(tenant, published_day.dt)
        message = str(failure.value)
        assert tenant.code in message
        assert "loan: expect_column_values_to_be_unique(column='loan_id') failed" in message
        assert "loan: expect_column_values_to_not_be_null(column='loan_id') failed" in message
    finally:
        tables.write_day_arrow(table, tenant.code, "dwd", "loan", dt)
    assert day_rows(tenant.code, "dwd", "loan", dt).to_pylist() == original  # the day restored
