"""Ingest and clean on a real Spark Connect server, from small hand-written landing files.

Two banks: one exporting GBK, one UTF-8. Each file carries deliberate defects (bad check
digit, duplicate key, null key, unknown code, out-of-range value, bad date, broken row rule,
a record with an extra field), and the tests check every layer the contract defines.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import socket
from datetime import date
from pathlib import Path

import pytest
from support.lake import day_files, day_rows

from granary.catalog.sources import contract
from granary.core import config, paths
from granary.core.errors import DataError, EngineError
from granary.core.secrets import pii_key
from granary.core.tenants import Tenant
from granary.lake import tables
from granary.pipeline import pii
from granary.pipeline.clean import clean
from granary.pipeline.idcard import check_digit
from granary.pipeline.ingest import ingest

DAY = date(2026, 3, 2)
OTHER_DAY = date(2026, 3, 1)
GBK_BANK = Tenant(
    code="sparkgbk", name_zh="测试甲银行", name_en="Test GBK Bank", county_code="341122",
    county_zh="甲县", encoding="gbk", customers_sf1=100, branches=1,
)  # fmt: skip
UTF8_BANK = Tenant(
    code="sparkutf8", name_zh="测试乙银行", name_en="Test UTF-8 Bank", county_code="341021",
    county_zh="乙县", encoding="utf-8", customers_sf1=100, branches=1,
)  # fmt: skip


def resident_id(first17: str) -> str:
    return first17 + check_digit(first17)


ID_1 = resident_id("34112219800101001")
ID_2 = resident_id("34112219851231002")
ID_BAD = ID_1[:17] + ("0" if ID_1[17] != "0" else "1")  # wrong check digit
ID_OTHER = [resident_id(f"341122199001{i:02d}003") for i in range(1, 8)]
PHONE_1, PHONE_BAD = "13800138000", "2380013800"

CUSTOMER_HEADER = contract("customer").column_names
# (row, the rule it breaks or None); file order is the _source_row order.
CUSTOMERS = [
    (["C0000000001", "张三", ID_1, PHONE_1, "02", "1", "19800101", "B01", "M01", "341122100001",
      "安徽省河西县城关镇幸福村1号", "20200101"], None),
    (["C0000000002", "李四", ID_BAD, "13900139000", "01", "2", "19851231", "B01", "M01", "341122100001",
      "安徽省河西县城关镇幸福村2号", "20200101"], "resident_id_check:id_number"),
    (["C0000000001", "张三", ID_1, PHONE_1, "02", "1", "19800101", "B01", "M01", "341122100001",
      "安徽省河西县城关镇幸福村1号", "20200101"], "duplicate_key"),
    (["", "王五", ID_OTHER[0], "13700137000", "01", "1", "19900101", "B01", "M01", "", "", "20200101"],
     "not_null:customer_id"),
    (["C0000000005", "赵六", ID_OTHER[1], "13600136000", "09", "1", "19900102", "B01", "M01", "", "",
      "20200101"], "code:customer_type"),
    (["C0000000006", "钱七", ID_OTHER[2], "13500135000", "01", "2", "19901301", "B02", "M02", "", "",
      "20200101"], "cast:birth_date"),
    (["C0000000007", "孙八", ID_OTHER[3], PHONE_BAD, "03", "1", "19900104", "B02", "M02", "", "",
      "20200101"], "pattern:phone"),
    # Nullable fields empty, and an address with a comma inside quotes.
    (["C0000000008", "欧阳娜娜", ID_2, "", "04", "", "", "B02", "M02", "341122100002",
      "安徽省河西县,城关镇", "20210315"], None),
]  # fmt: skip
LOAN_HEADER = contract("loan").column_names
LOANS = [
    (["L000000000001", "C0000000001", "B01", "M01", "AGRI", "A", "Y", "50000.00", "20000.50", "0.0435",
      "20250101", "20270101", "0", "1"], None),
    (["L000000000002", "C0000000001", "B01", "M01", "BIZ", "C", "N", "80000.00", "80000.00", "0.0500",
      "20250101", "20270101", "5000", "3"], "range:overdue_days"),
    (["L000000000003", "C0000000008", "B02", "M02", "CONS", "B", "N", "10000.00", "12000.00", "0.0600",
      "20250101", "20260101", "0", "1"], "rule:balance_within_contract"),
    (["L000000000004", "C0000000008", "B02", "M02", "MORT", "D", "N", "300000.00", "250000.00", "0.0400",
      "20250101", "20450101", "0", "7"], "code:five_class"),
    (["L000000000005", "C0000000008", "B02", "M02", "AGRI", "A", "N", "30000.00", "30000.00", "0.0700",
      "20240601", "20260601", "95", "3"], None),
]  # fmt: skip
DEPOSIT_HEADER = contract("deposit_account").column_names
DEPOSITS = [
    (["D000000000001", "C0000000001", "B01", "DD", "20200101", "1234.56", "A"], None),
    (["D000000000002", "C0000000008", "B02", "TD", "20210315", "50000.00", "F"], None),
]
CLEAR_PII = {ID_1, ID_2, ID_BAD, *ID_OTHER, PHONE_1, PHONE_BAD, "13900139000", "张三", "欧阳娜娜"}


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def write_landing(tenant: Tenant, dt: date, table: str, text: str) -> Path:
    path = paths.landing_file(tenant.code, dt, table)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(tenant.encoding))
    return path


def write_day(tenant: Tenant, dt: date, extra_loan_line: str = "") -> dict[str, Path]:
    loans = csv_text(LOAN_HEADER, [r for r, _ in LOANS]) + extra_loan_line
    return {
        "customer": write_landing(
            tenant, dt, "customer", csv_text(CUSTOMER_HEADER, [r for r, _ in CUSTOMERS])
        ),
        "loan": write_landing(tenant, dt, "loan", loans),
        "deposit_account": write_landing(
            tenant, dt, "deposit_account", csv_text(DEPOSIT_HEADER, [r for r, _ in DEPOSITS])
        ),
    }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def day_file_hashes(bank: Tenant, layer: str, table: str, dt: date) -> dict[str, str]:
    """Data file -> content hash for every data file that holds one day of a lake table."""
    return {f: sha256(Path(f)) for f in day_files(bank.code, layer, table, dt)}


def read_rows(bank: Tenant, layer: str, table: str, dt: date) -> list[dict]:
    """The day's rows (without dt), in the order the day's data file holds them."""
    return day_rows(bank.code, layer, table, dt).to_pylist()


# A record with an unquoted comma in its address: one field too many.
MALFORMED_LOAN = (
    "L000000000006,C0000000001,B01,M01,AGRI,A,Y,1000.00,500.00,0.05,20250101,20260101,0,1,extra\r\n"
)


def clean_broken_day(bank: Tenant, dt: date, tables: list[str]) -> None:
    """Clean a fixture day built to break rules: its tiny customer table is mostly broken rows.

    That breaches the contract's max_quarantine_share, which fails the step only after every
    table's days and reconciliation are written — what the tests below then read.
    """
    with pytest.raises(DataError, match=r"customer .* over the contract's max_quarantine_share"):
        clean(bank, dt, tables)


@pytest.fixture(scope="module")
def banks_cleaned(spark_remote: str, granary_env: Path) -> dict[str, dict[str, Path]]:
    """Both banks' DAY ingested and cleaned, and the GBK bank's OTHER_DAY too."""
    landed = {}
    for bank in (GBK_BANK, UTF8_BANK):
        landed[bank.code] = write_day(bank, DAY, extra_loan_line=MALFORMED_LOAN)
        ingest(bank, DAY, list(landed[bank.code]))
        clean_broken_day(bank, DAY, list(landed[bank.code]))
    write_day(GBK_BANK, OTHER_DAY)
    ingest(GBK_BANK, OTHER_DAY, ["customer"])
    clean_broken_day(GBK_BANK, OTHER_DAY, ["customer"])
    return landed


pytestmark = pytest.mark.slow


@pytest.mark.parametrize("bank", [GBK_BANK, UTF8_BANK], ids=lambda b: b.encoding)
def test_ods_is_typed_with_lineage(banks_cleaned, bank: Tenant) -> None:
    rows = read_rows(bank, "ods", "customer", DAY)
    assert [r["_source_row"] for r in rows] == list(range(1, len(CUSTOMERS) + 1))
    assert {r["_source_file"] for r in rows} == {f"landing/{bank.code}/{DAY}/customer.csv"}
    first = rows[0]
    assert first["customer_name"] == "张三"  # decoded from the bank's encoding
    assert first["id_number"] == ID_1  # clear PII stays in ODS only
    assert first["birth_date"] == date(1980, 1, 1)
    assert first["_cast_errors"] is None
    assert rows[5]["birth_date"] is None and rows[5]["_cast_errors"] == "birth_date"
    assert rows[7]["address"] == "安徽省河西县,城关镇"
    assert rows[7]["phone"] is None and rows[7]["gender"] is None
    schema = day_rows(bank.code, "ods", "loan", DAY).schema
    assert str(schema.field("balance").type) == "decimal128(18, 2)"
    assert str(schema.field("overdue_days").type) == "int32"
    loans = read_rows(bank, "ods", "loan", DAY)
    assert loans[-1]["_source_row"] == len(LOANS) + 1 and loans[-1]["_cast_errors"].startswith("_row")


@pytest.mark.parametrize("table", ["customer", "loan", "deposit_account"])
def test_quarantine_and_reconciliation(banks_cleaned, table: str) -> None:
    defined = {"customer": CUSTOMERS, "loan": LOANS, "deposit_account": DEPOSITS}[table]
    expected = {i + 1: rule for i, (_, rule) in enumerate(defined) if rule}
    if table == "loan":
        expected[len(LOANS) + 1] = "malformed_row"
    for bank in (GBK_BANK, UTF8_BANK):
        quarantined = read_rows(bank, "quarantine", table, DAY)
        assert {r["_source_row"]: r["_rule"] for r in quarantined} == expected
        recon = json.loads(paths.reconciliation_file(bank.code, table, DAY).read_text(encoding="utf-8"))
        rows_in = len(defined) + (1 if table == "loan" else 0)
        by_rule: dict[str, int] = {}
        for rule in expected.values():
            by_rule[rule] = by_rule.get(rule, 0) + 1
        assert recon == {
            "tenant": bank.code,
            "table": table,
            "dt": DAY.isoformat(),
            "rows_in": rows_in,
            "rows_clean": rows_in - len(expected),
            "rows_quarantined": len(expected),
            "by_rule": dict(sorted(by_rule.items())),
        }
        assert recon["rows_in"] == recon["rows_clean"] + recon["rows_quarantined"]
        clean_rows = read_rows(bank, "dwd", table, DAY)
        assert len(clean_rows) == recon["rows_clean"]


def test_dwd_carries_standard_codes_and_tokens(banks_cleaned) -> None:
    key = pii_key(GBK_BANK.code)
    customers = read_rows(GBK_BANK, "dwd", "customer", DAY)
    assert [c["customer_id"] for c in customers] == ["C0000000001", "C0000000008"]
    first, second = customers
    assert first["_source_row"] == 1  # the duplicate at row 3 was the one quarantined
    assert first["customer_type"] == "farmer_household" and first["gender"] == "male"
    assert first["id_number_token"] == pii.token(key, ID_1)
    assert first["id_number_masked"] == ID_1[:3] + "*" * 11 + ID_1[-4:]
    assert first["phone_token"] == pii.token(key, PHONE_1) and first["phone_masked"] == "138****8000"
    assert first["customer_name_masked"] == "张*" and first["address_masked"] == "安徽省河西县****"
    assert second["customer_type"] == "small_enterprise" and second["gender"] is None
    assert second["phone_token"] is None and second["phone_masked"] is None
    for column in ("customer_name", "id_number", "phone", "address", "_source_file", "_cast_errors"):
        assert column not in first
    # Same person, another bank: another key, another token.
    other = read_rows(UTF8_BANK, "dwd", "customer", DAY)[0]
    assert other["id_number_token"] == pii.token(pii_key(UTF8_BANK.code), ID_1) != first["id_number_token"]

    loans = read_rows(GBK_BANK, "dwd", "loan", DAY)
    assert [(r["loan_id"], r["product_code"], r["five_class"], r["is_agricultural"]) for r in loans] == [
        ("L000000000001", "agricultural", "normal", True),
        ("L000000000005", "agricultural", "substandard", False),
    ]
    deposits = read_rows(GBK_BANK, "dwd", "deposit_account", DAY)
    assert [(r["product_code"], r["status"]) for r in deposits] == [("demand", "active"), ("time", "frozen")]
    # No rejected deposit rows: the quarantine day is still written, empty (and holds no data file).
    assert tables.day_written(GBK_BANK.code, "quarantine", "deposit_account", DAY)
    assert read_rows(GBK_BANK, "quarantine", "deposit_account", DAY) == []


def test_no_clear_pii_after_ods(banks_cleaned) -> None:
    for bank in (GBK_BANK, UTF8_BANK):
        for layer in ("dwd", "quarantine"):
            for table in ("customer", "loan"):
                for row in read_rows(bank, layer, table, DAY):
                    leaked = {v for v in row.values() if isinstance(v, str)} & CLEAR_PII
                    assert not leaked, (layer, table, row)
    quarantined = read_rows(GBK_BANK, "quarantine", "customer", DAY)
    bad_id = next(r for r in quarantined if r["_rule"] == "resident_id_check:id_number")
    assert bad_id["id_number_masked"] == ID_BAD[:3] + "*" * 11 + ID_BAD[-4:]
    assert bad_id["customer_type"] == "01"  # quarantine keeps the source code that was seen


def test_rerun_replaces_only_that_day_with_the_same_rows(banks_cleaned) -> None:
    """A rerun replaces the day in a new commit (new data files) with the same rows, in the same
    order; the other day's rows and data files, in every layer, are untouched."""
    raw_before = {t: sha256(p) for t, p in banks_cleaned[GBK_BANK.code].items()}
    layers = ("dwd", "quarantine")
    rows_before = {layer: read_rows(GBK_BANK, layer, "customer", DAY) for layer in layers}
    files_before = {layer: day_file_hashes(GBK_BANK, layer, "customer", DAY) for layer in layers}
    other_before = {
        layer: (
            read_rows(GBK_BANK, layer, "customer", OTHER_DAY),
            day_file_hashes(GBK_BANK, layer, "customer", OTHER_DAY),
        )
        for layer in ("ods", *layers)
    }
    for layer in layers:
        assert rows_before[layer], layer  # the fixture day has clean and quarantined customers
        assert len(files_before[layer]) == 1, files_before[layer]  # the day is one ordered file
        assert other_before[layer][1], layer  # … and so has the other day

    ingest(GBK_BANK, DAY, ["customer"])
    clean_broken_day(GBK_BANK, DAY, ["customer"])

    for layer in layers:
        files_after = day_file_hashes(GBK_BANK, layer, "customer", DAY)
        assert len(files_after) == 1, files_after
        assert not set(files_after) & set(files_before[layer])  # really rewritten, not left alone
        assert read_rows(GBK_BANK, layer, "customer", DAY) == rows_before[layer]  # same rows, same order
    for layer, (rows, files) in other_before.items():
        assert read_rows(GBK_BANK, layer, "customer", OTHER_DAY) == rows, layer
        # The same data files, with the same bytes.
        assert day_file_hashes(GBK_BANK, layer, "customer", OTHER_DAY) == files, layer
    assert {t: sha256(p) for t, p in banks_cleaned[GBK_BANK.code].items()} == raw_before  # raw untouched


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "missing column",
            csv_text(DEPOSIT_HEADER[:-1], [r[:-1] for r, _ in DEPOSITS]),
            "missing columns ['status']",
        ),
        (
            "extra column",
            csv_text([*DEPOSIT_HEADER, "memo"], [[*r, "x"] for r, _ in DEPOSITS]),
            "unexpected columns",
        ),
        ("empty file", "", "empty file"),
        ("header only", csv_text(DEPOSIT_HEADER, []), "no data rows"),
        ("truncated", csv_text(DEPOSIT_HEADER, [r for r, _ in DEPOSITS])[:-9], "cut off mid-record"),
    ],
)
def test_unusable_file_fails_naming_it_and_stays(spark_remote, granary_env, name, content, message) -> None:
    dt = date(2026, 4, 1)
    path = write_landing(UTF8_BANK, dt, "deposit_account", content)
    digest = sha256(path)
    with pytest.raises(DataError) as failure:
        ingest(UTF8_BANK, dt, ["deposit_account"])
    assert f"landing/{UTF8_BANK.code}/{dt}/deposit_account.csv" in str(failure.value)
    assert message in str(failure.value) and "left in place" in str(failure.value)
    assert sha256(path) == digest
    assert not tables.day_written(UTF8_BANK.code, "ods", "deposit_account", dt)


def test_wrong_encoding_fails(spark_remote, granary_env) -> None:
    dt = date(2026, 4, 2)
    text = csv_text(CUSTOMER_HEADER, [r for r, _ in CUSTOMERS])
    path = write_landing(UTF8_BANK, dt, "customer", text)  # UTF-8 bytes …
    with pytest.raises(DataError, match="UTF-8 but this bank exports gbk"):
        ingest(GBK_BANK.model_copy(update={"code": UTF8_BANK.code}), dt, ["customer"])  # … for a GBK bank
    path.write_bytes(text.encode("gbk"))  # and GBK bytes for a UTF-8 bank
    with pytest.raises(DataError, match="line 2 is not valid utf-8"):
        ingest(UTF8_BANK, dt, ["customer"])


def test_clean_without_ods_names_the_ingest_to_run(spark_remote, granary_env) -> None:
    with pytest.raises(
        DataError,
        match="no ODS day 2026-05-01 for sparkutf8 loan; "
        "run `granary ingest --tenant sparkutf8 --date 2026-05-01",
    ):
        clean(UTF8_BANK, date(2026, 5, 1), ["loan"])


def test_no_server_is_an_engine_error(granary_env, monkeypatch) -> None:
    from granary.pipeline.spark import get_session

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("GRANARY_SPARK_REMOTE", f"sc://127.0.0.1:{port}")
    config.settings.cache_clear()
    try:
        with pytest.raises(EngineError, match="granary spark start"):
            get_session()
    finally:
        monkeypatch.undo()
        config.settings.cache_clear()


def test_columns_in_another_order_land_by_name(spark_remote, granary_env) -> None:
    dt = date(2026, 4, 3)
    order = list(reversed(DEPOSIT_HEADER))
    rows = [[dict(zip(DEPOSIT_HEADER, r, strict=True))[c] for c in order] for r, _ in DEPOSITS]
    write_landing(UTF8_BANK, dt, "deposit_account", csv_text(order, rows))
    ingest(UTF8_BANK, dt, ["deposit_account"])
    ods = read_rows(UTF8_BANK, "ods", "deposit_account", dt)
    assert [(r["account_id"], str(r["balance"]), r["status"]) for r in ods] == [
        ("D000000000001", "1234.56", "A"),
        ("D000000000002", "50000.00", "F"),
    ]
