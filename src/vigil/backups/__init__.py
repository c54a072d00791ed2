"""Backups proven by restoring them: jobs per engine, manifests, verification, retention and
the recovery point, whose results take the same path as a probe's."""
