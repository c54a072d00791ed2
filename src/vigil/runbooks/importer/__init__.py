"""``vigil import``: a stack file drafted from a Markdown runbook's own words."""

from vigil.runbooks.importer.draft import Draft, draft_stack

__all__ = ["Draft", "draft_stack"]
