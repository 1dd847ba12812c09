"""api: an index that serves the task inbox in its order (due time, then age)

Revision ID: 0002_api
Revises: 0001
Create Date: 2026-11-22
"""
from alembic import op


revision = "0002_api"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    # The inbox pages by (due_at, created_at, id); walking this index stops after one page instead of
    # sorting every open task a user can see.
    op.create_index("ix_human_tasks_inbox", "human_tasks", ["due_at", "created_at", "id"], unique=False)


def downgrade():
    op.drop_index("ix_human_tasks_inbox", table_name="human_tasks")
