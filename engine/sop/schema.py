"""Tables of the SOP library (migration 0004_sop_library): agents' availability, the round-robin
pointer per team and the customers' health scores."""
import sqlalchemy as sa

from engine.storage.metadata import UtcDateTime, metadata

# Who may get new work: leave periods (dates in the deployment's zone, inclusive) and a cap on open items.
agent_availability = sa.Table(
    "agent_availability", metadata,
    sa.Column("user_name", sa.String(100), primary_key=True),
    sa.Column("on_leave_from", sa.Date),
    sa.Column("on_leave_until", sa.Date),
    sa.Column("max_open", sa.Integer),  # None: no quota
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# One row per team: who got the last round-robin assignment. Locked (FOR UPDATE) while choosing.
assignment_pointers = sa.Table(
    "assignment_pointers", metadata,
    sa.Column("team", sa.String(100), primary_key=True),
    sa.Column("last_user", sa.String(100)),
    sa.Column("turns", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

customer_health = sa.Table(
    "customer_health", metadata,
    sa.Column("customer_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"),
              sa.ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("score", sa.Integer, nullable=False),          # 0-100, higher is healthier
    sa.Column("factors", sa.JSON, nullable=False),
    sa.Column("computed_at", UtcDateTime, nullable=False),
)
