"""The series log's figures on Vigil's own ``/metrics`` (its health is the ``series-log`` stage)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from vigil.metrics.wal.log import SeriesLog


class LogCollector(Collector):
    def __init__(self, log: SeriesLog) -> None:
        self.log = log

    def collect(self) -> Iterator[Metric]:
        stats = self.log.stats()
        yield CounterMetricFamily(
            "vigil_series_log_samples_written", "Samples written to the series log.", value=stats.written
        )
        yield CounterMetricFamily(
            "vigil_series_log_bytes_written", "Bytes written to the series log.", value=stats.bytes
        )
        yield CounterMetricFamily(
            "vigil_series_log_write_failures",
            "Writes the disk refused (each is retried).",
            value=stats.failures,
        )
        yield CounterMetricFamily(
            "vigil_series_log_samples_lost",
            "Samples dropped unwritten because writes failed too long.",
            value=stats.lost,
        )
        yield GaugeMetricFamily(
            "vigil_series_log_pending_samples", "Samples waiting to be written.", value=stats.pending
        )
        yield GaugeMetricFamily(
            "vigil_series_log_segments", "Segment files of the log.", value=stats.segments
        )
        replay = stats.replay
        if replay is not None:
            yield GaugeMetricFamily(
                "vigil_series_log_replay_skipped_records",
                "Torn or corrupt records skipped when the log was replayed at start.",
                value=replay.skipped,
            )
            yield GaugeMetricFamily(
                "vigil_series_log_replayed_samples",
                "Samples restored from the log at start.",
                value=replay.samples,
            )
            yield GaugeMetricFamily(
                "vigil_series_log_replay_seconds", "How long the replay at start took.", value=replay.seconds
            )
