"""`granary catalog`: the indicator and tag catalogs, expanded from YAML."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from granary.catalog.indicators import CatalogError
from granary.cli.common import fail, guard, out

catalog_app = typer.Typer(help="The indicator and tag catalogs, expanded from YAML.")


@catalog_app.command("indicators")
def catalog_indicators(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    theme: Annotated[str | None, typer.Option(help="only this theme")] = None,
) -> None:
    """Every indicator: code, Chinese and English name, theme, unit, grain, what it derives from."""
    from granary.catalog.indicators import expand

    items = [i for i in guard(expand) if theme is None or i.theme == theme]  # type: ignore[union-attr]
    if as_json:
        out.print_json(json.dumps([i.model_dump() for i in items], ensure_ascii=False, default=str))
        return
    table = Table("code", "指标", "indicator", "theme", "unit", "grain", title=f"{len(items)} indicators")
    for i in items:
        table.add_row(i.code, i.name_zh, i.name_en, i.theme, i.unit, i.grain)
    out.print(table)


@catalog_app.command("tags")
def catalog_tags(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    category: Annotated[str | None, typer.Option(help="only this category code, e.g. risk")] = None,
) -> None:
    """Every customer tag: code, Chinese and English name, category, rule (110 tags, 21 categories)."""
    from granary.catalog.tags import categories, load

    known = guard(categories)
    if category is not None and category not in known:  # type: ignore[operator]
        fail(CatalogError(f"unknown tag category '{category}' (known: {', '.join(known)})"), 2)  # type: ignore[arg-type]
    items = [t for t in guard(load) if category is None or t.category == category]  # type: ignore[union-attr]
    if as_json:
        out.print_json(json.dumps([t.model_dump() for t in items], ensure_ascii=False, default=str))
        return
    shown = len({t.category for t in items})
    title = f"{len(items)} tags in {shown} categories"
    table = Table("code", "标签", "tag", "类别", "category", "规则", title=title)
    for t in items:
        table.add_row(t.code, t.name_zh, t.name_en, t.category_zh, t.category_en, t.rule_text)
    out.print(table)
