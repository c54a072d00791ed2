"""What ``vigil demo`` runs: a built-in target app to watch and break, and a stack file watching it.

- ``vigil.demo.target``: ``create_target_app()``, ``serve_target()``, and the entry point
  ``python -m vigil.demo.target --port N``.
- ``vigil.demo.process``: ``start_target_process()`` / ``stop_target_process()``.
- ``vigil.demo.stack``: ``demo_stack_yaml()``.

The target is not imported here: ``python -m vigil.demo.target`` imports this package first, and
a package that had already imported the module being run would make runpy warn.
"""

from __future__ import annotations

from vigil.demo.process import start_target_process, stop_target_process
from vigil.demo.stack import demo_stack_yaml

__all__ = ["demo_stack_yaml", "start_target_process", "stop_target_process"]
