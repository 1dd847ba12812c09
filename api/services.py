"""The engine-side objects one app works with, kept on the Flask app (no globals)."""
from flask import current_app, g

class Services:
    def __init__(self, engine):
        self.engine = engine
        self.identity = engine.identity  # users, groups, tokens (the engine's own IdentityStore)


def services() -> Services:
    return current_app.extensions["followup"]


def current_user():
    """The authenticated user of this request (set by api.auth)."""
    return g.user
