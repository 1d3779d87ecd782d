"""Scale-out on this machine: a standalone Spark master and two workers from pyspark's own
scripts, a Connect server attached to them, and one bank's day run through it must give the
same DWD and ADS as the same day through the local (single-JVM) Connect server.

The run is the deployment guide's own scale-out command (benchmarks/scale_out.py), so the
guide's command is tested as written and its wall times land in benchmarks/results/.
Only configuration moves: GRANARY_SPARK_REMOTE picks the server, GRANARY_LAKE_ROOT and
GRANARY_WAREHOUSE_ROOT give each run its own lake and warehouse; landing and keys are shared.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest

from granary.core import config
from granary.core.errors import EngineError
from granary.pipeline import spark
from granary.stack import cluster

REPO = Path(__file__).resolve().parents[1]
GUIDE = REPO / "docs" / "deployment.md"
RESULTS = REPO / "benchmarks" / "results" / "scale_out.json"


def deployment_blocks(tag: str) -> list[str]:
    """Fenced blocks of the deployment guide opened with ```bash <tag>."""
    return re.findall(
        rf"^```bash {re.escape(tag)}\n(.*?)^```", GUIDE.read_text(encoding="utf-8"), re.M | re.S
    )


@pytest.mark.slow
def test_cached_session_follows_remote_only_through_use_remote(spark_remote: str):
    """pyspark caches one Connect session per process whatever URL is asked for:
    use_remote closes it, so the next get_session() is on the new server."""
    other = f"sc://127.0.0.1:{cluster.free_port()}"
    before = spark.get_session()
    assert before.client.host == "127.0.0.1"
    with cluster.use_remote(other):
        assert config.settings().spark_remote == other
        assert not spark.server_answers()  # nothing there: get_session must refuse, not reuse
        with pytest.raises(EngineError, match=other):
            spark.get_session()
    assert config.settings().spark_remote == spark_remote
    after = spark.get_session()
    assert after is not before and after.range(3).count() == 3


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_guide_scale_out_trial():
    """Runs the guide's ```bash scale-out block as written: the benchmark, which runs one bank's
    day on the local server and on a master + two 1-core workers and records both in benchmarks/."""
    blocks = deployment_blocks("scale-out")
    assert len(blocks) == 1, f"{GUIDE} must hold exactly one ```bash scale-out block"
    command = blocks[0]
    started = time.time()
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command], cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    recorded = json.loads(RESULTS.read_text(encoding="utf-8"))["runs"]
    fresh = [
        run for run in recorded.values()
        if datetime.strptime(run["recorded_at"], "%Y-%m-%dT%H:%M:%S%z").timestamp() >= started - 1
    ]  # fmt: skip
    assert len(fresh) == 1, f"expected the command to record one run in {RESULTS}"
    run = fresh[0]
    on_cluster = run["cluster_run"]
    # The day ran on the cluster: the Connect server was its one application, on both workers.
    assert on_cluster["applications"] == [{"name": "Spark Connect server", "cores": 2}]
    assert on_cluster["alive_workers"] == 2 and on_cluster["executors"] == 2
    assert on_cluster["daemons_left"] == 0
    # Same results: DWD and quarantine row for row (every data page byte for byte), ADS values equal.
    assert run["same_results"] and run["differences"] == []
    assert all(run["identical_data_pages"].values()), run["identical_data_pages"]
    assert run["rows"]["dwd.customer"] > 50 and run["rows"]["ads_indicator_value"] > 100
    assert run["local"]["day_s"] > 0 and on_cluster["day_s"] > 0
