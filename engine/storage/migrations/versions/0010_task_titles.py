"""A task's title (the `title` variable of the instance when the task opened, e.g. a follow-up task's
"跟进续约：2027年度合同"), so the inbox tells an agent what each task is about

Revision ID: 0010_task_titles
Revises: 0009_passwords
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa

revision = "0010_task_titles"
down_revision = "0009_passwords"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("human_tasks", sa.Column("title", sa.String(300)))


def downgrade():
    with op.batch_alter_table("human_tasks") as batch:
        batch.drop_column("title")
