"""External tasks: service tasks whose topic is not a built-in operation wait for an outside worker

Revision ID: 0008_external_tasks
Revises: 0007_migration_batches
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = "0008_external_tasks"
down_revision = "0007_migration_batches"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "external_tasks",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("instance_id", sa.String(36), sa.ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
        sa.Column("definition_id", sa.Integer, nullable=False),
        sa.Column("process_key", sa.String(255), nullable=False),
        sa.Column("business_key", sa.String(255)),
        sa.Column("element_id", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("priority", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("variables", sa.JSON, nullable=False),
        sa.Column("properties", sa.JSON),
        sa.Column("worker_id", sa.String(255)),
        sa.Column("lock_expires_at", sa.DateTime(timezone=True)),
        sa.Column("retries", sa.Integer),
        sa.Column("error_message", sa.Text),
        sa.Column("error_details", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_external_tasks_topic", "external_tasks", ["topic", "lock_expires_at"])
    op.create_index("ix_external_tasks_instance", "external_tasks", ["instance_id"])


def downgrade():
    op.drop_table("external_tasks")
