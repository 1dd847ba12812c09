"""The public pool (公海): customers nobody followed up return to it; salespeople claim from it within
limits. `recycle_due` is what the daily job calls."""
from datetime import datetime, time, timedelta

import sqlalchemy as sa

from engine import clock
from engine.errors import Conflict, Forbidden, NotFound
from engine.storage.schema import outbox, user_groups, users

from engine.customers.common import row_dict, user_info
from engine.customers.normalize import mask_phone
from engine.customers.ownership import set_owner
from engine.customers.records import OPEN_STAGES
from engine.customers.schema import customers, opportunities, ownership_changes
from engine.customers.settings import get_settings
from engine.customers.vocab import Vocabularies

WARNING_TOPIC = "customer.pool_warning"


def _aware(value):
    from engine.customers.common import utc
    return utc(value)


def _exempt(conn, settings):
    """A condition selecting the customers the pool never takes."""
    conditions = []
    if settings["pool.exempt_won"]:
        conditions.append(customers.c.status == "customer")
        conditions.append(customers.c.id.in_(sa.select(opportunities.c.customer_id).where(opportunities.c.stage == "won")))
    if settings["pool.exempt_open_opportunity"]:
        conditions.append(customers.c.id.in_(sa.select(opportunities.c.customer_id)
                                             .where(opportunities.c.stage.in_(OPEN_STAGES))))
    return sa.or_(*conditions) if conditions else sa.false()


def recycle_due(engine, now=None) -> dict:
    """Warn the owners of customers about to be recycled and recycle the overdue ones, in one transaction.

    A customer is overdue when neither an interaction nor its current ownership is younger than its
    level's `recycle_days` (attr of the level term; else `pool.default_recycle_days`). The warning is the
    process named by `pool.warning_process` (started in the same transaction), else an outbox message.
    The bundled `pool_recycle` SOP runs the same pass daily, warning with a follow-up task.
    Returns {"warned": [ids], "recycled": [ids]}."""
    now = now or clock.now()
    with engine.db.begin() as conn:
        settings = get_settings(conn)
        process = settings["pool.warning_process"]

        def warn(row, due):
            payload = {"customer_id": row.id, "owner": row.owner, "recycle_at": due.isoformat()}
            if process:  # a warning task for the owner, from an SOP the admin chose
                engine.instances.start(engine.definitions.get(conn, process), str(row.id), payload,
                                       actor="pool", conn=conn)
            else:
                conn.execute(outbox.insert().values(topic=WARNING_TOPIC, payload=payload, created_at=now))

        return recycle_in(conn, now, warn)


def recycle_in(conn, now, warn) -> dict:
    """The recycling pass inside the caller's transaction: overdue customers go to the pool; `warn(row,
    due)` is called once for each customer close to it (`pool.warn_days` before)."""
    settings = get_settings(conn)
    vocab = Vocabularies(conn)
    rows = conn.execute(sa.select(customers.c.id, customers.c.owner, customers.c.level, customers.c.owner_since,
                                  customers.c.created_at, customers.c.last_interaction_at,
                                  customers.c.pool_warned_at)
                        .where(customers.c.owner.is_not(None), customers.c.in_pool == sa.false(),
                               customers.c.status != "churned", sa.not_(_exempt(conn, settings)))
                        .order_by(customers.c.id).with_for_update()).all()
    warned, recycled = [], []
    for row in rows:
        due = _due_at(row, vocab, settings)
        if due <= now:
            days = vocab.level_attr(row.level, "recycle_days", settings["pool.default_recycle_days"])
            set_owner(conn, row.id, row.owner, None, "pool", "recycled", now, note=f"no follow-up for {days} days")
            recycled.append(row.id)
        elif row.pool_warned_at is None and due - timedelta(days=settings["pool.warn_days"]) <= now:
            conn.execute(customers.update().where(customers.c.id == row.id).values(pool_warned_at=now))
            warn(row, due)
            warned.append(row.id)
    return {"warned": warned, "recycled": recycled}


def _due_at(row, vocab, settings):
    days = vocab.level_attr(row.level, "recycle_days", settings["pool.default_recycle_days"])
    since = [_aware(v) for v in (row.last_interaction_at, row.owner_since or row.created_at) if v is not None]
    return max(since) + timedelta(days=days)


def _day_start(now, tz):
    local = now.astimezone(tz)
    return datetime.combine(local.date(), time(0), tzinfo=tz)


def claim(engine, customer_id, user, now=None) -> dict:
    """`user` takes a customer from the pool. Limits: Forbidden; someone else was faster: Conflict."""
    now = now or clock.now()
    with engine.db.begin() as conn:
        settings = get_settings(conn)
        # One claimer's claims run one at a time, so the limits below cannot be raced past.
        if conn.execute(sa.select(users.c.id).where(users.c.name == user, users.c.active == sa.true())
                        .with_for_update()).first() is None:
            raise Forbidden(f"'{user}' is not an active user")
        row = conn.execute(sa.select(customers).where(customers.c.id == customer_id).with_for_update()).first()
        if row is None:
            raise NotFound(f"no customer with id {customer_id}")
        if not row.in_pool:
            holder = f"claimed by {row.owner}" if row.owner else "not in the public pool"
            raise Conflict(f"customer {customer_id} is {holder}", owner=row.owner)
        groups = user_info(conn, [user])[user]["groups"]
        if row.team and row.team not in groups:
            raise Forbidden(f"customer {customer_id} is in the pool of team '{row.team}', which {user} is not in")
        held = conn.execute(sa.select(sa.func.count()).where(customers.c.owner == user)).scalar_one()
        if held >= settings["pool.max_held"]:
            raise Forbidden(f"{user} already holds {held} customers (the limit is {settings['pool.max_held']})")
        today = conn.execute(sa.select(sa.func.count()).where(
            ownership_changes.c.to_owner == user, ownership_changes.c.reason == "claimed",
            ownership_changes.c.at >= _day_start(now, engine.settings.timezone))).scalar_one()
        if today >= settings["pool.max_claims_per_day"]:
            raise Forbidden(f"{user} has claimed {today} customers today (the limit is "
                            f"{settings['pool.max_claims_per_day']} a day)")
        lost_at = conn.execute(sa.select(sa.func.max(ownership_changes.c.at)).where(
            ownership_changes.c.customer_id == customer_id, ownership_changes.c.from_owner == user,
            ownership_changes.c.reason.in_(("recycled", "released")))).scalar()
        cooldown = timedelta(days=settings["pool.cooldown_days"])
        if lost_at is not None and _aware(lost_at) + cooldown > now:
            raise Forbidden(f"{user} held customer {customer_id} until {_aware(lost_at):%Y-%m-%d} and may claim it "
                            f"again from {_aware(lost_at) + cooldown:%Y-%m-%d %H:%M} UTC")
        done = conn.execute(customers.update().where(customers.c.id == customer_id, customers.c.in_pool == sa.true())
                            .values(in_pool=False))
        if done.rowcount != 1:
            raise Conflict(f"customer {customer_id} was claimed by someone else")
        set_owner(conn, customer_id, None, user, user, "claimed", now)
        return row_dict(conn.execute(sa.select(customers).where(customers.c.id == customer_id)).one())


def mask_email(email):
    if not email or "@" not in email:
        return email
    name, _, domain = email.partition("@")
    return name[:1] + "***@" + domain


def masked(customer: dict) -> dict:
    """A pool record as a salesperson sees it before claiming: contact details hidden."""
    return {**customer, "phone": mask_phone(customer.get("phone")), "email": mask_email(customer.get("email"))}


ALL_POOLS = "*"  # `list_pool(teams=ALL_POOLS)`: every team's pool (an admin's view)


def list_pool(engine, viewer, page=1, page_size=50, teams=None):
    """Customers in the pools of the viewer's teams (and team-less ones), contact details masked.
    `teams`: the teams whose pools are in reach (`access.pool_scope`); the string ALL_POOLS for every pool
    (an admin); None: the viewer's own teams, read from the database."""
    with engine.db.connect() as conn:
        if teams is None:
            teams = [r.group_name for r in conn.execute(
                sa.select(user_groups.c.group_name).join(users, users.c.id == user_groups.c.user_id)
                .where(users.c.name == viewer))]
        base = sa.select(customers).where(customers.c.in_pool == sa.true())
        if teams != ALL_POOLS:
            base = base.where(sa.or_(customers.c.team.is_(None), customers.c.team.in_(list(teams))))
        total = conn.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
        rows = conn.execute(base.order_by(customers.c.id.desc()).offset((page - 1) * page_size).limit(page_size))
        return [masked(row_dict(r)) for r in rows], total
