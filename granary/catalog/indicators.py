"""The indicator catalog: `dbt_project/catalog/indicators.yaml` expanded into every indicator.

An *atomic* indicator is a measure over a DWS fact; a *derived* one is atomic × period
(× modifier) at a grain; a *composite* one is a ratio of other indicators at the same
period and grain. Codes are built only from codes in the YAML, so they stay stable:

    derived    <ATOMIC>[__<MODIFIER>]__<PERIOD>__<GRAIN>    LOAN_BAL__AGRI__MTD__BRANCH
    composite  <COMPOSITE>__<PERIOD>__<GRAIN>                NPL_RATIO__D__BANK

`write_seeds()` turns the expansion into the CSV seeds the dbt models join against, so
adding an indicator never needs a new model.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from granary.config import REPO_ROOT

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
CATALOG_FILE = DBT_PROJECT_DIR / "catalog" / "indicators.yaml"
SEEDS_DIR = DBT_PROJECT_DIR / "seeds" / "generated"

Code = Field(pattern=r"^[A-Z][A-Z0-9_]*[A-Z0-9]$")
Grain = Literal["bank", "branch"]
M = TypeVar("M", bound=BaseModel)


class CatalogError(ValueError):
    """A catalog file that cannot be used; the message names the file and the field."""


# --- the YAML, as written -----------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Theme(_Strict):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class NameParts(_Strict):
    """How a part (grain, period side, modifier) changes a name and a definition."""

    zh: str = Field(pattern=r"\{name\}")
    en: str = Field(pattern=r"\{name\}")
    definition_zh: str = Field(min_length=1)
    definition_en: str = Field(min_length=1)


class PeriodSide(NameParts):
    agg: Literal["last", "sum", "avg", "change"]


class Period(_Strict):
    window: Literal["day", "month_to_date", "year_to_date", "last_n_days", "change_since_month_start"]
    days: int | None = Field(None, ge=1, le=366)
    stock: PeriodSide | None = None
    flow: PeriodSide | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Period:
        if (self.window == "last_n_days") != (self.days is not None):
            raise ValueError("'days' is required for window last_n_days and only for it")
        if self.stock is None and self.flow is None:
            raise ValueError("a period needs a 'stock' or a 'flow' side")
        return self


class Modifier(NameParts):
    sql: str = Field(min_length=1, description="SQL boolean over the fact's detail rows")


class Fact(_Strict):
    model: str = Field(pattern=r"^dws_[a-z0-9_]+$")
    modifiers: dict[str, Modifier] = {}


class Atomic(_Strict):
    code: str = Code
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    unit: str = Field(min_length=1)
    kind: Literal["stock", "flow"]
    theme: str
    owner: str = Field(min_length=1)
    fact: str
    measure: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    modifiers: list[str] = []
    periods: list[str] | None = None  # default: every period defined for its kind
    grains: list[Grain] = ["bank", "branch"]
    definition_zh: str = Field(min_length=1)
    definition_en: str = Field(min_length=1)


class Composite(_Strict):
    code: str = Code
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    unit: str = Field(min_length=1)
    theme: str
    owner: str = Field(min_length=1)
    numerator: list[str] = Field(min_length=1)
    denominator: list[str] = Field(min_length=1)
    periods: list[str] = ["D"]
    grains: list[Grain] = ["bank", "branch"]
    definition_zh: str = Field(min_length=1)
    definition_en: str = Field(min_length=1)


class IndicatorCatalog(_Strict):
    themes: dict[str, Theme]
    grains: dict[Grain, NameParts]
    periods: dict[str, Period]
    facts: dict[str, Fact]
    atomics: list[Atomic] = Field(min_length=1)
    composites: list[Composite] = []


# --- the expansion ------------------------------------------------------------------------


class Indicator(_Strict):
    """One published indicator: its dictionary entry plus what the SQL needs to compute it."""

    code: str
    name_zh: str
    name_en: str
    theme: str
    theme_zh: str
    definition_zh: str
    definition_en: str
    unit: str
    grain: Grain
    atomic_code: str | None
    period: str
    modifier: str | None
    kind: Literal["derived", "composite"]
    owner: str
    # derived: where the value comes from and how the period aggregates it
    fact: str | None = None
    measure: str | None = None
    segment: str | None = None  # modifier code, or ALL
    window: str | None = None
    window_days: int | None = None
    agg: str | None = None
    # composite: codes of the parts at the same period and grain
    numerator: tuple[str, ...] = ()
    denominator: tuple[str, ...] = ()


def derived_code(atomic: str, modifier: str | None, period: str, grain: str) -> str:
    base = f"{atomic}__{modifier}" if modifier else atomic
    return f"{base}__{period}__{grain.upper()}"


def composite_code(composite: str, period: str, grain: str) -> str:
    return f"{composite}__{period}__{grain.upper()}"


def field_path(loc: tuple, raw: Any) -> str:
    """`atomics.3.kind` -> `atomics[NPL_BAL].kind`: name list items by their code when they have one."""
    parts: list[str] = []
    node = raw
    for key in loc:
        if isinstance(key, int) and isinstance(node, list):
            item = node[key] if key < len(node) else None
            label = item.get("code") if isinstance(item, dict) else None
            parts[-1] += f"[{label or key}]"
            node = item
        else:
            parts.append(str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return ".".join(parts) or "<root>"


def read_catalog(path: Path) -> dict:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogError(f"{path}: no such catalog file") from None
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise CatalogError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    return raw


def validate_catalog(path: Path, raw: dict, model: type[M]) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"field '{field_path(e['loc'], raw)}': {e['msg']}" for e in exc.errors())
        raise CatalogError(f"{path}: {problems}") from exc


def _fill(template: str, name: str) -> str:
    return template.replace("{name}", name)


def load_catalog(path: Path | None = None) -> IndicatorCatalog:
    path = path or CATALOG_FILE
    raw = read_catalog(path)
    catalog = validate_catalog(path, raw, IndicatorCatalog)
    _check_references(path, catalog)
    return catalog


def _check_references(path: Path, cat: IndicatorCatalog) -> None:
    def fail(field: str, msg: str) -> None:
        raise CatalogError(f"{path}: field '{field}': {msg}")

    codes: set[str] = set()
    for group, items in (("atomics", cat.atomics), ("composites", cat.composites)):
        for item in items:
            if item.code in codes:
                fail(
                    f"{group}[{item.code}].code", "duplicate code; every atomic and composite code is unique"
                )
            if "__" in item.code:
                fail(f"{group}[{item.code}].code", "'__' separates code parts; use a single '_'")
            codes.add(item.code)
            if item.theme not in cat.themes:
                fail(
                    f"{group}[{item.code}].theme",
                    f"unknown theme '{item.theme}' (known: {', '.join(cat.themes)})",
                )
            for g in item.grains:
                if g not in cat.grains:
                    fail(f"{group}[{item.code}].grains", f"grain '{g}' has no entry under 'grains'")
    for a in cat.atomics:
        where = f"atomics[{a.code}]"
        if a.fact not in cat.facts:
            fail(f"{where}.fact", f"unknown fact '{a.fact}' (known: {', '.join(cat.facts)})")
        for m in a.modifiers:
            if m not in cat.facts[a.fact].modifiers:
                known = ", ".join(cat.facts[a.fact].modifiers) or "none"
                fail(f"{where}.modifiers", f"fact '{a.fact}' has no modifier '{m}' (known: {known})")
        for p in a.periods or []:
            if p not in cat.periods:
                fail(f"{where}.periods", f"unknown period '{p}'")
            if getattr(cat.periods[p], a.kind) is None:
                fail(f"{where}.periods", f"period '{p}' is not defined for a {a.kind}")
    parts_known = {a.code for a in cat.atomics} | {f"{a.code}__{m}" for a in cat.atomics for m in a.modifiers}
    for c in cat.composites:
        where = f"composites[{c.code}]"
        for side in ("numerator", "denominator"):
            for part in getattr(c, side):
                if part not in parts_known:
                    fail(f"{where}.{side}", f"'{part}' is not an atomic code (or ATOMIC__MODIFIER)")
        for p in c.periods:
            if p not in cat.periods:
                fail(f"{where}.periods", f"unknown period '{p}'")


def _atomic_periods(cat: IndicatorCatalog, atomic: Atomic) -> list[str]:
    if atomic.periods is not None:
        return atomic.periods
    return [code for code, period in cat.periods.items() if getattr(period, atomic.kind) is not None]


def expand(path: Path | None = None) -> list[Indicator]:
    """Every indicator: atomic × period × (no modifier + modifiers) × grain, then composites."""
    path = path or CATALOG_FILE
    cat = load_catalog(path)
    out: list[Indicator] = []
    for a in cat.atomics:
        theme = cat.themes[a.theme]
        fact = cat.facts[a.fact]
        for modifier in [None, *a.modifiers]:
            mod = fact.modifiers[modifier] if modifier else None
            for period_code in _atomic_periods(cat, a):
                period = cat.periods[period_code]
                side: PeriodSide = getattr(period, a.kind)
                for grain in a.grains:
                    g = cat.grains[grain]
                    zh, en = a.name_zh, a.name_en
                    if mod:
                        zh, en = _fill(mod.zh, zh), _fill(mod.en, en)
                    zh, en = _fill(g.zh, _fill(side.zh, zh)), _fill(g.en, _fill(side.en, en))
                    definition_zh = f"{a.definition_zh}。" + (mod.definition_zh if mod else "")
                    definition_en = f"{a.definition_en}. " + (f"{mod.definition_en} " if mod else "")
                    out.append(
                        Indicator(
                            code=derived_code(a.code, modifier, period_code, grain),
                            name_zh=zh,
                            name_en=en[:1].upper() + en[1:],
                            theme=a.theme,
                            theme_zh=theme.zh,
                            definition_zh=definition_zh + side.definition_zh + g.definition_zh,
                            definition_en=definition_en + f"{side.definition_en} {g.definition_en}",
                            unit=a.unit,
                            grain=grain,
                            atomic_code=a.code,
                            period=period_code,
                            modifier=modifier,
                            kind="derived",
                            owner=a.owner,
                            fact=cat.facts[a.fact].model,
                            measure=a.measure,
                            segment=modifier or "ALL",
                            window=period.window,
                            window_days=period.days,
                            agg=side.agg,
                        )
                    )
    derived = {i.code for i in out}
    for c in cat.composites:
        theme = cat.themes[c.theme]
        for period_code in c.periods:
            for grain in c.grains:
                parts = {
                    side: tuple(f"{part}__{period_code}__{grain.upper()}" for part in getattr(c, side))
                    for side in ("numerator", "denominator")
                }
                missing = [p for ps in parts.values() for p in ps if p not in derived]
                if missing:
                    raise CatalogError(
                        f"{path}: field 'composites[{c.code}].periods': parts {missing} do not exist "
                        f"(the part's atomic lacks period '{period_code}' or grain '{grain}')"
                    )
                g = cat.grains[grain]
                label_zh, label_en = (
                    _period_label(cat, period_code, "zh"),
                    _period_label(cat, period_code, "en"),
                )
                period_zh = "" if period_code == "D" else f"({_period_label(cat, period_code, 'zh')})"
                period_en = "" if period_code == "D" else f", {_period_label(cat, period_code, 'en')}"
                out.append(
                    Indicator(
                        code=composite_code(c.code, period_code, grain),
                        name_zh=_fill(g.zh, c.name_zh + period_zh),
                        name_en=_fill(g.en, c.name_en + period_en),
                        theme=c.theme,
                        theme_zh=theme.zh,
                        definition_zh=f"{c.definition_zh},分子分母均取{label_zh}口径。{g.definition_zh}",
                        definition_en=f"{c.definition_en}, both taken as {label_en}. {g.definition_en}",
                        unit=c.unit,
                        grain=grain,
                        atomic_code=None,
                        period=period_code,
                        modifier=None,
                        kind="composite",
                        owner=c.owner,
                        numerator=parts["numerator"],
                        denominator=parts["denominator"],
                    )
                )
    seen: set[str] = set()
    for i in out:
        if i.code in seen:
            raise CatalogError(
                f"{path}: expansion gives code '{i.code}' twice; rename an atomic or composite"
            )
        seen.add(i.code)
    return out


def _period_label(cat: IndicatorCatalog, period_code: str, lang: str) -> str:
    """A composite's period in words, taken from the stock side (ratios are of balances)."""
    period = cat.periods[period_code]
    side = period.stock or period.flow
    assert side is not None
    label = _fill(getattr(side, lang), "").strip(" ,")
    return label or ("时点" if lang == "zh" else "point in time")


# --- seeds for dbt ------------------------------------------------------------------------

DICT_COLUMNS = (
    "indicator_code", "name_zh", "name_en", "theme", "theme_zh", "definition_zh", "definition_en",
    "unit", "grain", "atomic_code", "period", "modifier", "kind", "owner",
)  # fmt: skip
SPEC_COLUMNS = ("fact", "measure", "segment", "window_type", "window_days", "agg")


def write_csv(path: Path, header: tuple[str, ...] | list[str], rows: list[list[Any]]) -> bool:
    """Write a CSV atomically, and only when its content changes (banks build concurrently)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    text = buf.getvalue()
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return True


def write_seeds(path: Path | None = None, seeds_dir: Path | None = None) -> list[Path]:
    """Seeds indicator_catalog (dictionary + spec), indicator_composite_part, indicator_modifier."""
    seeds_dir = seeds_dir or SEEDS_DIR
    path = path or CATALOG_FILE
    indicators = expand(path)
    catalog = load_catalog(path)
    written = []
    rows = [
        [
            i.code,
            i.name_zh,
            i.name_en,
            i.theme,
            i.theme_zh,
            i.definition_zh,
            i.definition_en,
            i.unit,
            i.grain,
            i.atomic_code,
            i.period,
            i.modifier,
            i.kind,
            i.owner,
            i.fact,
            i.measure,
            i.segment,
            i.window,
            i.window_days,
            i.agg,
        ]  # fmt: skip
        for i in indicators
    ]
    target = seeds_dir / "indicator_catalog.csv"
    write_csv(target, DICT_COLUMNS + SPEC_COLUMNS, rows)
    written.append(target)
    parts = [
        [i.code, part, role]
        for i in indicators
        for role, codes in (("numerator", i.numerator), ("denominator", i.denominator))
        for part in codes
    ]
    target = seeds_dir / "indicator_composite_part.csv"
    write_csv(target, ("indicator_code", "part_code", "role"), parts)
    written.append(target)
    modifiers = [
        [fact.model, code, m.sql] for fact in catalog.facts.values() for code, m in fact.modifiers.items()
    ]
    target = seeds_dir / "indicator_modifier.csv"
    write_csv(target, ("fact", "modifier_code", "filter_sql"), modifiers)
    written.append(target)
    return written
