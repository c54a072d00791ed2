"""Which stack file a command of the shell means: ``-c FILE``, else ``VIGIL_CONFIG``, else the
``vigil.yaml`` in the current folder or the nearest folder above it, as git finds ``.git``.

A command run from ``deploy/scripts/`` of a project thus works on the project's stack file and
its store, the one the running ``vigil up`` uses, rather than on a store of its own.
"""

from __future__ import annotations

from pathlib import Path

from vigil.errors import StackFileMissing

STACK_FILE_NAME = "vigil.yaml"
# Far enough for any real project tree; a bound keeps a symlink loop or a deep mount finite.
MOST_FOLDERS_UP = 64


def find_stack_file(start: Path | None = None) -> Path | None:
    """The nearest ``vigil.yaml`` in ``start`` (default: the current folder) or above, or None."""
    here = (start or Path.cwd()).absolute()
    for folder in (here, *here.parents)[:MOST_FOLDERS_UP]:
        candidate = folder / STACK_FILE_NAME
        if candidate.is_file():
            return candidate
    return None


def stack_file_or_fail(config: Path | None, *, or_db: bool = False) -> Path:
    """``config`` when given, else the nearest ``vigil.yaml``; ``StackFileMissing`` (exit 2)
    saying where it looked and what to pass when there is none."""
    if config is not None:
        return config
    found = find_stack_file()
    if found is None:
        raise StackFileMissing(
            f"no stack file: looked for {STACK_FILE_NAME} in {Path.cwd().absolute()} and every folder "
            f"above it; pass -c FILE (or set VIGIL_CONFIG){', or --db URL' if or_db else ''}"
        )
    return found
