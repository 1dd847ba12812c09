"""The engine-side objects one app works with, kept on the Flask app (no globals)."""
from flask import current_app, g

from engine.identity import IdentityStore
from engine.instances.process_groups import ProcessGroups


class Services:
    def __init__(self, engine):
        self.engine = engine
        self.identity = IdentityStore(engine.db)
        self.process_groups = ProcessGroups(engine.definitions)


def services() -> Services:
    return current_app.extensions["followup"]


def current_user():
    """The authenticated user of this request (set by api.auth)."""
    return g.user
