"""The JVM side of Granary: the jars `make setup` fetched from Maven Central with the poms in jvm/.

jvm/spark/pom.xml declares what Spark loads beside pyspark's own jars (the Iceberg runtime,
PostgreSQL's JDBC driver, Spark's Kafka source); jvm/kafka/pom.xml the Kafka broker's
classpath. Both are copied, pinned, into GRANARY_JARS_DIR (default `.jars/` in the checkout,
outside git). Spark gets them through `spark.jars`, never `spark.jars.packages`, which would
resolve against the network at every start.
"""

from __future__ import annotations

from pathlib import Path

from granary.core.config import REPO_ROOT, settings
from granary.core.errors import EngineError

POMS = {"spark": REPO_ROOT / "jvm" / "spark" / "pom.xml", "kafka": REPO_ROOT / "jvm" / "kafka" / "pom.xml"}


def jar_dir(side: str) -> Path:
    """Where `make setup` put the jars of jvm/<side>/pom.xml."""
    return settings().jars_dir / side


def jars(side: str) -> list[Path]:
    """The fetched jars of one side, sorted; an error that says how to fetch them if there are none."""
    found = sorted(jar_dir(side).glob("*.jar"))
    if not found:
        raise EngineError(
            f"no jars in {jar_dir(side)} (jvm/{side}/pom.xml): run `make setup`, which fetches them "
            "from Maven Central, or point GRANARY_JARS_DIR at a folder that has them"
        )
    return found


def spark_jars_conf() -> dict[str, str]:
    """`spark.jars` for a Spark Connect server or a standalone cluster's driver and executors."""
    return {"spark.jars": ",".join(str(path) for path in jars("spark"))}


def kafka_classpath() -> str:
    return ":".join(str(path) for path in jars("kafka"))
