"""Where a long-running command's log lines go, and which of them are shown.

Vigil's own loggers (``vigil``, ``vigil.*``) speak at INFO; every library (httpx, httpcore,
uvicorn, apprise, SQLAlchemy, alembic …) only at WARNING, so that a newcomer's first screen is
Vigil's and not ``INFO httpx: HTTP Request: …``. ``--verbose`` lets the libraries speak at INFO
and Vigil at DEBUG.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Also show libraries' INFO lines, and Vigil's DEBUG lines.")
]


def configure_logging(*, verbose: bool = False) -> None:
    """Set the levels above; the root logger's level is the libraries' since any of them may log
    through a logger named after itself, known to Vigil or not."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format=FORMAT)
    logging.getLogger().setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("vigil").setLevel(logging.DEBUG if verbose else logging.INFO)
