"""``vigil demo``: a newcomer's first minute — a target app to break, a stack file watching it,
and the dashboard, in one command.

The order is what keeps it from stumbling: the logging is quiet, the dashboard's port is bound
before a word is printed (a taken default moves to a free port, a taken ``--port`` stops with one
line), and a stop (Ctrl-C, SIGTERM, SIGHUP, the parent's end) ends the demo and its target.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vigil.cli.app import fail
from vigil.cli.logs import VerboseOption, configure_logging
from vigil.demo.banner import DemoPlaces, banner, vigil_command
from vigil.demo.lifeline import DemoStopped, Stopper
from vigil.demo.process import start_target_process, stop_target_process
from vigil.demo.stack import demo_stack_yaml, local_redis_answers, write_demo_runbook
from vigil.errors import VigilError
from vigil.server.listen import bind, bind_first_free, bound_port

if TYPE_CHECKING:
    from vigil.config.load import Stack

HOST = "127.0.0.1"
DEFAULT_PORT = 8484


def demo(
    port: Annotated[
        int | None,
        typer.Option(help="Port for the dashboard; without it 8484, or the next free one.", min=1, max=65535),
    ] = None,
    directory: Annotated[
        Path, typer.Option("--dir", help="Where the demo keeps its stack file and state.")
    ] = Path(".vigil/demo"),
    webhook: Annotated[str | None, typer.Option(help="Also page this webhook URL.")] = None,
    verbose: VerboseOption = False,
) -> None:
    """Start a demo target, a stack file that watches it, and Vigil with its dashboard."""
    # The server loads when it runs, not when `vigil --help` lists this command.
    from vigil.config.load import load_stack
    from vigil.server.serve import serve

    configure_logging(verbose=verbose)
    stopper = Stopper()
    stopper.install()
    target = None
    try:
        sock = _dashboard_socket(port)
        port = bound_port(sock)
        directory.mkdir(parents=True, exist_ok=True)
        db = f"sqlite:///{directory / 'vigil.db'}"
        dashboard = f"http://{HOST}:{port}"
        target, target_url = start_target_process(interrupt=stopper.check, vigil_url=dashboard)
        stack_file = directory / "vigil.yaml"
        yaml = demo_stack_yaml(target_url, webhook, vigil_url=dashboard, redis=local_redis_answers())
        stack_file.write_text(yaml)
        runbook = write_demo_runbook(directory)
        stack = load_stack(stack_file)
        token, link = asyncio.run(_prepare(db, stack))
        stopper.check()
        places = DemoPlaces(target_url, stack_file, runbook, dashboard, link, token, vigil_command())
        typer.echo(banner(places))
        asyncio.run(serve(stack, db=db, host=HOST, port=port, announce=False, sock=sock))
    except DemoStopped:
        pass  # asked to stop while setting up: a clean end, like one while serving
    except VigilError as err:
        fail(err)
    finally:
        if target is not None:
            stop_target_process(target)


def _dashboard_socket(port: int | None) -> socket.socket:
    """Bound before anything is printed, so that what is printed is true."""
    if port is not None:
        return bind(HOST, port, what="the demo's dashboard")
    sock = bind_first_free(HOST, DEFAULT_PORT, what="the demo's dashboard")
    if bound_port(sock) != DEFAULT_PORT:
        typer.echo(
            f"Port {DEFAULT_PORT} is taken; the demo's dashboard uses port {bound_port(sock)} instead."
        )
    return sock


async def _prepare(db: str, stack: Stack) -> tuple[str, str]:
    """The store made, the first backup of the demo's own state taken, a token and a login link."""
    from vigil.demo.first_backup import first_backup
    from vigil.engine.clock import SystemClock
    from vigil.server.roles import Role
    from vigil.server.tokens import create_login_link, create_token
    from vigil.store.database import open_database

    engine = await open_database(db)
    try:
        clock = SystemClock()
        token = await create_token(engine, clock, "demo", Role.RESPONDER)
        await first_backup(stack, engine)
        return token, await create_login_link(engine, clock, "demo", Role.RESPONDER)
    finally:
        await engine.dispose()


def register(app: typer.Typer) -> None:
    app.command()(demo)
