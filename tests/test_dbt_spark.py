"""Portability: the same dbt project on dbt-spark over Spark Connect gives DuckDB's ADS tables.

One bank's last day is rebuilt on Spark (GRANARY_DBT_TARGET=spark) from the lake the
`published_day` fixture produced, and every ADS model is compared, row for row, with that
bank's DuckDB warehouse copy of the same day: keys and strings equal, numbers within a
relative tolerance of 1e-9 (benchmarks/dbt_engines.py holds the comparison, so the benchmark
checks exactly what this test asserts).
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import pytest

from granary.core import config

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "dbt_engines.py"
BANK = "qingshan"

pytestmark = pytest.mark.slow


def _engines():
    """benchmarks/dbt_engines.py, loaded once (benchmarks/ is a folder of scripts, not a package)."""
    if "dbt_engines" not in sys.modules:
        spec = importlib.util.spec_from_file_location("dbt_engines", BENCHMARK)
        module = importlib.util.module_from_spec(spec)
        sys.modules["dbt_engines"] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules["dbt_engines"]


@pytest.fixture(scope="module")
def spark_build(published_day, granary_env: Path, spark_remote: str) -> str:
    """The bank's last day built on dbt-spark; returns the Spark database."""
    from granary.core.tenants import get_tenant
    from granary.pipeline.transform import transform

    with pytest.MonkeyPatch.context() as mp:
        # its own dbt target/log dirs: the DuckDB builds' run_results stay as they were
        mp.setenv("GRANARY_RUN_DIR", str(granary_env / "run-dbt-spark"))
        mp.setenv("GRANARY_DBT_TARGET", "spark")
        config.settings.cache_clear()
        started = time.perf_counter()
        transform(get_tenant(BANK), published_day.dt)
        print(f"\ndbt build {BANK} {published_day.dt} on spark: {time.perf_counter() - started:.1f}s")
    config.settings.cache_clear()
    return f"granary_{BANK}"


def test_every_ads_model_is_built_on_both_engines(published_day, spark_build: str, spark) -> None:
    engines = _engines()
    expected = set(engines.ads_models())
    assert {"ads_indicator_value", "ads_indicator_dict", "ads_customer_tag"} <= expected
    on_spark = {t.name.lower() for t in spark.catalog.listTables(spark_build)}
    assert expected <= on_spark, f"not built on spark: {sorted(expected - on_spark)}"


def test_spark_ads_tables_equal_duckdb(published_day, spark_build: str, spark) -> None:
    engines = _engines()
    warehouse = published_day.warehouses[(BANK, published_day.dt)]
    comparison = engines.compare_ads(Path(warehouse), spark, spark_build)
    assert comparison.equal, "\n".join(
        f"{table}: {problem}" for table, problems in comparison.differences.items() for problem in problems
    )
    # a comparison of empty tables proves nothing: the indicator and tag tables hold the day
    assert comparison.rows["ads_indicator_value"] > 0
    assert comparison.rows["ads_customer_profile"] > 0


def test_the_comparison_notices_a_difference(published_day) -> None:
    """The check itself: a changed value, a missing row and a changed key are all reported."""
    import polars as pl

    engines = _engines()
    warehouse = published_day.warehouses[(BANK, published_day.dt)]
    duck = engines.read_duckdb(Path(warehouse), "ads_indicator_value")
    assert engines.compare_table(duck, duck.clone()) == []
    nudged = duck.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(pl.col("value") * 1.001 + 1).otherwise(pl.col("value"))
    )
    assert any("value:" in p for p in engines.compare_table(duck, nudged))
    assert any("rows" in p for p in engines.compare_table(duck, duck.slice(1)))
    renamed = duck.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit("XX"))
        .otherwise(pl.col("grain_id"))
        .alias("grain_id")
    )
    assert any("keys differ" in p for p in engines.compare_table(duck, renamed))
