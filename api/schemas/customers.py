"""Marshmallow schemas of the customer hub's requests and responses.

Requests: the schemas check types (a string is a string, a number a number) and document the fields;
the engine's field rules (vocabularies, credit codes, phones, dates, required values) still decide the
contents and report every bad field at once (422). Responses: the engine's record dicts as JSON, with
time stamps as ISO strings and amounts as decimal strings (null and named in `hidden_fields` when the
caller's role may not see them)."""
import copy

from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, validate

from engine.customers.defaults import SETTINGS

from api.schemas.workflow import PageArgs, PageSchema, Text


# ---- field types ----------------------------------------------------------------------------------
class Number(fields.Float):
    """A JSON number (not a numeric string, not a boolean)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, (bool, str)):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictBoolean(fields.Boolean):
    """true or false, nothing else."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class NumberOrText(fields.Field):
    """An amount or a number as a JSON number or a string (`"50,000.00"`, `"¥5000"`)."""

    def __init__(self, **kwargs):
        metadata = {"anyOf": [{"type": "number"}, {"type": "string"}], **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValidationError("a number or a string")
        if isinstance(value, str) and "\x00" in value:
            raise ValidationError("must not contain NUL characters")
        return value


def _text(max_len=None, **kwargs):
    return Text(allow_none=True, validate=validate.Length(max=max_len) if max_len else None, **kwargs)


def _id(maximum=2**53, strict=True, **kwargs):
    """An id; in a query string (text) it cannot be strict: `_id(strict=False)`."""
    return fields.Integer(strict=strict, validate=validate.Range(min=1, max=maximum), **kwargs)


def _when(**kwargs):
    return fields.String(metadata={"format": "date-time", **kwargs.pop("metadata", {})}, **kwargs)


def _day(**kwargs):
    return fields.String(metadata={"format": "date", **kwargs.pop("metadata", {})}, **kwargs)


def _str(**kwargs):
    return fields.String(required=True, allow_none=True, **kwargs)


DATE_HELP = {"description": "YYYY-MM-DD (2026/1/5 and 2026年1月5日 are read too)"}
AMOUNT_HELP = {"description": "Yuan; commas and ¥ are ignored"}


# ---- common responses -----------------------------------------------------------------------------
class OwnedSchema(Schema):
    id = fields.Integer(required=True)
    owner = _str()
    team = _str()
    created_at = _when(required=True)
    created_by = _str()
    updated_at = _when(required=True)


class CandidateSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    owner = fields.String(allow_none=True)


class WarningSchema(Schema):
    field = fields.String(required=True, metadata={"description": "name or phone"})
    reason = fields.String(required=True)
    candidates = fields.List(fields.Nested(CandidateSchema), required=True)


class CreatedIdSchema(Schema):
    id = fields.Integer(required=True)


# ---- customers ------------------------------------------------------------------------------------
class CustomerSchema(OwnedSchema):
    kind = fields.String(required=True, metadata={"description": "company or person"})
    name = fields.String(required=True)
    credit_code = _str(metadata={"description": "Unified social credit code (统一社会信用代码)"})
    phone = _str(metadata={"description": "+86…; masked (+86138****5678) while in a pool you have not claimed"})
    email = _str()
    level = _str()
    source = _str()
    region = _str()
    industry = _str()
    tags = fields.List(fields.String(), required=True)
    address = _str()
    latitude = fields.Float(required=True, allow_none=True)
    longitude = fields.Float(required=True, allow_none=True)
    status = fields.String(required=True, metadata={"description": "lead, prospect, customer, churned"})
    note = _str()
    in_pool = fields.Boolean(required=True)
    owner_since = _when(required=True, allow_none=True)
    pool_warned_at = _when(required=True, allow_none=True)
    last_interaction_at = _when(required=True, allow_none=True)
    import_batch_id = fields.Integer(required=True, allow_none=True)


class CustomerHealthSchema(Schema):
    score = fields.Integer(required=True, metadata={"description": "0-100, higher is healthier"})
    factors = fields.Dict(required=True, metadata={"description": "idle_days, interactions_30d, "
                                                   "negative_checkins_90d, open_complaints, overdue_tasks, penalty"})
    computed_at = _when(required=True)


class CustomerDetailSchema(CustomerSchema):
    health = fields.Nested(CustomerHealthSchema, required=True, allow_none=True,
                           metadata={"description": "The last computed health score; null when never computed"})


class CustomerPageSchema(PageSchema):
    items = fields.List(fields.Nested(CustomerSchema), required=True)


class CustomerResultSchema(Schema):
    customer = fields.Nested(CustomerSchema, required=True)
    warnings = fields.List(fields.Nested(WarningSchema), required=True,
                           metadata={"description": "Customers with the same name or phone"})


class ConvertResultSchema(CustomerResultSchema):
    linked = fields.Boolean(required=True, metadata={"description": "the lead was linked to an existing customer"})
    matched_by = fields.String(allow_none=True, metadata={"description": "credit_code, name or phone"})


class CustomerListArgs(PageArgs):
    status = _text(100)
    level = _text(100)
    q = _text(300, metadata={"description": "Searches names (normalised) and credit codes"})
    owner = _text(100)


class CustomerUpdateArgs(Schema):
    kind = _text(20, metadata={"description": "company/企业 or person/个人"})
    name = _text(300)
    credit_code = _text(50)
    phone = _text(40)
    email = _text(200)
    level = _text(50, metadata={"description": "A vocabulary code or label"})
    source = _text(50)
    region = _text(50)
    industry = _text(50)
    tags = fields.List(Text(validate=validate.Length(max=50)), allow_none=True)
    address = _text(500)
    latitude = Number(allow_none=True)
    longitude = Number(allow_none=True)
    status = _text(20, metadata={"description": "lead, prospect, customer, churned (or their Chinese names)"})
    note = _text(5000)
    team = _text(100)


class CustomerCreateArgs(CustomerUpdateArgs):
    name = Text(required=True, validate=validate.Length(max=300))
    owner = _text(100, metadata={"description": "Defaults to the caller unless a supervisor or admin creates it"})


class InteractionArgs(Schema):
    kind = Text(required=True, validate=validate.Length(max=20), metadata={"description": "call, visit, meeting, message"})
    note = _text(5000)


class TransferArgs(Schema):
    owner = Text(required=True, allow_none=True, validate=validate.Length(max=100),
                 metadata={"description": "The new owner; null releases the customer to the pool"})
    note = _text(2000)


class ChangeSchema(Schema):
    id = fields.Integer(required=True)
    entity = fields.String(required=True)
    entity_id = fields.Integer(required=True)
    customer_id = fields.Integer(required=True, allow_none=True)
    action = fields.String(required=True)
    at = _when(required=True)
    actor = _str()
    changes = fields.Dict(required=True, metadata={"description": "{field: [old, new]}"})
    batch_id = fields.Integer(required=True, allow_none=True)


class ChangePageSchema(PageSchema):
    items = fields.List(fields.Nested(ChangeSchema), required=True)


TimelineItemSchema = Schema.from_dict({
    "type": fields.String(required=True, metadata={"description": "process, task, checkin, ownership, change, "
                                                                  "interaction"}),
    "at": _when(required=True),
    "actor": _str(),
    "action": fields.String(required=True),
    # process events and tasks
    "instance_id": fields.String(allow_none=True), "process_key": fields.String(allow_none=True),
    "task_id": fields.String(allow_none=True), "element_id": fields.String(allow_none=True),
    "detail": fields.Dict(allow_none=True), "name": fields.String(allow_none=True),
    "assignee": fields.String(allow_none=True), "due_at": _when(allow_none=True),
    # check-ins
    "checkin_id": fields.Integer(), "scenario": fields.String(), "far_from_customer": fields.Boolean(),
    "distance_m": fields.Float(allow_none=True),
    # ownership
    "from": fields.String(allow_none=True), "to": fields.String(allow_none=True),
    # record changes and interactions
    "entity": fields.String(), "entity_id": fields.Integer(), "changes": fields.Dict(),
    "note": fields.String(allow_none=True),
}, name="TimelineItem")


class TimelinePageSchema(PageSchema):
    items = fields.List(fields.Nested(TimelineItemSchema), required=True)


# ---- records around customers ---------------------------------------------------------------------
class MoneySchema(Schema):
    hidden_fields = fields.List(fields.String(), metadata={"description": "Fields your role may not see (null)"})


class ContactSchema(OwnedSchema):
    customer_id = fields.Integer(required=True)
    name = fields.String(required=True)
    title = _str()
    phone = _str()
    email = _str()
    wechat = _str()
    is_primary = fields.Boolean(required=True)
    status = fields.String(required=True, metadata={"description": "active, left"})


class LeadSchema(OwnedSchema):
    name = fields.String(required=True)
    company = _str()
    phone = _str()
    email = _str()
    source = _str()
    region = _str()
    status = fields.String(required=True, metadata={"description": "new, contacted, qualified, converted, "
                                                                   "disqualified"})
    customer_id = fields.Integer(required=True, allow_none=True)
    note = _str()


class OpportunitySchema(OwnedSchema, MoneySchema):
    customer_id = fields.Integer(required=True)
    name = fields.String(required=True)
    stage = fields.String(required=True, metadata={"description": "initial_contact, needs_analysis, proposal, "
                                                                  "negotiation, won, lost"})
    amount = _str(metadata={"format": "decimal"})
    expected_close = _day(required=True, allow_none=True)
    lost_reason = _str()
    closed_at = _when(required=True, allow_none=True)


class ContractSchema(OwnedSchema, MoneySchema):
    customer_id = fields.Integer(required=True)
    opportunity_id = fields.Integer(required=True, allow_none=True)
    number = _str()
    title = fields.String(required=True)
    start_date = _day(required=True, allow_none=True)
    end_date = _day(required=True, allow_none=True)
    amount = _str(metadata={"format": "decimal"})
    currency = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "draft, active, expired, terminated"})


class PaymentSchema(OwnedSchema, MoneySchema):
    contract_id = fields.Integer(required=True)
    customer_id = fields.Integer(required=True)
    amount = _str(metadata={"format": "decimal"})
    paid_on = _day(required=True)
    method = _str()
    note = _str()
    status = fields.String(required=True, metadata={"description": "received, refunded"})


class TicketSchema(OwnedSchema):
    customer_id = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"description": "complaint, service"})
    subject = fields.String(required=True)
    description = _str()
    priority = fields.String(required=True, metadata={"description": "low, normal, high, urgent"})
    status = fields.String(required=True, metadata={"description": "open, in_progress, resolved, closed"})
    resolved_at = _when(required=True, allow_none=True)


def _owned_args():
    return {"owner": _text(100), "team": _text(100)}


def _args(schema_name, required, **declared):
    """(create schema, update schema) of one kind: `required` fields must be sent on create; the update
    takes the same fields, all optional (except `customer_id`/`contract_id`, which never change)."""
    declared = {**declared, **_owned_args()}
    create = {k: (_with_required(copy.deepcopy(v)) if k in required else v) for k, v in declared.items()}
    update = {k: v for k, v in declared.items() if k not in ("customer_id", "contract_id")}
    return (Schema.from_dict(create, name=f"{schema_name}CreateArgs")(),
            Schema.from_dict(update, name=f"{schema_name}UpdateArgs")())


def _with_required(field):
    field.required, field.allow_none = True, False
    return field


RECORDS = {  # collection: (kind, response schema, create args, update args)
    "contacts": ("contact", ContactSchema, *_args(
        "Contact", {"customer_id", "name"}, customer_id=_id(), name=_text(200), title=_text(200), phone=_text(40),
        email=_text(200), wechat=_text(100), is_primary=StrictBoolean(allow_none=True),
        status=_text(20, metadata={"description": "active/在职, left/离职"}))),
    "leads": ("lead", LeadSchema, *_args(
        "Lead", {"name"}, name=_text(200), company=_text(300), phone=_text(40), email=_text(200),
        source=_text(50), region=_text(50), note=_text(5000),
        status=_text(20, metadata={"description": "new, contacted, qualified, converted, disqualified"}))),
    "opportunities": ("opportunity", OpportunitySchema, *_args(
        "Opportunity", {"customer_id", "name"}, customer_id=_id(), name=_text(300),
        stage=_text(30, metadata={"description": "initial_contact, needs_analysis, proposal, negotiation, won, "
                                                 "lost (or their Chinese names)"}),
        amount=NumberOrText(allow_none=True, metadata=AMOUNT_HELP), expected_close=_text(30, metadata=DATE_HELP),
        lost_reason=_text(2000))),
    "contracts": ("contract", ContractSchema, *_args(
        "Contract", {"customer_id", "title"}, customer_id=_id(), opportunity_id=_id(allow_none=True),
        number=_text(100), title=_text(300), start_date=_text(30, metadata=DATE_HELP),
        end_date=_text(30, metadata=DATE_HELP), amount=NumberOrText(allow_none=True, metadata=AMOUNT_HELP),
        currency=_text(3, metadata={"description": "CNY, USD, EUR, HKD"}),
        status=_text(20, metadata={"description": "draft, active, expired, terminated"}))),
    "payments": ("payment", PaymentSchema, *_args(
        "Payment", {"contract_id", "amount", "paid_on"}, contract_id=_id(),
        amount=NumberOrText(allow_none=True, metadata=AMOUNT_HELP), paid_on=_text(30, metadata=DATE_HELP),
        method=_text(30), note=_text(2000), status=_text(20, metadata={"description": "received, refunded"}))),
    "tickets": ("ticket", TicketSchema, *_args(
        "Ticket", {"customer_id", "subject"}, customer_id=_id(),
        kind=_text(20, metadata={"description": "complaint/投诉, service/服务"}), subject=_text(300),
        description=_text(10000), priority=_text(10, metadata={"description": "low, normal, high, urgent"}),
        status=_text(20, metadata={"description": "open, in_progress, resolved, closed"}))),
}


def page_schema(item_schema):
    return type(f"{item_schema.__name__.removesuffix('Schema')}PageSchema", (PageSchema,),
                {"items": fields.List(fields.Nested(item_schema), required=True)})


class RecordListArgs(PageArgs):
    customer_id = _id(strict=False, metadata={"description": "Only the records of this customer"})


class ConvertArgs(CustomerUpdateArgs):
    """Overrides of the customer made from the lead (its name, company, phone, source, region by default)."""
    owner = _text(100)
    link_existing = fields.Boolean(load_default=True, metadata={
        "description": "link the lead to the customer it matches (credit code, company name, phone), as the "
                       "lead SOP does, instead of creating a duplicate; false: always a new customer"})


# ---- vocabularies and settings --------------------------------------------------------------------
class TermSchema(Schema):
    id = fields.Integer(required=True)
    vocabulary = fields.String(required=True)
    code = fields.String(required=True)
    label = fields.String(required=True)
    parent_code = _str()
    position = fields.Integer(required=True)
    active = fields.Boolean(required=True)
    attrs = fields.Dict(required=True, allow_none=True)


class TermListSchema(Schema):
    items = fields.List(fields.Nested(TermSchema), required=True)


class VocabularyArgs(Schema):
    vocabulary = _text(30, metadata={"description": "level, source, region, industry, tag"})


class TermCreateArgs(Schema):
    code = Text(required=True, validate=validate.Length(max=50))
    label = Text(required=True, validate=validate.Length(max=200))
    parent_code = _text(50, metadata={"description": "Industries: the parent in the tree"})
    position = fields.Integer(strict=True, load_default=0, validate=validate.Range(min=0, max=1_000_000))
    attrs = fields.Dict(keys=fields.String(), allow_none=True,
                        metadata={"description": "Levels: recycle_days"})


class TermUpdateArgs(Schema):
    label = Text(validate=validate.Length(min=1, max=200))
    parent_code = _text(50)
    position = fields.Integer(strict=True, validate=validate.Range(min=0, max=1_000_000))
    active = StrictBoolean(metadata={"description": "false retires the term; old records stay readable"})
    attrs = fields.Dict(keys=fields.String(), allow_none=True)


class TermRefSchema(Schema):
    vocabulary = fields.String(required=True)
    code = fields.String(required=True)


def _setting_field(default):
    if isinstance(default, bool):
        return fields.Boolean()
    if isinstance(default, int):
        return fields.Integer()
    return fields.Raw(allow_none=True)


class SettingsSchema(Schema.from_dict({key: _setting_field(value) for key, value in SETTINGS.items()})):
    """The settings by their dotted names (`pool.max_held`): read by key, not as a path."""

    def get_attribute(self, obj, attr, default):
        return obj.get(attr, default)


class SettingArgs(Schema):
    value = fields.Raw(required=True, allow_none=True,
                       metadata={"description": "Like the default: a whole number >= 0, true/false, or a process key"})


# ---- check-ins -------------------------------------------------------------------------------------
class TemplateSchema(Schema):
    id = fields.Integer(required=True)
    scenario = fields.String(required=True)
    version = fields.Integer(required=True)
    name = fields.String(required=True)
    fields_ = fields.List(fields.Dict(), required=True, data_key="fields", attribute="fields",
                          metadata={"description": "name, label, type, required, options, min, max, show_if"})
    active = fields.Boolean(required=True)
    created_at = _when(required=True)
    created_by = _str()


class TemplateListSchema(Schema):
    items = fields.List(fields.Nested(TemplateSchema), required=True)


class TemplateArgs(Schema):
    name = Text(required=True, validate=validate.Length(max=200))
    fields_ = fields.List(fields.Dict(keys=fields.String()), required=True, data_key="fields", attribute="fields",
                          metadata={"description": "Each {name, label, type (text, number, single, multi, date, "
                                                   "location, photo, signature), required, options, min, max, "
                                                   "show_if}"})


class TemplateVersionArgs(Schema):
    version = _id(2**31 - 1)


class FileArgs(Schema):
    file = Upload(required=True, metadata={"description": "A JPEG or PNG photo or signature"})


class FileSchema(Schema):
    id = fields.String(required=True, metadata={"description": "Put it in the check-in's photo or signature field"})
    content_type = fields.String(required=True)
    size = fields.Integer(required=True)


class CheckinArgs(Schema):
    customer_id = _id(required=True)
    scenario = Text(required=True, validate=validate.Length(max=50))
    values = fields.Dict(keys=fields.String(), load_default=dict, allow_none=True,
                         metadata={"description": "The template's fields; a location is {latitude, longitude, "
                                                  "accuracy}"})
    template_version = _id(2**31 - 1, allow_none=True, metadata={"description": "Default: the latest"})


class CheckinSchema(Schema):
    id = fields.Integer(required=True)
    template_id = fields.Integer(required=True)
    scenario = fields.String(required=True)
    template_version = fields.Integer(required=True)
    customer_id = fields.Integer(required=True)
    user = fields.String(required=True)
    at = _when(required=True, metadata={"description": "Server time"})
    values = fields.Dict(required=True)
    latitude = fields.Float(required=True, allow_none=True)
    longitude = fields.Float(required=True, allow_none=True)
    accuracy = fields.Float(required=True, allow_none=True)
    distance_m = fields.Float(required=True, allow_none=True)
    far_from_customer = fields.Boolean(required=True)


class CheckinPageSchema(PageSchema):
    items = fields.List(fields.Nested(CheckinSchema), required=True)


class CheckinListArgs(PageArgs):
    customer_id = _id(strict=False)


# ---- imports ---------------------------------------------------------------------------------------
class ImportFileArgs(Schema):
    file = Upload(required=True, metadata={"description": ".xlsx or .csv (UTF-8 or GBK)"})


class ImportArgs(Schema):
    mode = Text(load_default="create", validate=validate.Length(max=20), metadata={"description": "create, upsert, update"})
    key = Text(allow_none=True, validate=validate.Length(max=30), metadata={"description": "credit_code, name, phone"})
    dry_run = fields.Boolean(load_default=False)
    mapping = Text(allow_none=True, metadata={"description": "JSON {header: field}"})
    background = fields.Boolean(load_default=None, allow_none=True, metadata={
        "description": "true: run it in the background (202, poll GET /api/imports/{id}); false: now. Unset: in "
                       "the background when the file has more than FOLLOWUP_IMPORT_BACKGROUND_ROWS rows (2,000)"})


class ImportErrorSchema(Schema):
    row = fields.Integer(required=True)
    column = fields.String(allow_none=True)
    field = fields.String(allow_none=True)
    reason = fields.String(required=True)
    value = fields.Raw(allow_none=True)


class ImportReportSchema(Schema):
    batch_id = fields.Integer(allow_none=True)
    dry_run = fields.Boolean(required=True)
    file_name = fields.String(allow_none=True)
    mode = fields.String(required=True)
    key = fields.String(allow_none=True)
    total_rows = fields.Integer(required=True)
    created = fields.Integer(required=True)
    updated = fields.Integer(required=True)
    unchanged = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    ignored_columns = fields.List(fields.String(), required=True)
    errors = fields.List(fields.Nested(ImportErrorSchema), required=True)
    warnings = fields.List(fields.Dict(), required=True)


class ImportBatchSchema(Schema):
    id = fields.Integer(required=True)
    at = _when(required=True)
    actor = _str()
    file_name = _str()
    mode = fields.String(required=True)
    key = _str()
    status = fields.String(required=True, metadata={
        "description": "queued, running, applied, checked (a dry run), failed, cancelled, reverted"})
    dry_run = fields.Boolean(required=True)
    total_rows = fields.Integer(required=True, allow_none=True,
                                metadata={"description": "None until a background job has read the file"})
    rows_checked = fields.Integer(required=True)
    rows_done = fields.Integer(required=True, metadata={"description": "rows written or set aside as bad"})
    percent = fields.Integer(required=True)
    summary = fields.Dict(required=True, metadata={
        "description": "total_rows, created, updated, unchanged, failed (so far, while it runs)"})
    error = _str(metadata={"description": "why a failed or cancelled import stopped"})
    finished_at = _when(required=True, allow_none=True)
    reverted_at = _when(required=True, allow_none=True)
    reverted_by = _str()


class ImportBatchDetailSchema(ImportBatchSchema):
    errors = fields.List(fields.Nested(ImportErrorSchema), required=True,
                         metadata={"description": "the first 200; all bad rows are in errors.csv"})
    warnings = fields.List(fields.Dict(), required=True)
    ignored_columns = fields.List(fields.String(), required=True)


class ImportBatchPageSchema(PageSchema):
    items = fields.List(fields.Nested(ImportBatchSchema), required=True)


class RevertSchema(Schema):
    batch_id = fields.Integer(required=True)
    deleted = fields.Integer(required=True)
    restored = fields.Integer(required=True)

