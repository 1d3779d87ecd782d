"""The JVM side is declared and pinned in jvm/*/pom.xml, fetched by setup, and reaches Spark by spark.jars."""

from __future__ import annotations

import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import pyspark
import pytest

from granary.lake import iceberg
from granary.stack import jars
from granary.stack.spark_server import jvm_properties_args

NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def _pom(side: str) -> ET.Element:
    return ET.parse(jars.POMS[side]).getroot()


def _property(root: ET.Element, name: str) -> str:
    return root.find(f"m:properties/m:{name}", NS).text


def _artifacts(root: ET.Element) -> dict[str, str]:
    return {
        dep.find("m:artifactId", NS).text: dep.find("m:version", NS).text
        for dep in root.findall("m:dependencies/m:dependency", NS)
    }


def test_spark_jars_are_for_the_pinned_pyspark():
    root = _pom("spark")
    spark_version = _property(root, "spark.version")
    assert spark_version == pyspark.__version__
    minor = ".".join(spark_version.split(".")[:2])
    artifacts = _artifacts(root)
    assert artifacts["spark-sql-kafka-0-10_2.13"] == "${spark.version}"
    # Iceberg publishes one runtime per Spark minor line: it must be the pinned one's.
    assert f"iceberg-spark-runtime-{minor}_2.13" in artifacts
    for version in [*artifacts.values(), *(p.text for p in root.find("m:properties", NS))]:
        assert version and not any(c in version for c in "[](),") and "SNAPSHOT" not in version, version


def test_setup_fetched_every_declared_jar():
    spark = {path.name for path in jars.jars("spark")}
    root = _pom("spark")
    assert f"spark-sql-kafka-0-10_2.13-{pyspark.__version__}.jar" in spark
    iceberg = _property(root, "iceberg.version")
    assert any(n.startswith("iceberg-spark-runtime-") and n.endswith(f"-{iceberg}.jar") for n in spark)
    assert f"postgresql-{_property(root, 'postgresql.version')}.jar" in spark
    # What pyspark ships stays pyspark's: one Scala library on the classpath, not two.
    assert not any(n.startswith(("scala-library", "hadoop-client", "slf4j-api")) for n in spark)
    kafka = {path.name for path in jars.jars("kafka")}
    assert f"kafka_2.13-{_property(_pom('kafka'), 'kafka.version')}.jar" in kafka


@pytest.mark.slow
def test_the_running_server_loaded_the_fetched_jars_not_packages(spark):
    """spark.jars.packages would resolve against the network at every Spark start: never set."""
    assert spark.conf.get("spark.jars").split(",") == [p.as_uri() for p in jars.jars("spark")]
    assert spark.conf.get("spark.jars.packages", None) in (None, "")
    # The classes came from those jars: Iceberg's catalog and Kafka's source both resolve.
    assert spark.conf.get(f"spark.sql.catalog.{iceberg.CATALOG}") == "org.apache.iceberg.spark.SparkCatalog"
    iceberg.ensure_catalog()
    assert spark.sql("show namespaces in lake").columns == ["namespace"]


def test_server_properties_carry_the_jars_and_stay_owner_only(granary_env: Path):
    args = jvm_properties_args(granary_env / "props")
    assert args[0] == "--properties-file"
    path = Path(args[1])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # the catalog login's password is in it
    lines = dict(line.split(" ", 1) for line in path.read_text().splitlines())
    assert lines["spark.jars"].split(",") == [str(p) for p in jars.jars("spark")]
    assert lines[f"spark.sql.catalog.{iceberg.CATALOG}.jdbc.password"] == iceberg.catalog_password()
    assert iceberg.catalog_password() not in " ".join(args)
