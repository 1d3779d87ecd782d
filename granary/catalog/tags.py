"""The customer tag catalog: `granary/catalog/tags.yaml`, validated, and its dbt seed.

Each tag is a SQL boolean over the columns of `dws_customer__daily` (the customer 360 profile
of a day); the model `profile_tag__daily` renders every rule from the seed `tag_catalog` and
evaluates them all in one pass, so adding a tag is a YAML change only.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from granary.catalog.indicators import (
    SEEDS_DIR,
    CatalogError,
    read_catalog,
    validate_catalog,
    write_csv,
)

CATALOG_FILE = Path(__file__).with_name("tags.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Category(_Strict):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class TagRule(_Strict):
    code: str = Field(pattern=r"^[A-Z][A-Z0-9_]*[A-Z0-9]$")
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    category: str
    rule_text: str = Field(min_length=1, description="the rule in words, for the bank user")
    sql: str = Field(min_length=1, description="SQL boolean over dws_customer__daily columns")


class TagCatalog(_Strict):
    categories: dict[str, Category]
    tags: list[TagRule] = Field(min_length=1)


class Tag(_Strict):
    code: str
    name_zh: str
    name_en: str
    category: str
    category_zh: str
    category_en: str
    rule_text: str
    rule_sql: str


def load(path: Path | None = None) -> list[Tag]:
    """Every tag, validated: unique codes, known categories, a rule in words and in SQL."""
    path = path or CATALOG_FILE
    raw = read_catalog(path)
    catalog = validate_catalog(path, raw, TagCatalog)
    seen: set[str] = set()
    tags: list[Tag] = []
    for t in catalog.tags:
        if t.code in seen:
            raise CatalogError(f"{path}: field 'tags[{t.code}].code': duplicate code")
        seen.add(t.code)
        if not t.code.isascii():
            raise CatalogError(f"{path}: field 'tags[{t.code}].code': codes are ASCII")
        if t.category not in catalog.categories:
            known = ", ".join(catalog.categories)
            raise CatalogError(
                f"{path}: field 'tags[{t.code}].category': unknown category '{t.category}' (known: {known})"
            )
        if ";" in t.sql:
            raise CatalogError(f"{path}: field 'tags[{t.code}].sql': one boolean expression, no ';'")
        cat = catalog.categories[t.category]
        tags.append(
            Tag(
                code=t.code,
                name_zh=t.name_zh,
                name_en=t.name_en,
                category=t.category,
                category_zh=cat.zh,
                category_en=cat.en,
                rule_text=t.rule_text,
                rule_sql=t.sql,
            )
        )
    unused = sorted(set(catalog.categories) - {t.category for t in tags})
    if unused:
        raise CatalogError(f"{path}: field 'categories.{unused[0]}': no tag is in this category")
    return tags


def categories(path: Path | None = None) -> dict[str, Category]:
    """The categories in catalog order, code -> Chinese and English name."""
    path = path or CATALOG_FILE
    return validate_catalog(path, read_catalog(path), TagCatalog).categories


def write_seeds(path: Path | None = None, seeds_dir: Path | None = None) -> list[Path]:
    """tag_catalog.csv: the tag dictionary plus each rule's SQL, in catalog order (tag_order)."""
    target = (seeds_dir or SEEDS_DIR) / "tag_catalog.csv"
    rows = [
        [t.code, t.name_zh, t.name_en, t.category, t.category_zh, t.category_en, t.rule_text, t.rule_sql, n]
        for n, t in enumerate(load(path), start=1)
    ]
    header = (
        "tag_code", "name_zh", "name_en", "category", "category_zh", "category_en", "rule_text", "rule_sql",
        "tag_order",
    )  # fmt: skip
    write_csv(target, header, rows)
    return [target]
