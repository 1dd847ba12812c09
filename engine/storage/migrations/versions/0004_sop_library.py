"""SOP library: agent availability, round-robin pointers, customer health scores

Revision ID: 0004_sop_library
Revises: 0003_customers
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa

revision = "0004_sop_library"
down_revision = "0003_customers"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "agent_availability",
        sa.Column("user_name", sa.String(100), nullable=False),
        sa.Column("on_leave_from", sa.Date()),
        sa.Column("on_leave_until", sa.Date()),
        sa.Column("max_open", sa.Integer()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_name", name="pk_agent_availability"),
    )
    op.create_table(
        "assignment_pointers",
        sa.Column("team", sa.String(100), nullable=False),
        sa.Column("last_user", sa.String(100)),
        sa.Column("turns", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("team", name="pk_assignment_pointers"),
    )
    op.create_table(
        "customer_health",
        sa.Column("customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("factors", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="fk_customer_health_customer_id_customers",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("customer_id", name="pk_customer_health"),
    )


def downgrade():
    op.drop_table("customer_health")
    op.drop_table("assignment_pointers")
    op.drop_table("agent_availability")
