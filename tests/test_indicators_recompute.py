"""An independent recomputation of catalogued indicators, in Polars, straight from the DWD lake tables.

Nothing here reads the dbt models, the catalog's seeds or its SQL: each atomic measure below is
written from the definition text of `granary catalog indicators --json` (the phrase it implements
is asserted against the catalog, so a changed definition fails here until this file follows),
each period from the period definitions in granary/catalog/indicators.yaml, and each
composite from its "numerator / denominator" text. The values are compared with every bank's
`ads_indicator_value` for each of the three days (the warehouse copy taken after that day's
build; a build only sees DWD days up to its day), relative tolerance 1e-9. The DWD rows are read
through the lake catalog (granary.lake.tables), each with its business day `dt`.

Readings of the definitions this file commits to (ambiguities reported with it):
- a member of a grain is every entry of its register on the business date, with or without fact
  rows (zero then): the branch table, the staff with role customer_manager, the credit-village
  register, the customer table; the bank is the tenant code;
- "days with data" are the days the bank's lake holds of the fact's DWD table in the window (a day
  with rows, or one written empty); a member without rows on such a day counts zero that day;
- a flow's daily amount is what happened on that day by the row's own date (start date, open
  date, posting date) in that day's snapshot, and longer periods add up those daily amounts.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import duckdb
import polars as pl
import pytest

from granary.lake import tables

pytestmark = pytest.mark.slow

REL_TOL = 1e-9
NPL_CLASSES = ("substandard", "doubtful", "loss")
GRAIN_KEY = {
    "branch": "branch_id",
    "manager": "manager_id",
    "village": "village_code",
    "customer": "customer_id",
}


# --- the DWD tables, as a build of `day` sees them ------------------------------------------


# The furthest back a period ending on a day reads: its year-on-year or year-start base day, at
# most a year and a day before it (a window starts no earlier).
REACH_DAYS = 366


def reach(day: date) -> list[date]:
    """The days a period ending on `day` can read, oldest first."""
    return [day - timedelta(days=n) for n in range(REACH_DAYS, -1, -1)]


@cache
def dwd(bank: str, table: str, day: date) -> pl.DataFrame:
    """The table's rows of every day up to the day (as far back as a period reads), with dt as a date
    column. Read once per table and day: the lake does not change after the fixture's days ran."""
    rows = tables.read_days(bank, "dwd", table, reach(day))
    return pl.DataFrame() if rows is None else pl.from_arrow(rows)


@cache
def lake_days(bank: str, table: str, day: date) -> list[date]:
    """The days up to the day (within the reach) the table holds: with rows, or written empty (the
    commit that wrote a day records it; an empty day has no data file)."""
    rows = dwd(bank, table, day)
    held = set(rows.get_column("dt").to_list()) if "dt" in rows.columns else set()
    lake_table = tables.load(bank, "dwd", table)
    for snapshot in lake_table.metadata.snapshots if lake_table is not None else []:
        if written := (snapshot.summary or {}).get(tables.DAY_PROPERTY):
            held.add(date.fromisoformat(written))
    return sorted(held & set(reach(day)))


def age_on(birth: pl.Expr, at: pl.Expr) -> pl.Expr:
    """Completed years (the birthday counts from its day)."""

    def month_day(d: pl.Expr) -> pl.Expr:  # Polars' month and day are Int8: widen before * 100
        return d.dt.month().cast(pl.Int32) * 100 + d.dt.day().cast(pl.Int32)

    before_birthday = month_day(at) < month_day(birth)
    return at.dt.year().cast(pl.Int32) - birth.dt.year().cast(pl.Int32) - before_birthday.cast(pl.Int32)


def customers(bank: str, day: date) -> pl.DataFrame:
    c = dwd(bank, "customer", day)
    return c.select(
        "dt",
        "customer_id",
        "customer_type",
        "branch_id",
        "manager_id",
        "village_code",
        "open_date",
        age=age_on(pl.col("birth_date"), pl.col("dt")),
    )


def with_customer(df: pl.DataFrame, bank: str, day: date, take: list[str]) -> pl.DataFrame:
    """The customer's attributes on the same day (home manager, village, type)."""
    cust = customers(bank, day).select("dt", "customer_id", *take)
    return df.join(cust, on=["dt", "customer_id"], how="left")


# --- facts: detail rows with their members and the columns measures and modifiers read -------


def loan_detail(bank: str, day: date) -> pl.DataFrame:
    # "Loans count at their booking branch and managing officer, and at the borrower's village."
    loans = dwd(bank, "loan", day).with_columns(pl.col("balance", "contract_amount").cast(pl.Float64))
    return with_customer(loans, bank, day, ["village_code", "customer_type"])


def deposit_detail(bank: str, day: date) -> pl.DataFrame:
    # "Deposit accounts count at their opening branch, and at the customer's manager and village."
    accounts = dwd(bank, "deposit_account", day).with_columns(pl.col("balance").cast(pl.Float64))
    return with_customer(accounts, bank, day, ["manager_id", "village_code", "customer_type"])


def customer_detail(bank: str, day: date) -> pl.DataFrame:
    # "Customers count at their home branch, manager and village."
    cust = customers(bank, day)
    deposits = (
        dwd(bank, "deposit_account", day)
        .group_by("dt", "customer_id")
        .agg(deposit_balance=pl.col("balance").cast(pl.Float64).sum())
    )
    loans = (
        dwd(bank, "loan", day)
        .group_by("dt", "customer_id")
        .agg(loan_balance=pl.col("balance").cast(pl.Float64).sum())
    )
    return (
        cust.join(deposits, on=["dt", "customer_id"], how="left")
        .join(loans, on=["dt", "customer_id"], how="left")
        .with_columns(pl.col("deposit_balance", "loan_balance").fill_null(0.0))
    )


def transaction_detail(bank: str, day: date) -> pl.DataFrame:
    # "Postings count at the branch that booked them, and at the customer's manager and village."
    txns = dwd(bank, "transaction", day).with_columns(pl.col("amount").cast(pl.Float64))
    return with_customer(txns, bank, day, ["manager_id", "village_code"])


def ebank_detail(bank: str, day: date) -> pl.DataFrame:
    # "E-banking users count at the customer's home branch, manager and village."
    users = dwd(bank, "mobile_banking_user", day)
    return with_customer(users, bank, day, ["branch_id", "manager_id", "village_code"])


def card_detail(bank: str, day: date) -> pl.DataFrame:
    # "Cards count at their issuing branch, and at the customer's manager and village."
    return with_customer(dwd(bank, "bank_card", day), bank, day, ["manager_id", "village_code"])


def credit_line_detail(bank: str, day: date) -> pl.DataFrame:
    # "Credit lines in force count at their branch, and at the customer's manager and village."
    lines = dwd(bank, "credit_line", day).with_columns(pl.col("line_amount", "used_amount").cast(pl.Float64))
    return with_customer(lines, bank, day, ["manager_id", "village_code"])


def grid_detail(bank: str, day: date) -> pl.DataFrame:
    # "Surveyed households count at the head's home branch, the surveying manager and the village."
    grid = dwd(bank, "grid_household", day)
    home = customers(bank, day).select("dt", customer_id="customer_id", branch_id="branch_id")
    return grid.join(home, left_on=["dt", "head_customer_id"], right_on=["dt", "customer_id"], how="left")


def village_detail(bank: str, day: date) -> pl.DataFrame:
    # "Villages as in the credit-village register."
    return dwd(bank, "village_credit_rating", day)


@dataclass(frozen=True)
class Fact:
    detail: Callable[[str, date], pl.DataFrame]
    table: str  # the DWD table whose days are the fact's days with data


FACTS = {
    "loan": Fact(loan_detail, "loan"),
    "deposit": Fact(deposit_detail, "deposit_account"),
    "customer": Fact(customer_detail, "customer"),
    "transaction": Fact(transaction_detail, "transaction"),
    "ebank": Fact(ebank_detail, "mobile_banking_user"),
    "card": Fact(card_detail, "bank_card"),
    "credit_line": Fact(credit_line_detail, "credit_line"),
    "grid": Fact(grid_detail, "grid_household"),
    "village": Fact(village_detail, "village_credit_rating"),
}


@dataclass(frozen=True)
class Atomic:
    fact: str
    kind: str  # stock | flow
    definition_en: str  # the catalog's definition this implements (asserted)
    value: pl.Expr  # per detail row; the measure is its sum over a member's rows


IN_FORCE = pl.col("status") == "active"
ATOMICS = {
    "LOAN_BAL": Atomic("loan", "stock", "Sum of end-of-day balances of all loans", pl.col("balance")),
    "LOAN_CNT": Atomic(
        "loan", "stock", "Number of loans with a balance above zero", (pl.col("balance") > 0).cast(pl.Float64)
    ),
    "NEW_LOAN_AMT": Atomic(
        "loan",
        "flow",
        "Contract amount of loans disbursed in the period",
        pl.when(pl.col("start_date") == pl.col("dt")).then(pl.col("contract_amount")).otherwise(0.0),
    ),
    "NEW_LOAN_CNT": Atomic(
        "loan",
        "flow",
        "Number of loans disbursed in the period",
        (pl.col("start_date") == pl.col("dt")).cast(pl.Float64),
    ),
    "NPL_BAL": Atomic(
        "loan",
        "stock",
        "End-of-day balance of loans classified substandard, doubtful or loss",
        pl.when(pl.col("five_class").is_in(NPL_CLASSES)).then(pl.col("balance")).otherwise(0.0),
    ),
    "SML_BAL": Atomic(
        "loan",
        "stock",
        "End-of-day balance of loans classified special mention",
        pl.when(pl.col("five_class") == "special_mention").then(pl.col("balance")).otherwise(0.0),
    ),
    "OVERDUE_BAL": Atomic(
        "loan",
        "stock",
        "End-of-day balance of loans overdue by one day or more",
        pl.when(pl.col("overdue_days") > 0).then(pl.col("balance")).otherwise(0.0),
    ),
    "OVERDUE_CNT": Atomic(
        "loan",
        "stock",
        "Number of loans with a balance overdue by one day or more",
        ((pl.col("overdue_days") > 0) & (pl.col("balance") > 0)).cast(pl.Float64),
    ),
    "CREDIT_LINE_AMT": Atomic(
        "credit_line",
        "stock",
        "Sum of the amounts of credit lines in force",
        pl.when(IN_FORCE).then(pl.col("line_amount")).otherwise(0.0),
    ),
    "DEP_BAL": Atomic(
        "deposit", "stock", "Sum of end-of-day balances of all deposit accounts", pl.col("balance")
    ),
    "DEP_ACCT_CNT": Atomic(
        "deposit",
        "stock",
        "Number of deposit accounts that are active or frozen",
        pl.col("status").is_in(["active", "frozen"]).cast(pl.Float64),
    ),
    "CUST_CNT": Atomic("customer", "stock", "Number of customers", pl.lit(1.0)),
    "DEP_CUST_CNT": Atomic(
        "customer",
        "stock",
        "Number of customers with a deposit balance above zero",
        (pl.col("deposit_balance") > 0).cast(pl.Float64),
    ),
    "NEW_CUST_CNT": Atomic(
        "customer",
        "flow",
        "Number of customers whose relationship started in the period",
        (pl.col("open_date") == pl.col("dt")).cast(pl.Float64),
    ),
    "TXN_CNT": Atomic("transaction", "flow", "Number of postings on deposit accounts", pl.lit(1.0)),
    "TXN_AMT": Atomic(
        "transaction",
        "flow",
        "Total amount of postings on deposit accounts, both directions",
        pl.col("amount"),
    ),
    "INFLOW_AMT": Atomic(
        "transaction",
        "flow",
        "Total amount of credit postings (money in)",
        pl.when(pl.col("direction") == "credit").then(pl.col("amount")).otherwise(0.0),
    ),
    "EBANK_USER_CNT": Atomic(
        "ebank",
        "stock",
        "Number of e-banking users not cancelled",
        (pl.col("status") != "cancelled").cast(pl.Float64),
    ),
    "CARD_CNT": Atomic(
        "card", "stock", "Number of cards in normal status", (pl.col("status") == "normal").cast(pl.Float64)
    ),
    "GRID_HH_CNT": Atomic("grid", "stock", "Number of households surveyed in the grid survey", pl.lit(1.0)),
    "VILLAGE_CNT": Atomic(
        "village", "stock", "Number of villages in the credit-village register", pl.lit(1.0)
    ),
    "RATED_VILLAGE_CNT": Atomic(
        "village",
        "stock",
        "Number of villages rated as credit villages (A or better)",
        pl.col("rating").is_in(["A", "AA", "AAA"]).cast(pl.Float64),
    ),
}

# Modifiers: "<…> only." — the rows kept, from the modifier definitions.
MODIFIERS = {
    ("loan", "AGRI"): ("Agricultural loans only.", pl.col("is_agricultural")),
    ("loan", "FARMER"): ("Loans to farm households only.", pl.col("customer_type") == "farmer_household"),
    (
        "loan",
        "INCLUSIVE",
    ): (
        "Loans of at most 10 million yuan to individual businesses and small enterprises only.",
        pl.col("customer_type").is_in(["individual_business", "small_enterprise"])
        & (pl.col("contract_amount") <= 10_000_000),
    ),
    ("loan", "OD_OVER_90"): ("Loans overdue more than 90 days only.", pl.col("overdue_days") > 90),
    ("deposit", "TIME"): ("Time deposits only.", pl.col("product_code") == "time"),
    ("customer", "SENIOR"): ("Customers aged 60 or over only.", pl.col("age") >= 60),
    ("transaction", "MOBILE"): ("Mobile banking channel only.", pl.col("channel") == "mobile"),
    ("ebank", "MB"): ("Mobile banking only.", pl.col("channel") == "mobile_banking"),
}


# --- daily member values, then periods ---------------------------------------------------------


def daily(bank: str, day: date, atomic: str, modifier: str | None, grain: str) -> pl.DataFrame:
    """(dt, grain_id, value) for every member with rows on each day of the lake up to `day`."""
    spec = ATOMICS[atomic]
    rows = FACTS[spec.fact].detail(bank, day)
    if modifier:
        rows = rows.filter(MODIFIERS[(spec.fact, modifier)][1].fill_null(False))
    member = pl.lit(bank) if grain == "bank" else pl.col(GRAIN_KEY[grain])
    return (
        rows.with_columns(grain_id=member, v=spec.value.cast(pl.Float64))
        .group_by("dt", "grain_id")
        .agg(value=pl.col("v").sum())
    )


def top10_daily(bank: str, day: date, grain: str) -> pl.DataFrame:
    """ "Total loan balance of the 10 borrowers with the largest balances … within each member"."""
    loans = loan_detail(bank, day).with_columns(
        grain_id=pl.lit(bank) if grain == "bank" else pl.col(GRAIN_KEY[grain])
    )
    per_borrower = loans.group_by("dt", "grain_id", "customer_id").agg(b=pl.col("balance").sum())
    return (
        per_borrower.sort("b", descending=True)
        .group_by("dt", "grain_id", maintain_order=True)
        .agg(value=pl.col("b").head(10).sum())
    )


def month_start(d: date) -> date:
    return d.replace(day=1)


def base_day(period: str, d: date) -> date | None:
    """The comparison day of the change periods ("… minus the value at the end of the previous …")."""
    if period == "VS_MS":
        return month_start(d) - timedelta(days=1)
    if period in ("VS_YS", "YSB"):
        return date(d.year - 1, 12, 31)
    if period == "YOY":
        return d.replace(year=d.year - 1)
    return None


def window_start(period: str, d: date) -> date:
    if period == "D":
        return d
    if period == "MTD":
        return month_start(d)
    if period == "QTD":
        return date(d.year, (d.month - 1) // 3 * 3 + 1, 1)
    if period == "YTD":
        return date(d.year, 1, 1)
    days = {"L7D": 7, "L30D": 30, "L90D": 90}[period]
    return d - timedelta(days=days - 1)


def grain_members(bank: str, grain: str, d: date) -> set[str]:
    """Every member of the grain on the day (see the module docstring)."""
    if grain == "bank":
        return {bank}
    table, column, keep = {
        "branch": ("branch", "branch_id", None),
        "manager": ("staff", "staff_id", pl.col("role") == "customer_manager"),
        "village": ("village_credit_rating", "village_code", None),
        "customer": ("customer", "customer_id", None),
    }[grain]
    rows = dwd(bank, table, d).filter(pl.col("dt") == d)
    if keep is not None:
        rows = rows.filter(keep)
    return set(rows[column].to_list())


def period_value(
    values: pl.DataFrame, days: list[date], members: set[str], kind: str, period: str, d: date
) -> dict[str, float]:
    """grain_id -> value for the period ending on d, from the daily member values."""
    if d not in days:
        return {}
    on = {
        day: dict(values.filter(pl.col("dt") == day).select("grain_id", "value").iter_rows()) for day in days
    }
    if period in ("VS_MS", "VS_YS", "YOY", "YSB"):
        base = base_day(period, d)
        if base not in on:
            return {}  # "no value when that day is missing"
        if period == "YSB":
            return {m: on[base].get(m, 0.0) for m in members}
        return {m: on[d].get(m, 0.0) - on[base].get(m, 0.0) for m in members}
    in_window = [day for day in days if window_start(period, d) <= day <= d]
    totals = {m: sum(on[day].get(m, 0.0) for day in in_window) for m in members}
    if kind == "flow":
        return totals
    return {m: t / len(in_window) for m, t in totals.items()}  # stock: average over the days with data


def derived(bank: str, d: date, code: str) -> dict[str, float]:
    parts = code.split("__")
    atomic, grain, period = parts[0], parts[-1].lower(), parts[-2]
    modifier = parts[1] if len(parts) == 4 else None
    if atomic == "TOP10_BORROWER_BAL":
        values, kind, fact = top10_daily(bank, d, grain), "stock", "loan"
    else:
        values, kind, fact = (
            daily(bank, d, atomic, modifier, grain),
            ATOMICS[atomic].kind,
            ATOMICS[atomic].fact,
        )
    days = lake_days(bank, FACTS[fact].table, d)
    return period_value(values, days, grain_members(bank, grain, d), kind, period, d)


# Composites: "<numerator> / <denominator>", parts at the composite's period unless named.
COMPOSITES = {
    "NPL_RATIO": ("Non-performing loan balance / loan balance", ["NPL_BAL"], ["LOAN_BAL"]),
    "LDR": ("Loan balance / deposit balance", ["LOAN_BAL"], ["DEP_BAL"]),
    "LOAN_GROWTH": (
        "Change of the loan balance since year start / balance at year start",
        ["LOAN_BAL@VS_YS"],
        ["LOAN_BAL@YSB"],
    ),
    "DEP_GROWTH": (
        "Change of the deposit balance since year start / balance at year start",
        ["DEP_BAL@VS_YS"],
        ["DEP_BAL@YSB"],
    ),
    "TIME_DEP_SHARE": ("Time deposit balance / deposit balance", ["DEP_BAL__TIME"], ["DEP_BAL"]),
    "CREDIT_VILLAGE_COVERAGE": ("Credit villages / villages served", ["RATED_VILLAGE_CNT"], ["VILLAGE_CNT"]),
    "TOP10_CONCENTRATION": (
        "Balance of the 10 largest borrowers / loan balance",
        ["TOP10_BORROWER_BAL"],
        ["LOAN_BAL"],
    ),
    "FARMER_CUST_SHARE": ("Farm-household customers / customers", ["CUST_CNT__FARMER"], ["CUST_CNT"]),
}
MODIFIERS[("customer", "FARMER")] = (
    "Farm-household customers only.",
    pl.col("customer_type") == "farmer_household",
)


def composite(bank: str, d: date, code: str) -> dict[str, float]:
    name, period, grain = code.split("__")
    _, numerator, denominator = COMPOSITES[name]

    def part(ref: str) -> dict[str, float]:
        base, _, at = ref.partition("@")
        return derived(bank, d, f"{base}__{at or period}__{grain}")

    nums, dens = [part(r) for r in numerator], [part(r) for r in denominator]
    members = set.intersection(*(set(p) for p in nums + dens)) if nums + dens else set()
    out = {}
    for m in members:
        den = sum(p[m] for p in dens)
        if den != 0:  # "no value when the denominator is 0"
            out[m] = sum(p[m] for p in nums) / den
    return out


# At least 40, over the five themes, every grain and the periods of the brief; composites last.
RECOMPUTED = (
    # credit
    "LOAN_BAL__D__BANK", "LOAN_BAL__D__BRANCH", "LOAN_BAL__D__MANAGER", "LOAN_BAL__D__VILLAGE",
    "LOAN_BAL__D__CUSTOMER", "LOAN_BAL__AGRI__MTD__BRANCH", "LOAN_BAL__YTD__BANK", "LOAN_BAL__L30D__BANK",
    "LOAN_BAL__VS_MS__BRANCH", "LOAN_BAL__VS_YS__BANK", "LOAN_BAL__YOY__BANK", "LOAN_BAL__YSB__BANK",
    "LOAN_BAL__INCLUSIVE__D__BANK", "LOAN_BAL__FARMER__D__BRANCH", "LOAN_CNT__D__BRANCH",
    "NEW_LOAN_AMT__MTD__BANK", "NEW_LOAN_CNT__D__BRANCH", "CREDIT_LINE_AMT__D__BRANCH",
    "CREDIT_LINE_AMT__D__CUSTOMER", "NEW_LOAN_AMT__YTD__BANK", "LOAN_BAL__VS_YS__MANAGER",
    "LOAN_BAL__YTD__CUSTOMER",
    # risk
    "NPL_BAL__D__BANK", "NPL_BAL__D__VILLAGE", "NPL_BAL__VS_YS__BRANCH", "NPL_BAL__MTD__MANAGER",
    "OVERDUE_BAL__OD_OVER_90__D__BANK", "OVERDUE_CNT__D__MANAGER", "SML_BAL__D__BRANCH",
    "TOP10_BORROWER_BAL__D__BANK",
    # marketing
    "DEP_BAL__D__BANK", "DEP_BAL__D__BRANCH", "DEP_BAL__D__MANAGER", "DEP_BAL__D__VILLAGE",
    "DEP_BAL__D__CUSTOMER", "DEP_BAL__TIME__MTD__BRANCH", "DEP_BAL__L7D__BANK", "DEP_BAL__L90D__BANK",
    "DEP_BAL__YOY__BRANCH", "DEP_BAL__VS_MS__BANK", "DEP_CUST_CNT__D__BANK", "NEW_CUST_CNT__MTD__BANK",
    "NEW_CUST_CNT__YTD__BRANCH", "DEP_BAL__QTD__BANK", "DEP_BAL__YOY__VILLAGE", "DEP_BAL__MTD__CUSTOMER",
    # operations
    "TXN_CNT__D__BANK", "TXN_CNT__MOBILE__D__BRANCH", "TXN_AMT__MTD__BRANCH", "INFLOW_AMT__D__CUSTOMER",
    "TXN_CNT__L7D__VILLAGE", "EBANK_USER_CNT__D__BANK", "EBANK_USER_CNT__MB__D__BRANCH",
    "CARD_CNT__D__BRANCH", "DEP_ACCT_CNT__D__BANK", "TXN_CNT__L30D__BANK", "INFLOW_AMT__YTD__CUSTOMER",
    # public
    "CUST_CNT__D__BANK", "CUST_CNT__D__BRANCH", "CUST_CNT__D__MANAGER", "CUST_CNT__D__VILLAGE",
    "CUST_CNT__SENIOR__D__BANK", "GRID_HH_CNT__D__BANK", "VILLAGE_CNT__D__BANK", "RATED_VILLAGE_CNT__D__BANK",
    # composites
    "NPL_RATIO__D__BANK", "NPL_RATIO__D__BRANCH", "LDR__D__BANK", "LDR__MTD__BRANCH", "LOAN_GROWTH__D__BANK",
    "DEP_GROWTH__D__BANK", "TIME_DEP_SHARE__D__BRANCH", "CREDIT_VILLAGE_COVERAGE__D__BANK",
    "TOP10_CONCENTRATION__D__BANK", "FARMER_CUST_SHARE__D__BANK",
)  # fmt: skip


def recompute(bank: str, d: date, code: str) -> dict[str, float]:
    return composite(bank, d, code) if code.split("__")[0] in COMPOSITES else derived(bank, d, code)


# --- the catalog, as provincial IT reads it ---------------------------------------------------


@cache
def catalog() -> dict[str, dict]:
    cli = Path(sys.executable).with_name("granary")
    done = subprocess.run(
        [str(cli), "catalog", "indicators", "--json"], capture_output=True, text=True, check=True
    )
    return {i["code"]: i for i in json.loads(done.stdout)}


def published(warehouse: Path, code: str) -> dict[str, float]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select grain_id, value from ads_indicator_value where indicator_code = ?", [code]
        ).fetchall()
    return dict(rows)


def test_the_selection_spans_themes_grains_periods_and_composites() -> None:
    items = [catalog()[c] for c in RECOMPUTED]
    assert len(items) >= 40
    assert {i["theme"] for i in items} == {"public", "risk", "marketing", "operations", "credit"}
    assert {i["grain"] for i in items} == {"bank", "branch", "manager", "village", "customer"}
    assert {"D", "MTD", "YTD", "L30D", "VS_MS", "VS_YS", "YOY"} <= {i["period"] for i in items}
    assert sum(i["kind"] == "composite" for i in items) >= 5


def test_the_recomputation_implements_the_catalogued_definitions() -> None:
    """Each atomic, modifier and composite here starts from the definition text it was written from."""
    for code in RECOMPUTED:
        item, parts = catalog()[code], code.split("__")
        if parts[0] in COMPOSITES:
            assert item["definition_en"].startswith(COMPOSITES[parts[0]][0]), code
            continue
        if parts[0] in ATOMICS:
            assert item["definition_en"].startswith(ATOMICS[parts[0]].definition_en), code
        if len(parts) == 4:
            fact = ATOMICS[parts[0]].fact
            assert MODIFIERS[(fact, parts[1])][0] in item["definition_en"], code


@pytest.mark.parametrize("code", RECOMPUTED)
def test_recomputed_value_matches_published(published_day, code: str) -> None:
    checked = 0
    problems = []
    for tenant in published_day.tenants:
        for day in published_day.days:
            expected = recompute(tenant.code, day, code)
            actual = published(published_day.warehouses[(tenant.code, day)], code)
            where = f"{tenant.code} {day}"
            if expected.keys() != actual.keys():
                only_here = sorted(expected.keys() - actual.keys())[:5]
                only_there = sorted(actual.keys() - expected.keys())[:5]
                problems.append(f"{where}: members only recomputed {only_here}, only published {only_there}")
            for member in expected.keys() & actual.keys():
                checked += 1
                if not math.isclose(expected[member], actual[member], rel_tol=REL_TOL, abs_tol=1e-9):
                    problems.append(
                        f"{where} {member}: recomputed {expected[member]!r}, published {actual[member]!r}"
                    )
    assert not problems, f"{code}:\n" + "\n".join(problems[:20])
    assert checked > 0, f"{code}: no value on any bank and day"
