"""The runtime's tables (users, definitions, instances, tasks, timers, audit, outbox...). SQLAlchemy Core:
the hot path issues a handful of plain statements per change.

They sit on the one `metadata` of storage/metadata.py, with the customer hub's and the SOP operations'
tables; `engine/tables.py` gathers all of them for Alembic and tests/test_migrations.py.
"""
import sqlalchemy as sa

from engine.storage.metadata import UtcDateTime, metadata

users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("display_name", sa.String(200), nullable=False, server_default=""),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("password_hash", sa.String(255)),  # for the web pages' sign-in; NULL: none set (0009)
)

user_groups = sa.Table(
    "user_groups", metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("group_name", sa.String(100), primary_key=True),
    sa.Index("ix_user_groups_group", "group_name"),
)

api_tokens = sa.Table(
    "api_tokens", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime),
)

deployments = sa.Table(
    "deployments", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("deployed_at", UtcDateTime, nullable=False),
    sa.Column("deployed_by", sa.String(100)),
)

deployment_files = sa.Table(
    "deployment_files", metadata,
    sa.Column("deployment_id", sa.Integer, sa.ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
)

definitions = sa.Table(
    "definitions", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("file_name", sa.String(255), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("deployment_id", sa.Integer, sa.ForeignKey("deployments.id"), nullable=False),
    sa.Column("deployed_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("key", "version", name="uq_definitions_key_version"),
)

instances = sa.Table(
    "instances", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("definition_id", sa.Integer, sa.ForeignKey("definitions.id"), nullable=False),
    sa.Column("process_key", sa.String(255), nullable=False),
    sa.Column("business_key", sa.String(255)),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("incident", sa.JSON(none_as_null=True)),  # no incident: SQL NULL, not JSON null
    sa.Column("started_by", sa.String(100)),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("ended_at", UtcDateTime),
    sa.Index("ix_instances_process_status", "process_key", "status"),
    sa.Index("ix_instances_business_key", "business_key"),
    sa.Index("ix_instances_started_at", "started_at"),
)

human_tasks = sa.Table(
    "human_tasks", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("instance_id", sa.String(36), sa.ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    sa.Column("process_key", sa.String(255), nullable=False),
    sa.Column("business_key", sa.String(255)),
    sa.Column("element_id", sa.String(255), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("lane", sa.String(255)),
    sa.Column("candidate_groups", sa.JSON, nullable=False),
    sa.Column("assignee", sa.String(100)),
    sa.Column("form", sa.JSON, nullable=False),
    sa.Column("due_at", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("claimed_at", UtcDateTime),
    sa.Column("title", sa.String(300)),  # migration 0010: the instance's `title` variable when the task opened
    sa.Index("ix_human_tasks_instance", "instance_id"),
    sa.Index("ix_human_tasks_inbox", "due_at", "created_at", "id"),  # migration 0002_api: the inbox order
    # migration 0013: one person's tasks in inbox order (all of them; the held ones of one process)
    sa.Index("ix_human_tasks_assignee_inbox", "assignee", "due_at", "created_at", "id"),
    sa.Index("ix_human_tasks_held_process", "assignee", "process_key", "due_at", "created_at", "id",
             postgresql_where=sa.text("assignee IS NOT NULL"), sqlite_where=sa.text("assignee IS NOT NULL")),
    sa.Index("ix_human_tasks_business_key", "business_key"),
)

# A task's candidate groups, one row each, with the task's process, due time and creation time (migration
# 0013; kept by triggers when a writer leaves them out or the task's due time changes), so that one group's
# tasks are read in inbox order from one index, as reach walks them (access.task_reach_paths).
human_task_groups = sa.Table(
    "human_task_groups", metadata,
    sa.Column("task_id", sa.String(36), sa.ForeignKey("human_tasks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("group_name", sa.String(100), primary_key=True),
    sa.Column("process_key", sa.String(255)),
    sa.Column("due_at", UtcDateTime),
    sa.Column("created_at", UtcDateTime),
    sa.Index("ix_human_task_groups_inbox", "group_name", "due_at", "created_at", "task_id"),
    sa.Index("ix_human_task_groups_process", "group_name", "process_key", "due_at", "created_at", "task_id"),
)

# Open tasks counted by (process, candidate groups, assignee; '' = unassigned), kept by triggers on
# human_tasks (migration 0006): an inbox's total is a sum over a few of these rows, not a count over every
# open task. `candidate_groups` is the JSON text of human_tasks.candidate_groups; task_count_groups lists
# the groups in each such text, as human_task_groups does for a task.
task_counts = sa.Table(
    "task_counts", metadata,
    sa.Column("process_key", sa.String(255), primary_key=True),
    sa.Column("candidate_groups", sa.Text, primary_key=True),
    sa.Column("assignee", sa.String(100), primary_key=True),
    sa.Column("open_tasks", sa.Integer, nullable=False),
    sa.Index("ix_task_counts_groups", "candidate_groups", "assignee"),  # migration 0013
    sa.Index("ix_task_counts_assignee", "assignee"),
)

task_count_groups = sa.Table(
    "task_count_groups", metadata,
    sa.Column("candidate_groups", sa.Text, primary_key=True),
    sa.Column("group_name", sa.String(100), primary_key=True),
)

# Open tasks with a due time counted by (candidate groups, assignee, UTC day of the due time: days since
# 1970-01-01), kept by triggers on human_tasks (migration 0013; rows left at zero are deleted by the
# scheduler's sweep once their day has passed). The tasks in reach due before a moment T: these rows of
# the days before T's day plus a count of T's day up to T; past noon, the rows through T's day less a
# count from T to midnight (instances/queries._due_before).
task_due_counts = sa.Table(
    "task_due_counts", metadata,
    sa.Column("candidate_groups", sa.Text, primary_key=True),
    sa.Column("due_day", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("assignee", sa.String(100), primary_key=True),
    sa.Column("open_tasks", sa.Integer, nullable=False),
    sa.Index("ix_task_due_counts_assignee", "assignee", "due_day"),
)

# task_due_counts without the assignee: open tasks with a due time by (candidate groups, UTC day), whoever
# holds them (migration 0014; its trigger skips claims and releases). The `all` and `group` scopes' "due
# before" totals sum these, one row per set and day.
task_due_set_counts = sa.Table(
    "task_due_set_counts", metadata,
    sa.Column("candidate_groups", sa.Text, primary_key=True),
    sa.Column("due_day", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("open_tasks", sa.Integer, nullable=False),
)

timers = sa.Table(
    "timers", metadata,
    sa.Column("id", sa.String(36), primary_key=True),  # the waiting SpiffWorkflow task
    sa.Column("instance_id", sa.String(36), sa.ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    sa.Column("element_id", sa.String(255), nullable=False),
    sa.Column("due_at", UtcDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("enqueued_at", UtcDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("lease_until", UtcDateTime),      # claimed: re-checked by the sweep after this (0002_timers)
    sa.Column("job_id", sa.String(64)),          # the RQ job carrying it, if any
    sa.Index("ix_timers_due", "due_at"),
    sa.Index("ix_timers_instance", "instance_id"),
    sa.Index("ix_timers_unclaimed_due", "due_at", postgresql_where=sa.text("enqueued_at IS NULL"),
             sqlite_where=sa.text("enqueued_at IS NULL")),
    sa.Index("ix_timers_lease", "lease_until", postgresql_where=sa.text("lease_until IS NOT NULL"),
             sqlite_where=sa.text("lease_until IS NOT NULL")),
)

message_waits = sa.Table(
    "message_waits", metadata,
    sa.Column("id", sa.String(36), primary_key=True),  # the waiting SpiffWorkflow task
    sa.Column("instance_id", sa.String(36), sa.ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    sa.Column("message_name", sa.String(255), nullable=False),
    sa.Column("business_key", sa.String(255)),
    sa.Index("ix_message_waits_name", "message_name", "business_key"),
    sa.Index("ix_message_waits_instance", "instance_id"),
)

audit_events = sa.Table(
    "audit_events", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("instance_id", sa.String(36), nullable=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("actor", sa.String(100)),
    sa.Column("action", sa.String(50), nullable=False),
    sa.Column("task_id", sa.String(36)),
    sa.Column("element_id", sa.String(255)),
    sa.Column("detail", sa.JSON),
    sa.Index("ix_audit_events_instance", "instance_id", "id"),
)

outbox = sa.Table(
    "outbox", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("topic", sa.String(100), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("sent_at", UtcDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("instance_id", sa.String(36)),     # 0002_timers: who caused it, when/which job delivers it
    sa.Column("next_attempt_at", UtcDateTime),
    sa.Column("job_id", sa.String(64)),
    sa.Index("ix_outbox_unsent", "sent_at", "id"),
    sa.Index("ix_outbox_next_attempt", "next_attempt_at", postgresql_where=sa.text("next_attempt_at IS NOT NULL"),
             sqlite_where=sa.text("next_attempt_at IS NOT NULL")),
)

# A timer start event of the newest version of a process: starts one instance per tick (0002_timers).
timer_launchers = sa.Table(
    "timer_launchers", metadata,
    sa.Column("id", sa.String(300), primary_key=True),  # "<process key>:<start event id>"
    sa.Column("process_key", sa.String(255), nullable=False),
    sa.Column("element_id", sa.String(255), nullable=False),
    sa.Column("definition_id", sa.Integer, sa.ForeignKey("definitions.id"), nullable=False),
    sa.Column("expression", sa.Text, nullable=False),
    sa.Column("next_due_at", UtcDateTime),              # None: no more ticks
    sa.Column("remaining", sa.Integer, nullable=False),  # ticks left, -1 for unbounded
    sa.Column("interval_seconds", sa.Float, nullable=False, server_default="0"),
    sa.Column("launched", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_instance_id", sa.String(36)),
    sa.Column("last_error", sa.Text),
    sa.Index("ix_timer_launchers_due", "next_due_at"),
)

# A migration of running instances to another version of their process, and its progress (0007).
migration_batches = sa.Table(
    "migration_batches", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("process_key", sa.String(255), nullable=False),
    sa.Column("to_version", sa.Integer, nullable=False),
    sa.Column("from_version", sa.Integer),               # None: every older version
    sa.Column("mapping", sa.JSON, nullable=False),       # old element id -> new element id
    sa.Column("status", sa.String(20), nullable=False),  # running, done
    sa.Column("total", sa.Integer, nullable=False, server_default="0"),
    sa.Column("migrated", sa.Integer, nullable=False, server_default="0"),
    sa.Column("skipped", sa.Integer, nullable=False, server_default="0"),   # cannot move: left as they are
    sa.Column("outcomes", sa.JSON, nullable=False),      # [{instance_id, from_version, result, reason}]
    sa.Column("started_by", sa.String(100)),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime),
)

# A service task whose topic is not a built-in operation: the instance waits there until an external worker
# fetches, locks and completes it (0008_external_tasks). The row is derived from the state (written in the
# same transaction); the lock, retries and error columns are the workers' and change without the state.
external_tasks = sa.Table(
    "external_tasks", metadata,
    sa.Column("id", sa.String(36), primary_key=True),  # the waiting SpiffWorkflow task
    sa.Column("instance_id", sa.String(36), sa.ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    sa.Column("definition_id", sa.Integer, nullable=False),
    sa.Column("process_key", sa.String(255), nullable=False),
    sa.Column("business_key", sa.String(255)),
    sa.Column("element_id", sa.String(255), nullable=False),
    sa.Column("topic", sa.String(255), nullable=False),
    sa.Column("priority", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("variables", sa.JSON, nullable=False),
    sa.Column("properties", sa.JSON),  # camunda:properties of the service task (extensionProperties)
    sa.Column("worker_id", sa.String(255)),
    sa.Column("lock_expires_at", UtcDateTime),
    sa.Column("retries", sa.Integer),
    sa.Column("error_message", sa.Text),
    sa.Column("error_details", sa.Text),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_external_tasks_topic", "topic", "lock_expires_at"),
    sa.Index("ix_external_tasks_instance", "instance_id"),
)
