"""CLI commands that belong to the workers (filled in by the timers work)."""
commands = []
