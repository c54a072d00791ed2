"""Maintenance: windows during which matching alerts page no one."""
