"""The published indicators of a real run agree with the catalog and with themselves.

Read as a loan system reads them: from the bank's serving schema with the bank's own role, after
the three days of the `published_day` fixture (the last one, 1 January, starts a month, a quarter
and a year). The dbt build runs the same checks as SQL tests; these read what was published.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import duckdb
import pytest
from day_fixtures import PublishedDay

from granary.catalog.indicators import Indicator, expand, wide_column
from granary.serving.connection import tenant_connect

SUB_GRAINS = ("branch", "manager", "village")
BASE_PERIODS = ("VS_MS", "VS_YS", "YOY", "YSB")


@pytest.fixture(scope="module")
def catalog() -> dict[str, Indicator]:
    return {i.code: i for i in expand()}


@pytest.fixture(scope="module", params=["qingshan", "hexi"])
def published(request: pytest.FixtureRequest, published_day: PublishedDay) -> Iterator[dict]:
    """One bank's published values: {(code, grain_id): value}, and its rows per grain."""
    tenant = next(t for t in published_day.tenants if t.code == request.param)
    with tenant_connect(tenant) as conn:
        rows = conn.execute(
            "select dt, grain, grain_id, indicator_code, value from ads_indicator_value"
        ).fetchall()
    yield {
        "tenant": tenant,
        "dt": {r[0] for r in rows},
        "values": {(r[3], r[2]): r[4] for r in rows},
        "rows": rows,
        "day": published_day.dt,
    }


def _members(rows: list[tuple]) -> dict[str, set[str]]:
    members: dict[str, set[str]] = defaultdict(set)
    for _, grain, grain_id, _, _ in rows:
        members[grain].add(grain_id)
    return members


def test_every_indicator_has_a_value_at_every_member_of_its_grain(published: dict, catalog: dict) -> None:
    assert published["dt"] == {published["day"]}
    values, members = published["values"], _members(published["rows"])
    assert members["bank"] == {published["tenant"].code}
    assert all(len(members[g]) > 1 for g in ("branch", "manager", "village", "customer")), members.keys()
    missing = [
        (code, grain_id)
        for code, i in catalog.items()
        for grain_id in members[i.grain]
        if (code, grain_id) not in values
    ]
    assert not missing, f"{len(missing)} (indicator, member) pairs without a row, e.g. {missing[:5]}"
    assert len(values) == sum(len(members[i.grain]) for i in catalog.values())  # nothing uncatalogued
    # null only where a composite's denominator is 0 (checked against its parts below); every
    # indicator has a value somewhere, but a ratio whose denominator is 0 at every member
    nulls = {code for (code, _), v in values.items() if v is None}
    assert all(catalog[c].kind == "composite" for c in nulls)
    valued = {code for (code, _), v in values.items() if v is not None}
    undefined = {
        code
        for code, i in catalog.items()
        if i.kind == "composite"
        and all(sum(values[(p, m)] for p in i.denominator) == 0 for m in members[i.grain])
    }
    assert valued == set(catalog) - undefined, sorted(set(catalog) - valued - undefined)[:10]
    assert len(undefined) < 0.05 * len(catalog), sorted(undefined)


def test_additive_indicators_add_up_to_the_bank_at_every_grain(published: dict, catalog: dict) -> None:
    values = published["values"]
    bank = published["tenant"].code
    sums: dict[tuple, float] = defaultdict(float)
    for (code, _), value in values.items():
        i = catalog[code]
        if i.kind == "derived" and i.additive and i.grain in SUB_GRAINS:
            sums[(i.atomic_code, i.modifier, i.period, i.grain)] += value
    assert len(sums) > 500
    checked = 0
    for (atomic, modifier, period, grain), total in sums.items():
        code = "__".join(p for p in (atomic, modifier, period, "BANK") if p)
        bank_value = values[(code, bank)]
        assert total == pytest.approx(bank_value, rel=1e-9, abs=0.005), (code, grain)
        checked += 1
    assert checked == len(sums)


def test_non_additive_indicators_are_not_the_sum_of_their_members(published: dict, catalog: dict) -> None:
    """Top-10 concentration is ranked within each member: the branches' top 10s add up to more."""
    values, bank = published["values"], published["tenant"].code
    branches = [v for (code, _), v in values.items() if code == "TOP10_BORROWER_BAL__D__BRANCH"]
    assert len(branches) > 1
    assert not catalog["TOP10_BORROWER_BAL__D__BANK"].additive
    assert sum(branches) >= values[("TOP10_BORROWER_BAL__D__BANK", bank)]
    assert values[("TOP10_BORROWER_BAL__D__BANK", bank)] <= values[("LOAN_BAL__D__BANK", bank)]


def test_composites_equal_their_formula_and_lie_in_their_range(published: dict, catalog: dict) -> None:
    values = published["values"]
    checked = 0
    for (code, grain_id), value in values.items():
        i = catalog[code]
        if i.kind != "composite":
            continue
        numerator = sum(values[(p, grain_id)] for p in i.numerator)
        denominator = sum(values[(p, grain_id)] for p in i.denominator)
        if denominator == 0:
            assert value is None, (code, grain_id)
            continue
        assert value == pytest.approx(numerator / denominator, rel=1e-9), (code, grain_id)
        low = -float("inf") if i.value_min is None else i.value_min
        high = float("inf") if i.value_max is None else i.value_max
        assert low - 1e-12 <= value <= high + 1e-12, (code, grain_id, value)
        checked += 1
    assert checked > 100


def test_period_to_date_on_its_first_day_equals_the_day_value(published: dict, catalog: dict) -> None:
    day = published["day"]
    assert (day.month, day.day) == (1, 1)  # the fixture's last day starts a month, a quarter and a year
    values = published["values"]
    compared = 0
    for (code, grain_id), value in values.items():
        i = catalog[code]
        if i.kind == "derived" and i.period in ("MTD", "QTD", "YTD"):
            day_code = code.replace(f"__{i.period}__", "__D__")
            assert value == pytest.approx(values[(day_code, grain_id)], rel=1e-9, abs=1e-9), code
            compared += 1
    assert compared > 1000


def test_comparisons_have_no_value_without_their_base_day(published_day: PublishedDay, catalog: dict) -> None:
    """On the first day the lake holds, there is no month-end, year-end or year-ago day to compare with."""
    first = published_day.days[0]
    for tenant in published_day.tenants:
        with duckdb.connect(str(published_day.warehouses[(tenant.code, first)]), read_only=True) as wh:
            codes = {
                r[0] for r in wh.execute("select distinct indicator_code from ads_indicator_value").fetchall()
            }
        assert codes, tenant.code
        with_base = {c for c, i in catalog.items() if i.kind == "derived" and i.period in BASE_PERIODS}
        assert not codes & with_base, sorted(codes & with_base)[:5]
        assert {c for c, i in catalog.items() if i.kind == "derived" and i.period == "D"} <= codes


def test_theme_tables_hold_the_same_values_as_the_long_table(published: dict, catalog: dict) -> None:
    values = published["values"]
    with tenant_connect(published["tenant"]) as conn:
        for theme in ("public", "risk", "marketing", "operations", "credit"):
            cursor = conn.execute(f"select * from ads_theme_{theme}")
            columns = [d.name for d in cursor.description]
            rows = cursor.fetchall()
            assert rows, theme
            for row in rows:
                record = dict(zip(columns, row, strict=True))
                grain, grain_id = record["grain"], record["grain_id"]
                for code, i in catalog.items():
                    if i.theme == theme and i.grain == grain:
                        assert record[wide_column(i)] == values[(code, grain_id)], (code, grain_id)
