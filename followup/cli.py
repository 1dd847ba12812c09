"""The `followup` command: one entry point for deploying, serving, working and administering."""
import sys
from pathlib import Path

import click

from engine.errors import FollowupError


def _engine():
    from engine.runtime import Engine

    engine = Engine()
    engine.migrate()
    return engine


@click.group()
def main():
    """Followup: customer follow-up SOPs as BPMN, executed."""


@main.command()
def migrate():
    """Bring the database schema up to date."""
    _engine()
    click.echo("database schema is up to date")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def deploy(files):
    """Deploy BPMN and DMN FILES as one deployment (new versions only where content changed)."""
    engine = _engine()
    try:
        deployed = engine.deploy([(f.name, f.read_bytes()) for f in files], actor="cli")
    except FollowupError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(1)
    for process in deployed:
        state = "deployed" if process.changed else "unchanged"
        click.echo(f"{process.key} v{process.version} {state}  ({process.name})")


def _register(module_name):
    import importlib

    for command in importlib.import_module(module_name).commands:
        main.add_command(command)


_register("api.cli")
_register("workers.cli")

if __name__ == "__main__":
    main()
