"""granary transform: a real dbt build (dbt-duckdb) over tiny DWD fixtures in the lake's catalog."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from dwd_fixture import write_empty_dwd
from support.lake import day_rows

from granary.catalog import indicators, tags
from granary.core import config, paths
from granary.core.errors import DataError
from granary.core.tenants import Tenant
from granary.lake import tables
from granary.pipeline import dws_history

RUN_DT = date(2024, 6, 2)
DAYS = (date(2024, 5, 31), date(2024, 6, 1), RUN_DT)  # previous month end, so VS_MS has its base day
BANK = Tenant(
    code="tbank",
    name_zh="测试农村商业银行",
    name_en="Test Rural Commercial Bank",
    county_code="340000",
    county_zh="测试县",
    customers_sf1=100,
    branches=2,
)

FIRST = DAYS[0]


def cid(n: int) -> str:
    return f"C{n:010d}"


# (customer no, type, branch, birth, open, first day present)
CUSTOMERS = [
    (1, "farmer_household", "B01", date(1950, 3, 1), date(2010, 1, 1), FIRST),
    (2, "individual", "B01", date(1990, 7, 15), date(2024, 5, 20), FIRST),
    (3, "individual_business", "B02", date(1980, 12, 31), date(2015, 6, 1), FIRST),
    (4, "farmer_household", "B02", date(1975, 1, 1), date(2018, 1, 1), FIRST),
    (5, "small_enterprise", "B02", None, RUN_DT, RUN_DT),
    (6, "individual", "B01", date(1964, 6, 3), date(2020, 1, 1), FIRST),  # 59 on RUN_DT
]
# (loan no, customer no, branch, product, guarantee, agricultural, contract, balance on RUN_DT,
#  overdue days on RUN_DT, five_class, start date, first day present)
LOANS = [
    (1, 1, "B01", "agricultural", "credit", True, 100000, 80000, 0, "normal", date(2023, 3, 1), FIRST),
    (
        2,
        1,
        "B01",
        "agricultural",
        "guaranteed",
        True,
        50000,
        30000,
        45,
        "substandard",
        date(2022, 1, 1),
        FIRST,
    ),
    (
        3,
        3,
        "B02",
        "business",
        "mortgage",
        False,
        500000,
        400000,
        0,
        "special_mention",
        date(2021, 5, 1),
        FIRST,
    ),
    (4, 4, "B02", "agricultural", "credit", True, 30000, 20000, 200, "doubtful", date(2020, 2, 1), FIRST),
    (5, 2, "B01", "consumer", "credit", False, 10000, 0, 0, "normal", date(2023, 1, 1), FIRST),
    (6, 5, "B02", "business", "pledge", False, 300000, 300000, 0, "normal", RUN_DT, RUN_DT),
]
# (account no, customer no, branch, product, balance on RUN_DT, status, open date, first day present)
DEPOSITS = [
    (1, 1, "B01", "demand", 5000, "active", date(2010, 1, 1), FIRST),
    (2, 2, "B01", "time", 600000, "active", date(2024, 5, 20), FIRST),
    (3, 3, "B02", "demand", 20000, "active", date(2015, 6, 1), FIRST),
    (4, 6, "B01", "demand", 1000, "active", date(2020, 1, 1), FIRST),
    (5, 4, "B02", "time", 0, "closed", date(2018, 1, 1), FIRST),
    (6, 5, "B02", "demand", 100, "active", RUN_DT, RUN_DT),
]

EXPECTED_TAGS = {
    "FARMER": {cid(1), cid(4)},
    "SMALL_BIZ_OWNER": {cid(3)},
    "HAS_LOAN": {cid(1), cid(3), cid(4), cid(5)},
    "AGRI_BORROWER": {cid(1), cid(4)},
    "DEPOSIT_ONLY": {cid(2), cid(6)},
    "LARGE_DEPOSITOR": {cid(2)},
    "OVERDUE": {cid(1), cid(4)},
    "NPL_CUSTOMER": {cid(1), cid(4)},
    "NEW_CUSTOMER": {cid(2), cid(5)},
    "SENIOR": {cid(1)},
}


def _days_back(day: date) -> int:
    return (RUN_DT - day).days


def loan_balance(loan: tuple, day: date) -> Decimal:
    """Balances fall by 1,000 a day, so month-to-date averages differ from the day's value."""
    balance = loan[7]
    return Decimal(balance + 1000 * _days_back(day)) if balance else Decimal(0)


def deposit_balance(deposit: tuple, day: date) -> Decimal:
    balance = deposit[4]
    return Decimal(balance + 500 * _days_back(day)) if balance else Decimal(0)


def _write(table: str, day: date, rows: list[dict], schema: pa.Schema) -> None:
    tables.write_day_arrow(pa.Table.from_pylist(rows, schema=schema), BANK.code, "dwd", table, day)


def write_dwd_fixture() -> None:
    """DWD as the contract says: standard codes, PII as *_token/*_masked, _source_row, one lake day each."""
    text, day_, money = pa.string(), pa.date32(), pa.decimal128(18, 2)
    customer_schema = pa.schema(
        [("customer_id", text), ("customer_name_token", text), ("customer_name_masked", text),
         ("id_number_token", text), ("id_number_masked", text), ("phone_token", text), ("phone_masked", text),
         ("customer_type", text), ("gender", text), ("birth_date", day_), ("branch_id", text),
         ("manager_id", text), ("village_code", text), ("address_token", text), ("address_masked", text),
         ("open_date", day_), ("_source_row", pa.int64())]
    )  # fmt: skip
    deposit_schema = pa.schema(
        [("account_id", text), ("customer_id", text), ("branch_id", text), ("product_code", text),
         ("open_date", day_), ("balance", money), ("status", text), ("_source_row", pa.int64())]
    )  # fmt: skip
    loan_schema = pa.schema(
        [("loan_id", text), ("customer_id", text), ("branch_id", text), ("manager_id", text),
         ("product_code", text), ("guarantee_type", text), ("is_agricultural", pa.bool_()),
         ("contract_amount", money), ("balance", money), ("interest_rate", pa.decimal128(8, 4)),
         ("start_date", day_), ("maturity_date", day_), ("overdue_days", pa.int32()), ("five_class", text),
         ("_source_row", pa.int64())]
    )  # fmt: skip
    for day in DAYS:
        customers = [
            {
                "customer_id": cid(n),
                "customer_name_token": f"{n:064x}",
                "customer_name_masked": "张*",
                "id_number_token": f"{n + 100:064x}",
                "id_number_masked": "340***********1234",
                "phone_token": f"{n + 200:064x}",
                "phone_masked": "138****0000",
                "customer_type": ctype,
                "gender": "male",
                "birth_date": birth,
                "branch_id": branch,
                "manager_id": f"M{branch}",
                "village_code": "340000000001",
                "address_token": f"{n + 300:064x}",
                "address_masked": "测试县青山****",
                "open_date": opened,
                "_source_row": n,
            }
            for (n, ctype, branch, birth, opened, first) in CUSTOMERS
            if first <= day
        ]
        loans = [
            {
                "loan_id": f"L{loan[0]:012d}",
                "customer_id": cid(loan[1]),
                "branch_id": loan[2],
                "manager_id": f"M{loan[2]}",
                "product_code": loan[3],
                "guarantee_type": loan[4],
                "is_agricultural": loan[5],
                "contract_amount": Decimal(loan[6]),
                "balance": loan_balance(loan, day),
                "interest_rate": Decimal("0.0650"),
                "start_date": loan[10],
                "maturity_date": loan[10] + timedelta(days=999),
                "overdue_days": max(loan[8] - _days_back(day), 0),
                "five_class": loan[9],
                "_source_row": loan[0],
            }
            for loan in LOANS
            if loan[11] <= day
        ]
        deposits = [
            {
                "account_id": f"D{dep[0]:012d}",
                "customer_id": cid(dep[1]),
                "branch_id": dep[2],
                "product_code": dep[3],
                "open_date": dep[6],
                "balance": deposit_balance(dep, day),
                "status": dep[5],
                "_source_row": dep[0],
            }
            for dep in DEPOSITS
            if dep[7] <= day
        ]
        _write("customer", day, customers, customer_schema)
        _write("loan", day, loans, loan_schema)
        _write("deposit_account", day, deposits, deposit_schema)
        write_empty_dwd(BANK.code, day, skip={"customer", "loan", "deposit_account"})


@pytest.fixture(scope="module")
def built_warehouse(granary_env: Path) -> Iterator[dict]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRANARY_RUN_DIR", str(granary_env / "run"))
        mp.delenv("GRANARY_DBT_TARGET", raising=False)
        config.settings.cache_clear()
        write_dwd_fixture()
        from granary.pipeline.transform import transform

        for earlier in DAYS[:-1]:  # the nights before: a build chains from the lake's earlier days
            transform(BANK, earlier)
        started = time.perf_counter()
        transform(BANK, RUN_DT)
        seconds = time.perf_counter() - started
        print(f"\ndbt build (transform) wall time: {seconds:.1f}s")
        yield {"db": paths.warehouse_db(BANK.code), "seconds": seconds}
    config.settings.cache_clear()


def query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _needs_missing_base_day(indicator: indicators.Indicator, catalogued: dict) -> bool:
    """The fixture's lake starts on 31 May: comparisons with year start or a year ago have no base."""
    if indicator.kind == "composite":
        return any(_needs_missing_base_day(catalogued[p], catalogued) for p in indicator.numerator)
    return indicator.period in ("VS_YS", "YOY", "YSB")


def test_every_indicator_has_a_value_for_its_grain(built_warehouse: dict) -> None:
    db = built_warehouse["db"]
    catalogued = {i.code: i for i in indicators.expand()}
    rows = query(db, "select indicator_code, grain, grain_id, dt from ads_indicator_value")
    assert {r[3] for r in rows} == {RUN_DT}
    valued = {(code, grain) for code, grain, _, _ in rows}
    without_base = {c for c, i in catalogued.items() if _needs_missing_base_day(i, catalogued)}
    missing = [c for c, i in catalogued.items() if (c, i.grain) not in valued and c not in without_base]
    assert not missing, f"no value for {missing[:10]}"
    # no value rather than a wrong one when the base day is not in the lake
    assert not {code for code, *_ in rows} & without_base
    members = {(code, grain_id) for code, grain, grain_id, _ in rows if grain == "branch"}
    branch_codes = [c for c, i in catalogued.items() if i.grain == "branch" and c not in without_base]
    assert all((c, b) in members for c in branch_codes for b in ("B01", "B02"))
    assert {gid for _, grain, gid, _ in rows if grain == "bank"} == {BANK.code}
    dict_codes = {r[0] for r in query(db, "select indicator_code from ads_indicator_dict")}
    assert dict_codes == set(catalogued)


def test_npl_ratio_matches_independent_computation(built_warehouse: dict) -> None:
    db = built_warehouse["db"]
    values = dict(
        ((code, gid), v)
        for code, gid, v in query(db, "select indicator_code, grain_id, value from ads_indicator_value")
    )
    npl = {"substandard", "doubtful", "loss"}
    for grain, gid, branches in (("BANK", BANK.code, {"B01", "B02"}), ("BRANCH", "B01", {"B01"}),
                                 ("BRANCH", "B02", {"B02"})):  # fmt: skip
        live = [ln for ln in LOANS if ln[2] in branches]
        loan_total = sum(loan_balance(ln, RUN_DT) for ln in live)
        npl_total = sum(loan_balance(ln, RUN_DT) for ln in live if ln[9] in npl)
        assert values[(f"NPL_RATIO__D__{grain}", gid)] == pytest.approx(float(npl_total / loan_total))
        assert values[(f"LOAN_BAL__D__{grain}", gid)] == pytest.approx(float(loan_total))
    # month-to-date average: 1 and 2 June only (31 May is the previous month)
    b01 = [ln for ln in LOANS if ln[2] == "B01"]
    mtd = sum(loan_balance(ln, d) for ln in b01 for d in DAYS[1:] if ln[11] <= d) / 2
    assert values[("LOAN_BAL__MTD__BRANCH", "B01")] == pytest.approx(float(mtd))
    # change since month start: against 31 May
    change = sum(loan_balance(ln, RUN_DT) for ln in LOANS) - sum(
        loan_balance(ln, DAYS[0]) for ln in LOANS if ln[11] <= DAYS[0]
    )
    assert values[("LOAN_BAL__VS_MS__BANK", BANK.code)] == pytest.approx(float(change))
    # modifiers: agricultural loans only; farm-household customers only
    agri = sum(loan_balance(ln, RUN_DT) for ln in LOANS if ln[5])
    assert values[("LOAN_BAL__AGRI__D__BANK", BANK.code)] == pytest.approx(float(agri))
    assert values[("CUST_CNT__FARMER__D__BRANCH", "B02")] == 1
    assert values[("DEP_BAL__TIME__D__BRANCH", "B01")] == pytest.approx(600000.0)
    # flows: the one loan disbursed on the run day
    assert values[("NEW_LOAN_AMT__D__BANK", BANK.code)] == pytest.approx(300000.0)
    assert values[("NEW_CUST_CNT__D__BRANCH", "B02")] == 1
    branch = query(db, "select branch_id, npl_ratio, customers from ads_branch_daily order by branch_id")
    assert [(b, c) for b, _, c in branch] == [("B01", 3), ("B02", 3)]
    assert branch[0][1] == pytest.approx(values[("NPL_RATIO__D__BRANCH", "B01")])


def test_tags_hold_for_the_right_customers(built_warehouse: dict) -> None:
    db = built_warehouse["db"]
    rows = query(db, "select tag_code, customer_id, tag_name_zh, category_zh, dt from ads_customer_tag")
    got: dict[str, set[str]] = {}
    for code, customer_id, name_zh, category_zh, dt in rows:
        got.setdefault(code, set()).add(customer_id)
        assert name_zh and category_zh and dt == RUN_DT
    # the ten tags first published, exactly; then some of the other 100 that this lake can decide
    # (it holds customers, deposits and loans only: the other DWD tables are empty)
    assert {code: got.get(code, set()) for code in EXPECTED_TAGS} == EXPECTED_TAGS
    catalogued = {t.code for t in tags.load()}
    assert set(EXPECTED_TAGS) <= catalogued and set(got) <= catalogued
    more = {
        "SMALL_ENTERPRISE": {cid(5)},
        "DEP_TIME_HOLDER": {cid(2)},
        "LOAN_BUSINESS": {cid(3), cid(5)},
        "TXN_DORMANT": {cid(n) for n, *_ in CUSTOMERS},
        "CH_MOBILE_USER": set(),
        "JUD_ANY_CASE": set(),
        "SS_INSURED": set(),
    }
    assert {code: got.get(code, set()) for code in more} == more
    profile = dict(query(db, "select customer_id, tag_count from ads_customer_profile"))
    assert profile[cid(1)] == sum(cid(1) in s for s in got.values())
    assert len(profile) == len(CUSTOMERS)
    ages = dict(query(db, "select customer_id, age from ads_customer_profile"))
    assert ages[cid(6)] == 59 and ages[cid(1)] == 74


def test_published_tables_have_the_contract_columns(built_warehouse: dict) -> None:
    contract = {
        "ads_indicator_value": "dt grain grain_id indicator_code indicator_name_zh theme unit value "
        "grain_name_zh theme_zh",
        "ads_indicator_dict": "indicator_code name_zh name_en theme theme_zh definition_zh definition_en "
        "unit grain atomic_code period modifier kind owner additive value_min value_max",
        "ads_customer_tag": "dt customer_id tag_code tag_name_zh category_zh",
        "ads_tag_dict": "tag_code name_zh name_en category category_zh rule_text category_en tag_order dt "
        "customer_count",
        "ads_customer_tag_history": "dt customer_id tag_code tag_name_zh category_zh gained_dt lost_dt "
        "last_held_dt days_held held_since_window_start is_current",
        "ads_branch_daily": "dt branch_id customers loan_balance npl_balance deposit_balance npl_ratio "
        "branch_name",
        "ads_grain_member": "dt grain grain_id name_zh parent_id",
    }
    for table, columns in contract.items():
        got = [r[0] for r in query(built_warehouse["db"], f"describe {table}")]
        assert got == columns.split(), table
    # the profile is wide: its first columns are fixed, the other domains follow; masked PII only
    profile = [r[0] for r in query(built_warehouse["db"], "describe ads_customer_profile")]
    first = "dt customer_id customer_type branch_id manager_id village_code name_masked id_masked "
    first += "phone_masked age deposit_balance loan_balance overdue_days_max worst_five_class tag_count"
    assert profile[:15] == first.split() and len(profile) > 100
    assert not [c for c in profile if c.endswith("_token") or c in ("id_number", "phone", "customer_name")]


def test_rerun_gives_identical_rows(built_warehouse: dict, granary_env: Path) -> None:
    from granary.pipeline.transform import transform

    db = built_warehouse["db"]
    tables = ["ads_indicator_value", "ads_customer_tag", "ads_customer_profile", "ads_branch_daily"]

    def snapshot() -> dict[str, list[tuple]]:
        return {t: sorted(query(db, f"select * from {t}"), key=repr) for t in tables}

    before = snapshot()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRANARY_RUN_DIR", str(granary_env / "run"))
        config.settings.cache_clear()
        transform(BANK, RUN_DT)
    assert snapshot() == before
    assert not list(db.parent.glob(".*.building.duckdb*")), "temporary build files left behind"


def test_failed_build_leaves_the_warehouse_untouched(built_warehouse: dict, granary_env: Path) -> None:
    """A DWD day that breaks a dbt test (unknown customer type) fails the build; the old warehouse stays."""
    from granary.pipeline.transform import transform

    db = built_warehouse["db"]
    before = db.stat().st_mtime_ns, query(db, "select count(*) from ads_indicator_value")
    bad_day = RUN_DT + timedelta(days=1)
    for table in ("customer", "loan", "deposit_account"):
        rows = day_rows(BANK.code, "dwd", table, RUN_DT)
        if table == "customer":
            rows = rows.set_column(
                rows.schema.get_field_index("customer_type"),
                "customer_type",
                pa.array(["martian"] * rows.num_rows),
            )
        tables.write_day_arrow(rows, BANK.code, "dwd", table, bad_day)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("GRANARY_RUN_DIR", str(granary_env / "run"))
            config.settings.cache_clear()
            with pytest.raises(DataError, match=r"accepted_values.*customer_type") as failure:
                transform(BANK, bad_day)
        assert "tbank" in str(failure.value) and "skipped" in str(failure.value)
        assert (db.stat().st_mtime_ns, query(db, "select count(*) from ads_indicator_value")) == before
        assert not list(db.parent.glob(".*.building.duckdb*"))
        # nor a day of DWS history a later build would chain from
        assert dws_history.lake_days(BANK.code, bad_day + timedelta(days=1)) == list(DAYS)
        history = dws_history.history_tables(BANK.code)
        assert len(history) == len(
            dws_history.history_models(granary_env / "run" / "dbt" / "tbank" / "target" / "manifest.json")
        )
        for name in history:
            assert not tables.day_written(BANK.code, *tables.split_name(name), bad_day), name
    finally:
        for table in ("customer", "loan", "deposit_account"):
            tables.load(BANK.code, "dwd", table).delete(f"dt = '{bad_day}'")


def test_missing_dwd_day_is_a_data_error(built_warehouse: dict) -> None:
    from granary.pipeline.transform import transform

    with pytest.raises(DataError, match=r"no DWD day.*granary clean"):
        transform(BANK, date(2030, 1, 1))
