"""``metrics:``: where and how long the series store keeps its samples on disk.

The series store appends every sample to a write-ahead log under ``path`` and compacts it into
compressed blocks; ``retention`` and ``max_size`` bound what it keeps, the older going first.
``restore_for_grace`` is how long after a restart an alert restored as pending waits at least
before it fires, as Prometheus' ``--rules.alert.for-grace-period`` does. ``query_max_series``
bounds one answer of the ``/prometheus`` query API.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ByteSize, Field

from vigil.config.check import StrictModel
from vigil.config.durations import Duration

DEFAULT_FOLDER = ".vigil/series"


class SeriesStorage(StrictModel):
    path: str | None = Field(
        None,
        max_length=1000,
        description="Folder of the series' write-ahead log and blocks, relative to the stack file; "
        "default: .vigil/series beside the store.",
    )
    retention: Duration = Field(
        15 * 86400.0, ge=300, description="How long samples are kept on disk, e.g. 15d (at least 5m)."
    )
    max_size: ByteSize = Field(
        ByteSize(2_000_000_000),
        ge=1_000_000,
        description="The most disk the series may take, e.g. 2GB; beyond it the oldest blocks go first.",
    )
    restore_for_grace: Duration = Field(
        600.0,
        description="After a restart, a restored pending alert fires no sooner than this, e.g. 10m.",
    )

    query_max_series: int = Field(
        10_000,
        ge=1,
        le=1_000_000,
        description="The most series one answer of the /prometheus query API holds; a query selecting more "
        "is refused (422) and asked to narrow its matchers.",
    )

    def folder(self, stack_file: str | Path) -> Path:
        """``path`` taken from the stack file's folder (an absolute one stays as it is), or
        ``.vigil/series`` there, beside the default SQLite store."""
        return Path(stack_file).absolute().parent / (self.path or DEFAULT_FOLDER)
