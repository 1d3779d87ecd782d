"""Indicator and tag catalogs: expansion, unique stable codes, names, errors naming file and field."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import yaml

from granary.catalog import indicators, tags
from granary.catalog.indicators import CatalogError

CODE = re.compile(r"^[A-Z][A-Z0-9_]*(__[A-Z0-9_]+)*__(D|MTD|YTD|L30D|VS_MS)__(BANK|BRANCH)$")


def _raw_indicators() -> dict:
    return yaml.safe_load(indicators.CATALOG_FILE.read_text(encoding="utf-8"))


def test_expansion_count_follows_the_catalog() -> None:
    raw = _raw_indicators()
    periods_by_kind = {
        kind: [code for code, p in raw["periods"].items() if p.get(kind)] for kind in ("stock", "flow")
    }
    expected = sum(
        len(a.get("periods") or periods_by_kind[a["kind"]])
        * (1 + len(a.get("modifiers", [])))
        * len(a.get("grains", ["bank", "branch"]))
        for a in raw["atomics"]
    ) + sum(
        len(c.get("periods", ["D"])) * len(c.get("grains", ["bank", "branch"])) for c in raw["composites"]
    )
    expanded = indicators.expand()
    assert len(expanded) == expected
    assert len(expanded) >= 10
    assert sum(i.kind == "composite" for i in expanded) >= 3
    assert {i.theme for i in expanded} == {"public", "risk", "marketing", "operations", "credit"}


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
