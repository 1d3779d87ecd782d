"""The provider catalog: who sells which product of which kind, at what unit price.

`granary/catalog/providers.yaml` is data, validated here against the ext_<kind> source
contracts: adding a provider or product is one edit in that file.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from granary.catalog.sources import CATALOG_DIR, ContractError, SourceContract, contracts

CATALOG_FILE = CATALOG_DIR / "providers.yaml"
ROUTED_COLUMNS = ("provider", "product")  # added by routing; not in a provider's file
_CODE = r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$"  # no "__": it separates provider and product in file names


class Kind(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title_zh: str
    title_en: str
    match_column: str  # the resident ID column a record is routed on


class Product(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=_CODE)
    name_zh: str
    name_en: str
    kind: str
    unit_price: Decimal = Field(gt=0, max_digits=10, decimal_places=2, description="元 per routed record")


class Provider(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=_CODE)
    name_zh: str
    name_en: str
    products: list[Product] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_products(self) -> Provider:
        codes = [p.code for p in self.products]
        if len(codes) != len(set(codes)):
            raise ValueError(f"provider {self.code}: product codes {codes} are not unique")
        return self


class ProviderCatalog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kinds: dict[str, Kind]
    providers: list[Provider]

    @model_validator(mode="after")
    def _consistent(self) -> ProviderCatalog:
        codes = [p.code for p in self.providers]
        if len(codes) != len(set(codes)):
            raise ValueError(f"provider codes {codes} are not unique")
        for provider in self.providers:
            for product in provider.products:
                if product.kind not in self.kinds:
                    raise ValueError(
                        f"provider {provider.code} product {product.code}: unknown kind '{product.kind}' "
                        f"(kinds: {', '.join(self.kinds)})"
                    )
        return self


@dataclass(frozen=True, eq=False)  # hashed by identity: feeds() builds each once
class Feed:
    """One provider product: its daily province file and where its records go."""

    provider: Provider
    product: Product
    kind: str
    kind_zh: str
    contract: SourceContract  # ext_<kind>
    match_column: str

    @property
    def file_name(self) -> str:
        return f"{self.provider.code}__{self.product.code}.csv"

    @property
    def table(self) -> str:
        return self.contract.table

    @property
    def file_columns(self) -> list[str]:
        """The columns a provider's file must have: the contract's, less those routing adds."""
        return [c for c in self.contract.column_names if c not in ROUTED_COLUMNS]

    @property
    def label(self) -> str:
        return f"{self.provider.code}/{self.product.code} {self.provider.name_zh}·{self.product.name_zh}"


def kind_table(kind: str) -> str:
    return f"ext_{kind}"


def _check_contract(path: Path, kind: str, spec: Kind) -> SourceContract:
    table = kind_table(kind)
    known = contracts()
    if table not in known:
        raise ContractError(
            f"{path}: kind '{kind}' has no source contract granary/catalog/sources/{table}.yaml"
        )
    contract = known[table]
    where = f"{path}: kind '{kind}' (contract {table}.yaml)"
    if contract.origin != "external":
        raise ContractError(f"{where}: the contract must say `origin: external`")
    if contract.column_names[:2] != list(ROUTED_COLUMNS) or contract.keys[:2] != list(ROUTED_COLUMNS):
        raise ContractError(f"{where}: the first columns and keys must be {list(ROUTED_COLUMNS)}")
    if spec.match_column not in contract.column_names:
        raise ContractError(f"{where}: match_column '{spec.match_column}' is not a column of the contract")
    if contract.column(spec.match_column).pii != "resident_id":
        raise ContractError(f"{where}: match_column '{spec.match_column}' must be a resident_id PII column")
    return contract


@cache
def provider_catalog() -> ProviderCatalog:
    try:
        raw = yaml.safe_load(CATALOG_FILE.read_text(encoding="utf-8"))
        return ProviderCatalog.model_validate(raw)
    except (yaml.YAMLError, ValidationError) as exc:
        raise ContractError(f"{CATALOG_FILE}: {exc}") from exc


@cache
def feeds() -> tuple[Feed, ...]:
    """Every provider product, in catalog order, checked against its kind's contract."""
    catalog = provider_catalog()
    checked = {kind: _check_contract(CATALOG_FILE, kind, spec) for kind, spec in catalog.kinds.items()}
    return tuple(
        Feed(
            provider=provider,
            product=product,
            kind=product.kind,
            kind_zh=catalog.kinds[product.kind].title_zh,
            contract=checked[product.kind],
            match_column=catalog.kinds[product.kind].match_column,
        )
        for provider in catalog.providers
        for product in provider.products
    )
