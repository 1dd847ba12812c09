"""CLI commands that belong to the HTTP API (filled in by the API work)."""
commands = []
