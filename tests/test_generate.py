"""The synthetic data generator: deterministic, true to the contracts, realistic, and breakable."""

from __future__ import annotations

import contextlib
import csv
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from granary.catalog.sources import Column, code_tables, contracts
from granary.core import config
from granary.core.paths import landing_file
from granary.core.tenants import Tenant, get_tenant, load_tenants
from granary.generate import DEFECT_KINDS, TABLES, generate, inject_defect
from granary.generate.bank import Bank, day_number
from granary.generate.customers import build
from granary.generate.loans import Loans
from granary.pipeline import idcard

DAY = date(2026, 11, 20)


@pytest.fixture(scope="module")
def banks() -> dict[str, Tenant]:
    return {code: get_tenant(code) for code in ("qingshan", "hexi")}


@pytest.fixture
def use_landing(monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """Point the landing zone at a directory for the duration of a test."""

    def point(root: Path) -> None:
        monkeypatch.setenv("GRANARY_LANDING_ROOT", str(root))
        config.settings.cache_clear()

    yield point
    config.settings.cache_clear()


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory, banks: dict[str, Tenant]) -> Iterator[Path]:
    """Both banks, three consecutive days, scale 0.1 (~2.4k and 1.2k customers)."""
    root = tmp_path_factory.mktemp("landing")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRANARY_LANDING_ROOT", str(root))
        config.settings.cache_clear()
        generate(list(banks.values()), [DAY - timedelta(days=i) for i in (2, 1, 0)], scale=0.1, seed=42)
    config.settings.cache_clear()
    yield root


def read(root: Path, bank: Tenant, table: str, dt: date = DAY) -> tuple[list[str], list[dict[str, str]]]:
    path = root / bank.code / dt.isoformat() / f"{table}.csv"
    with path.open(encoding=bank.encoding, newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


# --- determinism --------------------------------------------------------------------------


def test_same_inputs_give_identical_bytes_whatever_else_is_in_the_call(
    tmp_path: Path, use_landing, banks: dict[str, Tenant]
) -> None:
    use_landing(tmp_path / "alone")
    alone = generate([banks["qingshan"]], [DAY], scale=0.02, seed=7)
    use_landing(tmp_path / "crowded")
    crowded = generate(
        [banks["hexi"], banks["qingshan"]],
        [DAY - timedelta(days=i) for i in (3, 2, 1, 0)],
        scale=0.02,
        seed=7,
    )
    use_landing(tmp_path / "other_seed")
    generate([banks["qingshan"]], [DAY], scale=0.02, seed=8)
    assert alone["qingshan"] == crowded["qingshan"]
    for table in TABLES:
        one = (tmp_path / "alone" / "qingshan" / DAY.isoformat() / f"{table}.csv").read_bytes()
        two = (tmp_path / "crowded" / "qingshan" / DAY.isoformat() / f"{table}.csv").read_bytes()
        other = (tmp_path / "other_seed" / "qingshan" / DAY.isoformat() / f"{table}.csv").read_bytes()
        assert one == two, f"{table}.csv differs when generated alongside other banks and days"
        assert one != other, f"{table}.csv ignores the seed"


def test_files_land_where_paths_says(tmp_path: Path, use_landing, banks: dict[str, Tenant]) -> None:
    use_landing(tmp_path)
    counts = generate([banks["hexi"]], [DAY], scale=0.01, seed=1)
    for table in TABLES:
        path = landing_file("hexi", DAY, table)
        assert path.is_file()
        assert sum(1 for _ in path.open(encoding="gbk")) - 1 == counts["hexi"][table]
    assert not list(tmp_path.rglob("*.tmp"))


# --- contracts ----------------------------------------------------------------------------


def test_headers_are_the_contract_columns(sample: Path, banks: dict[str, Tenant]) -> None:
    for bank in banks.values():
        for table in TABLES:
            header, rows = read(sample, bank, table)
            assert header == contracts()[table].column_names
            assert rows


def test_a_contract_column_the_generator_lacks_fails_loudly(
    tmp_path: Path, use_landing, monkeypatch: pytest.MonkeyPatch, banks: dict[str, Tenant]
) -> None:
    import granary.generate as gen

    real = contracts()
    grown = real["loan"].model_copy(
        update={"columns": [*real["loan"].columns, Column(name="collateral_value", type="decimal(18,2)")]}
    )
    monkeypatch.setattr(gen, "contracts", lambda: {**real, "loan": grown})
    use_landing(tmp_path)
    with pytest.raises(RuntimeError, match="collateral_value"):
        generate([banks["qingshan"]], [DAY], scale=0.01, seed=1)


def _violations(col: Column, value: str) -> str | None:
    if value == "":
        return None if col.nullable else "empty"
    if col.pattern and not re.match(col.pattern, value):
        return "pattern"
    if col.codes and value not in code_tables()[col.codes].values:
        return "code"
    if col.type == "date":
        try:
            datetime.strptime(value, "%Y%m%d")
        except ValueError:
            return "date"
    if col.type.startswith("decimal") or col.type in ("int", "bigint"):
        number = float(value)
        if col.range and not col.range[0] <= number <= col.range[1]:
            return "range"
        if col.type.startswith("decimal"):
            scale = int(col.type.rstrip(")").split(",")[1])
            if "." in value and len(value.split(".")[1]) > scale:
                return "scale"
    if col.type == "timestamp":
        try:
            datetime.strptime(value, "%Y%m%d%H%M%S")
        except ValueError:
            return "timestamp"
    if col.check == "resident_id" and not idcard.is_valid(value):
        return "resident_id"
    return None


def test_every_value_passes_its_contract(sample: Path, banks: dict[str, Tenant]) -> None:
    """Every column of every table (the row rules are checked on Spark in test_sources_pipeline)."""
    for bank in banks.values():
        for table in TABLES:
            contract = contracts()[table]
            _, rows = read(sample, bank, table)
            bad = [
                (i + 1, c.name, row[c.name], why)
                for i, row in enumerate(rows)
                for c in contract.columns
                if (why := _violations(c, row[c.name]))
            ]
            assert not bad, f"{bank.code}/{table}: {bad[:5]}"
            keys = Counter(tuple(row[k] for k in contract.keys) for row in rows)
            assert keys.most_common(1)[0][1] == 1, f"{bank.code}/{table}: duplicate keys"


def test_loans_keep_the_row_rules(sample: Path, banks: dict[str, Tenant]) -> None:
    for bank in banks.values():
        _, loans = read(sample, bank, "loan")
        for loan in loans:
            assert 0 < float(loan["balance"]) <= float(loan["contract_amount"]), loan
            assert loan["maturity_date"] >= loan["start_date"], loan
            assert loan["start_date"] <= DAY.strftime("%Y%m%d"), loan
            assert 0.035 <= float(loan["interest_rate"]) <= 0.12, loan
            assert 10_000 <= float(loan["contract_amount"]) <= 3_000_000, loan


def test_customers_are_coherent_people(sample: Path, banks: dict[str, Tenant]) -> None:
    for bank in banks.values():
        _, customers = read(sample, bank, "customer")
        ids = [c["id_number"] for c in customers]
        assert len(set(ids)) == len(ids), "resident ID numbers repeat"
        for c in customers:
            number = c["id_number"]
            assert number[:6] == bank.county_code
            assert c["village_code"].startswith(bank.county_code)
            assert c["address"].startswith(bank.county_zh)
            assert re.match(r"^1[3-9]\d{9}$", c["phone"]) or c["phone"] == ""
            assert c["open_date"] <= DAY.strftime("%Y%m%d")
            if c["customer_type"] == "04":  # a small enterprise: its legal representative's ID
                assert c["gender"] == "" and c["birth_date"] == ""
                continue
            assert c["gender"] == idcard.gender_of(number)
            assert c["birth_date"] == number[6:14]
            assert 1950 <= int(c["birth_date"][:4]) <= 2003
            assert 2 <= len(c["customer_name"]) <= 3
        branches = {c["branch_id"] for c in customers}
        assert branches == {f"{bank.county_code}{i:03d}" for i in range(1, bank.branches + 1)}
        townships = {c["village_code"][6:9] for c in customers}
        villages = {c["village_code"] for c in customers}
        assert 10 <= len(townships) <= max(10, bank.branches)
        assert 6 * len(townships) <= len(villages) <= 10 * len(townships)


def test_managers_each_serve_one_branch(sample: Path, banks: dict[str, Tenant]) -> None:
    bank = banks["qingshan"]
    _, customers = read(sample, bank, "customer")
    branches_of = {}
    for c in customers:
        branches_of.setdefault(c["manager_id"], set()).add(c["branch_id"])
    assert all(len(b) == 1 for b in branches_of.values())
    assert all(re.match(r"^M\d{10}$", m) for m in branches_of)
    assert 100 <= len(customers) / len(branches_of) <= 200


# --- realism ------------------------------------------------------------------------------


def test_sizes_and_mix_look_like_a_county_bank(sample: Path, banks: dict[str, Tenant]) -> None:
    for bank in banks.values():
        _, customers = read(sample, bank, "customer")
        _, accounts = read(sample, bank, "deposit_account")
        _, loans = read(sample, bank, "loan")
        expected = round(bank.customers_sf1 * 0.1)
        assert expected <= len(customers) <= expected * 1.1  # + this year's growth
        assert 1.2 <= len(accounts) / len(customers) <= 1.4
        borrowers = {loan["customer_id"] for loan in loans}
        assert 0.28 <= len(borrowers) / len(customers) <= 0.40
        types = Counter(c["customer_type"] for c in customers)
        assert types["02"] > types["01"] > types["03"] > types["04"] > 0
        assert {a["product_code"] for a in accounts} == {"DD", "TD"}
        assert {loan["product_code"] for loan in loans} == {"AGRI", "BIZ", "CONS", "MORT"}
        assert {loan["guarantee_type"] for loan in loans} == {"A", "B", "C", "D"}


def test_five_class_follows_overdue_days(sample: Path, banks: dict[str, Tenant]) -> None:
    for bank in banks.values():
        _, loans = read(sample, bank, "loan")
        current = [x for x in loans if x["overdue_days"] == "0"]
        assert sum(x["five_class"] == "1" for x in current) / len(current) > 0.97
        assert {x["five_class"] for x in current} <= {"1", "2"}
        for x in loans:
            days = int(x["overdue_days"])
            if days:
                expected = "2" if days <= 90 else "3" if days <= 180 else "4" if days <= 360 else "5"
                assert x["five_class"] == expected, x


@pytest.mark.parametrize("code", ["qingshan", "hexi"])
def test_npl_share_of_balance_is_plausible_at_full_scale(code: str) -> None:
    bank = Bank(get_tenant(code), 1.0, 42)
    day = day_number(DAY)
    loans = Loans(bank, build(bank, day)).rows(day)
    balance = loans["balance"].astype(float)
    npl = balance[np.isin(loans["five_class"], ["3", "4", "5"])].sum() / balance.sum()
    assert 0.015 <= npl <= 0.04, f"NPL ratio {npl:.2%}"
    assert set(loans["five_class"]) == {"1", "2", "3", "4", "5"}


def test_agricultural_loans_start_mostly_in_spring(sample: Path, banks: dict[str, Tenant]) -> None:
    _, loans = read(sample, banks["qingshan"], "loan")
    months = Counter(int(x["start_date"][4:6]) for x in loans if x["product_code"] == "AGRI")
    assert sum(months[m] for m in (3, 4, 5)) / sum(months.values()) > 0.5
    assert all(x["is_agricultural"] == "Y" for x in loans if x["product_code"] == "AGRI")


def test_gbk_bank_writes_gbk(sample: Path, banks: dict[str, Tenant]) -> None:
    gbk = (sample / "hexi" / DAY.isoformat() / "customer.csv").read_bytes()
    assert "河西县".encode("gbk") in gbk
    with pytest.raises(UnicodeDecodeError):
        gbk.decode("utf-8")
    utf8 = (sample / "qingshan" / DAY.isoformat() / "customer.csv").read_bytes()
    assert "青山县" in utf8.decode("utf-8")


def test_small_scale_still_has_fifty_customers(tmp_path: Path, use_landing, banks: dict[str, Tenant]) -> None:
    use_landing(tmp_path)
    counts = generate([banks["hexi"]], [date(2026, 1, 1)], scale=0.0001, seed=3)
    assert counts["hexi"]["customer"] == 50


# --- days evolve ---------------------------------------------------------------------------


def _by_key(rows: list[dict[str, str]], key: str) -> dict[str, dict[str, str]]:
    return {r[key]: r for r in rows}


def test_consecutive_days_agree(sample: Path, banks: dict[str, Tenant]) -> None:
    bank = banks["qingshan"]
    days = [DAY - timedelta(days=i) for i in (2, 1, 0)]
    for before, after in zip(days, days[1:], strict=False):
        stamp = after.strftime("%Y%m%d")
        old = _by_key(read(sample, bank, "customer", before)[1], "customer_id")
        new = _by_key(read(sample, bank, "customer", after)[1], "customer_id")
        assert old.keys() <= new.keys() and all(new[k] == v for k, v in old.items())
        assert all(new[k]["open_date"] == stamp for k in new.keys() - old.keys())

        old_acc = _by_key(read(sample, bank, "deposit_account", before)[1], "account_id")
        new_acc = _by_key(read(sample, bank, "deposit_account", after)[1], "account_id")
        assert old_acc.keys() <= new_acc.keys()
        demand = [k for k, a in old_acc.items() if a["product_code"] == "DD" and a["status"] == "A"]
        assert sum(old_acc[k]["balance"] != new_acc[k]["balance"] for k in demand) > 0.9 * len(demand)

        old_loans = _by_key(read(sample, bank, "loan", before)[1], "loan_id")
        new_loans = _by_key(read(sample, bank, "loan", after)[1], "loan_id")
        for k in new_loans.keys() - old_loans.keys():
            assert new_loans[k]["start_date"] == stamp
        for k in old_loans.keys() - new_loans.keys():  # repaid at maturity, or written off
            gone = old_loans[k]
            assert gone["maturity_date"] == stamp or int(gone["overdue_days"]) >= 540, gone
        fixed = ("customer_id", "product_code", "contract_amount", "interest_rate", "start_date")
        for k in old_loans.keys() & new_loans.keys():
            a, b = old_loans[k], new_loans[k]
            assert all(a[f] == b[f] for f in fixed)
            assert float(b["balance"]) <= float(a["balance"])
            if int(b["overdue_days"]) > 1:
                assert int(b["overdue_days"]) == int(a["overdue_days"]) + 1


def test_a_month_brings_new_customers_loans_and_delinquencies(
    tmp_path: Path, use_landing, banks: dict[str, Tenant]
) -> None:
    use_landing(tmp_path)
    first, last = date(2026, 3, 1), date(2026, 3, 31)
    generate([banks["qingshan"]], [first, last], scale=0.1, seed=5)
    customers = [read(tmp_path, banks["qingshan"], "customer", d)[1] for d in (first, last)]
    loans = [_by_key(read(tmp_path, banks["qingshan"], "loan", d)[1], "loan_id") for d in (first, last)]
    assert len(customers[1]) - len(customers[0]) >= 10
    new_loans = loans[1].keys() - loans[0].keys()
    assert sum(loans[1][k]["product_code"] == "AGRI" for k in new_loans) >= 20  # spring lending
    newly_late = [
        k
        for k in loans[1].keys() & loans[0].keys()
        if loans[0][k]["overdue_days"] == "0" and loans[1][k]["overdue_days"] != "0"
    ]
    assert newly_late


# --- defects -------------------------------------------------------------------------------


@pytest.fixture
def victim(tmp_path: Path, sample: Path, banks: dict[str, Tenant]):
    def copy(code: str, table: str) -> Path:
        target = tmp_path / f"{table}.csv"
        shutil.copy(sample / code / DAY.isoformat() / f"{table}.csv", target)
        return target

    return copy


def _rows(path: Path, encoding: str) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding=encoding, newline="") as f:
        reader = csv.reader(f)
        return next(reader), list(reader)


def _row_named(description: str) -> int:
    return int(re.search(r"data row (\d+)", description).group(1))  # type: ignore[union-attr]


@pytest.mark.parametrize("code", ["qingshan", "hexi"])
@pytest.mark.parametrize(
    ("kind", "table"),
    [
        ("bad_id_check_digit", "customer"),
        ("duplicate_key", "loan"),
        ("null_key", "deposit_account"),
        ("out_of_range_amount", "loan"),
        ("invalid_code", "customer"),
        ("wrong_date", "deposit_account"),
    ],
)
def test_row_defects_break_exactly_one_named_row(
    victim, banks: dict[str, Tenant], code: str, kind: str, table: str
) -> None:
    bank = banks[code]
    path = victim(code, table)
    _, before = _rows(path, bank.encoding)
    said = inject_defect(path, kind, encoding=bank.encoding, seed=3)
    header, after = _rows(path, bank.encoding)
    contract = contracts()[table]
    row = _row_named(said) - 1
    broken = [
        (i, c.name)
        for i, r in enumerate(after)
        for c in contract.columns
        if _violations(c, r[header.index(c.name)])
    ]
    if kind == "duplicate_key":
        assert len(after) == len(before) + 1 and after[row] == after[row + 1]
        key = header.index(contract.keys[0])
        assert Counter(r[key] for r in after).most_common(1)[0][1] == 2
        return
    expected_column = {
        "bad_id_check_digit": "id_number",
        "null_key": contract.keys[0],
        "out_of_range_amount": "balance",
        "invalid_code": "customer_type",
        "wrong_date": "open_date",
    }[kind]
    assert broken == [(row, expected_column)], said
    assert expected_column in said
    assert len(after) == len(before)


@pytest.mark.parametrize("code", ["qingshan", "hexi"])
def test_column_defects_change_the_header(victim, banks: dict[str, Tenant], code: str) -> None:
    bank = banks[code]
    names = contracts()["loan"].column_names
    missing = victim(code, "loan")
    said = inject_defect(missing, "missing_column", encoding=bank.encoding, seed=1)
    header, rows = _rows(missing, bank.encoding)
    gone = set(names) - set(header)
    assert len(gone) == 1 and gone.pop() in said and all(len(r) == len(header) for r in rows)

    customer = victim(code, "customer")
    inject_defect(customer, "extra_column", encoding=bank.encoding)
    header, rows = _rows(customer, bank.encoding)
    assert header == [*contracts()["customer"].column_names, "remark"]
    assert all(len(r) == len(header) for r in rows)


@pytest.mark.parametrize("code", ["qingshan", "hexi"])
def test_file_defects(victim, banks: dict[str, Tenant], code: str) -> None:
    bank = banks[code]
    cut = victim(code, "deposit_account")
    size = cut.stat().st_size
    _, whole = _rows(cut, bank.encoding)
    said = inject_defect(cut, "truncated_file", encoding=bank.encoding, seed=2)
    data = cut.read_bytes()
    assert 0 < len(data) < size and not data.endswith(b"\n")
    _, rows = _rows(cut, bank.encoding)
    kept = int(re.search(r"(\d+) whole data rows", said).group(1))  # type: ignore[union-attr]
    assert rows[:kept] == whole[:kept] and len(rows) == kept + 1
    assert rows[-1] != whole[kept]  # the partial row

    empty = victim(code, "loan")
    inject_defect(empty, "empty_file", encoding=bank.encoding)
    assert empty.stat().st_size == 0

    wrong = victim(code, "customer")
    original = wrong.read_bytes().decode(bank.encoding)
    said = inject_defect(wrong, "wrong_encoding", encoding=bank.encoding)
    raw = wrong.read_bytes()
    other = "gbk" if bank.encoding == "utf-8" else "utf-8"
    assert raw.decode(other) == original and other in said
    # Either the bytes are not valid in the declared encoding at all, or they decode to mojibake.
    with contextlib.suppress(UnicodeDecodeError):
        assert raw.decode(bank.encoding) != original


def test_defects_that_cannot_apply_say_so(victim, banks: dict[str, Tenant]) -> None:
    with pytest.raises(ValueError, match="resident-ID"):
        inject_defect(victim("qingshan", "loan"), "bad_id_check_digit", encoding="utf-8")
    with pytest.raises(ValueError, match="ASCII"):
        inject_defect(victim("qingshan", "deposit_account"), "wrong_encoding", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown defect"):
        inject_defect(victim("qingshan", "loan"), "cosmic_ray", encoding="utf-8")
    assert len(DEFECT_KINDS) == 11


# --- the other source tables agree with customers, accounts and loans ---------------------


def _ids(rows: list[dict[str, str]], key: str) -> set[str]:
    return {r[key] for r in rows}


def test_every_table_refers_to_the_same_bank(sample: Path, banks: dict[str, Tenant]) -> None:
    for bank in banks.values():
        t = {table: read(sample, bank, table)[1] for table in TABLES}
        customers = _by_key(t["customer"], "customer_id")
        accounts = _by_key(t["deposit_account"], "account_id")
        loans = _by_key(t["loan"], "loan_id")
        branches = _ids(t["branch"], "branch_id")
        assert len(branches) == bank.branches
        assert _ids(t["customer"], "branch_id") <= branches
        assert _ids(t["customer"], "manager_id") | _ids(t["loan"], "manager_id") <= _ids(
            t["staff"], "staff_id"
        )
        assert _ids(t["staff"], "branch_id") == branches
        for txn in t["transaction"]:
            account = accounts[txn["account_id"]]
            assert account["customer_id"] == txn["customer_id"] and account["status"] == "A", txn
        for card in t["bank_card"]:
            assert accounts[card["account_id"]]["customer_id"] == card["customer_id"]
        for r in t["repayment"]:
            loan = loans[r["loan_id"]]
            assert (
                r["customer_id"] == loan["customer_id"] and loan["start_date"] < r["due_date"] <= "20261120"
            )
            assert (r["overdue_flag"] == "Y") == (r["paid_date"] == "")
            if r["overdue_flag"] == "Y":
                assert int(loan["overdue_days"]) > 0, (r, loan)
        lines = {r["customer_id"]: r for r in t["credit_line"]}
        for loan in t["loan"]:
            line = lines[loan["customer_id"]]
            assert float(line["used_amount"]) == float(loan["balance"]) <= float(line["line_amount"])
        users = _by_key(t["mobile_banking_user"], "user_id")
        for user in users.values():
            assert customers[user["customer_id"]]["phone"] == user["phone"]
        for a in t["mobile_banking_activity"]:
            assert users[a["user_id"]]["last_login_time"].startswith("20261120"), a
        households = _by_key(t["grid_household"], "household_id")
        for h in households.values():
            head = customers[h["head_customer_id"]]
            assert head["customer_type"] == "02" and head["village_code"] == h["village_code"]
        members = Counter(m["household_id"] for m in t["grid_member"])
        assert all(members[k] == int(h["members_count"]) for k, h in households.items())
        for m in t["grid_member"]:
            if m["relation"] == "01":
                head = customers[m["customer_id"]]
                assert (m["member_name"], m["id_number"]) == (head["customer_name"], head["id_number"])
        for table in ("grid_land", "grid_livestock", "grid_income"):
            assert _ids(t[table], "household_id") <= households.keys()
        villages = _by_key(t["village_credit_rating"], "village_code")
        assert _ids(t["customer"], "village_code") <= villages.keys()
        surveyed = Counter(h["village_code"] for h in households.values())
        assert all(int(v["households_surveyed"]) == surveyed[k] for k, v in villages.items())
        for h in households.values():
            assert (h["credit_village"] == "Y") == (villages[h["village_code"]]["rating"] != "")


def test_transactions_look_like_a_county_bank(sample: Path, banks: dict[str, Tenant]) -> None:
    for bank in banks.values():
        _, customers = read(sample, bank, "customer")
        _, txns = read(sample, bank, "transaction")
        assert 1.6 <= len(txns) / len(customers) <= 2.4
        channels = Counter(x["channel"] for x in txns)
        assert set(channels) == {"CNT", "ATM", "POS", "MB", "IB", "AGT"}
        assert channels["MB"] > channels["IB"] and channels["AGT"] > channels["IB"]
        assert all(x["txn_time"][:8] == x["txn_date"] == "20261120" for x in txns)
        atm = [float(x["amount"]) for x in txns if x["channel"] == "ATM"]
        assert all(a % 100 == 0 for a in atm)


def test_the_province_has_51_banks_that_vary_like_real_ones() -> None:
    banks = load_tenants()
    assert len(banks) == 51
    assert len({b.county_code for b in banks}) == 51 and all(b.county_code.startswith("34") for b in banks)
    assert len({b.name_zh for b in banks}) == 51
    sizes = sorted(b.customers_sf1 for b in banks)
    assert 950_000 <= sum(sizes) <= 1_050_000
    assert sum(s >= 40_000 for s in sizes) >= 3 and sum(s <= 8_000 for s in sizes) >= 3
    assert sum(10_000 <= s <= 25_000 for s in sizes) >= 35
    assert {b.encoding for b in banks} == {"utf-8", "gbk"}
    for b in banks:
        assert 6 <= b.branches <= 30
        assert b.name_zh.endswith(("农村商业银行", "农商银行")) and b.county_zh.endswith("县")
    big, small = max(banks, key=lambda b: b.customers_sf1), min(banks, key=lambda b: b.customers_sf1)
    assert big.branches > small.branches
