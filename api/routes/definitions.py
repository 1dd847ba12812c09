"""Deployments (designers) and the process definitions they create (everyone may read them)."""
from flask import Response, request
from flask_smorest.fields import Upload
from marshmallow import Schema, fields

from engine import access
from engine.errors import DeploymentError

from api.schemas import workflow as s
from api.services import current_user, services
from api.routes.common import Blueprint, paged

deployments = Blueprint("deployments", __name__, url_prefix="/api/deployments",
                        description="Deploy BPMN and DMN files as new process versions")
blp = Blueprint("definitions", __name__, url_prefix="/api/definitions", description="Deployed process definitions")
migrations = Blueprint("migrations", __name__, url_prefix="/api/migrations",
                       description="Moving running instances to another version of their process")

SUFFIXES = (".bpmn", ".dmn", ".bpmn20.xml", ".dmn11.xml", ".xml")


class FilesArgs(Schema):
    files = fields.List(Upload(), required=True,
                        metadata={"description": "One or more .bpmn / .dmn files (repeat the field)"})


def _sources():
    uploads = request.files.getlist("files")
    if not uploads:
        raise DeploymentError("send one or more .bpmn or .dmn files in the multipart field 'files'")
    sources = []
    for upload in uploads:
        name = (upload.filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
        if not name.lower().endswith(SUFFIXES):
            raise DeploymentError("only .bpmn and .dmn files can be deployed", file=name or "(no name)")
        sources.append((name, upload.read()))
    if len({n for n, _ in sources}) != len(sources):
        raise DeploymentError("two files have the same name", file=", ".join(n for n, _ in sources))
    return sources


@deployments.route("", methods=["POST"])
@deployments.arguments(FilesArgs, location="files")
@deployments.response(201, s.DeploymentSchema)
@deployments.alt_response(400, schema=s.DeploymentErrorSchema, description="A file cannot be deployed")
@deployments.errors(401, 403)
def deploy(_files):
    """Deploy the files as one deployment: each changed process gets a new version, unchanged ones keep
    theirs. 400 names the file, line and element of the first problem."""
    user = current_user()
    access.require(user, access.DEFINITION_DEPLOY)
    deployed = services().engine.deploy(_sources(), actor=user.name)
    return {"processes": [vars(p) for p in deployed], "warnings": getattr(deployed, "warnings", [])}


@deployments.route("/validate", methods=["POST"])
@deployments.arguments(FilesArgs, location="files")
@deployments.response(200, s.ValidationSchema)
@deployments.alt_response(400, schema=s.DeploymentErrorSchema, description="A file cannot be deployed")
@deployments.errors(401, 403)
def validate(_files):
    """Check the files as a deployment would, without storing anything."""
    access.require(current_user(), access.DEFINITION_DEPLOY)
    processes = services().engine.validate(_sources())
    return {"valid": True, "processes": [{"key": p.key, "name": p.name, "file": p.file} for p in processes],
            "warnings": getattr(processes, "warnings", [])}


@blp.route("", methods=["GET"])
@blp.arguments(s.PageArgs, location="query", as_kwargs=True)
@blp.response(200, s.DefinitionPageSchema)
@blp.errors(401)
def list_definitions(page, page_size):
    """The latest version of every deployed process, by key."""
    engine = services().engine
    items, total = engine.list_definitions(page, page_size)
    return paged([engine.describe_definition(d) for d in items], total, page, page_size)


@blp.route("/<key>", methods=["GET"])
@blp.arguments(s.DefinitionArgs, location="query")
@blp.response(200, s.DefinitionSchema)
@blp.errors(401, 404)
def get_definition(args, key):
    """A process definition: the latest version, or `?version=N`."""
    engine = services().engine
    return engine.describe_definition(engine.definition(key, args.get("version")))


@blp.route("/<key>/xml", methods=["GET"])
@blp.arguments(s.DefinitionArgs, location="query")
@blp.response(200, {"type": "string", "format": "binary"}, content_type="application/xml",
              description="The BPMN file the version was deployed from")
@blp.errors(401, 404)
def get_definition_xml(args, key):
    """The BPMN XML of a version (to render the diagram), latest unless `?version=N`."""
    content = services().engine.definition_xml(key, args.get("version"))
    return Response(content, mimetype="application/xml")


@blp.route("/<key>/versions", methods=["GET"])
@blp.response(200, s.VersionSchema(many=True))
@blp.errors(401, 404)
def versions(key):
    """Every version of the process, newest first, with how many instances run on each."""
    return services().engine.versions(key)


@blp.route("/<key>/migrations/dry-run", methods=["POST"])
@blp.arguments(s.MigrationArgs)
@blp.response(200, s.MigrationPlanSchema)
@blp.errors(401, 403, 404, 422)
def plan_migration(args, key):
    """What moving the running instances to `to_version` would do to each (designers, admins): whether
    it can move (and why not), where it waits, which of those elements changed, what happens to its open
    tasks, timers and message waits. Nothing is changed."""
    access.require(current_user(), access.INSTANCE_MIGRATE)
    return services().engine.plan_migration(key, args["to_version"], args["from_version"], args["map"])


@blp.route("/<key>/migrations", methods=["POST"])
@blp.arguments(s.MigrationArgs)
@blp.response(202, s.MigrationBatchSchema)
@blp.errors(401, 403, 404, 422)
def migrate(args, key):
    """Move the running instances of the process to `to_version` (designers, admins), each in its own
    transaction, in the background: poll `GET /api/migrations/{id}`. Instances that cannot move stay as
    they are and are reported with the reason; running it again moves only what is left."""
    user = current_user()
    access.require(user, access.INSTANCE_MIGRATE)
    return services().engine.start_migration(key, args["to_version"], args["from_version"], args["map"],
                                             actor=user.name)


@migrations.route("/<int:batch_id>", methods=["GET"])
@migrations.response(200, s.MigrationBatchSchema)
@migrations.errors(401, 403, 404)
def get_migration(batch_id):
    """A migration's progress and, per instance, what happened (migrated, skipped with the reason)."""
    access.require(current_user(), access.INSTANCE_MIGRATE)
    return services().engine.migration(batch_id)


decisions = Blueprint("decisions", __name__, url_prefix="/api/decisions", description="Deployed decision tables")


@decisions.route("/<decision_id>/xml", methods=["GET"])
@decisions.response(200, {"type": "string", "format": "binary"}, content_type="application/xml",
                    description="The DMN file of the newest deployment that defines the decision")
@decisions.errors(401, 404)
def get_decision_xml(decision_id):
    """The DMN XML of a decision table (e.g. lead_routing), as last deployed."""
    return Response(services().engine.decision_xml(decision_id), mimetype="application/xml")
