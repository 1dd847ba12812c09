"""What every command needs: the engine on the configured database (schema brought up to date) and one
way to stop with an error."""
import os
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


def apply_memory_limit():
    """`FOLLOWUP_MEMORY_LIMIT_MB`: a ceiling on this process's memory (address space) for `serve` and
    `demo`, which run everything in one process: an allocation past it raises MemoryError in the script
    that asked (an incident) instead of the whole server being killed by the system. Returns the limit set
    in bytes, or None."""
    value = os.environ.get("FOLLOWUP_MEMORY_LIMIT_MB")
    if not value:
        return None
    import resource

    try:
        limit = int(value) * 1024 * 1024
    except ValueError:
        fail(f"FOLLOWUP_MEMORY_LIMIT_MB must be a whole number of megabytes, not {value!r}")
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    return limit
