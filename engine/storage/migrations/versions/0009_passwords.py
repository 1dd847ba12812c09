"""passwords: users sign in to the web pages with a name and a password (its hash only is stored)

Revision ID: 0009_passwords
Revises: 0008_external_tasks
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa

revision = "0009_passwords"
down_revision = "0008_external_tasks"
branch_labels = None
depends_on = None


def upgrade():
    # NULL: no password set, the user cannot sign in to the pages (tokens still work for the API).
    op.add_column("users", sa.Column("password_hash", sa.String(255), nullable=True))


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_hash")
