"""The team's Markdown runbooks, running: parsed into sections and procedures, run step by step,
suggested on incidents, and drafted into a stack file by ``vigil import``."""
