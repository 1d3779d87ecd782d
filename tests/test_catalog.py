"""Indicator and tag catalogs: expansion, unique stable codes, names, errors naming file and field."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from granary.catalog import indicators, tags
from granary.catalog.indicators import CatalogError

PERIODS = "D|MTD|QTD|YTD|L7D|L30D|L90D|VS_MS|VS_YS|YOY|YSB"
CODE = re.compile(rf"^[A-Z][A-Z0-9_]*(__[A-Z0-9_]+)*__({PERIODS})__(BANK|BRANCH|MANAGER|VILLAGE|CUSTOMER)$")
THEMES = {"public", "risk", "marketing", "operations", "credit"}
GRANARY = str(Path(sys.executable).with_name("granary"))


def _raw_indicators() -> dict:
    return yaml.safe_load(indicators.CATALOG_FILE.read_text(encoding="utf-8"))


def _count_from_yaml(raw: dict) -> tuple[int, int]:
    """(derived, composite periods) counted from the YAML alone (grain limits, default periods, modifiers)."""
    grains, periods, facts = raw["grains"], raw["periods"], raw["facts"]

    def offered(grain: str, period: str, modified: bool) -> bool:
        g = grains[grain]
        return period in g.get("periods", periods) and not (modified and g.get("modifiers") is False)

    derived = 0
    for a in raw["atomics"]:
        a_periods = a.get("periods") or [
            code for code, p in periods.items() if p.get(a["kind"]) and p.get("default", True)
        ]
        a_grains = a.get("grains") or [g for g in facts[a["fact"]]["grains"] if g != "customer"]
        for modified in [False] + [True] * len(a.get("modifiers", [])):
            derived += sum(offered(g, p, modified) for g in a_grains for p in a_periods)
    composites = sum(len(c.get("periods", ["D"])) for c in raw["composites"])
    return derived, composites


def test_expansion_count_follows_the_catalog() -> None:
    derived, composites = _count_from_yaml(_raw_indicators())
    expanded = indicators.expand()
    assert sum(i.kind == "derived" for i in expanded) == derived
    # a composite is expanded at every grain where all its parts exist: at least the bank
    at_bank = [i for i in expanded if i.kind == "composite" and i.grain == "bank"]
    assert len(at_bank) == composites
    assert len(expanded) >= 1000
    by_theme = Counter(i.theme for i in expanded)
    assert set(by_theme) == THEMES and min(by_theme.values()) >= 100, by_theme
    assert {i.grain for i in expanded} == {"bank", "branch", "manager", "village", "customer"}
    assert {i.period for i in expanded} == set(PERIODS.split("|"))


def test_cli_lists_the_catalog_as_table_and_json() -> None:
    listed = subprocess.run(
        [GRANARY, "catalog", "indicators", "--json"], capture_output=True, text=True, check=True
    )
    items = json.loads(listed.stdout)
    assert [i["code"] for i in items] == [i.code for i in indicators.expand()]
    assert {"name_zh", "name_en", "theme", "definition_en", "unit", "grain", "atomic_code", "owner"} <= set(
        items[0]
    )
    risk = subprocess.run(
        [GRANARY, "catalog", "indicators", "--theme", "risk"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "250"},
    )
    n_risk = sum(i["theme"] == "risk" for i in items)
    assert f"{n_risk} indicators" in risk.stdout and "不良贷款率" in risk.stdout


def test_codes_are_unique_stable_and_named_in_both_languages() -> None:
    expanded = indicators.expand()
    codes = [i.code for i in expanded]
    assert len(codes) == len(set(codes))
    assert all(CODE.match(c) for c in codes), [c for c in codes if not CODE.match(c)][:5]
    by_code = {i.code: i for i in expanded}
    # the scheme: <ATOMIC>[__<MODIFIER>]__<PERIOD>__<GRAIN>
    agri = by_code["LOAN_BAL__AGRI__MTD__BRANCH"]
    assert (agri.atomic_code, agri.modifier, agri.period, agri.grain) == ("LOAN_BAL", "AGRI", "MTD", "branch")
    assert agri.name_zh == "支行涉农贷款余额月日均"
    npl = by_code["NPL_RATIO__D__BANK"]
    assert npl.kind == "composite" and npl.name_zh == "全行不良贷款率" and npl.theme_zh == "风险"
    assert npl.numerator == ("NPL_BAL__D__BANK",) and npl.denominator == ("LOAN_BAL__D__BANK",)
    # a part may name its own period: growth since year start = change / value at year start
    growth = by_code["LOAN_GROWTH__D__BRANCH"]
    assert growth.numerator == ("LOAN_BAL__VS_YS__BRANCH",) and growth.denominator == (
        "LOAN_BAL__YSB__BRANCH",
    )
    # breakdowns by modifier are read at bank and branch; managers and villages get the headline
    assert "LOAN_BAL__AGRI__D__VILLAGE" not in by_code and "LOAN_BAL__D__VILLAGE" in by_code
    for i in expanded:
        assert i.name_zh and i.name_en and i.definition_zh and i.definition_en and i.unit and i.owner
        assert re.search(r"[\u4e00-\u9fff]", i.name_zh), i.code
        assert i.name_en.isascii(), i.code
    # flows have no "change since month start"; stocks have every period
    assert "NEW_LOAN_AMT__VS_MS__BANK" not in by_code and "LOAN_BAL__VS_MS__BANK" in by_code


def test_seeds_carry_every_indicator_and_tag(tmp_path: Path) -> None:
    indicators.write_seeds(seeds_dir=tmp_path)
    tags.write_seeds(seeds_dir=tmp_path)
    with (tmp_path / "indicator_catalog.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["indicator_code"] for r in rows] == [i.code for i in indicators.expand()]
    derived = [r for r in rows if r["kind"] == "derived"]
    assert all(r["fact"] and r["measure"] and r["agg"] and r["window_type"] for r in derived)
    with (tmp_path / "tag_catalog.csv").open(encoding="utf-8") as fh:
        tag_rows = list(csv.DictReader(fh))
    assert {r["tag_code"] for r in tag_rows} == {t.code for t in tags.load()}
    assert any("'" in r["rule_sql"] for r in tag_rows)  # quoted SQL survives the CSV round trip
    # unchanged catalogs do not rewrite the seeds (banks build concurrently)
    before = (tmp_path / "indicator_catalog.csv").stat().st_mtime_ns
    indicators.write_seeds(seeds_dir=tmp_path)
    assert (tmp_path / "indicator_catalog.csv").stat().st_mtime_ns == before


def test_tags_have_codes_names_categories_and_rules() -> None:
    loaded = tags.load()
    assert len(loaded) >= 5
    assert len({t.code for t in loaded}) == len(loaded)
    names = {t.name_zh for t in loaded}
    assert {"有贷户", "存款大户", "逾期客户", "农户", "不良贷款客户", "新客户"} <= names
    for t in loaded:
        assert t.name_en and t.category and t.category_zh and t.rule_text and t.rule_sql


def _write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_malformed_indicator_catalog_names_file_and_field(tmp_path: Path) -> None:
    raw = _raw_indicators()
    raw["atomics"][1]["kind"] = "balance"
    path = _write_yaml(tmp_path / "indicators.yaml", raw)
    with pytest.raises(CatalogError) as err:
        indicators.expand(path)
    assert str(path) in str(err.value) and "atomics[LOAN_CNT].kind" in str(err.value)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda r: r["atomics"][0].update(theme="weather"), "atomics[LOAN_BAL].theme"),
        (lambda r: r["atomics"][0].update(modifiers=["NOPE"]), "atomics[LOAN_BAL].modifiers"),
        (lambda r: r["composites"][0].update(numerator=["NO_SUCH"]), "composites[NPL_RATIO].numerator"),
        (lambda r: r["atomics"][1].update(code="LOAN_BAL"), "atomics[LOAN_BAL].code"),
        (lambda r: r["periods"]["L30D"].pop("days"), "periods.L30D"),
        (lambda r: r["atomics"][3].update(periods=["VS_MS"]), "atomics[NEW_LOAN_CNT].periods"),
        (lambda r: r["atomics"][0].update(grains=["galaxy"]), "atomics[LOAN_BAL].grains"),
        (lambda r: r["atomics"][5].update(grains=["customer"]), "atomics[LOAN_CUST_CNT].grains"),
        (lambda r: r["composites"][0].update(numerator=["NPL_BAL@NEVER"]), "composites[NPL_RATIO].numerator"),
        (lambda r: r["facts"]["village"].update(grains=["bank", "planet"]), "facts.village.grains"),
    ],
)
def test_bad_references_name_the_field(tmp_path: Path, change, field: str) -> None:
    raw = _raw_indicators()
    change(raw)
    path = _write_yaml(tmp_path / "indicators.yaml", raw)
    with pytest.raises(CatalogError) as err:
        indicators.expand(path)
    assert str(path) in str(err.value) and field in str(err.value), str(err.value)


def test_malformed_tag_catalog_names_file_and_field(tmp_path: Path) -> None:
    raw = yaml.safe_load(tags.CATALOG_FILE.read_text(encoding="utf-8"))
    raw["tags"][2].pop("rule_text")
    path = _write_yaml(tmp_path / "tags.yaml", raw)
    with pytest.raises(CatalogError) as err:
        tags.load(path)
    assert str(path) in str(err.value) and "tags[HAS_LOAN].rule_text" in str(err.value)
    raw = yaml.safe_load(tags.CATALOG_FILE.read_text(encoding="utf-8"))
    raw["tags"][0]["category"] = "astrology"
    path = _write_yaml(tmp_path / "tags.yaml", raw)
    with pytest.raises(CatalogError, match=r"tags\[FARMER\]\.category.*astrology"):
        tags.load(path)
    (tmp_path / "broken.yaml").write_text("tags: [unclosed", encoding="utf-8")
    with pytest.raises(CatalogError, match="broken.yaml: not valid YAML"):
        tags.load(tmp_path / "broken.yaml")
