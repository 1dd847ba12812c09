"""migration_batches: moving running instances to another version of their process, with progress

Revision ID: 0007_migration_batches
Revises: 0006_task_counts
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = "0007_migration_batches"
down_revision = "0006_task_counts"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "migration_batches",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("process_key", sa.String(255), nullable=False),
        sa.Column("to_version", sa.Integer, nullable=False),
        sa.Column("from_version", sa.Integer),
        sa.Column("mapping", sa.JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("total", sa.Integer, nullable=False, server_default="0"),
        sa.Column("migrated", sa.Integer, nullable=False, server_default="0"),
        sa.Column("skipped", sa.Integer, nullable=False, server_default="0"),
        sa.Column("outcomes", sa.JSON, nullable=False),
        sa.Column("started_by", sa.String(100)),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_migration_batches"),
    )


def downgrade():
    op.drop_table("migration_batches")
