"""The HTTP API: a thin layer that validates, authorizes and calls the engine."""
from api.app import create_app

__all__ = ["create_app"]
