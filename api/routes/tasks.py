"""The task inbox: list, read, claim, unclaim, assign, complete."""
from engine import access
from engine.instances import queries
from engine.errors import Conflict, InvalidInput, NotFound

from api.schemas import workflow as s
from api.services import current_user, services
from api.routes.common import Blueprint, paged

blp = Blueprint("tasks", __name__, url_prefix="/api/tasks", description="The task inbox of agents and supervisors")


def _task_for(action, task_id):
    """The open task, if the user reaches it and has the right for `action`."""
    user, svc = current_user(), services()
    with queries.reader(svc.engine.db).connect() as conn:
        task = queries.open_task(conn, task_id)
    if task is None:
        task = svc.engine.task(task_id)  # raises: NotFound, or Conflict for a task completed already
    access.require_task(user, action, task, svc.identity.groups_of)
    return task


@blp.route("", methods=["GET"])
@blp.arguments(s.TaskListArgs, location="query", as_kwargs=True)
@blp.response(200, s.TaskPageSchema)
@blp.errors(401, 422)
def list_tasks(page, page_size, **filters):
    """List tasks I can see, due soonest first (no due time last), then oldest first.

    `scope`: `mine` (assigned to me), `group` (offered to one of my groups), `unassigned`, `all`.
    `total=false`: no count of every matching task (`total` is null unless this page tells it)."""
    with queries.reader(services().engine.db).connect() as conn:
        items, total = queries.list_tasks(conn, current_user(), page=page, page_size=page_size, **filters)
    return paged(items, total, page, page_size)


@blp.route("/<task_id>", methods=["GET"])
@blp.response(200, s.TaskDetailSchema)
@blp.errors(401, 404)
def get_task(task_id):
    """One open task with its form fields and the context of its instance (variables included)."""
    try:
        task = _task_for(access.TASK_VIEW, task_id)
    except Conflict:  # completed: no longer an open task
        raise NotFound(f"no open task with id '{task_id}'") from None
    instance = services().engine.instance(task["instance_id"])
    task["instance"] = instance
    return task


@blp.route("/<task_id>/claim", methods=["POST"])
@blp.response(200, s.TaskSchema)
@blp.errors(401, 403, 404, 409)
def claim(task_id):
    """Take the task. 409 when someone else holds it."""
    user, engine = current_user(), services().engine
    if access.allowed(user, access.TASK_CLAIM):  # the common case in one statement; any refusal: below
        task = engine.claim_for(task_id, user)
        if task is not None:
            return task
    _task_for(access.TASK_CLAIM, task_id)
    return engine.claim(task_id, user.name)


@blp.route("/<task_id>/unclaim", methods=["POST"])
@blp.response(200, s.TaskSchema)
@blp.errors(401, 403, 404, 409)
def unclaim(task_id):
    """Give the task back. A supervisor may also release a task someone else holds."""
    task = _task_for(access.TASK_UNCLAIM, task_id)
    user, engine = current_user(), services().engine
    if task["assignee"] not in (None, user.name) and access.allowed(user, access.TASK_ASSIGN):
        return engine.assign(task_id, None, actor=user.name)
    return engine.unclaim(task_id, user.name)


@blp.route("/<task_id>/assign", methods=["POST"])
@blp.arguments(s.AssignArgs)
@blp.response(200, s.TaskSchema)
@blp.errors(401, 403, 404, 422)
def assign(args, task_id):
    """Give the task to a user, whoever holds it now (supervisors and admins); `null` releases it."""
    _task_for(access.TASK_ASSIGN, task_id)
    svc, target = services(), args["user"]
    if target is not None:
        try:
            if not svc.identity.user(target).active:
                raise NotFound("inactive")
        except NotFound:
            raise InvalidInput(f"there is no active user named '{target}'",
                               {"user": [f"no active user named '{target}'"]}) from None
    return svc.engine.assign(task_id, target, actor=current_user().name)


@blp.route("/<task_id>/complete", methods=["POST"])
@blp.arguments(s.CompleteArgs)
@blp.response(200, s.CompletedSchema)
@blp.errors(401, 403, 404, 409, 422)
def complete(args, task_id):
    """Complete the task with its form values (checked against the form: 422 lists every bad field).
    409 when someone else holds it or it was completed already."""
    user, svc = current_user(), services()
    engine = svc.engine
    if engine.db.dialect.name == "postgresql":
        def check(task):  # under the instance's lock, instead of a read of the task before
            access.require_task(user, access.TASK_COMPLETE, task, svc.identity.groups_of)
        step = engine.complete_task(task_id, args["variables"], actor=user.name, check=check)
    else:  # SQLite: a second connection (a supervisor's check reads groups) would wait for this writer
        _task_for(access.TASK_COMPLETE, task_id)
        step = engine.complete_task(task_id, args["variables"], actor=user.name)
    instance_id = step.instance_id
    if not step.open_tasks:  # nothing left to do in this instance: the answer is what was just saved
        status, next_tasks = step.status, []
    else:
        with queries.reader(engine.db).connect() as conn:
            status, next_tasks = queries.after_completion(conn, user, instance_id)
    return {"task_id": task_id, "instance_id": instance_id, "instance_status": status,
            "next_tasks": next_tasks}
