"""Benchmarks for Vigil's probes and the peer stack (Prometheus + blackbox exporter) they compare to."""
