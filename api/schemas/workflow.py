"""Marshmallow schemas for every request and response: they validate input and generate the OpenAPI
document, so the document is the contract the code actually enforces."""
from datetime import timezone

from marshmallow import Schema, ValidationError, fields, missing, validate
from marshmallow.decorators import POST_DUMP, PRE_DUMP
from marshmallow.utils import get_value

from engine.identity import ROLES
from engine.instances.queries import SCOPES
from engine.status import InstanceStatus

STATUSES = tuple(status.value for status in InstanceStatus)
MAX_PAGE_SIZE = 500


def no_nul(value):
    """PostgreSQL text cannot hold NUL characters; refuse them at the door instead of failing later."""
    if isinstance(value, str) and "\x00" in value:
        raise ValidationError("must not contain NUL characters")


class Text(fields.String):
    """A string without NUL characters."""

    def __init__(self, **kwargs):
        validators = kwargs.pop("validate", None)
        validators = [validators] if callable(validators) else list(validators or [])
        super().__init__(validate=[no_nul, *validators], **kwargs)


def _dt(**kwargs):
    return fields.AwareDateTime(default_timezone=timezone.utc, format="iso", **kwargs)


def _text(**kwargs):
    return Text(validate=validate.Length(min=1, max=255), **kwargs)


# ---- common ---------------------------------------------------------------------------------------
class ErrorSchema(Schema):
    status = fields.Integer(required=True, metadata={"description": "HTTP status code"})
    title = fields.String(required=True, metadata={"description": "HTTP status phrase"})
    detail = fields.String(required=True, metadata={"description": "What went wrong, for a person"})
    errors = fields.Dict(metadata={"description": "Each bad field with its reasons"})
    request_id = fields.String(metadata={"description": "The request id, also in the log line"})


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


class PageSchema(Schema):
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)


# ---- definitions and deployments ------------------------------------------------------------------
class DefinitionSchema(Schema):
    key = fields.String(required=True)
    version = fields.Integer(required=True)
    name = fields.String(required=True)
    deployed_at = _dt(required=True)
    file_name = fields.String(required=True)
    deployment_id = fields.Integer(required=True)
    groups = fields.List(fields.String(), metadata={"description": "Lanes and candidate groups it names"})
    start_form = fields.List(fields.Nested("FormFieldSchema"), metadata={
        "description": "what an instance needs to start (the start event's form): checked at start, 422 if not"})


class DefinitionPageSchema(PageSchema):
    items = fields.List(fields.Nested(DefinitionSchema), required=True)


class DefinitionArgs(Schema):
    version = fields.Integer(validate=validate.Range(min=1, max=2_000_000_000))


class DeployedSchema(Schema):
    key = fields.String(required=True)
    version = fields.Integer(required=True)
    name = fields.String(required=True)
    changed = fields.Boolean(required=True, metadata={"description": "False: identical content, version kept"})


class LintWarningSchema(Schema):
    file = fields.String(required=True)
    element = fields.String(allow_none=True)
    rule = fields.String(required=True, metadata={"description": "the bpmnlint rule"})
    message = fields.String(required=True)
    category = fields.String(allow_none=True)


class DeploymentSchema(Schema):
    processes = fields.List(fields.Nested(DeployedSchema), required=True)
    warnings = fields.List(fields.Nested(LintWarningSchema), metadata={
        "description": "bpmnlint's recommended rules the files break (they deploy anyway)"})


class ValidatedProcessSchema(Schema):
    key = fields.String(required=True)
    name = fields.String(required=True)
    file = fields.String(required=True)


class ValidationSchema(Schema):
    valid = fields.Boolean(required=True)
    processes = fields.List(fields.Nested(ValidatedProcessSchema), required=True)
    warnings = fields.List(fields.Nested(LintWarningSchema))


class DeploymentErrorSchema(ErrorSchema):
    file = fields.String(allow_none=True)
    line = fields.Integer(allow_none=True)
    element = fields.String(allow_none=True)


# ---- tasks ----------------------------------------------------------------------------------------
def _compile_dump(schema):
    """A function that dumps one object exactly as `schema.dump` does, without marshmallow's per-field
    machinery (accessor lookups, `serialize` wrappers): the inbox dumps 20 tasks with nested form fields
    on every call, and marshmallow's generic path was a sixth of the request's CPU. Returns None when the
    schema uses something this does not reproduce (hooks, dump defaults, a custom accessor); the caller
    then uses marshmallow. tests/test_api_tasks.py compares both on every kind of value."""
    if schema._hooks[PRE_DUMP] or schema._hooks[POST_DUMP] or type(schema).get_attribute is not Schema.get_attribute:
        return None
    plan = []
    for attr_name, field in schema.dump_fields.items():
        convert = _compile_field(field)
        if convert is None or field.dump_default is not missing or not field._CHECK_ATTRIBUTE:
            return None
        attr = field.attribute if field.attribute is not None else attr_name
        if "." in attr:
            return None
        # A key missing from a plain dict: marshmallow then looks for an attribute of that name, which a
        # dict has only for its own methods ("values", "items"...); anything else is simply missing.
        plan.append((field.data_key if field.data_key is not None else attr_name, attr, convert, hasattr(dict, attr)))
    plan = tuple(plan)

    def dump_one(obj):
        out = {}
        plain = type(obj) is dict
        for key, attr, convert, dict_has_attr in plan:
            if plain and (attr in obj or not dict_has_attr):
                value = obj.get(attr, missing)
            else:
                value = get_value(obj, attr, missing)
            if value is missing:
                continue
            out[key] = None if value is None else convert(value, attr, obj)
        return out
    return dump_one


def _compile_field(field):
    """`convert(value, attr, obj)` for a non-None value, as `field._serialize` would; None if unknown."""
    if type(field) is fields.Nested:
        nested = field.schema
        dump_one = _compile_dump(nested)
        if dump_one is None:
            return None
        if nested.many or field.many:
            return lambda value, attr, obj: [dump_one(v) for v in value]
        return lambda value, attr, obj: dump_one(value)
    if type(field) is fields.List:
        inner = _compile_field(field.inner)
        if inner is None:
            return None
        if isinstance(field.inner, fields.String) and type(field.inner)._serialize is fields.String._serialize:
            return lambda value, attr, obj: [v if type(v) is str else inner(v, attr, obj) if v is not None else None
                                             for v in value]
        return lambda value, attr, obj: [None if v is None else inner(v, attr, obj) for v in value]
    if isinstance(field, fields.String) and type(field)._serialize is fields.String._serialize:
        serialize = field._serialize
        return lambda value, attr, obj: value if type(value) is str else serialize(value, attr, obj)
    if type(field) in (fields.AwareDateTime, fields.DateTime) and type(field)._serialize is fields.DateTime._serialize:
        format_func = field.SERIALIZATION_FUNCS.get(field.format or field.DEFAULT_FORMAT)
        if format_func is not None:  # what `_serialize` does, without looking the format up every time
            return lambda value, attr, obj: format_func(value)
    if type(field) in (fields.Boolean, fields.Integer, fields.Float, fields.Raw, fields.AwareDateTime,
                       fields.DateTime, fields.Dict):
        serialize = field._serialize
        return lambda value, attr, obj: serialize(value, attr, obj)
    return None


class FastDump:
    """Mixin: `dump` through `_compile_dump` when the schema allows it (same output, a fraction of the
    CPU), else marshmallow's own."""

    def dump(self, obj, *, many=None):
        try:
            dump_one = self.__dict__["_fast_dump_one"]
        except KeyError:
            dump_one = self.__dict__["_fast_dump_one"] = _compile_dump(self)
        if dump_one is None:
            return super().dump(obj, many=many)
        many = self.many if many is None else bool(many)
        if many:
            return None if obj is None else [dump_one(o) for o in obj]
        return dump_one(obj)


class EnumOptionSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)


class FormFieldSchema(Schema):
    id = fields.String(required=True)
    label = fields.String(required=True)
    type = fields.String(required=True, metadata={"description": "string, long, double, boolean, date, enum"})
    default = fields.Raw(allow_none=True)
    required = fields.Boolean(required=True)
    enum = fields.List(fields.Nested(EnumOptionSchema), allow_none=True)
    min = fields.Float(allow_none=True)
    max = fields.Float(allow_none=True)
    minlength = fields.Integer(allow_none=True)
    maxlength = fields.Integer(allow_none=True)
    readonly = fields.Boolean()


class TaskAboutSchema(Schema):
    kind = fields.String(required=True, metadata={"description": "customer or lead"})
    id = fields.Integer(required=True)
    name = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)


class TaskSchema(FastDump, Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    title = fields.String(metadata={"description": "what the task is about (a follow-up task's title), else its name"})
    about = fields.Nested(TaskAboutSchema, allow_none=True, metadata={
        "description": "the customer (or lead) the task's instance is about: name and phone, to act on it"})
    element_id = fields.String(required=True)
    instance_id = fields.String(required=True)
    process_key = fields.String(required=True)
    business_key = fields.String(required=True, allow_none=True)
    lane = fields.String(required=True, allow_none=True)
    candidate_groups = fields.List(fields.String(), required=True)
    assignee = fields.String(required=True, allow_none=True)
    due_at = _dt(required=True, allow_none=True)
    created_at = _dt(required=True)
    claimed_at = _dt(allow_none=True)
    form = fields.List(fields.Nested(FormFieldSchema), required=True)


class TaskPageSchema(FastDump, PageSchema):
    items = fields.List(fields.Nested(TaskSchema), required=True)
    total = fields.Integer(required=True, allow_none=True,
                           metadata={"description": "Tasks matching, over all pages; null only when asked "
                                                    "for no total (`total=false`) and the page does not tell it"})


class InstanceContextSchema(Schema):
    id = fields.String(required=True)
    process_key = fields.String(required=True)
    version = fields.Integer(required=True)
    business_key = fields.String(required=True, allow_none=True)
    status = fields.String(required=True)
    variables = fields.Dict(required=True)
    hidden_fields = fields.List(fields.String(), metadata={
        "description": "variables hidden from your role (money: amount, budget, and the names set in "
                       "FOLLOWUP_HIDDEN_VARIABLES): null above; dotted paths for values inside a variable"})
    started_by = fields.String(allow_none=True)
    started_at = _dt(required=True)


class TaskDetailSchema(TaskSchema):
    instance = fields.Nested(InstanceContextSchema, required=True)


class TaskListArgs(PageArgs):
    scope = fields.String(load_default="all", validate=validate.OneOf(SCOPES),
                          metadata={"description": "mine: assigned to me; group: offered to one of my groups; "
                                                   "unassigned: nobody holds it; all: everything I can see"})
    process_key = _text()
    business_key = _text()
    instance_id = _text()
    overdue = fields.Boolean()
    due_before = _dt()
    with_total = fields.Boolean(data_key="total", load_default=True,
                                metadata={"description": "false: skip the total (exact and cheap with every filter "
                                                         "but business_key and instance_id: kept counted by "
                                                         "process, and by day of the due time for overdue and "
                                                         "due_before; a count of those few tasks otherwise); "
                                                         "`total` is then null unless the page tells it"})


class CompleteArgs(Schema):
    variables = fields.Dict(keys=fields.String(), load_default=dict,
                            metadata={"description": "Form values; checked against the task's form fields"})


class AssignArgs(Schema):
    user = Text(required=True, allow_none=True, validate=validate.Length(min=1, max=100),
                         metadata={"description": "The user to give the task to; null releases it"})


class CompletedSchema(FastDump, Schema):
    task_id = fields.String(required=True)
    instance_id = fields.String(required=True)
    instance_status = fields.String(required=True, allow_none=True)
    next_tasks = fields.List(fields.Nested(TaskSchema), required=True,
                             metadata={"description": "Open tasks of the same instance you can see"})


# ---- instances ------------------------------------------------------------------------------------
class TimerSchema(Schema):
    id = fields.String(required=True)
    element_id = fields.String(required=True)
    due_at = _dt(required=True)


class IncidentSchema(Schema):
    task_id = fields.String(allow_none=True)
    element_id = fields.String(allow_none=True)
    message = fields.String(required=True)
    traceback = fields.String(allow_none=True)
    at = fields.String(allow_none=True)


class InstanceSummarySchema(Schema):
    id = fields.String(required=True)
    process_key = fields.String(required=True)
    version = fields.Integer(required=True)
    business_key = fields.String(required=True, allow_none=True)
    status = fields.String(required=True)
    incident = fields.Nested(IncidentSchema, required=True, allow_none=True)
    started_by = fields.String(required=True, allow_none=True)
    started_at = _dt(required=True)
    updated_at = _dt(required=True)
    ended_at = _dt(required=True, allow_none=True)


class DeliverySchema(Schema):
    id = fields.Integer(required=True)
    channel = fields.String(allow_none=True)
    text = fields.String(allow_none=True)
    status = fields.String(required=True, metadata={"description": "sent, pending (will be tried) or failed (gave up)"})
    attempts = fields.Integer(required=True)
    last_error = fields.String(allow_none=True, metadata={"description": "why the last try failed"})
    created_at = _dt(required=True)
    sent_at = _dt(allow_none=True)


class InstanceSchema(InstanceSummarySchema):
    variables = fields.Dict(required=True)
    hidden_fields = fields.List(fields.String(), metadata={
        "description": "variables hidden from your role (money: amount, budget, and the names set in "
                       "FOLLOWUP_HIDDEN_VARIABLES): null above; dotted paths for values inside a variable"})
    tasks = fields.List(fields.Nested(TaskSchema), required=True)
    timers = fields.List(fields.Nested(TimerSchema), required=True)
    active_element_ids = fields.List(fields.String(), required=True)
    messages = fields.List(fields.Nested(DeliverySchema), metadata={
        "description": "the notifications this instance sent (notify, escalations) and how delivery went"})


class InstancePageSchema(PageSchema):
    items = fields.List(fields.Nested(InstanceSummarySchema), required=True)


class InstanceListArgs(PageArgs):
    process_key = _text()
    status = fields.String(validate=validate.OneOf(STATUSES))
    business_key = _text()
    started_after = _dt()
    started_before = _dt()
    has_incident = fields.Boolean()
    overdue = fields.Boolean(metadata={"description": "Has an open task past its due time"})


class StartArgs(Schema):
    process_key = _text(required=True)
    business_key = _text(allow_none=True)
    variables = fields.Dict(keys=fields.String(), load_default=dict)


class CancelArgs(Schema):
    reason = Text(validate=validate.Length(max=1000))


class RetryArgs(Schema):
    variables = fields.Dict(keys=fields.String(), load_default=dict, metadata={
        "description": "corrected variables, set on the failed step before it runs again"})


class EventSchema(Schema):
    id = fields.Integer(required=True)
    at = _dt(required=True)
    actor = fields.String(required=True, allow_none=True)
    action = fields.String(required=True)
    task_id = fields.String(required=True, allow_none=True)
    element_id = fields.String(required=True, allow_none=True)
    detail = fields.Dict(required=True, allow_none=True)


class EventPageSchema(PageSchema):
    items = fields.List(fields.Nested(EventSchema), required=True)


# ---- messages -------------------------------------------------------------------------------------
class MessageArgs(Schema):
    name = _text(required=True)
    business_key = _text(allow_none=True)
    variables = fields.Dict(keys=fields.String(), load_default=dict)
    correlation = fields.Dict(keys=fields.String(), load_default=dict, metadata={
        "description": "variables the instance must have, e.g. {\"contract_id\": 2}: the message goes only to "
                       "the waiting instances whose variables have these values"})
    all = fields.Boolean(load_default=False, metadata={
        "description": "deliver to every instance that matches; without it, more than one is a 409 naming them"})


class MessageResultSchema(Schema):
    delivered_to = fields.List(fields.String(), required=True,
                               metadata={"description": "Ids of the instances that took the message"})


# ---- users ----------------------------------------------------------------------------------------
class UserSchema(Schema):
    name = fields.String(required=True)
    display_name = fields.String(required=True)
    role = fields.String(required=True)
    groups = fields.List(fields.String(), required=True)
    active = fields.Boolean(required=True)


class MeSchema(UserSchema):
    rights = fields.List(fields.String(), required=True)


class UserPageSchema(PageSchema):
    items = fields.List(fields.Nested(UserSchema), required=True)


class UserCreateArgs(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=100))
    role = Text(required=True, validate=validate.OneOf(ROLES))
    groups = fields.List(Text(validate=validate.Length(min=1, max=100)), load_default=list)
    display_name = Text(load_default="", validate=validate.Length(max=200))


class UserUpdateArgs(Schema):
    role = Text(validate=validate.OneOf(ROLES))
    groups = fields.List(Text(validate=validate.Length(min=1, max=100)))
    display_name = Text(validate=validate.Length(max=200))
    active = fields.Boolean()


class TokenSchema(Schema):
    id = fields.Integer(required=True)
    created_at = _dt(required=True)
    revoked_at = _dt(required=True, allow_none=True)


class IssuedTokenSchema(Schema):
    id = fields.Integer(required=True)
    token = fields.String(required=True, metadata={"description": "Shown only once; store it safely"})
    user = fields.Nested(UserSchema, required=True)


# ---- system ---------------------------------------------------------------------------------------
class CheckSchema(Schema):
    ok = fields.Boolean(required=True)
    detail = fields.String(required=True)


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"description": "ok or unavailable"})
    database = fields.Nested(CheckSchema, required=True)
    redis = fields.Nested(CheckSchema, required=True)
    timers = fields.Nested(CheckSchema, required=True, metadata={
        "description": "who fires timers and delivers messages: RQ workers, this process, or nobody here"})


# ---- migrations and repair -------------------------------------------------------------------------
class VersionSchema(DefinitionSchema):
    id = fields.Integer(required=True)
    running = fields.Integer(required=True, metadata={"description": "Instances on this version not ended"})
    instances = fields.Integer(required=True, metadata={"description": "Instances on this version in all"})


class MigrationArgs(Schema):
    to_version = fields.Integer(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    from_version = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2**31 - 1),
                                  metadata={"description": "Only instances of this version (default: all others)"})
    map = fields.Dict(keys=Text(validate=validate.Length(min=1, max=255)),
                      values=Text(validate=validate.Length(min=1, max=255)), load_default=dict,
                      metadata={"description": "Old element id -> new element id, for renamed or moved elements"})


class MigrationPlanSchema(Schema):
    process_key = fields.String(required=True)
    to_version = fields.Integer(required=True)
    from_version = fields.Integer(allow_none=True)
    mapping = fields.Dict(required=True)
    total = fields.Integer(required=True)
    can_migrate = fields.Integer(required=True)
    instances = fields.List(fields.Dict(), required=True,
                            metadata={"description": "Per instance: can_migrate, reason, tokens, changed, tasks, "
                                                     "timers, messages"})


class MigrationBatchSchema(Schema):
    id = fields.Integer(required=True)
    process_key = fields.String(required=True)
    to_version = fields.Integer(required=True)
    from_version = fields.Integer(allow_none=True)
    mapping = fields.Dict(required=True)
    status = fields.String(required=True, metadata={"description": "queued, running, done"})
    total = fields.Integer(required=True)
    migrated = fields.Integer(required=True)
    skipped = fields.Integer(required=True, metadata={"description": "Could not move: left untouched"})
    outcomes = fields.List(fields.Dict(), required=True)
    started_by = fields.String(allow_none=True)
    started_at = _dt(required=True)
    finished_at = _dt(allow_none=True)


class RepairArgs(Schema):
    action = fields.String(required=True, validate=validate.OneOf(("skip", "move")))
    element_id = Text(required=True, validate=validate.Length(min=1, max=255))
    to_element_id = Text(load_default=None, validate=validate.Length(min=1, max=255))
    reason = Text(required=True, validate=validate.Length(min=1, max=1000))
