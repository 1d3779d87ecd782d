"""Every core-banking and grid-survey source through the real pipeline: one generated day of one
bank, ingested and cleaned on Spark Connect, gated by Great Expectations.

A clean generated day must pass every contract rule (nothing quarantined), reconcile, keep
clear personal information out of DWD, and pass the quality suite derived from its contract.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
from support.lake import day_rows

from granary.catalog.sources import contracts, tables_of
from granary.core import paths
from granary.core.tenants import Tenant, get_tenant
from granary.generate import generate
from granary.pipeline import validate
from granary.pipeline.clean import clean
from granary.pipeline.ingest import ingest
from granary.pipeline.suites import dwd_columns

pytestmark = pytest.mark.slow

# Not the day the session's published_day fixture runs: the two must not share lake days.
DAY = date(2026, 6, 15)
# The bank's own tables beyond the first slice's three (which test_spark_pipeline covers).
NEW_TABLES = [t for t in tables_of("bank") if t not in ("customer", "deposit_account", "loan")]
CLEAR = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|1\d{10})(?![0-9A-Za-z])")


@pytest.fixture(scope="module")
def cleaned_day(spark_remote: str, granary_env: Path) -> Tenant:
    bank = get_tenant("qingshan")
    generate([bank], [DAY], scale=0.005, seed=13)
    ingest(bank, DAY, NEW_TABLES)
    clean(bank, DAY, NEW_TABLES)
    return bank


def _landing_rows(bank: Tenant, table: str) -> int:
    with paths.landing_file(bank.code, DAY, table).open(encoding=bank.encoding, newline="") as f:
        return sum(1 for _ in csv.reader(f)) - 1


@pytest.mark.parametrize("table", NEW_TABLES)
def test_clean_generated_day_reconciles_with_nothing_quarantined(cleaned_day: Tenant, table: str) -> None:
    bank = cleaned_day
    recon = json.loads(paths.reconciliation_file(bank.code, table, DAY).read_text(encoding="utf-8"))
    assert recon["rows_in"] == recon["rows_clean"] + recon["rows_quarantined"] == _landing_rows(bank, table)
    assert recon["rows_quarantined"] == 0, f"{table}: clean data quarantined: {recon['by_rule']}"
    dwd = day_rows(bank.code, "dwd", table, DAY)
    assert dwd.num_rows == recon["rows_clean"] > 0
    assert set(dwd.column_names) == {*dwd_columns(contracts()[table]), "_source_row"}
    for name in dwd.column_names:
        kind = dwd.schema.field(name).type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            clear = [v for v in dwd.column(name).to_pylist() if v and CLEAR.search(v)]
            assert not clear, f"{table}.{name} carries clear resident IDs or phones: {clear[:3]}"


def test_grid_members_heads_are_the_bank_customers(cleaned_day: Tenant) -> None:
    bank = cleaned_day
    ingest(bank, DAY, ["customer"])
    clean(bank, DAY, ["customer"])
    customers = day_rows(bank.code, "dwd", "customer", DAY).to_pandas()
    members = day_rows(bank.code, "dwd", "grid_member", DAY).to_pandas()
    heads = members[members["relation"] == "head"].merge(customers, on="customer_id", suffixes=("", "_c"))
    assert len(heads) == (members["relation"] == "head").sum() > 0
    # Same person, same key: the token of the head's ID is the customer's token.
    assert (heads["id_number_token"] == heads["id_number_token_c"]).all()
    assert set(heads["customer_type"]) == {"farmer_household"}


def test_new_tables_pass_their_quality_suites(cleaned_day: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    ours = {t: c for t, c in contracts().items() if t in NEW_TABLES}
    monkeypatch.setattr(validate, "contracts", lambda: ours)
    rows = validate.validate(cleaned_day, DAY)
    assert {r["table_name"] for r in rows} == set(NEW_TABLES)
    assert all(r["success"] for r in rows)
