"""The task inbox: list, read, claim, unclaim, assign, complete."""
from api.schemas import workflow as s
from api.services import current_user, services
from api.routes.common import Blueprint, paged

blp = Blueprint("tasks", __name__, url_prefix="/api/tasks", description="The task inbox of agents and supervisors")


@blp.route("", methods=["GET"])
@blp.arguments(s.TaskListArgs, location="query", as_kwargs=True)
@blp.response(200, s.TaskPageSchema)
@blp.errors(401, 422)
def list_tasks(page, page_size, **filters):
    """List tasks I can see, due soonest first (no due time last), then oldest first.

    `scope`: `mine` (assigned to me), `group` (offered to one of my groups), `unassigned`, `all`.
    `total=false`: no count of every matching task (`total` is null unless this page tells it)."""
    items, total = services().engine.list_tasks(current_user(), page=page, page_size=page_size, **filters)
    return paged(items, total, page, page_size)


@blp.route("/<task_id>", methods=["GET"])
@blp.response(200, s.TaskDetailSchema)
@blp.errors(401, 404)
def get_task(task_id):
    """One open task with its form fields and the context of its instance (variables included; those
    hidden from your role null, named in `hidden_fields`)."""
    return services().engine.task_detail_for(current_user(), task_id)


@blp.route("/<task_id>/claim", methods=["POST"])
@blp.response(200, s.TaskSchema)
@blp.errors(401, 403, 404, 409)
def claim(task_id):
    """Take the task. 409 when someone else holds it."""
    return services().engine.claim_as(current_user(), task_id)


@blp.route("/<task_id>/unclaim", methods=["POST"])
@blp.response(200, s.TaskSchema)
@blp.errors(401, 403, 404, 409)
def unclaim(task_id):
    """Give the task back. A supervisor may also release a task someone else holds."""
    return services().engine.unclaim_as(current_user(), task_id)


@blp.route("/<task_id>/assign", methods=["POST"])
@blp.arguments(s.AssignArgs)
@blp.response(200, s.TaskSchema)
@blp.errors(401, 403, 404, 422)
def assign(args, task_id):
    """Give the task to a user of one of its groups, whoever holds it now (supervisors and admins); `null`
    releases it. 422 for a user who is not active or in none of the task's groups."""
    return services().engine.assign_as(current_user(), task_id, args["user"])


@blp.route("/<task_id>/complete", methods=["POST"])
@blp.arguments(s.CompleteArgs)
@blp.response(200, s.CompletedSchema)
@blp.errors(401, 403, 404, 409, 422)
def complete(args, task_id):
    """Complete the task with its form values (checked against the form: 422 lists every bad field).
    409 when someone else holds it or it was completed already."""
    return services().engine.complete_as(current_user(), task_id, args["variables"])
