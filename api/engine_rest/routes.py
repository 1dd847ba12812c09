"""The /engine-rest endpoints (see the package docstring). Each parses Camunda's request, makes its engine
call as the authenticated user and answers in Camunda's shape."""
import base64
import binascii
import time

from flask import Blueprint, Response, g, jsonify, request

from engine import access
from engine.errors import Conflict, DeploymentError, Forbidden, FollowupError, InvalidInput, NotFound, ScriptRefused
from engine.instances.external_tasks import LockLost
from engine.status import InstanceStatus
from engine.workflow.parsing import decision_ids

from api.engine_rest.values import (camunda_date, definition_id, typed, typed_variables, untyped, untyped_variables)
from api.auth import user_of_token
from api.errors import Unauthorized
from api.services import current_user, services

blp = Blueprint("engine_rest", __name__, url_prefix="/engine-rest")

ENGINE_VERSION = "7.20.0"
MAX_LONG_POLL_MS = 60_000  # asyncResponseTimeout above this is cut to it
MAX_RESULTS = 500


# ---- errors: Camunda's {type, message} ----------------------------------------------------------------
def _error(status, kind, message, headers=None):
    response = jsonify({"type": kind, "message": message})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


@blp.errorhandler(FollowupError)
def _engine_error(err):
    if isinstance(err, Unauthorized):
        return _error(401, "AuthenticationException", err.message,
                      {"WWW-Authenticate": 'Basic realm="followup", Bearer realm="followup"'})
    if isinstance(err, LockLost):
        return _error(400, "BadUserRequestException", err.message)
    if isinstance(err, NotFound):
        return _error(404, "InvalidRequestException", err.message)
    if isinstance(err, Forbidden):
        return _error(403, "AuthorizationException", err.message)
    if isinstance(err, Conflict):
        return _error(409, "OptimisticLockingException", err.message)
    if isinstance(err, (DeploymentError, ScriptRefused)):
        return _error(400, "ParseException", err.message)
    if isinstance(err, InvalidInput):
        fields = "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in err.errors.items())
        return _error(400, "InvalidRequestException", err.message + (f" ({fields})" if fields else ""))
    return _error(400, "InvalidRequestException", err.message)


def _not_in_subset():
    return _error(404, "NotFoundException", f"{request.method} {request.path} is not part of Followup's Camunda 7 "
                                            "REST subset (see the README, 'Coming from Camunda 7')")


@blp.errorhandler(404)
def _no_route(err):
    return _not_in_subset()


@blp.route("/<path:rest>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
def not_in_subset(rest):
    """Anything else under /engine-rest: Camunda's error shape, saying so."""
    return _not_in_subset()


@blp.errorhandler(405)
def _bad_method(err):
    return _error(405, "InvalidRequestException", f"{request.method} is not allowed on {request.path}")


# ---- authentication: Bearer token, or Basic with the user name and the token ---------------------------
@blp.before_request
def _authenticate():
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    name = None
    if scheme.lower() == "bearer" and credentials.strip():
        token = credentials.strip()
    elif scheme.lower() == "basic" and credentials.strip():
        try:
            name, _, token = base64.b64decode(credentials.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("the Basic credentials cannot be read") from None
    else:
        raise Unauthorized("this call needs 'Authorization: Bearer <token>' or HTTP Basic with your user name and "
                           "token")
    user = user_of_token(token)
    if name is not None and name != user.name:
        raise Unauthorized("the user name does not match the token")
    g.user = user


# ---- request helpers -------------------------------------------------------------------------------------
def _body() -> dict:
    if not request.data:
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("the request body must be a JSON object", {"body": ["not a JSON object"]})
    return body


def _no_content():
    return Response(status=204)


def _page_args(source):
    try:
        first = int(source.get("firstResult") or 0)
        count = int(source.get("maxResults") or MAX_RESULTS)
    except (TypeError, ValueError):
        raise InvalidInput("firstResult and maxResults must be numbers", {"firstResult": ["number"]}) from None
    if first < 0 or count < 0:
        raise InvalidInput("firstResult and maxResults must be >= 0", {"maxResults": [">= 0"]})
    return first, min(count, MAX_RESULTS)


def _links(path):
    return [{"method": "GET", "href": request.host_url.rstrip("/") + "/engine-rest" + path, "rel": "self"}]


# ---- the engine and its version (clients ping these) ------------------------------------------------------
@blp.route("/engine", methods=["GET"])
def engines():
    return jsonify([{"name": "default"}])


@blp.route("/version", methods=["GET"])
def version():
    return jsonify({"version": ENGINE_VERSION})


# ---- external tasks --------------------------------------------------------------------------------------
def _external_json(task, definitions):
    definition = definitions.get(task["definition_id"])
    return {
        "activityId": task["element_id"], "activityInstanceId": f"{task['element_id']}:{task['id']}",
        "errorMessage": task["error_message"], "errorDetails": task["error_details"],
        "executionId": task["id"], "id": task["id"],
        "lockExpirationTime": camunda_date(task["lock_expires_at"]),
        "createTime": camunda_date(task["created_at"]),
        "processDefinitionId": definition, "processDefinitionKey": task["process_key"],
        "processDefinitionVersionTag": None, "processInstanceId": task["instance_id"], "tenantId": None,
        "retries": task["retries"], "suspended": False, "workerId": task["worker_id"], "topicName": task["topic"],
        "priority": task["priority"], "businessKey": task["business_key"],
        "variables": typed_variables(task["variables"]), "extensionProperties": task["properties"],
    }


def _definition_ids(tasks):
    ids = {}
    for task in tasks:
        if task["definition_id"] not in ids:
            ids[task["definition_id"]] = None
    engine = services().engine
    for ident in ids:
        try:
            d = engine.definition_by_id(ident)
            ids[ident] = definition_id(d.key, d.version, d.id)
        except NotFound:
            pass
    return ids


def _topics(body):
    topics = body.get("topics")
    if not isinstance(topics, list):
        raise InvalidInput("topics must be a list of {topicName, lockDuration, ...}", {"topics": ["required list"]})
    parsed = []
    for topic in topics:
        if not isinstance(topic, dict):
            raise InvalidInput("each topic must be an object", {"topics": ["not an object"]})
        keys = topic.get("processDefinitionKeyIn") or []
        parsed.append({
            "topic": topic.get("topicName"), "lock_duration": topic.get("lockDuration"),
            "variables": topic.get("variables"), "business_key": topic.get("businessKey"),
            "process_key": topic.get("processDefinitionKey"), "process_keys": keys,
            "process_variables": {k: (untyped(k, v) if isinstance(v, dict) and "value" in v else v)
                                  for k, v in (topic.get("processVariables") or {}).items()},
        })
    return parsed


@blp.route("/external-task/fetchAndLock", methods=["POST"])
def fetch_and_lock():
    """Long polling: with `asyncResponseTimeout`, waits (up to MAX_LONG_POLL_MS) until a task is there."""
    body = _body()
    topics = _topics(body)
    try:
        wait_ms = min(int(body.get("asyncResponseTimeout") or 0), MAX_LONG_POLL_MS)
    except (TypeError, ValueError):
        raise InvalidInput("asyncResponseTimeout must be a number of milliseconds", {"asyncResponseTimeout": ["number"]}) from None
    engine, user = services().engine, current_user()
    deadline = time.monotonic() + wait_ms / 1000
    pause = 0.05
    while True:
        tasks = engine.fetch_and_lock(user, body.get("workerId"), body.get("maxTasks", 10), topics,
                                      bool(body.get("usePriority", True)))
        if tasks or time.monotonic() >= deadline:
            break
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, 0.5)
    definitions = _definition_ids(tasks)
    return jsonify([_external_json(t, definitions) for t in tasks])


@blp.route("/external-task", methods=["GET"])
def list_external_tasks():
    args = request.args
    locked = True if args.get("locked") == "true" else False if args.get("notLocked") == "true" else None
    tasks = services().engine.list_external_tasks(current_user(), topic=args.get("topicName"),
                                                  instance_id=args.get("processInstanceId"), locked=locked,
                                                  limit=_page_args(args)[1])
    if args.get("workerId"):
        tasks = [t for t in tasks if t["worker_id"] == args["workerId"]]
    definitions = _definition_ids(tasks)
    return jsonify([_external_json(t, definitions) for t in tasks])


@blp.route("/external-task/<task_id>", methods=["GET"])
def get_external_task(task_id):
    task = services().engine.external_task(current_user(), task_id)
    return jsonify(_external_json(task, _definition_ids([task])))


@blp.route("/external-task/<task_id>/errorDetails", methods=["GET"])
def external_task_error_details(task_id):
    task = services().engine.external_task(current_user(), task_id)
    return Response(task["error_details"] or "", mimetype="text/plain")


@blp.route("/external-task/<task_id>/complete", methods=["POST"])
def complete_external_task(task_id):
    body = _body()
    services().engine.complete_external_task(current_user(), task_id, body.get("workerId"),
                                             untyped_variables(body.get("variables")),
                                             untyped_variables(body.get("localVariables")))
    return _no_content()


@blp.route("/external-task/<task_id>/failure", methods=["POST"])
def fail_external_task(task_id):
    body = _body()
    services().engine.fail_external_task(current_user(), task_id, body.get("workerId"), body.get("errorMessage"),
                                         body.get("errorDetails"), body.get("retries"), body.get("retryTimeout") or 0)
    return _no_content()


@blp.route("/external-task/<task_id>/bpmnError", methods=["POST"])
def bpmn_error(task_id):
    body = _body()
    services().engine.bpmn_error_external_task(current_user(), task_id, body.get("workerId"), body.get("errorCode"),
                                               body.get("errorMessage"), untyped_variables(body.get("variables")))
    return _no_content()


@blp.route("/external-task/<task_id>/extendLock", methods=["POST"])
def extend_lock(task_id):
    body = _body()
    services().engine.extend_external_lock(current_user(), task_id, body.get("workerId"), body.get("newDuration"))
    return _no_content()


@blp.route("/external-task/<task_id>/retries", methods=["PUT"])
def set_retries(task_id):
    services().engine.set_external_retries(current_user(), task_id, _body().get("retries"))
    return _no_content()


@blp.route("/external-task/<task_id>/unlock", methods=["POST"])
def unlock(task_id):
    services().engine.unlock_external_task(current_user(), task_id)
    return _no_content()


# ---- process definitions ---------------------------------------------------------------------------------
def _definition_json(d):
    return {"id": definition_id(d.key, d.version, d.id), "key": d.key, "category": "http://bpmn.io/schema/bpmn",
            "description": None, "name": d.name, "version": d.version, "resource": d.file_name,
            "deploymentId": str(d.deployment_id), "diagram": None, "suspended": False, "tenantId": None,
            "versionTag": None, "historyTimeToLive": None, "startableInTasklist": True}


def _definitions():
    args = request.args
    items, _ = services().engine.list_definitions(1, MAX_RESULTS)
    if args.get("key"):
        items = [d for d in items if d.key == args["key"]]
    if args.get("keyLike"):
        needle = args["keyLike"].replace("%", "")
        items = [d for d in items if needle in d.key]
    return items


@blp.route("/process-definition", methods=["GET"])
def list_definitions():
    first, count = _page_args(request.args)
    return jsonify([_definition_json(d) for d in _definitions()[first:first + count]])


@blp.route("/process-definition/count", methods=["GET"])
def count_definitions():
    return jsonify({"count": len(_definitions())})


@blp.route("/process-definition/key/<key>", methods=["GET"])
def get_definition(key):
    return jsonify(_definition_json(services().engine.definition(key)))


@blp.route("/process-definition/key/<key>/xml", methods=["GET"])
def definition_xml(key):
    engine = services().engine
    d = engine.definition(key)
    return jsonify({"id": definition_id(d.key, d.version, d.id),
                    "bpmn20Xml": engine.definition_xml(key).decode("utf-8", errors="replace")})


def _instance_json(instance, definition=None, variables=False):
    ended = instance["status"] in (InstanceStatus.COMPLETE, InstanceStatus.CANCELLED)
    body = {"links": _links(f"/process-instance/{instance['id']}"), "id": instance["id"],
            "definitionId": definition or f"{instance['process_key']}:{instance.get('version')}",
            "businessKey": instance["business_key"], "caseInstanceId": None, "ended": ended,
            "suspended": instance["status"] == InstanceStatus.SUSPENDED, "tenantId": None}
    if variables:
        body["variables"] = typed_variables(instance.get("variables"))
    return body


def _by_definition_id(ident):
    """(key, version) of a `key:version:id` definition id; NotFound if it names no stored definition."""
    key, _, rest = ident.partition(":")
    version, _, number = rest.partition(":")
    if not (version.isdigit() and number.isdigit()):
        raise NotFound(f"no process definition with id '{ident}'")
    definition = services().engine.definition(key, int(version))
    if str(definition.id) != number:
        raise NotFound(f"no process definition with id '{ident}'")
    return key, int(version)


@blp.route("/process-definition/<ident>", methods=["GET"])
def get_definition_by_id(ident):
    key, version = _by_definition_id(ident)
    return jsonify(_definition_json(services().engine.definition(key, version)))


@blp.route("/process-definition/<ident>/start", methods=["POST"])
def start_by_id(ident):
    key, version = _by_definition_id(ident)
    return start(key, version)


@blp.route("/process-definition/key/<key>/start", methods=["POST"])
def start(key, version=None):
    body = _body()
    engine = services().engine
    instance = engine.start_as(current_user(), key, body.get("businessKey"), untyped_variables(body.get("variables")),
                               version=version)
    d = engine.definition(key, instance["version"])
    return jsonify(_instance_json(instance, definition_id(d.key, d.version, d.id),
                                  variables=bool(body.get("withVariablesInReturn"))))


# ---- user tasks ------------------------------------------------------------------------------------------
def _task_json(task):
    return {"id": task["id"], "name": task["name"], "assignee": task["assignee"], "owner": None,
            "created": camunda_date(task["created_at"]), "lastUpdated": camunda_date(task.get("claimed_at")),
            "due": camunda_date(task["due_at"]), "followUp": None, "delegationState": None, "description": None,
            "executionId": task["id"], "parentTaskId": None, "priority": 50,
            "processDefinitionId": task["process_key"], "processInstanceId": task["instance_id"],
            "caseExecutionId": None, "caseDefinitionId": None, "caseInstanceId": None,
            "taskDefinitionKey": task["element_id"], "suspended": False, "formKey": None, "camundaFormRef": None,
            "tenantId": None}


def _tasks(query):
    """The tasks in the caller's reach matching Camunda's task query (the common filters)."""
    user = current_user()
    scope = "all"
    if query.get("unassigned") in (True, "true"):
        scope = "unassigned"
    elif query.get("assignee") == user.name:
        scope = "mine"
    items, _ = services().engine.list_tasks(
        user, page=1, page_size=MAX_RESULTS, scope=scope, process_key=query.get("processDefinitionKey"),
        business_key=query.get("processInstanceBusinessKey"), instance_id=query.get("processInstanceId"))
    if query.get("assignee") and scope != "mine":
        items = [t for t in items if t["assignee"] == query["assignee"]]
    if query.get("candidateGroup"):
        items = [t for t in items if query["candidateGroup"] in t["candidate_groups"] and t["assignee"] is None]
    if query.get("taskDefinitionKey"):
        items = [t for t in items if t["element_id"] == query["taskDefinitionKey"]]
    if query.get("name"):
        items = [t for t in items if t["name"] == query["name"]]
    return items


@blp.route("/task", methods=["GET", "POST"])
def list_tasks():
    query = request.args.to_dict() if request.method == "GET" else {**request.args.to_dict(), **_body()}
    first, count = _page_args(request.args)
    return jsonify([_task_json(t) for t in _tasks(query)[first:first + count]])


@blp.route("/task/count", methods=["GET", "POST"])
def count_tasks():
    query = request.args.to_dict() if request.method == "GET" else _body()
    return jsonify({"count": len(_tasks(query))})


@blp.route("/task/<task_id>", methods=["GET"])
def get_task(task_id):
    return jsonify(_task_json(services().engine.task_for(current_user(), access.TASK_VIEW, task_id)))


def _set_assignee(task_id, user_id, claiming):
    engine, user = services().engine, current_user()
    if user_id is None:
        engine.unclaim_as(user, task_id)
    elif user_id == user.name:
        if not claiming:
            engine.task_for(user, access.TASK_CLAIM, task_id)
        engine.claim_as(user, task_id)
    else:  # for someone else: a supervisor's assignment
        engine.task_for(user, access.TASK_ASSIGN, task_id)
        services().identity.user(user_id)
        engine.assign(task_id, user_id, actor=user.name)


@blp.route("/task/<task_id>/claim", methods=["POST"])
def claim(task_id):
    user_id = _body().get("userId")
    if not user_id:
        raise InvalidInput("userId is required", {"userId": ["required"]})
    _set_assignee(task_id, user_id, claiming=True)
    return _no_content()


@blp.route("/task/<task_id>/unclaim", methods=["POST"])
def unclaim(task_id):
    services().engine.unclaim_as(current_user(), task_id)
    return _no_content()


@blp.route("/task/<task_id>/assignee", methods=["POST"])
def set_assignee(task_id):
    _set_assignee(task_id, _body().get("userId"), claiming=False)
    return _no_content()


@blp.route("/task/<task_id>/complete", methods=["POST"])
@blp.route("/task/<task_id>/submit-form", methods=["POST"], endpoint="submit_form")
def complete_task(task_id):
    body = _body()
    engine = services().engine
    done = engine.complete_as(current_user(), task_id, untyped_variables(body.get("variables")))
    if body.get("withVariablesInReturn") or body.get("withVariablesInReturn") == "true":
        return jsonify(typed_variables(engine.variables_for(current_user(), done["instance_id"])))
    return _no_content()


@blp.route("/task/<task_id>/variables", methods=["GET"])
def task_variables(task_id):
    """The variables the task sees (its instance's)."""
    engine = services().engine
    task = engine.task_for(current_user(), access.TASK_VIEW, task_id)
    return jsonify(typed_variables(engine.variables_for(current_user(), task["instance_id"])))


@blp.route("/task/<task_id>/form-variables", methods=["GET"])
def form_variables(task_id):
    engine = services().engine
    task = engine.task_for(current_user(), access.TASK_VIEW, task_id)
    values = engine.variables_for(current_user(), task["instance_id"])
    fields = task.get("form") or []
    if fields:
        values = {f["id"]: values.get(f["id"], f.get("default")) for f in fields}
    wanted = request.args.get("variableNames")
    if wanted:
        names = set(wanted.split(","))
        values = {k: v for k, v in values.items() if k in names}
    return jsonify(typed_variables(values))


# ---- messages --------------------------------------------------------------------------------------------
@blp.route("/message", methods=["POST"])
def correlate():
    body = _body()
    user = current_user()
    access.require(user, access.MESSAGE_SEND)
    name = body.get("messageName")
    if not name:
        raise InvalidInput("messageName is required", {"messageName": ["required"]})
    keys = untyped_variables(body.get("correlationKeys"))
    variables = untyped_variables(body.get("processVariables"))
    try:
        delivered = services().engine.correlate_message(name, body.get("businessKey"), variables, actor=user.name,
                                                        correlation=keys, every=bool(body.get("all")))
    except NotFound as err:  # Camunda: 400 MismatchingMessageCorrelationException
        return _error(400, "RestException", f"Cannot correlate message '{name}': {err.message}")
    except Conflict as err:
        return _error(400, "RestException", f"Cannot correlate message '{name}': {err.message}")
    if not body.get("resultEnabled"):
        return _no_content()
    return jsonify([{"resultType": "Execution", "processInstance": None,
                     "execution": {"id": i, "processInstanceId": i, "ended": False, "tenantId": None},
                     **({"variables": typed_variables(services().engine.variables_for(user, i))}
                        if body.get("variablesInResultEnabled") else {})} for i in delivered])


# ---- process instances -----------------------------------------------------------------------------------
def _instances(query):
    items, _ = services().engine.list_instances(
        current_user(), page=1, page_size=MAX_RESULTS,
        process_key=query.get("processDefinitionKey"), business_key=query.get("businessKey"))
    if query.get("active") in (True, "true"):
        items = [i for i in items if i["status"] not in (InstanceStatus.COMPLETE, InstanceStatus.CANCELLED,
                                                          InstanceStatus.SUSPENDED)]
    if query.get("suspended") in (True, "true"):
        items = [i for i in items if i["status"] == InstanceStatus.SUSPENDED]
    if query.get("processInstanceIds"):
        wanted = query["processInstanceIds"]
        wanted = set(wanted.split(",") if isinstance(wanted, str) else wanted)
        items = [i for i in items if i["id"] in wanted]
    return items


@blp.route("/process-instance", methods=["GET", "POST"])
def list_instances():
    query = request.args.to_dict() if request.method == "GET" else {**request.args.to_dict(), **_body()}
    first, count = _page_args(request.args)
    items = _instances({k: v for k, v in query.items() if k not in ("firstResult", "maxResults")})
    return jsonify([_instance_json(i) for i in items[first:first + count]])


@blp.route("/process-instance/count", methods=["GET", "POST"])
def count_instances():
    query = request.args.to_dict() if request.method == "GET" else _body()
    return jsonify({"count": len(_instances(query))})


@blp.route("/process-instance/<instance_id>", methods=["GET"])
def get_instance(instance_id):
    return jsonify(_instance_json(services().engine.instance_for(current_user(), access.INSTANCE_VIEW, instance_id)))


@blp.route("/process-instance/<instance_id>", methods=["DELETE"])
def delete_instance(instance_id):
    engine, user = services().engine, current_user()
    engine.instance_for(user, access.INSTANCE_CANCEL, instance_id)
    engine.cancel(instance_id, actor=user.name, reason=request.args.get("deleteReason"))
    return _no_content()


@blp.route("/process-instance/<instance_id>/variables", methods=["GET"])
def instance_variables(instance_id):
    instance = services().engine.instance_for(current_user(), access.INSTANCE_VIEW, instance_id)
    return jsonify(typed_variables(instance["variables"]))


@blp.route("/process-instance/<instance_id>/variables/<name>", methods=["GET"])
def instance_variable(instance_id, name):
    instance = services().engine.instance_for(current_user(), access.INSTANCE_VIEW, instance_id)
    if name not in instance["variables"]:
        raise NotFound(f"process instance {instance_id} has no variable '{name}'")
    return jsonify(typed(instance["variables"][name]))


def _modify(instance_id, modifications, deletions):
    engine, user = services().engine, current_user()
    engine.instance_for(user, access.INSTANCE_SUSPEND, instance_id)  # changing an instance's data: supervisors
    engine.set_variables(instance_id, modifications, deletions, actor=user.name)
    return _no_content()


@blp.route("/process-instance/<instance_id>/variables", methods=["POST"])
def modify_variables(instance_id):
    body = _body()
    deletions = body.get("deletions") or []
    if not isinstance(deletions, list):
        raise InvalidInput("deletions must be a list of names", {"deletions": ["must be a list"]})
    return _modify(instance_id, untyped_variables(body.get("modifications")), deletions)


@blp.route("/process-instance/<instance_id>/variables/<name>", methods=["PUT"])
def put_variable(instance_id, name):
    return _modify(instance_id, {name: untyped(name, _body())}, [])


@blp.route("/process-instance/<instance_id>/variables/<name>", methods=["DELETE"])
def delete_variable(instance_id, name):
    return _modify(instance_id, {}, [name])


# ---- decisions ------------------------------------------------------------------------------------------
@blp.route("/decision-definition/key/<key>/evaluate", methods=["POST"])
def evaluate_decision(key):
    rows = services().engine.evaluate_decision(current_user(), key, untyped_variables(_body().get("variables")))
    return jsonify([typed_variables(row) for row in rows])


# ---- deployments -----------------------------------------------------------------------------------------
_FORM_FIELDS = {"deployment-name", "enable-duplicate-filtering", "deploy-changed-only", "deployment-source",
                "tenant-id", "deployment-activation-time"}


@blp.route("/deployment/create", methods=["POST"])
def create_deployment():
    user = current_user()
    access.require(user, access.DEFINITION_DEPLOY)
    files = [(f.filename or name, f.read()) for name, f in request.files.items(multi=True) if name not in _FORM_FIELDS]
    if not files:
        raise InvalidInput("a deployment needs at least one file (multipart/form-data)", {"files": ["required"]})
    engine = services().engine
    deployed = engine.deploy(files, actor=user.name)
    definitions = [engine.definition(p.key, p.version) for p in deployed]
    first = definitions[0] if definitions else None
    deployment_id = str(first.deployment_id) if first else None
    return jsonify({
        "links": _links(f"/deployment/{deployment_id}"), "id": deployment_id,
        "name": request.form.get("deployment-name"), "source": request.form.get("deployment-source"),
        "deploymentTime": camunda_date(first.deployed_at) if first else None, "tenantId": None,
        "deployedProcessDefinitions": {definition_id(d.key, d.version, d.id): _definition_json(d)
                                       for d, p in zip(definitions, deployed) if p.changed} or None,
        "deployedCaseDefinitions": None,
        "deployedDecisionDefinitions": {key: {"id": key, "key": key, "name": key, "version": None,
                                              "resource": name, "deploymentId": deployment_id, "category": None,
                                              "decisionRequirementsDefinitionId": None,
                                              "decisionRequirementsDefinitionKey": None, "tenantId": None,
                                              "versionTag": None, "historyTimeToLive": None}
                                        for name, content in files if name.lower().endswith(".dmn")
                                        for key in decision_ids(content)} or None,
        "deployedDecisionRequirementsDefinitions": None,
    })
