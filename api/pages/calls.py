"""The pages call the JSON API's own route functions, undecorated: the same reach checks
(`engine.access`), the same engine calls, the same masking, with no second copy of any of it. A page
only validates its form input (with the API's schemas where they exist) and renders the answer.

`route("tasks.complete")` is the function behind `POST /api/tasks/<id>/complete`, as written in
api/routes/tasks.py, without the flask-smorest decorators that parse JSON and dump the answer; it runs
in the page's request, where `g.user` is the signed-in user (what `api.services.current_user` reads).
When a route's body moves into the engine, this is the one file to follow it.
"""
import inspect

from flask import current_app, g

from engine.customers.customers import names
from api.routes import customers as customer_routes
from api.services import services

_plain = {}


def route(endpoint):
    """The undecorated function of an API endpoint ("tasks.claim", "instances.cancel", ...)."""
    found = _plain.get(endpoint)
    if found is None:
        found = _plain[endpoint] = inspect.unwrap(current_app.view_functions[endpoint])
    return found


def call(endpoint, *args, **kwargs):
    return route(endpoint)(*args, **kwargs)


def user():
    return g.user


def engine():
    return services().engine


def process_groups():
    """Which processes name which groups (the API's ProcessGroups; on the Engine once routes are thinned)."""
    engine = services().engine
    return engine.process_groups if hasattr(engine, "process_groups") else services().process_groups


def customers_shown(ids) -> dict:
    """{customer id: name} of the customers the API would show the user (in reach, or in a pool, where
    the name shows and the contact details are masked, or about a task given to them: access.record_readable),
    for labelling tasks by customer."""
    found, viewer = names(engine(), ids), user()
    return {cid: c["name"] for cid, c in found.items()
            if c["in_pool"] or customer_routes._in_reach(viewer, c) or engine().has_task_about(viewer, "customer", cid)}
