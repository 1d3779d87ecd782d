"""Tags after three real days: published with each bank's own role, and a history that agrees with
every day's snapshot (real pipeline: Spark, Great Expectations, dbt on DuckDB, PostgreSQL)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import psycopg
import pytest

from granary.catalog import tags
from granary.serving.connection import tenant_connect

Pairs = set[tuple[str, str]]


def _warehouse_rows(warehouse: Path, query: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(query).fetchall()


def _snapshot(warehouse: Path) -> Pairs:
    return {
        (c, t) for c, t in _warehouse_rows(warehouse, "select customer_id, tag_code from ads_customer_tag")
    }


def test_tags_and_history_are_published_for_the_bank_role(published_day) -> None:
    catalogued = {t.code for t in tags.load()}
    for tenant in published_day.tenants:
        warehouse = published_day.warehouses[(tenant.code, published_day.dt)]
        schema = tenant.serving_schema
        with tenant_connect(tenant) as conn:
            tag_rows = conn.execute(
                f"select dt, customer_id, tag_code, tag_name_zh, category_zh from {schema}.ads_customer_tag"
            ).fetchall()
            history = conn.execute(
                "select customer_id, tag_code, gained_dt, lost_dt, is_current "
                f"from {schema}.ads_customer_tag_history"
            ).fetchall()
            dictionary = conn.execute(
                "select tag_code, name_zh, category_zh, category_en, customer_count "
                f"from {schema}.ads_tag_dict"
            ).fetchall()
            (profiles, tagged_total) = conn.execute(
                f"select count(*), sum(tag_count) from {schema}.ads_customer_profile"
            ).fetchone()
        # what the bank reads is what its warehouse built for the day
        assert {(c, t) for _, c, t, *_ in tag_rows} == _snapshot(warehouse)
        assert {dt for dt, *_ in tag_rows} == {published_day.dt}
        assert (
            len(history) == _warehouse_rows(warehouse, "select count(*) from ads_customer_tag_history")[0][0]
        )
        # the dictionary: every tag, its holders counted from the snapshot
        assert {code for code, *_ in dictionary} == catalogued
        holders: dict[str, int] = {}
        for _, _, code, *_ in tag_rows:
            holders[code] = holders.get(code, 0) + 1
        assert {code: n for code, *_, n in dictionary if n} == holders
        assert len({code for code, *_, n in dictionary if n}) >= 90  # most rules hold for someone
        assert tagged_total == len(tag_rows) and profiles > 100
        # a tag held today is an open spell of the history, and the other way round
        assert {(c, t) for c, t, _, lost, current in history if current and lost is None} == {
            (c, t) for _, c, t, *_ in tag_rows
        }
        # isolation is Postgres's own: the other bank's tables are not in this bank's database at all
        other = next(t for t in published_day.tenants if t.code != tenant.code)
        with tenant_connect(tenant) as conn, pytest.raises(psycopg.errors.UndefinedTable):
            conn.execute(f"select count(*) from {other.serving_schema}.ads_customer_tag_history")


def _held_on(history: list[tuple], day: date) -> Pairs:
    return {(c, t) for c, t, gained, lost in history if gained <= day and (lost is None or lost > day)}


def test_history_agrees_with_every_days_snapshot(published_day) -> None:
    days = published_day.days
    for tenant in published_day.tenants:
        last = published_day.warehouses[(tenant.code, days[-1])]
        history = _warehouse_rows(
            last, "select customer_id, tag_code, gained_dt, lost_dt from ads_customer_tag_history"
        )
        snapshots = {day: _snapshot(published_day.warehouses[(tenant.code, day)]) for day in days}
        for day in days:
            # replaying the spells gives exactly the tags that day's own build published
            assert _held_on(history, day) == snapshots[day], (tenant.code, day)
        # each change between consecutive days is one spell starting or ending on the later day
        for before, after in zip(days, days[1:], strict=False):
            gained = {(c, t) for c, t, g, _ in history if g == after}
            lost = {(c, t) for c, t, _, lost_dt in history if lost_dt == after}
            assert gained == snapshots[after] - snapshots[before], (tenant.code, after)
            assert lost == snapshots[before] - snapshots[after], (tenant.code, after)
        assert any(g > days[0] for _, _, g, _ in history), "no tag was gained after the first day"
        assert any(lost is not None for *_, lost in history), "no tag was lost in the window"
        # spells of one customer's tag never overlap
        spells: dict[tuple[str, str], list[tuple[date, date | None]]] = {}
        for c, t, g, lost in history:
            spells.setdefault((c, t), []).append((g, lost))
        for runs in spells.values():
            runs.sort()
            for (_, end), (start, _) in zip(runs, runs[1:], strict=False):
                assert end is not None and end <= start
