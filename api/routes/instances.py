"""Process instances: start, list, inspect, audit trail, cancel/suspend/resume/retry; and messages."""
from flask import url_for

from engine import access

from api.schemas import workflow as s
from api.services import current_user, services
from api.routes.common import Blueprint, paged

blp = Blueprint("instances", __name__, url_prefix="/api/instances", description="Start and monitor process instances")
messages = Blueprint("messages", __name__, url_prefix="/api/messages",
                     description="Deliver business events to the instances waiting for them")


def _instance_for(action, instance_id):
    """The instance as the engine describes it, if the user reaches it and has the right for `action`."""
    return services().engine.instance_for(current_user(), action, instance_id)


@blp.route("", methods=["POST"])
@blp.arguments(s.StartArgs)
@blp.response(201, s.InstanceSchema)
@blp.errors(401, 403, 404, 422)
def start(args):
    """Start an instance of the latest version of a process. Agents and supervisors start the processes of
    their groups; designers and admins any."""
    instance = services().engine.start_as(current_user(), args["process_key"], args.get("business_key"),
                                          args["variables"])
    return instance, 201, {"Location": url_for("instances.get_instance", instance_id=instance["id"])}


@blp.route("", methods=["GET"])
@blp.arguments(s.InstanceListArgs, location="query", as_kwargs=True)
@blp.response(200, s.InstancePageSchema)
@blp.errors(401, 422)
def list_instances(page, page_size, **filters):
    """Instances I can see, newest first."""
    items, total = services().engine.list_instances(current_user(), page=page, page_size=page_size, **filters)
    return paged(items, total, page, page_size)


@blp.route("/<instance_id>", methods=["GET"])
@blp.response(200, s.InstanceSchema)
@blp.errors(401, 404)
def get_instance(instance_id):
    """Status, variables, open tasks, pending timers with due times, the active element ids (to highlight
    the diagram) and the incident, if any."""
    return _instance_for(access.INSTANCE_VIEW, instance_id)


@blp.route("/<instance_id>/events", methods=["GET"])
@blp.arguments(s.PageArgs, location="query", as_kwargs=True)
@blp.response(200, s.EventPageSchema)
@blp.errors(401, 404)
def events(instance_id, page, page_size):
    """The audit trail: who did what, when, with the variable changes (hidden values null)."""
    items, total = services().engine.events_for(current_user(), instance_id, page, page_size)
    return paged(items, total, page, page_size)


def _lifecycle(name, action, doc):
    def view(instance_id, args=None):
        _instance_for(action, instance_id)
        engine, actor = services().engine, current_user().name
        if name == "cancel":
            engine.cancel(instance_id, actor=actor, reason=(args or {}).get("reason"))
        elif name == "retry":
            engine.require_writable(current_user(), (args or {}).get("variables") or {})
            engine.retry(instance_id, actor=actor, variables=(args or {}).get("variables"))
        else:
            getattr(engine, name)(instance_id, actor=actor)
        return engine.shown_instance(current_user(), instance_id)

    if name in ("cancel", "retry"):
        def endpoint(args, instance_id):
            return view(instance_id, args)
        endpoint = blp.arguments(s.CancelArgs if name == "cancel" else s.RetryArgs, required=False)(endpoint)
    else:
        def endpoint(instance_id):
            return view(instance_id)
    endpoint.__name__ = name
    endpoint.__doc__ = doc
    endpoint = blp.errors(401, 403, 404, 409)(blp.response(200, s.InstanceSchema)(endpoint))
    blp.route(f"/<instance_id>/{name}", methods=["POST"])(endpoint)


@blp.route("/<instance_id>/repair", methods=["POST"])
@blp.arguments(s.RepairArgs)
@blp.response(200, s.InstanceSchema)
@blp.errors(401, 403, 404, 409, 422)
def repair(args, instance_id):
    """Repair a stuck instance (supervisors, admins): `skip` the task or event at `element_id` without
    running it, or `move` its token to `to_element_id` (cancel here, start there). Audited with `reason`.
    409 when the instance does not wait at `element_id`."""
    _instance_for(access.INSTANCE_REPAIR, instance_id)
    engine = services().engine
    engine.repair(instance_id, args["action"], args["element_id"], args["to_element_id"], args["reason"],
                  actor=current_user().name)
    return engine.shown_instance(current_user(), instance_id)


_lifecycle("cancel", access.INSTANCE_CANCEL, "Cancel the instance (supervisors, admins). 409 if it has ended.")
_lifecycle("suspend", access.INSTANCE_SUSPEND, "Pause the instance: no task completes, no timer fires.")
_lifecycle("resume", access.INSTANCE_RESUME, "Continue a suspended instance. 409 if it is not suspended.")
_lifecycle("retry", access.INSTANCE_RETRY, "Run the failed step of an instance with an incident again; "
          "`variables` correct its data first (checked against the start form: 422 naming each bad one).")


@messages.route("", methods=["POST"])
@messages.arguments(s.MessageArgs)
@messages.response(200, s.MessageResultSchema)
@messages.errors(401, 403, 404, 409)
def correlate(args):
    """Correlate a message (e.g. `contract renewed`) to the instance waiting for it in the caller's reach,
    narrowed by business key and by `correlation` (variables it must have, e.g. `{"contract_id": 2}`). 404
    when none waits; 409 when several match and `all` is not set, naming them (supervisors, admins)."""
    delivered = services().engine.correlate_message_as(current_user(), args["name"], args.get("business_key"),
                                                       args["variables"], correlation=args["correlation"],
                                                       every=args["all"])
    return {"delivered_to": delivered}
