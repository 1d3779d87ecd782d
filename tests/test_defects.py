"""Every defect kind, injected into a real generated extract and run through real ingest and clean.

Two banks (qingshan exports UTF-8, hexi GBK), tiny scale, one business date per defect so runs
never share a lake day. The defect goes into one of qingshan's files; the test runs qingshan's
ingest and clean for that table, then hexi's same table and day (the other bank of the run
finishes), and checks: row-level defects land in quarantine with their rule and source row and
the reconciliation balances; file-level defects fail with a DataError (exit code 3 through the
CLI) naming the file and the reason; the raw landing file is byte-identical afterwards.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from support.lake import day_rows
from typer.testing import CliRunner

from granary.core import paths
from granary.core.errors import DataError
from granary.core.tenants import get_tenant
from granary.generate import DEFECT_KINDS, generate, inject_defect
from granary.lake import tables
from granary.pipeline.clean import clean
from granary.pipeline.ingest import ingest

pytestmark = pytest.mark.slow

FIRST_DAY = date(2026, 5, 4)
DAYS = {kind: FIRST_DAY + timedelta(days=i) for i, kind in enumerate(DEFECT_KINDS)}
SCALE = 0.01


@dataclass(frozen=True)
class Expected:
    table: str
    rule: str | None = None  # row-level: the rule the broken row is quarantined for
    reason: str | None = None  # file-level: what the error message must say


EXPECTED = {
    "bad_id_check_digit": Expected("customer", rule="resident_id_check:id_number"),
    "duplicate_key": Expected("customer", rule="duplicate_key"),
    "null_key": Expected("customer", rule="not_null:customer_id"),
    "out_of_range_amount": Expected("loan", rule="range:balance"),
    "invalid_code": Expected("loan", rule="code:product_code"),
    "wrong_date": Expected("loan", rule="cast:start_date"),
    "missing_column": Expected("loan", reason="missing columns"),
    "extra_column": Expected("loan", reason="unexpected columns ['remark']"),
    "truncated_file": Expected("loan", reason="cut off mid-record"),
    "empty_file": Expected("customer", reason="empty file"),
    "wrong_encoding": Expected("customer", reason="not valid utf-8"),  # qingshan exports UTF-8; GBK given
}


def test_every_defect_kind_has_an_expectation() -> None:
    assert set(EXPECTED) == set(DEFECT_KINDS)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def data_rows(path: Path, encoding: str) -> int:
    import csv

    with path.open(encoding=encoding, newline="") as f:
        return sum(1 for _ in csv.reader(f)) - 1


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def banks(spark_remote: str, granary_env: Path):
    """qingshan (defects) and hexi (the other bank): every defect's day generated once."""
    defect_bank, other_bank = get_tenant("qingshan"), get_tenant("hexi")
    generate([defect_bank, other_bank], sorted(DAYS.values()), scale=SCALE, seed=11)
    return defect_bank, other_bank


def reconciliation(tenant: str, table: str, dt: date) -> dict:
    return json.loads(paths.reconciliation_file(tenant, table, dt).read_text(encoding="utf-8"))


def assert_other_bank_finishes(other, table: str, dt: date) -> None:
    ingest(other, dt, [table])
    clean(other, dt, [table])
    recon = reconciliation(other.code, table, dt)
    landed = data_rows(paths.landing_file(other.code, dt, table), other.encoding)
    assert recon["rows_in"] == landed > 0
    assert recon["rows_in"] == recon["rows_clean"] + recon["rows_quarantined"]
    assert tables.day_written(other.code, "dwd", table, dt)
    assert day_rows(other.code, "dwd", table, dt).num_rows == recon["rows_clean"]


@pytest.mark.parametrize("kind", DEFECT_KINDS)
def test_defect_on_the_real_pipeline(banks, kind: str) -> None:
    bank, other = banks
    expected, dt = EXPECTED[kind], DAYS[kind]
    landing = paths.landing_file(bank.code, dt, expected.table)
    what = inject_defect(landing, kind, encoding=bank.encoding, seed=3)
    raw_hash = sha256(landing)

    if expected.rule:
        ingest(bank, dt, [expected.table])
        clean(bank, dt, [expected.table])
        row = int(re.findall(r"data row (\d+)", what)[-1])  # duplicate: the repeated copy
        quarantined = day_rows(bank.code, "quarantine", expected.table, dt).to_pylist()
        assert {(r["_source_row"], r["_rule"]) for r in quarantined} == {(row, expected.rule)}, what
        assert quarantined[0]["_source_file"] == f"landing/{bank.code}/{dt}/{expected.table}.csv"
        recon = reconciliation(bank.code, expected.table, dt)
        assert recon["rows_in"] == data_rows(landing, bank.encoding)
        assert recon["rows_in"] == recon["rows_clean"] + recon["rows_quarantined"]
        assert (recon["rows_quarantined"], recon["by_rule"]) == (1, {expected.rule: 1})
        dwd = day_rows(bank.code, "dwd", expected.table, dt)
        assert dwd.num_rows == recon["rows_clean"]
        assert row not in dwd.column("_source_row").to_pylist()
    else:
        with pytest.raises(DataError) as failure:
            ingest(bank, dt, [expected.table])
        message = one_line(str(failure.value))
        assert f"landing/{bank.code}/{dt}/{expected.table}.csv" in message, message
        assert expected.reason.lower() in message.lower(), (what, message)
        assert "left in place" in message
        assert not tables.day_written(bank.code, "ods", expected.table, dt)
        # Through the CLI, as Airflow runs it: exit code 3 (bad data, never retried), same message.
        from granary.cli.app import app

        result = CliRunner().invoke(app, ["ingest", "-t", bank.code, "-d", str(dt), "-s", expected.table])
        assert result.exit_code == 3, result.output
        assert expected.reason.lower() in one_line(result.output).lower()
        assert not tables.day_written(bank.code, "ods", expected.table, dt)

    assert sha256(landing) == raw_hash, f"{landing} changed by the pipeline"
    assert_other_bank_finishes(other, expected.table, dt)


def test_other_bank_full_day_finishes(banks) -> None:
    """hexi's whole day (every extract it has) goes through ingest and clean beside the broken one."""
    _bank, other = banks
    dt = DAYS["empty_file"]
    extracts = sorted(p.stem for p in paths.landing_dir(other.code, dt).glob("*.csv"))
    assert {"customer", "deposit_account", "loan"} <= set(extracts)
    ingest(other, dt, extracts)
    clean(other, dt, extracts)
    for table in extracts:
        recon = reconciliation(other.code, table, dt)
        assert recon["rows_in"] == recon["rows_clean"] + recon["rows_quarantined"], table
        assert recon["rows_in"] == data_rows(paths.landing_file(other.code, dt, table), other.encoding)


def test_too_many_quarantined_rows_fail_the_clean_step_as_bad_data(banks) -> None:
    """One customer in ten with a broken ID number: over the contract's max_quarantine_share, so the
    clean step fails as bad data (exit 3 through the CLI: Airflow fails it at once), and still keeps
    every row: the bad ones in quarantine with their rule, the good ones in DWD."""
    import csv
    import io

    from granary.catalog.sources import contract
    from granary.pipeline.idcard import CHECK_CHARS

    bank, _other = banks
    dt = FIRST_DAY + timedelta(days=len(DEFECT_KINDS))
    generate([bank], [dt], scale=SCALE, seed=11)
    landing = paths.landing_file(bank.code, dt, "customer")
    header, *rows = list(csv.reader(io.StringIO(landing.read_text(encoding=bank.encoding))))
    id_col = header.index("id_number")
    broken = list(range(0, len(rows), 10))
    for r in broken:
        old = rows[r][id_col]
        rows[r][id_col] = old[:17] + next(c for c in CHECK_CHARS if c != old[17])
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    landing.write_text(out.getvalue(), encoding=bank.encoding)
    raw_hash = sha256(landing)
    assert len(broken) / len(rows) > contract("customer").max_quarantine_share

    ingest(bank, dt, ["customer"])
    from granary.cli.app import app

    result = CliRunner().invoke(app, ["clean", "-t", bank.code, "-d", str(dt), "-s", "customer"])
    message = one_line(result.output)
    assert result.exit_code == 3, result.output
    assert f"{len(broken)} of {len(rows)} rows quarantined" in message
    assert "max_quarantine_share" in message and "resident_id_check:id_number" in message
    quarantined = day_rows(bank.code, "quarantine", "customer", dt)
    assert sorted(quarantined.column("_source_row").to_pylist()) == [r + 1 for r in broken]
    recon = reconciliation(bank.code, "customer", dt)
    assert (recon["rows_in"], recon["rows_quarantined"]) == (len(rows), len(broken))
    assert sha256(landing) == raw_hash
