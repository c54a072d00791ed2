"""Vigil: a team's production runbook, running."""

__version__ = "0.1.0"
