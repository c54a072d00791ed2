"""The series log's figures on Vigil's own ``/metrics`` (its health is the ``series-log`` stage)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from vigil.metrics.wal.log import LogStats, SeriesLog

_COUNTERS = (
    ("vigil_series_log_samples_written", "Samples written to the series log.", "written"),
    ("vigil_series_log_bytes_written", "Bytes written to the series log.", "bytes"),
    ("vigil_series_log_write_failures", "Writes the disk refused (each is retried).", "failures"),
    ("vigil_series_log_samples_lost", "Samples dropped unwritten because writes failed too long.", "lost"),
)
_GAUGES = (
    ("vigil_series_log_pending_samples", "Samples waiting to be written.", "pending"),
    ("vigil_series_log_segments", "Segment files of the log.", "segments"),
)
_REPLAY = (
    (
        "vigil_series_log_replay_skipped_records",
        "Torn or corrupt records skipped when the log was replayed at start.",
        "skipped",
    ),
    ("vigil_series_log_replayed_samples", "Samples restored from the log at start.", "samples"),
    ("vigil_series_log_replay_seconds", "How long the replay at start took.", "seconds"),
)


class LogCollector(Collector):
    def __init__(self, log: SeriesLog) -> None:
        self.log = log

    def collect(self) -> Iterator[Metric]:
        stats: LogStats = self.log.stats()
        for name, text, field in _COUNTERS:
            yield CounterMetricFamily(name, text, value=getattr(stats, field))
        for name, text, field in _GAUGES:
            yield GaugeMetricFamily(name, text, value=getattr(stats, field))
        if stats.replay is not None:
            for name, text, field in _REPLAY:
                yield GaugeMetricFamily(name, text, value=getattr(stats.replay, field))
