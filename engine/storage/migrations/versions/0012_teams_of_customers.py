"""Customers (and leads) without a team get their owner's team where the owner is in exactly one group,
and customers nobody owns go to their team's public pool (issue 12 item 4: a record always belongs to a
team its creator can see; before, a team-less customer was seen by its owner and admins only, and one
without owner, not in the pool, by admins only). A team-less customer whose owner is in several groups
keeps no team: its owner still sees it, and an admin or the owner's supervisor sets one.

Revision ID: 0012_teams_of_customers
Revises: 0011_import_jobs
Create Date: 2026-11-30
"""
from alembic import op

revision = "0012_teams_of_customers"
down_revision = "0011_import_jobs"
branch_labels = None
depends_on = "0005_lead_follow_up"  # the customer hub's tables grow on their own branch

_GROUPS_OF_OWNER = ("FROM user_groups JOIN users ON users.id = user_groups.user_id "
                    "WHERE users.name = {table}.owner")


def upgrade():
    for table in ("customers", "leads"):
        groups = _GROUPS_OF_OWNER.format(table=table)
        op.execute(f"UPDATE {table} SET team = (SELECT MIN(user_groups.group_name) {groups}) "
                   f"WHERE team IS NULL AND owner IS NOT NULL AND (SELECT COUNT(*) {groups}) = 1")
    op.execute("UPDATE customers SET in_pool = TRUE WHERE owner IS NULL AND in_pool = FALSE")


def downgrade():
    pass  # data only: which rows had no team before cannot be told afterwards, and the teams are right
