"""timers: leases and job ids for the scheduler; outbox retries; launchers for timer start events

Revision ID: 0002_timers
Revises: 0001
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa


revision = "0002_timers"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("job_id", sa.String(length=64), nullable=True))
    # Only unclaimed timers sit in this index, so finding due ones never walks the claimed backlog.
    op.create_index("ix_timers_unclaimed_due", "timers", ["due_at"], unique=False,
                    postgresql_where=sa.text("enqueued_at IS NULL"), sqlite_where=sa.text("enqueued_at IS NULL"))
    op.create_index("ix_timers_lease", "timers", ["lease_until"], unique=False,
                    postgresql_where=sa.text("lease_until IS NOT NULL"),
                    sqlite_where=sa.text("lease_until IS NOT NULL"))

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("instance_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("job_id", sa.String(length=64), nullable=True))
    op.create_index("ix_outbox_next_attempt", "outbox", ["next_attempt_at"], unique=False,
                    postgresql_where=sa.text("next_attempt_at IS NOT NULL"),
                    sqlite_where=sa.text("next_attempt_at IS NOT NULL"))

    op.create_table(
        "timer_launchers",
        sa.Column("id", sa.String(length=300), nullable=False),
        sa.Column("process_key", sa.String(length=255), nullable=False),
        sa.Column("element_id", sa.String(length=255), nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("expression", sa.Text(), nullable=False),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.Column("interval_seconds", sa.Float(), nullable=False, server_default="0"),
        sa.Column("launched", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_instance_id", sa.String(length=36), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["definition_id"], ["definitions.id"],
                                name=op.f("fk_timer_launchers_definition_id_definitions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timer_launchers")),
    )
    op.create_index("ix_timer_launchers_due", "timer_launchers", ["next_due_at"], unique=False)


def downgrade():
    op.drop_index("ix_timer_launchers_due", table_name="timer_launchers")
    op.drop_table("timer_launchers")
    op.drop_index("ix_outbox_next_attempt", table_name="outbox")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("job_id")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("instance_id")
    op.drop_index("ix_timers_lease", table_name="timers")
    op.drop_index("ix_timers_unclaimed_due", table_name="timers")
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.drop_column("job_id")
        batch_op.drop_column("lease_until")
