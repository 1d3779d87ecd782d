"""Keeping a bank's lake tables lean: old snapshots expired, small files and manifests compacted,
orphan files removed.

Expiry and compaction are Iceberg's own Spark procedures (they delete the files that only expired
snapshots held). Orphans, files no snapshot or metadata version references (a write killed before
its commit leaves them), are found here from pyiceberg's view of every snapshot: Spark's procedure
refuses a grace period under a day, and a killed write's files are minutes old.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from granary.lake import tables
from granary.lake.iceberg import CATALOG, catalog

# A file younger than this may belong to a write still in flight: never an orphan.
ORPHAN_GRACE = timedelta(hours=24)


@dataclass
class Upkeep:
    table: str
    snapshots_expired: int = 0
    files_compacted: int = 0
    manifests_compacted: int = 0
    orphans_removed: int = 0

    COUNTS = ("snapshots_expired", "files_compacted", "manifests_compacted", "orphans_removed")


def housekeep(spark, tenant: str, retain: timedelta, orphan_grace: timedelta = ORPHAN_GRACE) -> list[Upkeep]:
    """Every table of the bank: expire snapshots older than `retain` (the current one always stays),
    compact a day's small files and the manifests, then remove orphan files older than the grace."""
    done = []
    cutoff = timestamp_literal(datetime.now(UTC) - retain)
    for name in tables.tables_of(tenant):
        upkeep = Upkeep(name)
        converge_properties(tenant, name)
        target = f"table => '{tenant}.{name}'"
        expired = spark.sql(
            f"call {CATALOG}.system.expire_snapshots({target}, older_than => {cutoff}, retain_last => 1)"
        ).collect()[0]
        upkeep.snapshots_expired = int(expired["deleted_manifest_lists_count"])
        compacted = spark.sql(
            f"call {CATALOG}.system.rewrite_data_files({target}, options => map('min-input-files', '2'))"
        ).collect()[0]
        upkeep.files_compacted = int(compacted["rewritten_data_files_count"])
        manifests = spark.sql(f"call {CATALOG}.system.rewrite_manifests({target})").collect()[0]
        upkeep.manifests_compacted = int(manifests["rewritten_manifests_count"])
        upkeep.orphans_removed = len(remove_orphans(tenant, name, orphan_grace))
        done.append(upkeep)
    return done


def converge_properties(tenant: str, name: str) -> bool:
    """Give a table the properties a new one of its name gets (tables.wanted_properties) where it lacks
    or differs in one: tables made before a property was added catch up. True if it changed."""
    table = catalog().load_table(f"{tenant}.{name}")
    wanted = tables.wanted_properties(name)
    missing = {
        k: v for k, v in wanted.items() if k not in tables.CREATION_ONLY and table.properties.get(k) != v
    }
    if missing:
        with table.transaction() as change:
            change.set_properties(missing)
    return bool(missing)


def timestamp_literal(moment: datetime) -> str:
    """A Spark SQL timestamp literal with its zone (the server's session reads zoneless ones in
    Asia/Shanghai, granary.stack.spark_server), to the microsecond: a snapshot a moment older than
    the cutoff is older."""
    return f"timestamp '{moment.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S.%f')}+00:00'"


def referenced_files(tenant: str, name: str) -> set[str]:
    """Every file the table's metadata references: metadata versions, manifest lists, manifests,
    data and delete files of every snapshot still kept (local paths)."""
    table = catalog().load_table(f"{tenant}.{name}")
    found = {table.metadata_location, *(entry.metadata_file for entry in table.metadata.metadata_log)}
    found |= {statistics.statistics_path for statistics in table.metadata.statistics}
    for snapshot in table.snapshots():
        found.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            found.add(manifest.manifest_path)
            entries = manifest.fetch_manifest_entry(table.io, discard_deleted=False)
            found |= {entry.data_file.file_path for entry in entries}
    return {tables.local_path(path) for path in found}


def orphan_files(tenant: str, name: str, grace: timedelta = ORPHAN_GRACE) -> list[Path]:
    """Files under the table's folder that nothing references and that are older than the grace
    (with the checksum side files of Spark's local filesystem, kept beside what they check)."""
    table = catalog().load_table(f"{tenant}.{name}")
    root = Path(tables.local_path(table.location()))
    keep = referenced_files(tenant, name)
    oldest_allowed = time.time() - grace.total_seconds()
    found = []
    for folder, _, names in os.walk(root):
        for file_name in names:
            path = Path(folder) / file_name
            checked = (
                path.with_name(file_name[1:-4])
                if file_name.startswith(".") and file_name.endswith(".crc")
                else path
            )
            if str(checked) not in keep and path.stat().st_mtime <= oldest_allowed:
                found.append(path)
    return sorted(found)


def remove_orphans(tenant: str, name: str, grace: timedelta = ORPHAN_GRACE) -> list[Path]:
    found = orphan_files(tenant, name, grace)
    for path in found:
        path.unlink(missing_ok=True)
    return found
