"""``vigil rules export|import``: the stack file's alerts as a Prometheus rule file, and back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vigil.cli.app import fail, stderr
from vigil.cli.options import ConfigOption, StackOption
from vigil.errors import ConfigError, ConfigFault, VigilError

rules_app = typer.Typer(
    help="Export alert rules to, or import them from, Prometheus rule files.", no_args_is_help=True
)


@rules_app.command("export")
def export(
    config: ConfigOption = Path("vigil.yaml"),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Write the stack file's alerts as a Prometheus rule file."""
    # The schema loads when the command runs, not when `vigil --help` lists it.
    from vigil.alerting.promfile import export_rules
    from vigil.config.load import load_stack

    try:
        stack = load_stack(config)
    except VigilError as err:
        fail(err)
    text = export_rules(stack.model.alerts, interval=stack.model.engine.evaluate_every)
    if output:
        output.write_text(text)
        typer.echo(f"wrote {len(stack.model.alerts)} rules to {output}")
    else:
        typer.echo(text, nl=False)


@rules_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="A Prometheus rule file.")], config: StackOption = None
) -> None:
    """Print the alerting rules of a Prometheus rule file as a stack file's alerts: block; with
    -c, their severity labels become levels of that stack file's scheme (default: P1-P4)."""
    from vigil.alerting.promfile import alerts_yaml, import_rules
    from vigil.config.bounded_yaml import size_fault
    from vigil.config.load import load_stack
    from vigil.incidents.scheme import DEFAULT_SCHEME

    try:
        scheme = load_stack(config).model.scheme if config else DEFAULT_SCHEME
    except VigilError as err:
        fail(err)
    try:
        too_big = size_fault(str(file), file.stat().st_size, "rule file")
        text = "" if too_big else file.read_text(encoding="utf-8")
    except OSError as err:
        fail(VigilError(f"{file}: cannot read the rule file: {err.strerror}"))
    except UnicodeDecodeError:
        too_big = ConfigFault(str(file), 0, 0, "", "the rule file is not UTF-8 text")
    try:
        if too_big:
            raise ConfigError([too_big])
        rules, skipped = import_rules(str(file), text, scheme)
    except ConfigError as err:
        for fault in err.faults:
            stderr.print(str(fault), markup=False)
        raise typer.Exit(2) from None
    for note in skipped:
        stderr.print(f"{file}: {note}", markup=False)
    typer.echo(alerts_yaml(rules), nl=False)


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")
