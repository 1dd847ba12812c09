"""What every command needs: the engine on the configured database (schema brought up to date) and one
way to stop with an error."""
import sys

import click


def open_engine():
    from engine.runtime import Engine

    engine = Engine()
    engine.migrate()
    return engine


def fail(message, code=1):
    """Print `error: message` on standard error and exit with `code`."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)
