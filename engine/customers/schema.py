"""Tables of the customer data hub, declared on the engine's shared `metadata` (migration 0003_customers).

Owners and teams are user and group names (strings), as elsewhere in the engine. Every change to a
record lands in `record_changes` (with the customer it concerns, so the timeline can show it);
ownership changes land in `ownership_changes` with their reason.
"""
import sqlalchemy as sa

from engine.storage.metadata import UtcDateTime, metadata

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
Money = sa.Numeric(16, 2)


def _owned():
    return [sa.Column("owner", sa.String(100)), sa.Column("team", sa.String(100)),
            sa.Column("created_at", UtcDateTime, nullable=False), sa.Column("created_by", sa.String(100)),
            sa.Column("updated_at", UtcDateTime, nullable=False)]


vocab_terms = sa.Table(
    "vocab_terms", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("vocabulary", sa.String(30), nullable=False),  # level, source, region, industry, tag
    sa.Column("code", sa.String(50), nullable=False),
    sa.Column("label", sa.String(200), nullable=False),
    sa.Column("parent_code", sa.String(50)),
    sa.Column("position", sa.Integer, nullable=False, server_default="0"),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("attrs", sa.JSON),
    sa.UniqueConstraint("vocabulary", "code", name="uq_vocab_terms_vocabulary_code"),
)

customer_settings = sa.Table(
    "customer_settings", metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.JSON, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("updated_by", sa.String(100)),
)

customers = sa.Table(
    "customers", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(10), nullable=False),  # company, person
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("name_key", sa.String(300)),
    sa.Column("credit_code", sa.String(18), unique=True),
    sa.Column("phone", sa.String(40)),
    sa.Column("email", sa.String(200)),
    sa.Column("level", sa.String(50)),
    sa.Column("source", sa.String(50)),
    sa.Column("region", sa.String(50)),
    sa.Column("industry", sa.String(50)),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("address", sa.String(500)),
    sa.Column("latitude", sa.Float),
    sa.Column("longitude", sa.Float),
    sa.Column("status", sa.String(20), nullable=False),  # lead, prospect, customer, churned
    sa.Column("note", sa.Text),
    sa.Column("in_pool", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("owner_since", UtcDateTime),
    sa.Column("pool_warned_at", UtcDateTime),
    sa.Column("last_interaction_at", UtcDateTime),
    sa.Column("import_batch_id", sa.Integer),
    *_owned(),
    sa.Index("ix_customers_name_key", "name_key"),
    sa.Index("ix_customers_phone", "phone"),
    sa.Index("ix_customers_owner", "owner", "in_pool"),
    sa.Index("ix_customers_pool", "in_pool", "team"),
)

contacts = sa.Table(
    "contacts", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("customer_id", Id, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("title", sa.String(200)),
    sa.Column("phone", sa.String(40)),
    sa.Column("email", sa.String(200)),
    sa.Column("wechat", sa.String(100)),
    sa.Column("is_primary", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("status", sa.String(20), nullable=False),  # active, left
    *_owned(),
    sa.Index("ix_contacts_customer", "customer_id"),
    sa.Index("ix_contacts_phone", "phone"),
)

leads = sa.Table(
    "leads", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("company", sa.String(300)),
    sa.Column("phone", sa.String(40)),
    sa.Column("email", sa.String(200)),
    sa.Column("source", sa.String(50)),
    sa.Column("region", sa.String(50)),
    sa.Column("status", sa.String(20), nullable=False),  # new, contacted, qualified, converted, disqualified
    sa.Column("customer_id", Id, sa.ForeignKey("customers.id")),
    sa.Column("opportunity_id", Id, sa.ForeignKey("opportunities.id")),  # set when converted (0005)
    sa.Column("note", sa.Text),
    *_owned(),
    sa.Index("ix_leads_phone", "phone"),
    sa.Index("ix_leads_owner", "owner"),
)

opportunities = sa.Table(
    "opportunities", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("customer_id", Id, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("stage", sa.String(30), nullable=False),
    sa.Column("amount", Money),
    sa.Column("expected_close", sa.Date),
    sa.Column("lost_reason", sa.Text),
    sa.Column("closed_at", UtcDateTime),
    *_owned(),
    sa.Index("ix_opportunities_customer", "customer_id", "stage"),
)

contracts = sa.Table(
    "contracts", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("customer_id", Id, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("opportunity_id", Id, sa.ForeignKey("opportunities.id")),
    sa.Column("number", sa.String(100)),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("start_date", sa.Date),
    sa.Column("end_date", sa.Date),
    sa.Column("amount", Money),
    sa.Column("currency", sa.String(3), nullable=False, server_default="CNY"),
    sa.Column("status", sa.String(20), nullable=False),  # draft, active, expired, terminated
    *_owned(),
    sa.Index("ix_contracts_customer", "customer_id"),
)

payments = sa.Table(
    "payments", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("contract_id", Id, sa.ForeignKey("contracts.id"), nullable=False),
    sa.Column("customer_id", Id, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("amount", Money, nullable=False),
    sa.Column("paid_on", sa.Date, nullable=False),
    sa.Column("method", sa.String(30)),
    sa.Column("note", sa.Text),
    sa.Column("status", sa.String(20), nullable=False),  # received, refunded
    *_owned(),
    sa.Index("ix_payments_contract", "contract_id"),
)

tickets = sa.Table(
    "tickets", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("customer_id", Id, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # complaint, service
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("priority", sa.String(10), nullable=False),  # low, normal, high, urgent
    sa.Column("status", sa.String(20), nullable=False),  # open, in_progress, resolved, closed
    sa.Column("resolved_at", UtcDateTime),
    *_owned(),
    sa.Index("ix_tickets_customer", "customer_id"),
)

interactions = sa.Table(
    "interactions", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    # a customer's, or a lead's before it has a customer (0005); a converted lead's move to its customer
    sa.Column("customer_id", Id, sa.ForeignKey("customers.id")),
    sa.Column("lead_id", Id, sa.ForeignKey("leads.id")),
    sa.Column("kind", sa.String(20), nullable=False),  # call, visit, task, meeting, message
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("actor", sa.String(100)),
    sa.Column("note", sa.Text),
    sa.Column("task_id", sa.String(36)),
    sa.Index("ix_interactions_customer", "customer_id", "at"),
    sa.Index("ix_interactions_lead", "lead_id", "at"),
)

record_changes = sa.Table(
    "record_changes", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("entity", sa.String(30), nullable=False),
    sa.Column("entity_id", Id, nullable=False),
    sa.Column("customer_id", Id),
    sa.Column("action", sa.String(20), nullable=False),  # created, updated, deleted, reverted
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("actor", sa.String(100)),
    sa.Column("changes", sa.JSON, nullable=False),  # {field: [old, new]}
    sa.Column("batch_id", sa.Integer),
    sa.Index("ix_record_changes_entity", "entity", "entity_id", "id"),
    sa.Index("ix_record_changes_customer", "customer_id", "at"),
    sa.Index("ix_record_changes_batch", "batch_id"),
)

ownership_changes = sa.Table(
    "ownership_changes", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("customer_id", Id, sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("actor", sa.String(100)),
    sa.Column("from_owner", sa.String(100)),
    sa.Column("to_owner", sa.String(100)),
    sa.Column("reason", sa.String(30), nullable=False),  # assigned, claimed, recycled, moved, released
    sa.Column("note", sa.Text),
    sa.Index("ix_ownership_changes_customer", "customer_id", "at"),
    sa.Index("ix_ownership_changes_to", "to_owner", "reason", "at"),
)

import_batches = sa.Table(
    "import_batches", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("actor", sa.String(100)),
    sa.Column("file_name", sa.String(300)),
    sa.Column("mode", sa.String(20), nullable=False),
    sa.Column("key", sa.String(30)),
    # applied, reverted; a background import (0011) is queued, then running, then applied, checked (a dry
    # run) or failed
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("summary", sa.JSON, nullable=False),
    sa.Column("error_rows", sa.JSON, nullable=False),  # {"headers": [...], "rows": [[row, values..., reasons]]}
    sa.Column("reverted_at", UtcDateTime),
    sa.Column("reverted_by", sa.String(100)),
    # 0011_import_jobs: progress and the job of an import run in the background (customers/import_jobs.py)
    sa.Column("dry_run", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("total_rows", sa.Integer),                  # None until the job has read the file
    sa.Column("rows_checked", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rows_done", sa.Integer, nullable=False, server_default="0"),  # rows written or set aside
    sa.Column("options", sa.JSON),                        # {"mapping": ..., "key": ...} as asked
    sa.Column("details", sa.JSON),                        # {"errors", "warnings" (the first 200), "ignored_columns"}
    sa.Column("error", sa.Text),                          # why a `failed` import stopped
    sa.Column("job_id", sa.String(100)),                  # the job that holds the batch now (its fence)
    sa.Column("lease_until", UtcDateTime),                # past it, the sweep asks whether that job lives
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("finished_at", UtcDateTime),
    sa.Index("ix_import_batches_status", "status"),
)

# The uploaded file of a background import, from the request until its job has finished with it (0011).
import_files = sa.Table(
    "import_files", metadata,
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("import_batches.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(300)),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

checkin_templates = sa.Table(
    "checkin_templates", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("scenario", sa.String(50), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("fields", sa.JSON, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("created_by", sa.String(100)),
    sa.UniqueConstraint("scenario", "version", name="uq_checkin_templates_scenario_version"),
)

checkin_files = sa.Table(
    "checkin_files", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("path", sa.String(500), nullable=False),  # relative to FOLLOWUP_DATA_DIR
    sa.Column("content_type", sa.String(50), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("uploaded_by", sa.String(100)),
    sa.Column("uploaded_at", UtcDateTime, nullable=False),
    sa.Column("checkin_id", Id),
)

checkins = sa.Table(
    "checkins", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("template_id", sa.Integer, sa.ForeignKey("checkin_templates.id"), nullable=False),
    sa.Column("scenario", sa.String(50), nullable=False),
    sa.Column("template_version", sa.Integer, nullable=False),
    sa.Column("customer_id", Id, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("user", sa.String(100), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),  # server time, never the device's
    sa.Column("values", sa.JSON, nullable=False),
    sa.Column("latitude", sa.Float),
    sa.Column("longitude", sa.Float),
    sa.Column("accuracy", sa.Float),
    sa.Column("distance_m", sa.Float),
    sa.Column("far_from_customer", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_checkins_customer", "customer_id", "at"),
    sa.Index("ix_checkins_user", "user", "at"),
)

TABLES = (vocab_terms, customer_settings, customers, contacts, leads, opportunities, contracts, payments,
          tickets, interactions, record_changes, ownership_changes, import_batches, import_files,
          checkin_templates, checkin_files, checkins)
