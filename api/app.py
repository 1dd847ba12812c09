"""The Flask app factory. `create_app()` builds an Engine from the environment; tests pass their own."""
import os

from flask import Flask
from flask_smorest import Api

from engine.config import env_number
from engine.runtime import Engine

from api import auth, bodies, errors, observe
from api.routes import definitions, instances, system, tasks, users
from api.json_provider import OrjsonProvider
from api.schemas.workflow import ErrorSchema
from api.services import Services

DESCRIPTION = (
    "Followup runs customer follow-up SOPs drawn as BPMN 2.0. Designers deploy diagrams, agents work the "
    "task inbox (list, claim, complete with form values), supervisors watch instances, reassign tasks and "
    "deliver business events as messages. Lists take `page` and `page_size` (default 50, at most 500) and "
    "answer `{items, total, page, page_size}`. Errors are JSON `{status, title, detail, errors?}`.")


class FollowupApi(Api):
    ERROR_SCHEMA = ErrorSchema


def _flag(name, default=False):
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


def create_app(engine: Engine | None = None, settings=None) -> Flask:
    """`engine`: an Engine to use (tests); else one is made from `settings` or the environment. The
    schema is not migrated here: run `followup migrate` (or `followup serve`, which does) first."""
    app = Flask(__name__)
    app.config.update(
        API_TITLE="Followup", API_VERSION="1.0", OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api", OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": DESCRIPTION},
            "security": [{"bearerAuth": []}],
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        },
        MAX_CONTENT_LENGTH=env_number(os.environ, "FOLLOWUP_MAX_UPLOAD_BYTES", int, 10 * 1024 * 1024),
        FOLLOWUP_METRICS_PUBLIC=_flag("FOLLOWUP_METRICS_PUBLIC"),
        FOLLOWUP_MAX_JSON_BYTES=bodies.max_json_bytes(),
        JSON_SORT_KEYS=False,
    )
    app.json = OrjsonProvider(app)
    engine = engine or Engine(settings)
    app.extensions["followup"] = Services(engine)
    app.extensions["followup_tokens"] = auth.TokenCache(env_number(os.environ, "FOLLOWUP_TOKEN_CACHE_SECONDS", float, 2.0, zero_ok=True))
    app.extensions["followup_latency"] = observe.LatencyHistogram()

    api = FollowupApi(app)
    app.extensions["followup_api"] = api
    for blueprint in (definitions.deployments, definitions.blp, definitions.migrations, definitions.decisions,
                      instances.blp,
                      instances.messages, tasks.blp, users.blp, system.blp):
        api.register_blueprint(blueprint)
    from api.routes.reports import blp as reports_blueprint  # the SOP reports (issue 6)
    api.register_blueprint(reports_blueprint)
    from api.routes.customers import blueprints as customer_blueprints  # the customer data hub (issue 5)
    for blueprint in customer_blueprints:
        api.register_blueprint(blueprint)

    from api.engine_rest import blp as engine_rest  # the Camunda 7 REST subset (issue 14)
    app.register_blueprint(engine_rest)

    observe.setup_logging()
    app.before_request(observe.start_request)
    app.before_request(auth.authenticate)
    app.before_request(auth.refuse_nul)
    app.before_request(auth.refuse_unlabelled_body)
    app.before_request(bodies.check_json_body)
    latency = app.extensions["followup_latency"]
    app.after_request(lambda response: observe.finish_request(response, latency))
    errors.register(app)  # after Api(): replaces flask-smorest's own HTTPException handler
    from api import pages  # the web pages (issue 13): same engine calls and access rules as the routes above
    pages.register(app)
    return app
