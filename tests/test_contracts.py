"""Source contracts: every one loads, is consistent with the code tables, and the generator fills it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from granary.catalog.sources import SOURCES_DIR, ContractError, code_tables, contracts, load_contract
from granary.core import config
from granary.core.tenants import get_tenant
from granary.generate import TABLES, generate

DAY = date(2026, 11, 20)
CORE = ("customer", "deposit_account", "loan", "branch", "staff", "repayment", "transaction", "credit_line")
CORE += ("bank_card", "mobile_banking_user", "mobile_banking_activity")
GRID = (
    "grid_household",
    "grid_member",
    "grid_land",
    "grid_livestock",
    "grid_income",
    "village_credit_rating",
)


def test_every_source_table_has_a_contract() -> None:
    known = contracts()
    own = [t for t in known if not t.startswith("ext_")]
    assert set(CORE) | set(GRID) <= set(known)
    assert len(own) >= 14
    assert len(known) >= 17 or not any(t.startswith("ext_") for t in known)


def test_coded_columns_have_code_tables_and_pii_has_a_sensitivity() -> None:
    tables = code_tables()
    for name, contract in contracts().items():
        assert contract.keys and all(k in contract.column_names for k in contract.keys), name
        assert contract.description, f"{name}: say whether it is a snapshot or the day's events"
        for col in contract.columns:
            if col.codes:
                assert col.codes in tables, f"{name}.{col.name}: no code table {col.codes}"
            if col.pii:
                assert col.sensitivity is not None, f"{name}.{col.name}: PII without a sensitivity"
            if col.pii in ("resident_id", "phone", "name"):
                assert col.sensitivity == "C3", f"{name}.{col.name}: {col.pii} must be C3"
            if col.type == "date" or col.type == "timestamp":
                assert col.format, f"{name}.{col.name}: a date needs the source format"


def test_people_are_marked_as_pii_wherever_they_appear() -> None:
    pii = {(t, c.name): c.pii for t, k in contracts().items() for c in k.columns if c.pii}
    assert pii[("staff", "staff_name")] == "name" and pii[("staff", "phone")] == "phone"
    assert pii[("grid_member", "member_name")] == "name"
    assert pii[("grid_member", "id_number")] == "resident_id"
    assert pii[("mobile_banking_user", "phone")] == "phone"


def test_generator_writes_every_contract_column_of_every_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRANARY_LANDING_ROOT", str(tmp_path))
    config.settings.cache_clear()
    try:
        counts = generate([get_tenant("hexi")], [DAY], scale=0.005, seed=11)
    finally:
        config.settings.cache_clear()
    own = sorted(t for t in contracts() if not t.startswith("ext_"))
    assert sorted(TABLES) == own
    for table in own:
        path = tmp_path / "hexi" / DAY.isoformat() / f"{table}.csv"
        header = path.read_text(encoding="gbk").splitlines()[0].split(",")
        assert header == contracts()[table].column_names, table
        assert counts["hexi"][table] > 0, f"{table}: no rows (ingest refuses an empty extract)"


@pytest.mark.parametrize(
    ("contract", "old", "new", "said"),
    [
        ("credit_line", "type: string", "type: varchar", ["field 'columns.0'", "unknown type 'varchar'"]),
        ("credit_line", "keys: [line_id]", "keys: [line_no]", ["keys ['line_no'] are not columns"]),
        (
            "credit_line",
            "codes: credit_line_type",
            "codes: no_such",
            ["field 'columns.line_type.codes'", "no_such"],
        ),
        ("credit_line", "title_zh: 授信额度\n", "", ["field 'title_zh'", "required"]),
        ("staff", "sensitivity: C3", "sensitivity: C9", ["field 'columns.2.sensitivity'"]),
        ("staff", "pii: name", "pii: passport", ["field 'columns.2.pii'"]),
    ],
)
def test_a_malformed_contract_is_refused_naming_file_and_field(
    tmp_path: Path, contract: str, old: str, new: str, said: list[str]
) -> None:
    text = (SOURCES_DIR / f"{contract}.yaml").read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / f"{contract}.yaml"
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ContractError) as err:
        load_contract(broken)
    for words in [str(broken), *said]:
        assert words in str(err.value)
