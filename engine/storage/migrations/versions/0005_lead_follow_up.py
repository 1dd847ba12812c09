"""Lead follow-up and conversion: calls and visits logged on a lead (before it has a customer), and
the opportunity a converted lead became

Revision ID: 0005_lead_follow_up
Revises: 0004_sop_library
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

revision = "0005_lead_follow_up"
down_revision = "0004_sop_library"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.alter_column("customer_id", existing_type=Id, nullable=True)
        batch_op.add_column(sa.Column("lead_id", Id, nullable=True))
        batch_op.create_foreign_key("fk_interactions_lead_id_leads", "leads", ["lead_id"], ["id"])
        batch_op.create_index("ix_interactions_lead", ["lead_id", "at"], unique=False)
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("opportunity_id", Id, nullable=True))
        batch_op.create_foreign_key("fk_leads_opportunity_id_opportunities", "opportunities", ["opportunity_id"], ["id"])


def downgrade():
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_constraint("fk_leads_opportunity_id_opportunities", type_="foreignkey")
        batch_op.drop_column("opportunity_id")
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.drop_index("ix_interactions_lead")
        batch_op.drop_constraint("fk_interactions_lead_id_leads", type_="foreignkey")
        batch_op.drop_column("lead_id")
        batch_op.alter_column("customer_id", existing_type=Id, nullable=False)
