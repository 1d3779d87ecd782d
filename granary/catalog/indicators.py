"""The indicator catalog: `granary/catalog/indicators.yaml` expanded into every indicator.

An *atomic* indicator is a measure over a DWS fact; a *derived* one is atomic × period
(× modifier) at a grain; a *composite* one is a ratio of other indicators at the same
grain (each part at the composite's period, or at the one it names with `@PERIOD`).
Codes are built only from codes in the YAML, so they stay stable:

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

from granary.core.config import REPO_ROOT

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
CATALOG_FILE = Path(__file__).with_name("indicators.yaml")
SEEDS_DIR = DBT_PROJECT_DIR / "seeds" / "generated"

Code = Field(pattern=r"^[A-Z][A-Z0-9_]*[A-Z0-9]$")
Grain = Literal["bank", "branch", "manager", "village", "customer"]
GRAINS: tuple[Grain, ...] = ("bank", "branch", "manager", "village", "customer")
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


class GrainDef(NameParts):
    periods: list[str] | None = None  # periods offered at this grain (default: all)
    modifiers: bool = True  # False: only the unmodified indicator at this grain


class PeriodSide(NameParts):
    agg: Literal["last", "sum", "avg", "change", "base"]


Window = Literal[
    "day",
    "month_to_date",
    "quarter_to_date",
    "year_to_date",
    "last_n_days",
    "change_since_month_start",
    "change_since_year_start",
    "change_year_on_year",
    "year_start_value",
]


class Period(_Strict):
    window: Window
    days: int | None = Field(None, ge=1, le=366)
    default: bool = True  # taken by atomics that do not list their periods
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
    grains: list[Grain] = Field(min_length=1)
    definition_zh: str = Field(min_length=1, description="how rows are attributed to members")
    definition_en: str = Field(min_length=1)
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
    periods: list[str] | None = None  # default: the default periods defined for its kind
    grains: list[Grain] | None = None  # default: the fact's grains but customer
    additive: bool = True  # members add up to the bank
    definition_zh: str = Field(min_length=1)
    definition_en: str = Field(min_length=1)


class Composite(_Strict):
    code: str = Code
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    unit: str = Field(min_length=1)
    theme: str
    owner: str = Field(min_length=1)
    numerator: list[str] = Field(min_length=1)  # ATOMIC[__MODIFIER][@PERIOD]
    denominator: list[str] = Field(min_length=1)
    periods: list[str] = ["D"]
    grains: list[Grain] | None = None  # default: every grain all its parts have
    range: tuple[float | None, float | None] | None = None  # bounds the value must lie in
    definition_zh: str = Field(min_length=1)
    definition_en: str = Field(min_length=1)


class IndicatorCatalog(_Strict):
    themes: dict[str, Theme]
    grains: dict[Grain, GrainDef]
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
    additive: bool  # members of the grain add up to the bank
    value_min: float | None = None  # composites: the range the value must lie in
    value_max: float | None = None
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

    for g, grain in cat.grains.items():
        for p in grain.periods or []:
            if p not in cat.periods:
                fail(f"grains.{g}.periods", f"unknown period '{p}'")
    for name, fact in cat.facts.items():
        for g in fact.grains:
            if g not in cat.grains:
                fail(f"facts.{name}.grains", f"grain '{g}' has no entry under 'grains'")
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
            for p in item.periods or []:
                if p not in cat.periods:
                    fail(f"{group}[{item.code}].periods", f"unknown period '{p}'")
    for a in cat.atomics:
        where = f"atomics[{a.code}]"
        if a.fact not in cat.facts:
            fail(f"{where}.fact", f"unknown fact '{a.fact}' (known: {', '.join(cat.facts)})")
        fact = cat.facts[a.fact]
        for m in a.modifiers:
            if m not in fact.modifiers:
                known = ", ".join(fact.modifiers) or "none"
                fail(f"{where}.modifiers", f"fact '{a.fact}' has no modifier '{m}' (known: {known})")
        for g in a.grains or []:
            if g not in fact.grains:
                fail(f"{where}.grains", f"fact '{a.fact}' cannot be summed to grain '{g}' ({fact.grains})")
        for p in a.periods or []:
            if getattr(cat.periods[p], a.kind) is None:
                fail(f"{where}.periods", f"period '{p}' is not defined for a {a.kind}")
    parts_known = {a.code for a in cat.atomics} | {f"{a.code}__{m}" for a in cat.atomics for m in a.modifiers}
    for c in cat.composites:
        where = f"composites[{c.code}]"
        for side in ("numerator", "denominator"):
            for part in getattr(c, side):
                base, _, period = part.partition("@")
                if base not in parts_known:
                    fail(f"{where}.{side}", f"'{part}' is not an atomic code (or ATOMIC__MODIFIER[@PERIOD])")
                if period and period not in cat.periods:
                    fail(f"{where}.{side}", f"'{part}' names an unknown period '{period}'")


def _atomic_periods(cat: IndicatorCatalog, atomic: Atomic) -> list[str]:
    if atomic.periods is not None:
        return atomic.periods
    return [
        code
        for code, period in cat.periods.items()
        if period.default and getattr(period, atomic.kind) is not None
    ]


def _atomic_grains(cat: IndicatorCatalog, atomic: Atomic) -> list[Grain]:
    if atomic.grains is not None:
        return atomic.grains
    return [g for g in cat.facts[atomic.fact].grains if g != "customer"]


def _derived(cat: IndicatorCatalog, a: Atomic) -> list[Indicator]:
    """One atomic at every (modifier, period, grain) it declares and its grains offer."""
    theme, fact = cat.themes[a.theme], cat.facts[a.fact]
    out = []
    for modifier in [None, *a.modifiers]:
        mod = fact.modifiers[modifier] if modifier else None
        for period_code in _atomic_periods(cat, a):
            period = cat.periods[period_code]
            side: PeriodSide = getattr(period, a.kind)
            for grain in _atomic_grains(cat, a):
                g = cat.grains[grain]
                if (g.periods is not None and period_code not in g.periods) or (mod and not g.modifiers):
                    continue
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
                        definition_zh=definition_zh
                        + side.definition_zh
                        + g.definition_zh
                        + fact.definition_zh,
                        definition_en=definition_en
                        + f"{side.definition_en} {g.definition_en} {fact.definition_en}",
                        unit=a.unit,
                        grain=grain,
                        atomic_code=a.code,
                        period=period_code,
                        modifier=modifier,
                        kind="derived",
                        owner=a.owner,
                        additive=a.additive,
                        fact=fact.model,
                        measure=a.measure,
                        segment=modifier or "ALL",
                        window=period.window,
                        window_days=period.days,
                        agg=side.agg,
                    )
                )
    return out


def _composites(cat: IndicatorCatalog, c: Composite, derived: set[str], path: Path) -> list[Indicator]:
    """One composite at each of its periods and grains; its parts must exist at that grain."""
    theme = cat.themes[c.theme]
    # default: every grain but customer at which all parts exist for all its periods
    grains = c.grains or [
        g
        for g in GRAINS
        if g != "customer"
        and all(
            derived_code(*_split_part(part), _part_period(part, period), g) in derived
            for period in c.periods
            for part in [*c.numerator, *c.denominator]
        )
    ]
    out = []
    for period_code in c.periods:
        for grain in grains:
            parts = {
                side: tuple(
                    derived_code(*_split_part(part), _part_period(part, period_code), grain)
                    for part in getattr(c, side)
                )
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
            period_zh = "" if period_code == "D" else f"({label_zh})"
            period_en = "" if period_code == "D" else f", {label_en}"
            low, high = c.range or (None, None)
            out.append(
                Indicator(
                    code=composite_code(c.code, period_code, grain),
                    name_zh=_fill(g.zh, c.name_zh + period_zh),
                    name_en=_fill(g.en, c.name_en + period_en),
                    theme=c.theme,
                    theme_zh=theme.zh,
                    definition_zh=f"{c.definition_zh};分子分母各取所列口径({label_zh}),分母为0时不出数。"
                    f"{g.definition_zh}",
                    definition_en=f"{c.definition_en}; each part as listed ({label_en}), "
                    f"no value when the denominator is 0. {g.definition_en}",
                    unit=c.unit,
                    grain=grain,
                    atomic_code=None,
                    period=period_code,
                    modifier=None,
                    kind="composite",
                    owner=c.owner,
                    additive=False,
                    value_min=low,
                    value_max=high,
                    numerator=parts["numerator"],
                    denominator=parts["denominator"],
                )
            )
    return out


def _split_part(part: str) -> tuple[str, str | None]:
    """'LOAN_BAL__AGRI@VS_YS' -> ('LOAN_BAL', 'AGRI')."""
    base = part.partition("@")[0]
    atomic, _, modifier = base.partition("__")
    return atomic, modifier or None


def _part_period(part: str, default: str) -> str:
    return part.partition("@")[2] or default


def expand(path: Path | None = None) -> list[Indicator]:
    """Every indicator: atomic × (no modifier + modifiers) × period × grain, then composites."""
    path = path or CATALOG_FILE
    cat = load_catalog(path)
    out = [i for a in cat.atomics for i in _derived(cat, a)]
    derived = {i.code for i in out}
    for c in cat.composites:
        out.extend(_composites(cat, c, derived, path))
    seen: set[str] = set()
    for i in out:
        if i.code in seen:
            raise CatalogError(
                f"{path}: expansion gives code '{i.code}' twice; rename an atomic or composite"
            )
        seen.add(i.code)
    return out


def _period_label(cat: IndicatorCatalog, period_code: str, lang: str) -> str:
    """A composite's period in words, taken from the stock side (ratios are mostly of balances)."""
    period = cat.periods[period_code]
    side = period.stock or period.flow
    assert side is not None
    label = _fill(getattr(side, lang), "").strip(" ,")
    return label or ("时点" if lang == "zh" else "point in time")


# --- seeds for dbt ------------------------------------------------------------------------

DICT_COLUMNS = (
    "indicator_code", "name_zh", "name_en", "theme", "theme_zh", "definition_zh", "definition_en",
    "unit", "grain", "atomic_code", "period", "modifier", "kind", "owner", "additive", "value_min",
    "value_max",
)  # fmt: skip
SPEC_COLUMNS = ("fact", "measure", "segment", "window_type", "window_days", "agg", "wide_column")


def wide_column(indicator: Indicator) -> str:
    """The indicator's column in its theme's wide table (one row per grain member): the code
    without its grain, lower case, e.g. LOAN_BAL__AGRI__MTD__BRANCH -> loan_bal__agri__mtd."""
    return indicator.code.rsplit("__", 1)[0].lower()


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
    """Seeds indicator_catalog (dictionary + spec), indicator_composite_part, indicator_modifier,
    indicator_fact_grain (the grains each fact model rolls up to)."""
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
            i.additive,
            i.value_min,
            i.value_max,
            i.fact,
            i.measure,
            i.segment,
            i.window,
            i.window_days,
            i.agg,
            wide_column(i),
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
    fact_grains = [[fact.model, grain] for fact in catalog.facts.values() for grain in fact.grains]
    target = seeds_dir / "indicator_fact_grain.csv"
    write_csv(target, ("fact", "grain"), fact_grains)
    written.append(target)
    return written
