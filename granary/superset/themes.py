"""What the theme dashboards are built from: the indicator catalog, read as the templates need it.

One dashboard per catalog theme; each leads with the theme's first atomic indicator (catalog
order: LOAN_BAL for credit, NPL_BAL for risk, ...). Adding a theme or an indicator to
granary/catalog/indicators.yaml is the only edit the dashboards need.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from granary.catalog.indicators import IndicatorCatalog, expand, load_catalog

TEMPLATES = Path(__file__).with_name("templates")
THEME_DIR = "theme"


@dataclass(frozen=True)
class Headline:
    code: str
    name_zh: str
    unit: str
    modifiers: tuple[str, ...]


@dataclass(frozen=True)
class ThemeView:
    code: str
    zh: str
    headline: Headline
    composites: int  # composite indicators of the theme at bank grain
    chart_templates: tuple[str, ...]  # template paths rendered for this theme
    extras: tuple[str, ...]  # stems of the theme's own charts (theme/<code>/*.yaml)

    def chart(self, stem: str) -> str:
        """The chart key of one of this theme's charts."""
        return f"{self.code}.{stem}"

    def extra_row(self) -> list[tuple[str, int, int]]:
        """The theme's own charts, side by side (half width each)."""
        return [(self.chart(stem), 6, 60) for stem in self.extras]


def _templates(sub: str) -> list[str]:
    return sorted(p.relative_to(TEMPLATES).as_posix() for p in (TEMPLATES / sub).glob("*.yaml"))


@cache
def _catalog() -> IndicatorCatalog:
    return load_catalog()


@cache
def themes() -> tuple[ThemeView, ...]:
    cat = _catalog()
    indicators = expand()
    views = []
    for code, theme in cat.themes.items():
        atomics = [a for a in cat.atomics if a.theme == code]
        if not atomics:
            continue
        lead = atomics[0]
        own = _templates(f"{THEME_DIR}/{code}")
        views.append(
            ThemeView(
                code=code,
                zh=theme.zh,
                headline=Headline(lead.code, lead.name_zh, lead.unit, tuple(lead.modifiers)),
                composites=sum(1 for i in indicators if i.theme == code and i.kind == "composite"),
                chart_templates=tuple(_templates(f"{THEME_DIR}/charts") + own),
                extras=tuple(Path(t).stem for t in own),
            )
        )
    return tuple(views)


def _case(column: str, labels: dict[str, str]) -> str:
    whens = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in labels.items())
    return f"CASE {column} {whens} END"


@cache
def label_sql() -> dict[str, str]:
    """SQL expressions over ads_indicator_dict (alias d) naming an indicator's atomic and period
    in Chinese, from the catalog: the dictionary itself carries only their codes."""
    cat = _catalog()
    atomic_zh = {a.code: a.name_zh for a in cat.atomics} | {c.code: c.name_zh for c in cat.composites}
    stock = {
        k: (p.stock or p.flow).zh.replace("{name}", "").strip(" ,") or "时点" for k, p in cat.periods.items()
    }
    flow = {
        k: (p.flow or p.stock).zh.replace("{name}", "").strip(" ,") or "当日" for k, p in cat.periods.items()
    }
    flows = ", ".join(f"'{a.code}'" for a in cat.atomics if a.kind == "flow")
    # A composite's own code sits in atomic_code's place: take it from the indicator code.
    base = "COALESCE(d.atomic_code, split_part(d.indicator_code, '__', 1))"
    return {
        "atomic_zh": _case(base, atomic_zh),
        "period_zh": f"CASE WHEN d.atomic_code IN ({flows}) THEN {_case('d.period', flow)} "
        f"ELSE {_case('d.period', stock)} END",
    }
