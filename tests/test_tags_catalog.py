"""The tag catalog: exactly 110 tags in 21 categories, validation naming file and field, the CLI."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from granary.catalog import tags
from granary.catalog.indicators import CatalogError
from granary.core.config import REPO_ROOT

GRANARY = REPO_ROOT / ".venv" / "bin" / "granary"
PROFILE_YAML = REPO_ROOT / "dbt_project" / "models" / "dws" / "dws_customer__daily.yml"
PUBLISHED_FIRST = {
    "FARMER", "SMALL_BIZ_OWNER", "HAS_LOAN", "AGRI_BORROWER", "DEPOSIT_ONLY", "LARGE_DEPOSITOR", "OVERDUE",
    "NPL_CUSTOMER", "NEW_CUSTOMER", "SENIOR",
}  # fmt: skip
CATEGORIES_EN = {
    "Basic attributes", "Geography", "Occupation", "Household", "Assets", "Deposits", "Loans", "Credit",
    "Risk", "Repayment behaviour", "Channel preference", "Transaction activity", "Product holding",
    "Life cycle", "Value", "Marketing response", "Agricultural operation", "Social security and housing fund",
    "Tax", "Telecom", "Judicial",
}  # fmt: skip
HAN = re.compile(r"[\u4e00-\u9fff]")


def _write(path: Path, raw: dict) -> Path:
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _raw() -> dict:
    return yaml.safe_load(tags.CATALOG_FILE.read_text(encoding="utf-8"))


def test_exactly_110_tags_in_21_categories() -> None:
    loaded = tags.load()
    assert len(loaded) == 110
    assert len({t.code for t in loaded}) == 110
    assert {t.category_en for t in loaded} == CATEGORIES_EN
    assert len(tags.categories()) == 21
    assert {t.code for t in loaded} >= PUBLISHED_FIRST  # published codes never go away
    for t in loaded:
        assert HAN.search(t.name_zh) and HAN.search(t.rule_text) and HAN.search(t.category_zh), t.code
        assert t.name_en.isascii() and t.name_en[0].isupper(), t.code


def test_every_rule_reads_only_profile_columns() -> None:
    """A rule's identifiers are columns of dws_customer__daily (its YAML twin lists them all)."""
    documented = {
        c["name"]
        for m in yaml.safe_load(PROFILE_YAML.read_text(encoding="utf-8"))["models"]
        for c in m["columns"]
    }
    keywords = {
        "and",
        "or",
        "not",
        "in",
        "is",
        "null",
        "case",
        "when",
        "then",
        "else",
        "end",
        "true",
        "false",
    }
    for t in tags.load():
        without_strings = re.sub(r"'[^']*'", "", t.rule_sql)
        names = set(re.findall(r"\b[a-z_][a-z0-9_]*\b", without_strings)) - keywords
        assert names and names <= documented, (t.code, sorted(names - documented))


def test_seed_carries_every_tag_with_both_category_names(tmp_path: Path) -> None:
    (target,) = tags.write_seeds(seeds_dir=tmp_path)
    with target.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["tag_code"] for r in rows] == [t.code for t in tags.load()]
    assert [int(r["tag_order"]) for r in rows] == list(range(1, 111))
    assert {r["category_en"] for r in rows} == CATEGORIES_EN
    assert all(r["rule_sql"] and r["rule_text"] for r in rows)


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (
            lambda raw: raw["tags"][5].update(code=raw["tags"][4]["code"]),
            r"tags\[DEPOSIT_ONLY\]\.code': duplicate",
        ),
        (lambda raw: raw["tags"][0].update(category="astrology"), r"tags\[FARMER\]\.category.*astrology"),
        (lambda raw: raw["tags"][3].pop("sql"), r"tags\[AGRI_BORROWER\]\.sql"),
        (
            lambda raw: raw["tags"][6].update(sql="overdue_days_max > 0; drop table x"),
            r"tags\[OVERDUE\]\.sql",
        ),
        (lambda raw: raw["tags"][9].update(code="senior"), r"tags\[senior\]\.code"),
        (
            lambda raw: raw["categories"].update(astrology={"zh": "星座", "en": "Astrology"}),
            r"categories\.astrology",
        ),
        (lambda raw: raw["categories"]["judicial"].pop("en"), r"categories\.judicial\.en"),
    ],
)
def test_validation_errors_name_the_file_and_the_field(tmp_path: Path, edit, field: str) -> None:
    raw = _raw()
    edit(raw)
    path = _write(tmp_path / "tags.yaml", raw)
    with pytest.raises(CatalogError, match=field) as err:
        tags.load(path)
    assert str(path) in str(err.value)


def test_unreadable_catalogs_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("tags: [unclosed", encoding="utf-8")
    with pytest.raises(CatalogError, match="broken.yaml.*not valid YAML"):
        tags.load(tmp_path / "broken.yaml")
    with pytest.raises(CatalogError, match="missing.yaml: no such catalog file"):
        tags.load(tmp_path / "missing.yaml")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "240", "NO_COLOR": "1"}
    return subprocess.run(
        [str(GRANARY), "catalog", "tags", *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_cli_lists_the_catalog_as_a_table_and_as_json() -> None:
    table = _cli()
    assert table.returncode == 0, table.stderr
    assert "110 tags in 21 categories" in table.stdout
    for text in ("NPL_CUSTOMER", "不良贷款客户", "Non-performing borrower", "风险", "司法", "JUD_ENFORCED"):
        assert text in table.stdout

    as_json = _cli("--json")
    assert as_json.returncode == 0, as_json.stderr
    items = json.loads(as_json.stdout)
    assert [i["code"] for i in items] == [t.code for t in tags.load()]
    assert {i["category_en"] for i in items} == CATEGORIES_EN
    assert set(items[0]) >= {"code", "name_zh", "name_en", "category", "category_zh", "rule_text", "rule_sql"}


def test_cli_filters_by_category_and_rejects_an_unknown_one() -> None:
    risk = _cli("--category", "risk", "--json")
    assert risk.returncode == 0, risk.stderr
    codes = {i["code"] for i in json.loads(risk.stdout)}
    assert (
        codes == {t.code for t in tags.load() if t.category == "risk"}
        and {"OVERDUE", "NPL_CUSTOMER"} <= codes
    )
    table = _cli("--category", "judicial")
    assert table.returncode == 0 and "in 1 categories" in table.stdout and "JUD_ENFORCED" in table.stdout
    unknown = _cli("--category", "astrology")
    assert unknown.returncode == 2 and "astrology" in unknown.stderr and "judicial" in unknown.stderr
